/* workloads.h - the benchmark workloads, written once and instantiated for every allocator. */
/*
 * Two parts:
 *  - the shared machinery, compiled once per translation unit: clock, xorshift RNG, pre-generated
 *    sequences, SPSC ring, the start rendezvous for threads, the control (per-thread free lists, the
 *    floor every allocator is read against) and the driver (options, alternating rounds, medians);
 *  - a template, instantiated each time this header is included with WL_NAME, WL_ALLOC(n) and
 *    WL_FREE(p) defined (optionally WL_USABLE(p), WL_TRIM(), WL_FOOTPRINT(), WL_FOOTPRINT_NAME,
 *    WL_FOOTPRINT_DELTA, WL_MEMORY_EXTRA, WL_NO_CROSS, WL_NO_CHURN).
 *    It emits the workloads as static functions that call that allocator directly, and
 *    `static const struct wl_allocator wl_<WL_NAME>` describing them for the driver.
 * So every allocator runs the same source, compiled the same way, on the same size and slot
 * sequences (generated before any timing, from fixed seeds). Benchmarks measure; they never assert.
 */
#ifndef NTMEM_BENCH_WORKLOADS_COMMON
#include "bench_stats.h"
#define NTMEM_BENCH_WORKLOADS_COMMON

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define WL_MIN_SIZE 16                /* request sizes are uniform in [WL_MIN_SIZE, WL_MAX_SIZE] */
#define WL_MAX_SIZE 256
#define WL_TABLE 1000                 /* live blocks per thread in pairs/threads */
#define WL_SEQ_LEN (1u << 20)         /* operations per pre-generated sequence (cycled) */
#define WL_MAX_THREADS 2
#define WL_RING_SIZE 1024             /* SPSC ring slots in cross (power of two) */
#define WL_MAX_ALLOCATORS 8
#define WL_MAX_ROUNDS BENCH_MAX_ROUNDS

/* ---- clock, memory, RNG --------------------------------------------------------------------------- */

/* The harness's own memory comes from mmap, never from an allocator under test: otherwise tables and
 * sequences would sit in (and inflate the footprint of) whichever allocator owns malloc. */
static void *wl_mem(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("bench: mmap");
        exit(2);
    }
    return p;
}

static void wl_unmem(void *p, size_t bytes)
{
    munmap(p, bytes);
}

static void wl_oom(const char *allocator, size_t size)
{
    fprintf(stderr, "bench: %s returned NULL for %zu bytes\n", allocator, size);
    exit(2);
}

static inline uint64_t wl_next(uint64_t *s)
{
    uint64_t x = *s;                  /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline uint32_t wl_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(((wl_next(s) >> 32) * n) >> 32);
}

static inline uint16_t wl_rand_size(uint64_t *s)
{
    return (uint16_t)(WL_MIN_SIZE + wl_below(s, WL_MAX_SIZE - WL_MIN_SIZE + 1));
}

static inline uint64_t wl_seed(unsigned stream)
{
    return 0x9E3779B97F4A7C15ULL ^ ((uint64_t)(stream + 1) * 0xD1B54A32D192ED03ULL);
}

/* ---- sequences -------------------------------------------------------------------------------- */
struct wl_op {
    uint16_t slot;                    /* table slot to free and refill */
    uint16_t size;                    /* size of the new block */
};

struct wl_seq {
    struct wl_op *op;                 /* WL_SEQ_LEN operations */
    uint16_t fill[WL_TABLE];          /* sizes of the initial table */
};

static void wl_seq_init(struct wl_seq *q, unsigned stream)
{
    uint64_t s = wl_seed(stream);
    for (unsigned i = 0; i < WL_TABLE; i++)
        q->fill[i] = wl_rand_size(&s);
    q->op = wl_mem(WL_SEQ_LEN * sizeof *q->op);
    for (unsigned i = 0; i < WL_SEQ_LEN; i++) {
        q->op[i].slot = (uint16_t)wl_below(&s, WL_TABLE);
        q->op[i].size = wl_rand_size(&s);
    }
}

/* churn: fill n blocks, free a random half, refill it, free another random half, refill it. */
struct wl_churn_plan {
    size_t n;
    uint16_t *size0;                  /* n sizes for the first fill */
    uint32_t *perm1, *perm2;          /* random permutations; the first n/2 entries are freed */
    uint16_t *size1, *size2;          /* n/2 sizes for each refill */
};

