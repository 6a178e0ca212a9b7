/* bench_heap.c - the Win32 heap (HeapAlloc/HeapFree) against glibc malloc and mimalloc, in one binary. */
/*
 * Measurements (rounds alternate the allocators, starting one further along each round; medians):
 *   heap_pairs   one thread, HeapFree+HeapAlloc on GetProcessHeap() with HP_PAIRS_LIVE blocks held:
 *                each step frees a random slot and refills it with a random size in 16..512 bytes;
 *                ns per pair, against glibc's malloc/free and mi_malloc/mi_free on the same sequence;
 *   heap_larson  a larson-like run on two threads: each owns HP_LARSON_SLOTS slots and frees+refills a
 *                random one per step (16..512 bytes); every HP_LARSON_SWAP steps the two threads swap
 *                the upper halves of their arrays, so blocks are freed by the thread that did not
 *                allocate them; M ops/s over both threads, one op being a free and an allocation;
 *   heap_frag    a private growable heap (HeapCreate(0, 0, 0), front end on): fill to HP_FRAG_LIVE
 *                requested bytes with sizes 16..2048, then HP_FRAG_CHURN times free a random half and
 *                refill it with new sizes; HeapSummary's cbCommitted / the requested bytes live (x);
 *   heap_compact then free all but ~5% of the blocks and call HeapCompact: the commit charge it gives
 *                back, the rise in GlobalMemoryStatusEx's ullAvailPageFile across the call (MB).
 * Output lines: "<measurement> <allocator> <value> <unit>", for bench/run.sh; "#" lines and "-detail"
 * lines are for people.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <windows.h>
#ifdef BENCH_HAVE_MIMALLOC
#include <mimalloc.h>
#endif

#include "bench_stats.h"

#define HP_MIN_SIZE 16
#define HP_MAX_SIZE 512
#define HP_PAIRS_LIVE 1000            /* blocks held in heap_pairs */
#define HP_SEQ_LEN (1u << 20)         /* pre-generated (slot, size) steps, cycled; a power of two */
#define HP_LARSON_THREADS 2
#define HP_LARSON_SLOTS 1000          /* per thread; the upper half changes hands at every swap */
#define HP_LARSON_SWAP 2048           /* steps between swaps */
#define HP_FRAG_MIN 16
#define HP_FRAG_MAX 2048
#define HP_FRAG_LIVE ((size_t)32 << 20)
#define HP_FRAG_CAP 65536             /* block slots; the fill needs ~32,500 at a mean of 1032 bytes */
#define HP_FRAG_CHURN 4               /* free-half-and-refill passes */
#define HP_FRAG_KEEP_PERCENT 5        /* blocks left live before HeapCompact */
#define HP_MAX_ALLOCATORS 3

/* ---- harness memory and random numbers ---------------------------------------------------------- */

/* The harness's own arrays come from mmap, never from an allocator under test. */
static void *hb_mem(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("bench_heap: mmap");
        exit(2);
    }
    memset(p, 0, bytes);              /* touched now, not inside a timed loop */
    return p;
}

static void hb_unmem(void *p, size_t bytes)
{
    munmap(p, bytes);
}

static inline uint64_t hb_rand(uint64_t *s)
{
    uint64_t x = *s;                  /* xorshift64*, as the other benchmarks use */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, n). */
static inline uint32_t hb_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(((hb_rand(s) >> 32) * n) >> 32);
}

static inline uint64_t hb_seed(unsigned stream)
{
    return 0xA0761D6478BD642FULL ^ ((uint64_t)(stream + 1) * 0xE7037ED1A0B428DBULL);
}

