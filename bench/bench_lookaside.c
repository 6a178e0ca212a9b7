/* bench_lookaside.c - a lookaside list's allocate+free pair against mimalloc and a bare per-thread list. */
/*
 * Workloads (one binary, alternating rounds, medians):
 *   lapairs   one thread, allocate+free pairs of 64-byte blocks with LAPAIRS_LIVE blocks held, so the
 *             list cycles through its cache; from one NPAGED lookaside list, from mi_malloc/mi_free(64),
 *             and from a bare per-thread free list (the floor: a push and a pop, nothing else);
 *   lathreads the same loop on 1 and on 2 threads sharing one list (each its own mimalloc heap / bare
 *             list): throughput 2T/1T; the bare list's 2T/1T is what the machine gave two threads.
 * Output lines: "<workload> <allocator> <median> <unit>", as bench_pool's, for run.sh.
 */
#define _GNU_SOURCE
#include "bench_stats.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <wdm.h>
#include <ntmem.h>
#ifdef BENCH_HAVE_MIMALLOC
#include <mimalloc.h>
#endif

#define LA_BLOCK 64
#define LA_LIVE 8               /* blocks held while pairing: a short LIFO cycle through the cache */
#define LA_MAX_ROUNDS BENCH_MAX_ROUNDS
#define LA_TAG 'kLnB'           /* "BnLk" */

static NPAGED_LOOKASIDE_LIST la_list;


/* ---- the three allocators ----------------------------------------------------------------------- */
static __thread void *bare_head;
static __thread char *bare_bump, *bare_end;

static inline void *bare_alloc(void)
{
    void *p = bare_head;
    if (__builtin_expect(p == NULL, 0)) {
        if (bare_bump == bare_end) {
            bare_bump = malloc(1 << 16);
            bare_end = bare_bump + (1 << 16);
        }
        p = bare_bump;
        bare_bump += LA_BLOCK;
        return p;
    }
    bare_head = *(void **)p;
    return p;
}

static inline void bare_free(void *p)
{
    *(void **)p = bare_head;
    bare_head = p;
}

/* One loop body per allocator, instantiated so each call is direct (no function pointers inside). */
#define LA_LOOP(name, ALLOC, FREE)                                       \
    static double name(uint64_t steps)                                   \
    {                                                                    \
        void *live[LA_LIVE];                                             \
        for (int i = 0; i < LA_LIVE; i++)                                \
            live[i] = ALLOC;                                             \
        double t0 = bench_now_ns();                                         \
        for (uint64_t i = 0; i < steps; i++) {                           \
            unsigned s = (unsigned)i & (LA_LIVE - 1);                    \
            FREE(live[s]);                                               \
            char *p = ALLOC;                                             \
            p[0] = (char)i;                                              \
            live[s] = p;                                                 \
        }                                                                \
        double t1 = bench_now_ns();                                         \
        for (int i = 0; i < LA_LIVE; i++)                                \
            FREE(live[i]);                                               \
        return (t1 - t0) / (double)steps;                                \
    }

#define LA_FREE_LOOKASIDE(p) ExFreeToNPagedLookasideList(&la_list, (p))
#define LA_FREE_MI(p) mi_free(p)
LA_LOOP(loop_lookaside, ExAllocateFromNPagedLookasideList(&la_list), LA_FREE_LOOKASIDE)
#ifdef BENCH_HAVE_MIMALLOC
LA_LOOP(loop_mimalloc, mi_malloc(LA_BLOCK), LA_FREE_MI)
#endif
LA_LOOP(loop_bare, bare_alloc(), bare_free)

struct la_allocator {
    const char *name;
    double (*loop)(uint64_t steps);
};

static const struct la_allocator la_all[] = {
    {"ntmem", loop_lookaside},
#ifdef BENCH_HAVE_MIMALLOC
    {"mimalloc", loop_mimalloc},
#endif
    {"control", loop_bare},
};
#define LA_N (int)(sizeof la_all / sizeof la_all[0])

/* ---- threads ------------------------------------------------------------------------------------ */
struct la_job {
    const struct la_allocator *a;
    uint64_t steps;
    atomic_int *ready, *go;
    double ns;
};