struct wl_churn_result {
    size_t live;                      /* requested bytes in live blocks at the end */
    size_t before, after;             /* allocator footprint before and after (0: unknown) */
};

static void wl_shuffle(uint32_t *a, size_t n, uint64_t *s)
{
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = wl_below(s, (uint32_t)(i + 1));
        uint32_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

static void wl_churn_plan_init(struct wl_churn_plan *pl, size_t n)
{
    uint64_t s = wl_seed(100);
    pl->n = n;
    pl->size0 = wl_mem(n * sizeof *pl->size0);
    pl->size1 = wl_mem(n * sizeof *pl->size1);
    pl->size2 = wl_mem(n * sizeof *pl->size2);
    pl->perm1 = wl_mem(n * sizeof *pl->perm1);
    pl->perm2 = wl_mem(n * sizeof *pl->perm2);
    for (size_t i = 0; i < n; i++) {
        pl->size0[i] = wl_rand_size(&s);
        pl->perm1[i] = (uint32_t)i;
    }
    wl_shuffle(pl->perm1, n, &s);
    memcpy(pl->perm2, pl->perm1, n * sizeof *pl->perm2);
    wl_shuffle(pl->perm2, n, &s);
    for (size_t i = 0; i < n / 2; i++) {
        pl->size1[i] = wl_rand_size(&s);
        pl->size2[i] = wl_rand_size(&s);
    }
}

/* ---- single-producer single-consumer ring (cross) ------------------------------------------------ */
struct wl_ring {
    _Alignas(64) atomic_size_t head;  /* next slot the producer fills */
    _Alignas(64) atomic_size_t tail;  /* next slot the consumer empties */
    _Alignas(64) void *slot[WL_RING_SIZE];
};

static inline void wl_wait(unsigned *spins)
{
    /* Spin briefly, then yield: other work may share these two cores. */
    if (++*spins < 512) {
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

/*
 * Each side keeps its own index and a cached copy of the other's, and publishes its index only every
 * WL_RING_BATCH slots (and at the end), so the two index lines change hands once per batch rather
 * than once per block; otherwise a ring hovering near empty or full costs more than the allocator
 * and flips between those regimes from run to run. Needs WL_RING_SIZE >= 2 * WL_RING_BATCH.
 */
#define WL_RING_BATCH 32

static inline void wl_ring_push(struct wl_ring *r, size_t *head, size_t *tail_seen, void *p)
{
    size_t h = *head;
    if (h - *tail_seen == WL_RING_SIZE) {
        unsigned spins = 0;
        while (h - (*tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire)) == WL_RING_SIZE)
            wl_wait(&spins);
    }
    r->slot[h & (WL_RING_SIZE - 1)] = p;
    *head = ++h;
    if (h % WL_RING_BATCH == 0)
        atomic_store_explicit(&r->head, h, memory_order_release);
}

static inline void wl_ring_flush(struct wl_ring *r, size_t head)
{
    atomic_store_explicit(&r->head, head, memory_order_release);
}

static inline void *wl_ring_pop(struct wl_ring *r, size_t *tail, size_t *head_seen)
{
    size_t t = *tail;
    if (t == *head_seen) {
        unsigned spins = 0;
        while (t == (*head_seen = atomic_load_explicit(&r->head, memory_order_acquire)))
            wl_wait(&spins);
    }
    void *p = r->slot[t & (WL_RING_SIZE - 1)];
    *tail = ++t;
    if (t % WL_RING_BATCH == 0)
        atomic_store_explicit(&r->tail, t, memory_order_release);
    return p;
}

/* ---- what the template produces ------------------------------------------------------------------ */
struct wl_slack {
    double mean;                      /* mean usable - requested over sizes WL_MIN_SIZE..WL_MAX_SIZE */
    size_t max;
};

struct wl_allocator {
    const char *name;
    double (*pairs)(const struct wl_seq *seq, uint64_t steps);                 /* ns per step */
    double (*threads)(const struct wl_seq *seqs, int nthreads, uint64_t steps); /* M steps/s, total */
    double (*cross)(const struct wl_seq *seq, uint64_t blocks);                /* ns per block */
    void (*churn)(const struct wl_churn_plan *plan, struct wl_churn_result *r);
    void (*slack)(struct wl_slack *out);                                       /* NULL: unknown */
    void (*memory_extra)(void);                                                /* NULL: none */
    const char *footprint;            /* what churn's footprint counts, for the notes */
    int footprint_is_delta;           /* footprint is process-wide: churn reports after - before */
};

/*
 * Starting threads together. Released from a futex barrier, a woken thread often waits on the
 * waker's CPU for milliseconds before the scheduler moves it, which turns a short two-thread run into
 * a serial one. So thread 0 releases the others only after it has watched each one's heartbeat
 * advance with no gap over WL_START_GAP_NS for WL_START_WINDOW_NS: then they run on CPUs at the same
 * time. After WL_START_GIVE_UP_NS it starts anyway (a one-CPU machine) and counts a late start.
 */
#define WL_START_GAP_NS 5e3
#define WL_START_WINDOW_NS 2e5
#define WL_START_GIVE_UP_NS 1e8

struct wl_start {
    _Alignas(64) atomic_int go;
    struct {
        _Alignas(64) atomic_ulong beat;
    } thread[WL_MAX_THREADS];
};

static atomic_int wl_late_starts;

static void wl_start_together(struct wl_start *s, int me, int n)
{
    if (me != 0) {
        unsigned long beat = 0;
        while (!atomic_load_explicit(&s->go, memory_order_acquire))
            atomic_store_explicit(&s->thread[me].beat, ++beat, memory_order_relaxed);
        return;
    }
    unsigned long last[WL_MAX_THREADS] = {0};
    double changed[WL_MAX_THREADS];
    double begin = bench_now_ns(), window = begin, now = begin;
    for (int i = 1; i < n; i++)
        changed[i] = begin;
    while (n > 1 && now - window < WL_START_WINDOW_NS) {
        now = bench_now_ns();
        for (int i = 1; i < n; i++) {
            unsigned long beat = atomic_load_explicit(&s->thread[i].beat, memory_order_relaxed);
            if (beat != last[i]) {
                last[i] = beat;
                changed[i] = now;
            } else if (now - changed[i] > WL_START_GAP_NS) {
                window = now;         /* thread i is not running right now: start the window again */
            }
        }
        if (now - begin > WL_START_GIVE_UP_NS) {
            atomic_fetch_add(&wl_late_starts, 1);
            break;
        }
    }
    atomic_store_explicit(&s->go, 1, memory_order_release);
}

struct wl_job {                       /* one thread's share of threads or cross */
    void *(*run)(void *job);
    const struct wl_seq *seq;
    uint64_t steps;
    struct wl_start *start;
    int index, count;
    struct wl_ring *ring;
    double t0, t1;
    uint64_t sum;
};

/* Starts a thread per job, waits for all; returns wall time from the first start to the last end. */
static double wl_run_threads(struct wl_job *jobs, int n)
{
    pthread_t th[WL_MAX_THREADS];
    struct wl_start *start = wl_mem(sizeof *start);
    for (int i = 0; i < n; i++) {
        jobs[i].start = start;
        jobs[i].index = i;
        jobs[i].count = n;
        if (pthread_create(&th[i], NULL, jobs[i].run, &jobs[i]) != 0) {
            perror("bench: pthread_create");
            exit(2);
        }
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    wl_unmem(start, sizeof *start);
    double t0 = jobs[0].t0, t1 = jobs[0].t1;
    for (int i = 1; i < n; i++) {
        if (jobs[i].t0 < t0)
            t0 = jobs[i].t0;
        if (jobs[i].t1 > t1)
            t1 = jobs[i].t1;
    }
    return t1 - t0;
}

/* ---- control ------------------------------------------------------------------------------------- */
/*
 * Not an allocator anyone would use: per-thread LIFO lists per 16-byte class, carved from per-thread
 * chunks that are never returned, nothing shared between threads. Run in pairs and threads only, it
 * gives the loop's own cost, and its 2T/1T is what the machine allowed: on a shared host, well below
 * 2 means the two CPUs were not both ours, whatever the allocators did.
 */
#define WL_CTL_CLASSES (WL_MAX_SIZE / 16 + 2)
#define WL_CTL_CHUNK (1u << 20)

static __thread void *wl_ctl_list[WL_CTL_CLASSES];
static __thread char *wl_ctl_bump, *wl_ctl_end;

static void *wl_ctl_carve(size_t c)
{
    size_t bytes = (c + 1) * 16;      /* a 16-byte header holding the class, then the block */
    if ((size_t)(wl_ctl_end - wl_ctl_bump) < bytes) {
        wl_ctl_bump = wl_mem(WL_CTL_CHUNK);
        wl_ctl_end = wl_ctl_bump + WL_CTL_CHUNK;
    }
    char *b = wl_ctl_bump;
    wl_ctl_bump += bytes;
    *(size_t *)b = c;
    return b + 16;
}

static inline void *wl_ctl_alloc(size_t n)
{
    size_t c = (n + 15) >> 4;
    void *p = wl_ctl_list[c];
    if (p == NULL)
        return wl_ctl_carve(c);
    wl_ctl_list[c] = *(void **)p;
    return p;
}

static inline void wl_ctl_free(void *p)
{
    size_t c = *(size_t *)((char *)p - 16);
    *(void **)p = wl_ctl_list[c];
    wl_ctl_list[c] = p;
}

/* ---- driver -------------------------------------------------------------------------------------- */
struct wl_options {
    int rounds;
    uint64_t steps;                   /* pairs steps, and per thread in threads */
    uint64_t blocks;                  /* cross blocks */
    size_t churn_n;
    int verbose;                      /* -v: also print every round's value */
};



static int wl_find(const struct wl_allocator *const *a, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(a[i]->name, name) == 0)
            return i;
    return -1;
}

/* One line per measurement: "<workload> <allocator> <value> <unit>", plus vs_ntmem=<value/ntmem's>
 * when ntmem is in the same binary. */
static void wl_report(const char *workload, const struct wl_allocator *const *a, int n,
                      const double *value, const char *unit)
{
    int base = wl_find(a, n, "ntmem");
    for (int i = 0; i < n; i++) {
        printf("%s %s %.2f %s", workload, a[i]->name, value[i], unit);
        if (base >= 0 && i != base && value[base] > 0)
            printf(" vs_ntmem=%.2f", value[i] / value[base]);
        putchar('\n');
    }
    fflush(stdout);
}

static void wl_usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [-v] [-r rounds] [-n steps] [-c cross_blocks] [-m churn_blocks] [workload...]\n"
            "workloads: memory pairs threads cross (default: all, in that order)\n",
            prog);
    exit(2);
}