static void hb_shuffle(uint32_t *a, uint32_t n, uint64_t *s)
{
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = hb_below(s, i + 1);
        uint32_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

static void hb_oom(const char *who, size_t size)
{
    fprintf(stderr, "bench_heap: %s returned NULL for %zu bytes\n", who, size);
    exit(2);
}

/* A step sequence: the sizes of the initial fill, then (slot, size) per step. */
struct hb_op {
    uint16_t slot;
    uint16_t size;
};

struct hb_seq {
    uint16_t fill[HP_LARSON_SLOTS > HP_PAIRS_LIVE ? HP_LARSON_SLOTS : HP_PAIRS_LIVE];
    struct hb_op *op;                 /* HP_SEQ_LEN steps */
};

static void hb_seq_init(struct hb_seq *q, unsigned stream, uint32_t slots)
{
    uint64_t s = hb_seed(stream);
    for (uint32_t i = 0; i < slots; i++)
        q->fill[i] = (uint16_t)(HP_MIN_SIZE + hb_below(&s, HP_MAX_SIZE - HP_MIN_SIZE + 1));
    q->op = hb_mem(HP_SEQ_LEN * sizeof *q->op);
    for (uint32_t i = 0; i < HP_SEQ_LEN; i++) {
        q->op[i].slot = (uint16_t)hb_below(&s, slots);
        q->op[i].size = (uint16_t)(HP_MIN_SIZE + hb_below(&s, HP_MAX_SIZE - HP_MIN_SIZE + 1));
    }
}

/* ---- glibc, reached inside libc.so.6 ---------------------------------------------------------------- */
/*
 * With libmimalloc linked, the process's malloc and free are mimalloc's, and so are the names
 * __libc_malloc and __libc_free as the dynamic linker resolves them from here. glibc's own entry points
 * are therefore looked up through libc.so.6's handle (dlsym searches that object first) and checked to
 * lie inside libc.so before anything runs; the calls then go through pointers.
 */
static void *(*glibc_malloc)(size_t);
static void (*glibc_free)(void *);

static void *hb_libc_lookup(void *libc, const char *name)
{
    void *sym = dlsym(libc, name);
    Dl_info where;
    if (sym == NULL || dladdr(sym, &where) == 0 || where.dli_fname == NULL ||
        strstr(where.dli_fname, "libc.so") == NULL) {
        fprintf(stderr, "bench_heap: glibc's %s is not inside libc.so.6\n", name);
        exit(2);
    }
    return sym;
}

static void hb_glibc_init(void)
{
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    if (libc == NULL) {
        fprintf(stderr, "bench_heap: libc.so.6 not loaded: %s\n", dlerror());
        exit(2);
    }
    *(void **)&glibc_malloc = hb_libc_lookup(libc, "__libc_malloc");
    *(void **)&glibc_free = hb_libc_lookup(libc, "__libc_free");
    /* glibc attaches its first caller to the main arena without counting it; if that first caller
     * were a larson worker, the worker's exit would upset the arena's thread count. The main thread
     * calls first so that cannot happen. */
    glibc_free(glibc_malloc(1));
}

/* ---- the allocators, each called directly inside its own loops ------------------------------------ */
static HANDLE hb_process_heap;

#define HB_NTMEM_ALLOC(n) HeapAlloc(hb_process_heap, 0, (n))
#define HB_NTMEM_FREE(p) HeapFree(hb_process_heap, 0, (p))
#define HB_GLIBC_ALLOC(n) glibc_malloc(n)
#define HB_GLIBC_FREE(p) glibc_free(p)
#define HB_MI_ALLOC(n) mi_malloc(n)
#define HB_MI_FREE(p) mi_free(p)

/* The spin-then-yield wait used by the start and the swaps (the machine may have other work). */
static inline void hb_pause(unsigned *spins)
{
    if (++*spins < 1024) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield");
#endif
    } else {
        *spins = 0;
        sched_yield();
    }
}

/* One larson run's shared state. The swap needs one rendezvous per exchange: each thread leaves its
 * upper half in its outbox for this exchange's parity, arrives, waits for the other, and takes the
 * other's. A thread writes the same parity's outbox again only two exchanges later, after the other
 * has arrived at the next one, i.e. after it has finished reading. */
struct hb_larson {
    _Alignas(64) atomic_uint arrived; /* arrivals at exchanges, both threads, ever increasing */
    _Alignas(64) atomic_int ready;
    _Alignas(64) atomic_int go;
    _Alignas(64) void *outbox[HP_LARSON_THREADS][2][HP_LARSON_SLOTS / 2];
};

struct hb_larson_job {
    struct hb_larson *shared;
    const struct hb_seq *seq;
    uint64_t steps;
    int index;
    double t0, t1;
};

/* Before timing: thread 1 signals it is running; thread 0 (the leader) waits for it and releases both,
 * so the clock starts with both threads on CPUs rather than one still waiting to be scheduled. */
static void hb_larson_start(struct hb_larson *sh, int index)
{
    unsigned spins = 0;
    if (index == 0) {
        while (atomic_load_explicit(&sh->ready, memory_order_acquire) < HP_LARSON_THREADS - 1)
            hb_pause(&spins);
        atomic_store_explicit(&sh->go, 1, memory_order_release);
    } else {
        atomic_fetch_add_explicit(&sh->ready, 1, memory_order_release);
        while (!atomic_load_explicit(&sh->go, memory_order_acquire))
            hb_pause(&spins);
    }
}

