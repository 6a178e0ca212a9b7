/* test_stress_heap.c - threads allocating, checking and freeing blocks of the process heap and of one
 * shared private heap at once, handing blocks to each other to free through a small lock-protected
 * exchange; heaps made and destroyed while others list them; a walker holding HeapLock while the
 * others work (run under TSan too). */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <ntmem.h>
#include <windows.h>

#define THREADS 4
#define KB ((SIZE_T)1024)

/* Operations per thread. Sanitizer builds are several times slower (TSan about ten). */
#ifndef STRESS_HEAP_OPS
#if defined(NTMEM_SANITIZED)
#define STRESS_HEAP_OPS 20000
#else
#define STRESS_HEAP_OPS 200000
#endif
#endif
#define HEAP_ROUNDS (STRESS_HEAP_OPS / 1000)

#define LIVE 128     /* blocks a thread holds at once */
#define EXCHANGE 64  /* blocks in flight between threads */

/* ---- block contents --------------------------------------------------------------------------------- */

#define NOISE_SIZE (700 * KB)
static UCHAR noise[NOISE_SIZE];

static void make_noise(void)
{
    ULONG x = 88172645u;
    for (SIZE_T i = 0; i < NOISE_SIZE; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise[i] = (UCHAR)(x >> 9);
    }
}

typedef struct block {
    PUCHAR p;
    SIZE_T n;
    HANDLE heap;
    ULONG off; /* the block holds noise[off .. off + n) */
} block;

static ULONG next_random(ULONG *state)
{
    ULONG x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

static SIZE_T random_size(ULONG *rng)
{
    ULONG r = next_random(rng) % 10000;
    if (r < 7000)
        return next_random(rng) % 129;
    if (r < 9500)
        return 129 + next_random(rng) % 1920;
    if (r < 9995)
        return 2049 + next_random(rng) % 30720;
    return 600 * KB + next_random(rng) % 4096; /* a big block now and then */
}

/* ---- the workers ------------------------------------------------------------------------------------- */

typedef struct worker {
    int index;
    ULONG rng;
    ULONG64 allocs, frees, foreign_frees, handed, reallocs;
    int bad_contents, failed_calls, misaligned, bad_sizes;
    block live[LIVE];
} worker;

static HANDLE Shared;
static worker Workers[THREADS];
static pthread_barrier_t StartLine;
static volatile int StopWalker;

static struct {
    pthread_mutex_t lock;
    block items[EXCHANGE];
    int count;
} Exchange = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0};

static void check_and_free(worker *w, const block *b, int foreign)
{
    if (HeapSize(b->heap, 0, b->p) != b->n)
        w->bad_sizes++;
    if (memcmp(b->p, noise + b->off, b->n) != 0)
        w->bad_contents++;
    if (!HeapFree(b->heap, 0, b->p))
        w->failed_calls++;
    w->frees++;
    w->foreign_frees += foreign;
}

static int give_away(const block *b)
{
    int given = 0;
    pthread_mutex_lock(&Exchange.lock);
    if (Exchange.count < EXCHANGE) {
        Exchange.items[Exchange.count++] = *b;
        given = 1;
    }
    pthread_mutex_unlock(&Exchange.lock);
    return given;
}

static int take_one(block *b, ULONG *rng)
{
    int taken = 0;
    pthread_mutex_lock(&Exchange.lock);
    if (Exchange.count > 0) {
        int i = (int)(next_random(rng) % (ULONG)Exchange.count);
        *b = Exchange.items[i];
        Exchange.items[i] = Exchange.items[--Exchange.count];
        taken = 1;
    }
    pthread_mutex_unlock(&Exchange.lock);
    return taken;
}

static void fill_block(worker *w, block *b)
{
    SIZE_T room = NOISE_SIZE - b->n;
    b->off = (ULONG)(next_random(&w->rng) % (room + 1));
    memcpy(b->p, noise + b->off, b->n);
}