static void wl_bench_memory(const struct wl_allocator *const *a, int n, const struct wl_options *o)
{
    struct wl_churn_plan plan;
    wl_churn_plan_init(&plan, o->churn_n);
    for (int i = 0; i < n; i++) {
        if (a[i]->churn == NULL)
            continue;
        if (a[i]->slack) {
            struct wl_slack s;
            a[i]->slack(&s);
            printf("slack %s %.2f B max=%zu\n", a[i]->name, s.mean, s.max);
        }
        if (a[i]->memory_extra)
            a[i]->memory_extra();
        struct wl_churn_result r;
        a[i]->churn(&plan, &r);
        printf("churn-detail %s live=%zu footprint_before=%zu footprint_after=%zu | %s\n", a[i]->name,
               r.live, r.before, r.after, a[i]->footprint ? a[i]->footprint : "unknown");
        size_t held = a[i]->footprint_is_delta ? (r.after > r.before ? r.after - r.before : 0) : r.after;
        if (held)
            printf("churn %s %.3f x\n", a[i]->name, (double)held / (double)r.live);
        fflush(stdout);
    }
}

static void wl_bench_timed(const char *w, const struct wl_allocator *const *all, int all_n,
                           const struct wl_options *o, const struct wl_seq *seqs)
{
    static double v1[WL_MAX_ALLOCATORS][WL_MAX_ROUNDS], v2[WL_MAX_ALLOCATORS][WL_MAX_ROUNDS];
    double m1[WL_MAX_ALLOCATORS], m2[WL_MAX_ALLOCATORS], ratio[WL_MAX_ALLOCATORS];
    int kind = strcmp(w, "pairs") == 0 ? 0 : strcmp(w, "threads") == 0 ? 1 : 2;
    const struct wl_allocator *a[WL_MAX_ALLOCATORS];
    int n = 0;
    for (int i = 0; i < all_n; i++)
        if (kind != 2 || all[i]->cross)
            a[n++] = all[i];

    /* Warm-up, untimed: page in the sequences and let each allocator reach its steady state. */
    for (int i = 0; i < n; i++) {
        if (kind == 0)
            a[i]->pairs(&seqs[0], o->steps / 10 + 1);
        else if (kind == 1)
            a[i]->threads(seqs, WL_MAX_THREADS, o->steps / 10 + 1);
        else
            a[i]->cross(&seqs[0], o->blocks / 10 + 1);
    }
    /* Rounds alternate the allocators, starting one further along each round. */
    for (int r = 0; r < o->rounds; r++) {
        for (int k = 0; k < n; k++) {
            int i = (r + k) % n;
            if (kind == 0) {
                v1[i][r] = a[i]->pairs(&seqs[0], o->steps);
            } else if (kind == 1) {
                v1[i][r] = a[i]->threads(seqs, 1, o->steps);
                v2[i][r] = a[i]->threads(seqs, WL_MAX_THREADS, o->steps);
            } else {
                v1[i][r] = a[i]->cross(&seqs[0], o->blocks);
            }
        }
    }
    for (int i = 0; o->verbose && i < n; i++) {
        for (int r = 0; r < o->rounds; r++) {
            if (kind == 1)
                printf("round %s %s %d %.2f %.2f Mops/s 1T 2T\n", w, a[i]->name, r, v1[i][r], v2[i][r]);
            else
                printf("round %s %s %d %.2f ns\n", w, a[i]->name, r, v1[i][r]);
        }
    }
    for (int i = 0; i < n; i++) {
        m1[i] = bench_median(v1[i], o->rounds);
        m2[i] = kind == 1 ? bench_median(v2[i], o->rounds) : 0;
        ratio[i] = m1[i] > 0 ? m2[i] / m1[i] : 0;
    }
    if (kind == 0) {
        wl_report("pairs", a, n, m1, "ns");
    } else if (kind == 1) {
        wl_report("threads1", a, n, m1, "Mops/s");
        wl_report("threads2", a, n, m2, "Mops/s");
        wl_report("threads_scaling", a, n, ratio, "x");
    } else {
        wl_report("cross", a, n, m1, "ns");
    }
}