static void hb_larson_exchange(struct hb_larson *sh, int index, unsigned exchange, void **slot)
{
    const unsigned half = HP_LARSON_SLOTS / 2;
    void **mine = sh->outbox[index][exchange & 1], **theirs = sh->outbox[index ^ 1][exchange & 1];
    memcpy(mine, slot + half, half * sizeof *slot);
    atomic_fetch_add_explicit(&sh->arrived, 1, memory_order_acq_rel);
    unsigned spins = 0;
    while (atomic_load_explicit(&sh->arrived, memory_order_acquire) < (exchange + 1) * HP_LARSON_THREADS)
        hb_pause(&spins);
    memcpy(slot + half, theirs, half * sizeof *slot);
}

/*
 * HB_LOOPS(name, ALLOC, FREE) instantiates, for one allocator:
 *   hb_pairs_<name>(seq, steps)        ns per free+allocate step, table of HP_PAIRS_LIVE blocks;
 *   hb_larson_worker_<name>(job)       one larson thread.
 * Every new block has its first byte written, as its owner would.
 */
#define HB_LOOPS(name, ALLOC, FREE)                                                                  \
    static double hb_pairs_##name(const struct hb_seq *seq, uint64_t steps)                          \
    {                                                                                                \
        void *table[HP_PAIRS_LIVE];                                                                  \
        for (uint32_t j = 0; j < HP_PAIRS_LIVE; j++) {                                               \
            char *p = ALLOC(seq->fill[j]);                                                           \
            if (p == NULL)                                                                           \
                hb_oom(#name, seq->fill[j]);                                                         \
            p[0] = (char)j;                                                                          \
            table[j] = p;                                                                            \
        }                                                                                            \
        const struct hb_op *op = seq->op;                                                            \
        double t0 = bench_now_ns();                                                                  \
        for (uint64_t i = 0; i < steps; i++) {                                                       \
            struct hb_op o = op[i & (HP_SEQ_LEN - 1)];                                               \
            FREE(table[o.slot]);                                                                     \
            char *p = ALLOC(o.size);                                                                 \
            if (__builtin_expect(p == NULL, 0))                                                      \
                hb_oom(#name, o.size);                                                               \
            p[0] = (char)i;                                                                          \
            table[o.slot] = p;                                                                       \
        }                                                                                            \
        double t1 = bench_now_ns();                                                                  \
        for (uint32_t j = 0; j < HP_PAIRS_LIVE; j++)                                                 \
            FREE(table[j]);                                                                          \
        return (t1 - t0) / (double)steps;                                                            \
    }                                                                                                \
                                                                                                     \
    static void *hb_larson_worker_##name(void *arg)                                                  \
    {                                                                                                \
        struct hb_larson_job *job = arg;                                                             \
        struct hb_larson *sh = job->shared;                                                          \
        const struct hb_op *op = job->seq->op;                                                       \
        void *slot[HP_LARSON_SLOTS];                                                                 \
        for (uint32_t j = 0; j < HP_LARSON_SLOTS; j++) {                                             \
            char *p = ALLOC(job->seq->fill[j]);                                                      \
            if (p == NULL)                                                                           \
                hb_oom(#name, job->seq->fill[j]);                                                    \
            p[0] = (char)j;                                                                          \
            slot[j] = p;                                                                             \
        }                                                                                            \
        hb_larson_start(sh, job->index);                                                             \
        job->t0 = bench_now_ns();                                                                    \
        unsigned exchange = 0;                                                                       \
        for (uint64_t i = 0; i < job->steps; i++) {                                                  \
            struct hb_op o = op[i & (HP_SEQ_LEN - 1)];                                               \
            FREE(slot[o.slot]);                                                                      \
            char *p = ALLOC(o.size);                                                                 \
            if (__builtin_expect(p == NULL, 0))                                                      \
                hb_oom(#name, o.size);                                                               \
            p[0] = (char)i;                                                                          \
            slot[o.slot] = p;                                                                        \
            if ((i + 1) % HP_LARSON_SWAP == 0)                                                       \
                hb_larson_exchange(sh, job->index, exchange++, slot);                                \
        }                                                                                            \
        job->t1 = bench_now_ns();                                                                    \
        for (uint32_t j = 0; j < HP_LARSON_SLOTS; j++)                                               \
            FREE(slot[j]);                                                                           \
        return NULL;                                                                                 \
    }

HB_LOOPS(ntmem, HB_NTMEM_ALLOC, HB_NTMEM_FREE)
HB_LOOPS(glibc, HB_GLIBC_ALLOC, HB_GLIBC_FREE)
#ifdef BENCH_HAVE_MIMALLOC
HB_LOOPS(mimalloc, HB_MI_ALLOC, HB_MI_FREE)
#endif

struct hb_allocator {
    const char *name;
    double (*pairs)(const struct hb_seq *seq, uint64_t steps);
    void *(*larson_worker)(void *job);
};

static const struct hb_allocator hb_all[] = {
    {"ntmem", hb_pairs_ntmem, hb_larson_worker_ntmem},
    {"glibc", hb_pairs_glibc, hb_larson_worker_glibc},
#ifdef BENCH_HAVE_MIMALLOC
    {"mimalloc", hb_pairs_mimalloc, hb_larson_worker_mimalloc},
#endif
};
#define HB_N (int)(sizeof hb_all / sizeof hb_all[0])

/* M ops/s over both threads; steps per thread (rounded down to whole swap periods, so both threads
 * meet at every exchange). */
static double hb_larson(const struct hb_allocator *a, const struct hb_seq *seqs, uint64_t steps)
{
    struct hb_larson *sh = hb_mem(sizeof *sh);
    struct hb_larson_job job[HP_LARSON_THREADS];
    pthread_t th[HP_LARSON_THREADS];
    steps -= steps % HP_LARSON_SWAP;
    if (steps == 0)
        steps = HP_LARSON_SWAP;
    for (int i = 0; i < HP_LARSON_THREADS; i++) {
        job[i] = (struct hb_larson_job){.shared = sh, .seq = &seqs[i], .steps = steps, .index = i};
        if (pthread_create(&th[i], NULL, a->larson_worker, &job[i]) != 0) {
            perror("bench_heap: pthread_create");
            exit(2);
        }
    }
    for (int i = 0; i < HP_LARSON_THREADS; i++)
        pthread_join(th[i], NULL);
    double t0 = job[0].t0, t1 = job[0].t1;
    for (int i = 1; i < HP_LARSON_THREADS; i++) {
        t0 = job[i].t0 < t0 ? job[i].t0 : t0;
        t1 = job[i].t1 > t1 ? job[i].t1 : t1;
    }
    hb_unmem(sh, sizeof *sh);
    return (double)steps * HP_LARSON_THREADS / (t1 - t0) * 1e3;
}

/* ---- fragmentation and HeapCompact on a private heap ---------------------------------------------- */
struct hb_frag_result {
    double ratio;                     /* cbCommitted / live requested bytes after the churn */
    double compact_mb;                /* rise of ullAvailPageFile across HeapCompact, MB */
};

static uint16_t hb_frag_size(uint64_t *s)
{
    return (uint16_t)(HP_FRAG_MIN + hb_below(s, HP_FRAG_MAX - HP_FRAG_MIN + 1));
}

static void hb_frag_put(HANDLE heap, void **block, uint16_t *size, uint32_t i, uint16_t n)
{
    char *p = HeapAlloc(heap, 0, n);
    if (p == NULL)
        hb_oom("ntmem private heap", n);
    memset(p, 0x5A, n);               /* written in full, as its owner would */
    block[i] = p;
    size[i] = n;
}

/* The same sizes and orders every time (one seed), so every round and every process measures alike. */
static void hb_frag(struct hb_frag_result *r)
{
    uint64_t s = hb_seed(1000);
    void **block = hb_mem(HP_FRAG_CAP * sizeof *block);
    uint16_t *size = hb_mem(HP_FRAG_CAP * sizeof *size);
    uint32_t *order = hb_mem(HP_FRAG_CAP * sizeof *order);
    HANDLE heap = HeapCreate(0, 0, 0);
    if (heap == NULL) {
        fprintf(stderr, "bench_heap: HeapCreate(0, 0, 0) failed, error %lu\n", (unsigned long)GetLastError());
        exit(2);
    }
    ULONG lfh = 0;
    SIZE_T got = 0;
    HeapQueryInformation(heap, HeapCompatibilityInformation, &lfh, sizeof lfh, &got);

    uint32_t n = 0;
    size_t live = 0;
    while (live < HP_FRAG_LIVE && n < HP_FRAG_CAP) {
        hb_frag_put(heap, block, size, n, hb_frag_size(&s));
        live += size[n++];
    }
    for (uint32_t i = 0; i < n; i++)
        order[i] = i;
    for (int pass = 0; pass < HP_FRAG_CHURN; pass++) {
        hb_shuffle(order, n, &s);
        for (uint32_t k = 0; k < n / 2; k++) {
            uint32_t i = order[k];
            HeapFree(heap, 0, block[i]);
            live -= size[i];
        }
        for (uint32_t k = 0; k < n / 2; k++) {
            uint32_t i = order[k];
            hb_frag_put(heap, block, size, i, hb_frag_size(&s));
            live += size[i];
        }
    }
    HEAP_SUMMARY sum = {.cb = sizeof sum};
    if (!HeapSummary(heap, 0, &sum)) {
        fprintf(stderr, "bench_heap: HeapSummary failed, error %lu\n", (unsigned long)GetLastError());
        exit(2);
    }
    r->ratio = (double)sum.cbCommitted / (double)live;
    printf("heap_frag-detail ntmem blocks=%u live=%zu cbAllocated=%zu cbCommitted=%zu cbReserved=%zu "
           "compatibility=%lu\n",
           n, live, (size_t)sum.cbAllocated, (size_t)sum.cbCommitted, (size_t)sum.cbReserved, (unsigned long)lfh);

    /* Keep a random ~5% of the blocks, free the rest, and see what HeapCompact hands back. */
    hb_shuffle(order, n, &s);
    uint32_t keep = n * HP_FRAG_KEEP_PERCENT / 100;
    size_t kept = 0;
    for (uint32_t k = keep; k < n; k++)
        HeapFree(heap, 0, block[order[k]]);
    for (uint32_t k = 0; k < keep; k++)
        kept += size[order[k]];
    HEAP_SUMMARY before_sum = {.cb = sizeof before_sum}, after_sum = {.cb = sizeof after_sum};
    MEMORYSTATUSEX before = {.dwLength = sizeof before}, after = {.dwLength = sizeof after};
    HeapSummary(heap, 0, &before_sum);
    GlobalMemoryStatusEx(&before);
    SIZE_T largest = HeapCompact(heap, 0);
    GlobalMemoryStatusEx(&after);
    HeapSummary(heap, 0, &after_sum);
    double drop = (double)after.ullAvailPageFile - (double)before.ullAvailPageFile;
    r->compact_mb = drop / (1024.0 * 1024.0);
    printf("heap_compact-detail ntmem kept=%u blocks (%zu bytes) cbCommitted %zu -> %zu largest_free=%zu "
           "ullAvailPageFile %llu -> %llu ullTotalPageFile %llu -> %llu\n",
           keep, kept, (size_t)before_sum.cbCommitted, (size_t)after_sum.cbCommitted, (size_t)largest,
           (unsigned long long)before.ullAvailPageFile, (unsigned long long)after.ullAvailPageFile,
           (unsigned long long)before.ullTotalPageFile, (unsigned long long)after.ullTotalPageFile);

    for (uint32_t k = 0; k < keep; k++)
        HeapFree(heap, 0, block[order[k]]);
    HeapDestroy(heap);
    hb_unmem(block, HP_FRAG_CAP * sizeof *block);
    hb_unmem(size, HP_FRAG_CAP * sizeof *size);
    hb_unmem(order, HP_FRAG_CAP * sizeof *order);
}

/* ---- driver ---------------------------------------------------------------------------------------- */
static void hb_usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [-v] [-r rounds] [-n pair_steps] [-l larson_steps_per_thread] [workload...]\n"
            "workloads: heap_pairs heap_larson heap_frag (default: all; heap_frag also gives heap_compact)\n",
            prog);
    exit(2);
}

static void hb_report(const char *measurement, const double *v, const char *unit)
{
    for (int i = 0; i < HB_N; i++) {
        printf("%s %s %.2f %s", measurement, hb_all[i].name, v[i], unit);
        if (i > 0 && v[0] > 0)
            printf(" ntmem/%s=%.2f", hb_all[i].name, v[0] / v[i]);
        putchar('\n');
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int rounds = 7, verbose = 0, c;
    uint64_t pair_steps = 10000000, larson_steps = 2000000;
    while ((c = getopt(argc, argv, "r:n:l:vh")) != -1) {
        switch (c) {
        case 'r': rounds = atoi(optarg); break;
        case 'n': pair_steps = strtoull(optarg, NULL, 0); break;
        case 'l': larson_steps = strtoull(optarg, NULL, 0); break;
        case 'v': verbose = 1; break;
        default: hb_usage(argv[0]);
        }
    }
    if (rounds < 1 || rounds > BENCH_MAX_ROUNDS || pair_steps < 1 || larson_steps < 1)
        hb_usage(argv[0]);
    int do_pairs = optind == argc, do_larson = optind == argc, do_frag = optind == argc;
    for (int i = optind; i < argc; i++) {
        if (strcmp(argv[i], "heap_pairs") == 0)
            do_pairs = 1;
        else if (strcmp(argv[i], "heap_larson") == 0)
            do_larson = 1;
        else if (strcmp(argv[i], "heap_frag") == 0 || strcmp(argv[i], "heap_compact") == 0)
            do_frag = 1;
        else
            hb_usage(argv[0]);
    }

    hb_glibc_init();
    hb_process_heap = GetProcessHeap();
    if (hb_process_heap == NULL) {
        fprintf(stderr, "bench_heap: GetProcessHeap() returned NULL\n");
        return 2;
    }
    Dl_info where;
    void *malloc_sym = dlsym(RTLD_DEFAULT, "malloc");
    printf("# bench_heap: rounds %d, pairs %llu steps (%d live, %d-%d B), larson %d threads x %llu steps "
           "(%d slots, swap every %d), frag %zu MB live (%d-%d B); process malloc is %s\n",
           rounds, (unsigned long long)pair_steps, HP_PAIRS_LIVE, HP_MIN_SIZE, HP_MAX_SIZE, HP_LARSON_THREADS,
           (unsigned long long)larson_steps, HP_LARSON_SLOTS, HP_LARSON_SWAP, HP_FRAG_LIVE >> 20, HP_FRAG_MIN,
           HP_FRAG_MAX, malloc_sym && dladdr(malloc_sym, &where) && where.dli_fname ? where.dli_fname : "unknown");
    fflush(stdout);

    static struct hb_seq seqs[HP_LARSON_THREADS];
    static double v[HB_N][BENCH_MAX_ROUNDS];
    double med[HB_N];

    if (do_pairs) {
        hb_seq_init(&seqs[0], 0, HP_PAIRS_LIVE);
        for (int i = 0; i < HB_N; i++)
            hb_all[i].pairs(&seqs[0], pair_steps / 10 + 1); /* warm-up, untimed */
        for (int r = 0; r < rounds; r++)
            for (int k = 0; k < HB_N; k++) {
                int i = (r + k) % HB_N;
                v[i][r] = hb_all[i].pairs(&seqs[0], pair_steps);
            }
        for (int i = 0; i < HB_N; i++) {
            med[i] = bench_median(v[i], rounds);
            for (int r = 0; verbose && r < rounds; r++)
                printf("round heap_pairs %s %d %.2f ns\n", hb_all[i].name, r, v[i][r]);
        }
        hb_report("heap_pairs", med, "ns");
        hb_unmem(seqs[0].op, HP_SEQ_LEN * sizeof *seqs[0].op);
    }

    if (do_larson) {
        for (int t = 0; t < HP_LARSON_THREADS; t++)
            hb_seq_init(&seqs[t], 10 + (unsigned)t, HP_LARSON_SLOTS);
        for (int i = 0; i < HB_N; i++)
            hb_larson(&hb_all[i], seqs, larson_steps / 10 + 1); /* warm-up, untimed */
        for (int r = 0; r < rounds; r++)
            for (int k = 0; k < HB_N; k++) {
                int i = (r + k) % HB_N;
                v[i][r] = hb_larson(&hb_all[i], seqs, larson_steps);
            }
        for (int i = 0; i < HB_N; i++) {
            med[i] = bench_median(v[i], rounds);
            for (int r = 0; verbose && r < rounds; r++)
                printf("round heap_larson %s %d %.2f Mops/s\n", hb_all[i].name, r, v[i][r]);
        }
        hb_report("heap_larson", med, "Mops/s");
        for (int t = 0; t < HP_LARSON_THREADS; t++)
            hb_unmem(seqs[t].op, HP_SEQ_LEN * sizeof *seqs[t].op);
    }

    if (do_frag) {
        double ratio[BENCH_MAX_ROUNDS], mb[BENCH_MAX_ROUNDS];
        for (int r = 0; r < rounds; r++) {
            struct hb_frag_result fr;
            hb_frag(&fr);
            ratio[r] = fr.ratio;
            mb[r] = fr.compact_mb;
        }
        printf("heap_frag ntmem %.3f x\n", bench_median(ratio, rounds));
        printf("heap_compact ntmem %.2f MB\n", bench_median(mb, rounds));
        fflush(stdout);
    }
    return 0;
}