static void *work(void *arg)
{
    worker *w = arg;
    HANDLE process = GetProcessHeap();
    pthread_barrier_wait(&StartLine);
    for (int op = 0; op < STRESS_HEAP_OPS; op++) {
        block *b = &w->live[next_random(&w->rng) % LIVE];
        if (b->p == NULL) {
            b->heap = (next_random(&w->rng) & 1) ? Shared : process;
            b->n = random_size(&w->rng);
            b->p = HeapAlloc(b->heap, 0, b->n);
            if (b->p == NULL) {
                w->failed_calls++;
                continue;
            }
            if (((ULONG_PTR)b->p & 15) != 0)
                w->misaligned++;
            fill_block(w, b);
            w->allocs++;
            continue;
        }
        ULONG r = next_random(&w->rng) % 16;
        if (r < 4) { /* hand it to whoever takes it next */
            if (memcmp(b->p, noise + b->off, b->n) != 0)
                w->bad_contents++;
            if (give_away(b))
                w->handed++;
            else
                check_and_free(w, b, 0);
            b->p = NULL;
        } else if (r < 7) { /* free one somebody handed over, then our own */
            block other;
            if (take_one(&other, &w->rng))
                check_and_free(w, &other, 1);
            check_and_free(w, b, 0);
            b->p = NULL;
        } else if (r == 7) { /* move it */
            if (memcmp(b->p, noise + b->off, b->n) != 0)
                w->bad_contents++;
            SIZE_T n = random_size(&w->rng);
            PUCHAR q = HeapReAlloc(b->heap, 0, b->p, n);
            if (q == NULL) {
                w->failed_calls++;
                continue;
            }
            SIZE_T keep = n < b->n ? n : b->n;
            if (memcmp(q, noise + b->off, keep) != 0)
                w->bad_contents++;
            b->p = q;
            b->n = n;
            fill_block(w, b);
            w->reallocs++;
        } else {
            check_and_free(w, b, 0);
            b->p = NULL;
        }
    }
    for (int i = 0; i < LIVE; i++)
        if (w->live[i].p != NULL) {
            check_and_free(w, &w->live[i], 0);
            w->live[i].p = NULL;
        }
    return NULL;
}

/* Takes the heap lock, walks the shared heap and validates it, while the workers run. */
typedef struct walker {
    int walks, unfinished, bad_end, invalid;
} walker;

static void *walk(void *arg)
{
    walker *wk = arg;
    pthread_barrier_wait(&StartLine);
    while (!__atomic_load_n(&StopWalker, __ATOMIC_ACQUIRE)) {
        if (!HeapLock(Shared)) {
            wk->invalid++;
            break;
        }
        PROCESS_HEAP_ENTRY e;
        memset(&e, 0, sizeof e);
        int n = 0;
        while (HeapWalk(Shared, &e) && ++n < 10000000)
            ;
        if (n >= 10000000)
            wk->unfinished++;
        else if (GetLastError() != ERROR_NO_MORE_ITEMS)
            wk->bad_end++;
        if (!HeapValidate(Shared, 0, NULL))
            wk->invalid++;
        HeapUnlock(Shared);
        wk->walks++;
        /* A pause between walks: while the lock is held every worker waits, and a walker that never
         * lets go starves them (under TSan the run then outlasts its time limit). */
        usleep(2000);
    }
    return NULL;
}