static int wl_main(int argc, char **argv, const struct wl_allocator *const *a, int n)
{
    struct wl_options o = {.rounds = 7, .steps = 10000000, .blocks = 2000000, .churn_n = 200000};
    int c;
    while ((c = getopt(argc, argv, "r:n:c:m:vh")) != -1) {
        switch (c) {
        case 'r': o.rounds = atoi(optarg); break;
        case 'n': o.steps = strtoull(optarg, NULL, 0); break;
        case 'c': o.blocks = strtoull(optarg, NULL, 0); break;
        case 'm': o.churn_n = strtoull(optarg, NULL, 0); break;
        case 'v': o.verbose = 1; break;
        default: wl_usage(argv[0]);
        }
    }
    if (o.rounds < 1 || o.rounds > WL_MAX_ROUNDS || o.steps < 1 || o.blocks < 1 || o.churn_n < 2 ||
        o.churn_n > UINT32_MAX || n > WL_MAX_ALLOCATORS)
        wl_usage(argv[0]);

    static const char *const all[] = {"memory", "pairs", "threads", "cross"};
    const char *const *work = (const char *const *)&argv[optind];
    int nwork = argc - optind;
    if (nwork == 0) {
        work = all;
        nwork = 4;
    }
    for (int w = 0; w < nwork; w++) {
        int known = 0;
        for (int k = 0; k < 4; k++)
            known |= strcmp(work[w], all[k]) == 0;
        if (!known)
            wl_usage(argv[0]);
    }

    printf("# allocators:");
    for (int i = 0; i < n; i++)
        printf(" %s", a[i]->name);
    printf("; rounds %d, steps %llu, cross blocks %llu, churn blocks %zu, sizes %d-%d, table %d\n",
           o.rounds, (unsigned long long)o.steps, (unsigned long long)o.blocks, o.churn_n, WL_MIN_SIZE,
           WL_MAX_SIZE, WL_TABLE);
    fflush(stdout);

    static struct wl_seq seqs[WL_MAX_THREADS];
    int seqs_ready = 0;
    for (int w = 0; w < nwork; w++) {
        if (strcmp(work[w], "memory") == 0) {
            wl_bench_memory(a, n, &o);
            continue;
        }
        if (!seqs_ready) {
            for (int t = 0; t < WL_MAX_THREADS; t++)
                wl_seq_init(&seqs[t], (unsigned)t);
            seqs_ready = 1;
        }
        wl_bench_timed(work[w], a, n, &o, seqs);
    }
    if (atomic_load(&wl_late_starts))
        printf("# %d multi-thread runs started without their threads on CPUs together\n",
               atomic_load(&wl_late_starts));
    return 0;
}