static void *la_thread(void *arg)
{
    struct la_job *j = arg;
    j->a->loop(1000); /* warm this thread's cache, heap or list */
    atomic_fetch_add(j->ready, 1);
    while (!atomic_load_explicit(j->go, memory_order_acquire))
        ;
    double t0 = bench_now_ns();
    j->a->loop(j->steps);
    j->ns = bench_now_ns() - t0;
    return NULL;
}

/* M pairs per second, total, over n threads each doing `steps` pairs. */
static double la_threads(const struct la_allocator *a, int n, uint64_t steps)
{
    pthread_t th[2];
    struct la_job job[2];
    atomic_int ready = 0, go = 0;
    for (int i = 0; i < n; i++) {
        job[i] = (struct la_job){a, steps, &ready, &go, 0};
        pthread_create(&th[i], NULL, la_thread, &job[i]);
    }
    while (atomic_load(&ready) < n)
        ;
    atomic_store_explicit(&go, 1, memory_order_release);
    double wall = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        wall = job[i].ns > wall ? job[i].ns : wall;
    }
    return (double)steps * n / wall * 1e3;
}

/* ---- driver ------------------------------------------------------------------------------------- */


int main(int argc, char **argv)
{
    int rounds = 7, c;
    uint64_t steps = 20000000;
    while ((c = getopt(argc, argv, "r:n:")) != -1) {
        switch (c) {
        case 'r': rounds = atoi(optarg); break;
        case 'n': steps = strtoull(optarg, NULL, 0); break;
        default:
            fprintf(stderr, "usage: %s [-r rounds] [-n steps] [lapairs] [lathreads]\n", argv[0]);
            return 2;
        }
    }
    if (rounds < 1 || rounds > LA_MAX_ROUNDS)
        return 2;
    int do_pairs = optind == argc, do_threads = optind == argc;
    for (int i = optind; i < argc; i++) {
        do_pairs |= strcmp(argv[i], "lapairs") == 0;
        do_threads |= strcmp(argv[i], "lathreads") == 0;
    }
    ntmem_set_lookaside_period(1000);
    ExInitializeNPagedLookasideList(&la_list, NULL, NULL, 0, LA_BLOCK, LA_TAG, 0);
    printf("# bench_lookaside: %d-byte blocks, %d live, rounds %d, steps %llu\n", LA_BLOCK, LA_LIVE, rounds,
           (unsigned long long)steps);

    static double v[LA_N][LA_MAX_ROUNDS], v1[LA_N][LA_MAX_ROUNDS], v2[LA_N][LA_MAX_ROUNDS];
    if (do_pairs) {
        for (int i = 0; i < LA_N; i++)
            la_all[i].loop(steps / 10 + 1);
        for (int r = 0; r < rounds; r++)
            for (int k = 0; k < LA_N; k++) {
                int i = (r + k) % LA_N;
                v[i][r] = la_all[i].loop(steps);
            }
        for (int i = 0; i < LA_N; i++)
            printf("lapairs %s %.2f ns\n", la_all[i].name, bench_median(v[i], rounds));
    }
    if (do_threads) {
        for (int r = 0; r < rounds; r++)
            for (int k = 0; k < LA_N; k++) {
                int i = (r + k) % LA_N;
                v1[i][r] = la_threads(&la_all[i], 1, steps);
                v2[i][r] = la_threads(&la_all[i], 2, steps);
            }
        for (int i = 0; i < LA_N; i++) {
            double m1 = bench_median(v1[i], rounds), m2 = bench_median(v2[i], rounds);
            printf("lathreads1 %s %.2f Mops/s\n", la_all[i].name, m1);
            printf("lathreads2 %s %.2f Mops/s\n", la_all[i].name, m2);
        }
    }
    NTMEM_LOOKASIDE_INFO info;
    ULONG total;
    if (ntmem_query_lookaside_lists(&info, 1, &total) == STATUS_SUCCESS && total == 1)
        printf("# lookaside: %llu allocations, %llu misses, depth %u\n", (unsigned long long)info.TotalAllocates,
               (unsigned long long)info.AllocateMisses, info.Depth);
    ExDeleteNPagedLookasideList(&la_list);
    return 0;
}