static void run_workers(int with_walker)
{
    static walker wk;
    memset(&wk, 0, sizeof wk);
    make_noise();
    Shared = HeapCreate(0, 0, 0);
    ck_assert_ptr_nonnull(Shared);
    memset(Workers, 0, sizeof Workers);
    Exchange.count = 0;
    StopWalker = 0;
    int parties = THREADS + (with_walker ? 1 : 0);
    pthread_barrier_init(&StartLine, NULL, (unsigned)parties);
    pthread_t t[THREADS], walker_thread;
    for (int i = 0; i < THREADS; i++) {
        Workers[i].index = i;
        Workers[i].rng = 2654435761u * (ULONG)(i + 1) + (with_walker ? 7u : 0u);
        ck_assert_int_eq(pthread_create(&t[i], NULL, work, &Workers[i]), 0);
    }
    if (with_walker)
        ck_assert_int_eq(pthread_create(&walker_thread, NULL, walk, &wk), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    if (with_walker) {
        __atomic_store_n(&StopWalker, 1, __ATOMIC_RELEASE);
        pthread_join(walker_thread, NULL);
    }
    pthread_barrier_destroy(&StartLine);

    /* what is still in the exchange is freed here, by yet another thread */
    static worker rest;
    memset(&rest, 0, sizeof rest);
    block b;
    while (take_one(&b, &rest.rng))
        check_and_free(&rest, &b, 1);

    ULONG64 allocs = 0, frees = rest.frees, foreign = rest.foreign_frees;
    for (int i = 0; i < THREADS; i++) {
        worker *w = &Workers[i];
        ck_assert_msg(w->bad_contents == 0, "thread %d: %d blocks with wrong contents", i, w->bad_contents);
        ck_assert_msg(w->failed_calls == 0, "thread %d: %d heap calls failed", i, w->failed_calls);
        ck_assert_msg(w->misaligned == 0, "thread %d: %d blocks not 16-byte aligned", i, w->misaligned);
        ck_assert_msg(w->bad_sizes == 0, "thread %d: %d blocks with a wrong HeapSize", i, w->bad_sizes);
        ck_assert_uint_gt(w->reallocs, 0);
        allocs += w->allocs;
        frees += w->frees;
        foreign += w->foreign_frees;
    }
    ck_assert_int_eq(rest.bad_contents, 0);
    ck_assert_int_eq(rest.failed_calls, 0);
    ck_assert_uint_eq(allocs, frees); /* every block freed exactly once */
    ck_assert_uint_gt(foreign, 0);
    if (with_walker) {
        ck_assert_int_gt(wk.walks, 0);
        ck_assert_int_eq(wk.unfinished, 0);
        ck_assert_int_eq(wk.bad_end, 0);
        ck_assert_msg(wk.invalid == 0, "HeapValidate under HeapLock failed %d of %d times", wk.invalid, wk.walks);
    }
    ck_assert(HeapValidate(GetProcessHeap(), 0, NULL));
    ck_assert(HeapValidate(Shared, 0, NULL));
    ck_assert(HeapDestroy(Shared));
}

START_TEST(threads_share_the_process_heap_and_a_private_heap_and_free_each_others_blocks)
{
    run_workers(0);
}
END_TEST

START_TEST(a_walker_holding_the_heap_lock_sees_a_consistent_heap_while_others_work)
{
    run_workers(1);
}
END_TEST

/* ---- heaps made and destroyed at once --------------------------------------------------------------- */

typedef struct churner {
    ULONG rng;
    int failed, bad_contents, missing_from_list;
} churner;

static void *churn(void *arg)
{
    churner *c = arg;
    HANDLE list[256];
    PUCHAR blocks[32];
    SIZE_T sizes[32];
    pthread_barrier_wait(&StartLine);
    for (int round = 0; round < HEAP_ROUNDS; round++) {
        ULONG r = next_random(&c->rng);
        DWORD flags = (r & 1) ? HEAP_NO_SERIALIZE : 0;
        SIZE_T max = (r & 6) == 0 ? 1024 * KB : 0;
        HANDLE h = HeapCreate(flags, 0, max);
        if (h == NULL) {
            c->failed++;
            continue;
        }
        for (int i = 0; i < 32; i++) {
            sizes[i] = next_random(&c->rng) % 3000;
            blocks[i] = HeapAlloc(h, 0, sizes[i]);
            if (blocks[i] == NULL) {
                c->failed++;
                sizes[i] = 0;
                continue;
            }
            memset(blocks[i], (UCHAR)i, sizes[i]);
        }
        DWORD n = GetProcessHeaps(256, list);
        if (n == 0 || list[0] != GetProcessHeap())
            c->failed++;
        else if (n <= 256) {
            int found = 0;
            for (DWORD i = 0; i < n; i++)
                found += list[i] == h;
            if (found != 1)
                c->missing_from_list++;
        }
        for (int i = 0; i < 32; i += 2) {
            if (blocks[i] == NULL)
                continue;
            for (SIZE_T j = 0; j < sizes[i]; j++)
                if (blocks[i][j] != (UCHAR)i) {
                    c->bad_contents++;
                    break;
                }
            if (!HeapFree(h, 0, blocks[i]))
                c->failed++;
        }
        if (!HeapValidate(h, 0, NULL))
            c->failed++;
        if (!HeapDestroy(h)) /* with half the blocks still in it */
            c->failed++;
    }
    return NULL;
}

START_TEST(threads_create_use_list_and_destroy_heaps_at_once)
{
    static churner c[THREADS];
    HANDLE before[256];
    DWORD n0 = GetProcessHeaps(256, before);
    pthread_barrier_init(&StartLine, NULL, THREADS);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&c[i], 0, sizeof c[i]);
        c[i].rng = 0x9E3779B9u * (ULONG)(i + 3);
        ck_assert_int_eq(pthread_create(&t[i], NULL, churn, &c[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&StartLine);
    for (int i = 0; i < THREADS; i++) {
        ck_assert_msg(c[i].failed == 0, "thread %d: %d heap calls failed", i, c[i].failed);
        ck_assert_int_eq(c[i].bad_contents, 0);
        ck_assert_msg(c[i].missing_from_list == 0, "thread %d: its live heap missing from GetProcessHeaps %d times",
                      i, c[i].missing_from_list);
    }
    ck_assert_uint_eq(GetProcessHeaps(256, before), n0);
    ck_assert(HeapValidate(GetProcessHeap(), 0, NULL));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stress heap");
    TCase *t = tcase_create("threads");
    tcase_set_timeout(t, 240);
    tcase_add_test(t, threads_share_the_process_heap_and_a_private_heap_and_free_each_others_blocks);
    tcase_add_test(t, a_walker_holding_the_heap_lock_sees_a_consistent_heap_while_others_work);
    tcase_add_test(t, threads_create_use_list_and_destroy_heaps_at_once);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int n = srunner_ntests_failed(r);
    srunner_free(r);
    return n != 0;
}