#define WL_CAT_(a, b) a##b
#define WL_CAT(a, b) WL_CAT_(a, b)
#define WL_STR_(a) #a
#define WL_STR(a) WL_STR_(a)
#define WL_FN(x) WL_CAT(WL_CAT(wl_, WL_NAME), WL_CAT(_, x))

#endif /* NTMEM_BENCH_WORKLOADS_COMMON */

/* ==== the template: one instance per inclusion with WL_NAME defined ================================= */
#ifdef WL_NAME

#if !defined(WL_ALLOC) || !defined(WL_FREE)
#error "workloads.h: define WL_ALLOC(n) and WL_FREE(p) along with WL_NAME"
#endif

static inline char *WL_FN(get)(size_t size)
{
    char *p = WL_ALLOC(size);
    if (__builtin_expect(p == NULL, 0))
        wl_oom(WL_STR(WL_NAME), size);
    return p;
}

static void WL_FN(fill)(void **table, const struct wl_seq *seq)
{
    for (unsigned j = 0; j < WL_TABLE; j++) {
        char *p = WL_FN(get)(seq->fill[j]);
        p[0] = (char)j;
        table[j] = p;
    }
}

static void WL_FN(drain)(void **table)
{
    for (unsigned j = 0; j < WL_TABLE; j++)
        WL_FREE(table[j]);
}

/* The measured loop: free a slot, allocate a new block into it, touch its first byte. */
static void WL_FN(steps)(void **table, const struct wl_seq *seq, uint64_t steps)
{
    const struct wl_op *op = seq->op;
    for (uint64_t i = 0; i < steps; i++) {
        struct wl_op o = op[i & (WL_SEQ_LEN - 1)];
        WL_FREE(table[o.slot]);
        char *p = WL_FN(get)(o.size);
        p[0] = (char)i;
        table[o.slot] = p;
    }
}

static double WL_FN(pairs)(const struct wl_seq *seq, uint64_t steps)
{
    void *table[WL_TABLE];
    WL_FN(fill)(table, seq);
    double t0 = bench_now_ns();
    WL_FN(steps)(table, seq, steps);
    double t1 = bench_now_ns();
    WL_FN(drain)(table);
    return (t1 - t0) / (double)steps;
}

static void *WL_FN(thread)(void *arg)
{
    struct wl_job *job = arg;
    void *table[WL_TABLE];
    WL_FN(fill)(table, job->seq);     /* in this thread, so its caches are warm when timing starts */
    wl_start_together(job->start, job->index, job->count);
    job->t0 = bench_now_ns();
    WL_FN(steps)(table, job->seq, job->steps);
    job->t1 = bench_now_ns();
    WL_FN(drain)(table);
    return NULL;
}

static double WL_FN(threads)(const struct wl_seq *seqs, int nthreads, uint64_t steps)
{
    struct wl_job jobs[WL_MAX_THREADS];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < nthreads; i++) {
        jobs[i].run = WL_FN(thread);
        jobs[i].seq = &seqs[i];
        jobs[i].steps = steps;
    }
    double wall = wl_run_threads(jobs, nthreads);
    return (double)steps * nthreads / wall * 1e3;
}

#ifndef WL_NO_CROSS
static void *WL_FN(producer)(void *arg)
{
    struct wl_job *job = arg;
    const struct wl_op *op = job->seq->op;
    size_t head = 0, tail_seen = 0;
    wl_start_together(job->start, job->index, job->count);
    job->t0 = bench_now_ns();
    for (uint64_t i = 0; i < job->steps; i++) {
        char *p = WL_FN(get)(op[i & (WL_SEQ_LEN - 1)].size);
        p[0] = (char)i;
        wl_ring_push(job->ring, &head, &tail_seen, p);
    }
    wl_ring_flush(job->ring, head);
    job->t1 = bench_now_ns();
    return NULL;
}

static void *WL_FN(consumer)(void *arg)
{
    struct wl_job *job = arg;
    size_t tail = 0, head_seen = 0;
    uint64_t sum = 0;
    wl_start_together(job->start, job->index, job->count);
    job->t0 = bench_now_ns();
    for (uint64_t i = 0; i < job->steps; i++) {
        char *p = wl_ring_pop(job->ring, &tail, &head_seen);
        sum += (unsigned char)p[0];
        WL_FREE(p);
    }
    job->t1 = bench_now_ns();
    job->sum = sum;
    return NULL;
}

static double WL_FN(cross)(const struct wl_seq *seq, uint64_t blocks)
{
    struct wl_ring *ring = wl_mem(sizeof *ring);
    struct wl_job jobs[2];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < 2; i++) {
        jobs[i].run = i ? WL_FN(consumer) : WL_FN(producer);
        jobs[i].seq = seq;
        jobs[i].steps = blocks;
        jobs[i].ring = ring;
    }
    double wall = wl_run_threads(jobs, 2);
    wl_unmem(ring, sizeof *ring);
    return wall / (double)blocks;
}
#endif

#ifndef WL_NO_CHURN
static void WL_FN(churn)(const struct wl_churn_plan *pl, struct wl_churn_result *r)
{
    size_t n = pl->n, half = n / 2;
    void **table = wl_mem(n * sizeof *table);
    uint16_t *size = wl_mem(n * sizeof *size);
    memset(table, 0, n * sizeof *table); /* touched now, so a process-wide footprint excludes them */
    memset(size, 0, n * sizeof *size);
#ifdef WL_FOOTPRINT
    r->before = WL_FOOTPRINT();
#else
    r->before = 0;
#endif
    /* Blocks are written in full, as their owner would: footprints then count real pages. */
    for (size_t i = 0; i < n; i++) {
        table[i] = WL_FN(get)(pl->size0[i]);
        memset(table[i], 0x5A, pl->size0[i]);
        size[i] = pl->size0[i];
    }
    for (int pass = 0; pass < 2; pass++) {
        const uint32_t *perm = pass ? pl->perm2 : pl->perm1;
        const uint16_t *refill = pass ? pl->size2 : pl->size1;
        for (size_t k = 0; k < half; k++)
            WL_FREE(table[perm[k]]);
        for (size_t k = 0; k < half; k++) {
            size_t j = perm[k];
            table[j] = WL_FN(get)(refill[k]);
            memset(table[j], 0xA5, refill[k]);
            size[j] = refill[k];
        }
    }
    r->live = 0;
    for (size_t i = 0; i < n; i++)
        r->live += size[i];
#ifdef WL_TRIM
    WL_TRIM();
#endif
#ifdef WL_FOOTPRINT
    r->after = WL_FOOTPRINT();
#else
    r->after = 0;
#endif
    for (size_t i = 0; i < n; i++)
        WL_FREE(table[i]);
    wl_unmem(table, n * sizeof *table);
    wl_unmem(size, n * sizeof *size);
}
#endif

#ifdef WL_USABLE
static void WL_FN(slack)(struct wl_slack *out)
{
    size_t total = 0, max = 0;
    for (size_t n = WL_MIN_SIZE; n <= WL_MAX_SIZE; n++) {
        void *p = WL_FN(get)(n);
        size_t extra = (size_t)WL_USABLE(p) - n;
        total += extra;
        if (extra > max)
            max = extra;
        WL_FREE(p);
    }
    out->mean = (double)total / (double)(WL_MAX_SIZE - WL_MIN_SIZE + 1);
    out->max = max;
}
#endif

static const struct wl_allocator WL_CAT(wl_, WL_NAME) = {
    .name = WL_STR(WL_NAME),
    .pairs = WL_FN(pairs),
    .threads = WL_FN(threads),
#ifndef WL_NO_CROSS
    .cross = WL_FN(cross),
#endif
#ifndef WL_NO_CHURN
    .churn = WL_FN(churn),
#endif
#ifdef WL_USABLE
    .slack = WL_FN(slack),
#endif
#ifdef WL_MEMORY_EXTRA
    .memory_extra = WL_MEMORY_EXTRA,
#endif
#ifdef WL_FOOTPRINT_NAME
    .footprint = WL_FOOTPRINT_NAME,
#endif
#ifdef WL_FOOTPRINT_DELTA
    .footprint_is_delta = 1,
#endif
};

#undef WL_NAME
#undef WL_ALLOC
#undef WL_FREE
#undef WL_USABLE
#undef WL_TRIM
#undef WL_FOOTPRINT
#undef WL_FOOTPRINT_NAME
#undef WL_FOOTPRINT_DELTA
#undef WL_MEMORY_EXTRA
#undef WL_NO_CROSS
#undef WL_NO_CHURN

#endif /* WL_NAME */
