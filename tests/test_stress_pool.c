/* test_stress_pool.c - threads allocate, verify and free pool blocks, handing half to each other. */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <ntddk.h>
#include <ntmem.h>

#include "pooltest.h"

#define THREADS 4
#define OPS 50000
#define SHARED_TAG 'rhSS'
#define LIVE_MAX 256
#define QUEUE_MAX 4096

static const POOL_TYPE Pools[2] = {NonPagedPool, PagedPool};

typedef struct block {
    PUCHAR p;
    SIZE_T n;
    ULONG tag;
} block;

/* One mutex-protected queue per thread: blocks other threads hand it to verify and free. */
typedef struct queue {
    pthread_mutex_t lock;
    block items[QUEUE_MAX];
    int count;
} queue;

typedef struct worker {
    int index;
    ULONG tag;
    int bad;
    int done; /* under Queues[index].lock */
    ULONG64 allocs, frees, foreign_frees;
} worker;

static queue Queues[THREADS];
static worker Workers[THREADS];

static UCHAR fill_byte(const PUCHAR p, SIZE_T i)
{
    uintptr_t a = (uintptr_t)p;
    return (UCHAR)((a >> 4) ^ (a >> 12) ^ (i * 13));
}

static void fill(const block *b)
{
    for (SIZE_T i = 0; i < b->n; i++)
        b->p[i] = fill_byte(b->p, i);
}

static int verify(const block *b)
{
    for (SIZE_T i = 0; i < b->n; i++)
        if (b->p[i] != fill_byte(b->p, i))
            return 0;
    return 1;
}

static void release(worker *w, const block *b)
{
    if (!verify(b))
        w->bad++;
    ExFreePoolWithTag(b->p, b->tag);
    w->frees++;
}

/* Verifies and frees whatever other threads queued for us; returns how many. */
static int drain(worker *w)
{
    static __thread block local[QUEUE_MAX];
    queue *q = &Queues[w->index];
    pthread_mutex_lock(&q->lock);
    int n = q->count;
    memcpy(local, q->items, (size_t)n * sizeof(block));
    q->count = 0;
    pthread_mutex_unlock(&q->lock);
    for (int i = 0; i < n; i++) {
        release(w, &local[i]);
        w->foreign_frees++;
    }
    return n;
}

/* Hands a block to another thread; if its queue is full, frees it here. */
static void hand_over(worker *w, const block *b, int to)
{
    queue *q = &Queues[to];
    pthread_mutex_lock(&q->lock);
    if (q->count < QUEUE_MAX) {
        q->items[q->count++] = *b;
        pthread_mutex_unlock(&q->lock);
        return;
    }
    pthread_mutex_unlock(&q->lock);
    release(w, b);
}

static void *run(void *arg)
{
    worker *w = arg;
    ULONG64 seed = 0x9E3779B97F4A7C15ULL * (ULONG64)(w->index + 1);
    block live[LIVE_MAX];
    int nlive = 0;
    for (int op = 0; op < OPS; op++) {
        ULONG r = pt_rand(&seed);
        if (nlive < LIVE_MAX && (r & 1)) {
            block b;
            ULONG kind = pt_rand(&seed);
            b.n = (kind % 64 == 0) ? PAGE_SIZE * (1 + kind % 3) : 16 + kind % 1985;
            b.tag = (kind & 4) ? SHARED_TAG : w->tag;
            b.p = ExAllocatePoolWithTag(Pools[(kind >> 3) & 1], b.n, b.tag);
            if (b.p == NULL) {
                w->bad++;
                continue;
            }
            w->allocs++;
            fill(&b);
            live[nlive++] = b;
        } else if (nlive > 0) {
            int k = (int)(pt_rand(&seed) % (ULONG)nlive);
            block b = live[k];
            live[k] = live[--nlive];
            if (r & 2)
                hand_over(w, &b, (w->index + 1 + (int)(r % (THREADS - 1))) % THREADS);
            else
                release(w, &b);
        }
        if ((op & 63) == 0)
            drain(w);
    }
    for (int i = 0; i < nlive; i++)
        hand_over(w, &live[i], (w->index + 1) % THREADS);
    /* keep draining until every thread has stopped handing blocks over */
    pthread_mutex_lock(&Queues[w->index].lock);
    w->done = 1;
    pthread_mutex_unlock(&Queues[w->index].lock);
    for (;;) {
        int all_done = 1;
        for (int i = 0; i < THREADS; i++) {
            pthread_mutex_lock(&Queues[i].lock);
            all_done &= Workers[i].done;
            pthread_mutex_unlock(&Queues[i].lock);
        }
        drain(w);
        if (all_done)
            break;
    }
    drain(w);
    return NULL;
}

START_TEST(threads_share_the_pool_and_the_counters_balance)
{
    pthread_t th[THREADS];
    NTMEM_POOL_USAGE before[2] = {pt_usage(NonPagedPool), pt_usage(PagedPool)};
    for (int i = 0; i < THREADS; i++) {
        pthread_mutex_init(&Queues[i].lock, NULL);
        Queues[i].count = 0;
        memset(&Workers[i], 0, sizeof Workers[i]);
        Workers[i].index = i;
        Workers[i].tag = '0tSS' + ((ULONG)i << 24);
    }
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, run, &Workers[i]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);

    ULONG64 allocs = 0, frees = 0, foreign = 0;
    for (int i = 0; i < THREADS; i++) {
        ck_assert_msg(Workers[i].bad == 0, "thread %d saw %d bad blocks", i, Workers[i].bad);
        ck_assert_int_eq(Queues[i].count, 0);
        allocs += Workers[i].allocs;
        frees += Workers[i].frees;
        foreign += Workers[i].foreign_frees;
    }
    ck_assert_uint_eq(allocs, frees);
    ck_assert_uint_gt(foreign, allocs / 8); /* blocks really crossed threads */

    SYSTEM_POOLTAG t;
    ck_assert(pt_tag_counts(SHARED_TAG, &t));
    ck_assert_uint_eq(t.NonPagedAllocs, t.NonPagedFrees);
    ck_assert_uint_eq(t.PagedAllocs, t.PagedFrees);
    ck_assert_uint_eq(t.NonPagedUsed, 0);
    ck_assert_uint_eq(t.PagedUsed, 0);
    ck_assert_uint_gt(t.NonPagedAllocs, 0);
    ck_assert_uint_gt(t.PagedAllocs, 0);
    ULONG64 counted = (ULONG64)t.NonPagedAllocs + t.PagedAllocs;
    for (int i = 0; i < THREADS; i++) {
        ck_assert(pt_tag_counts(Workers[i].tag, &t));
        ck_assert_uint_eq(t.NonPagedAllocs, t.NonPagedFrees);
        ck_assert_uint_eq(t.PagedAllocs, t.PagedFrees);
        ck_assert_uint_eq(t.NonPagedUsed, 0);
        ck_assert_uint_eq(t.PagedUsed, 0);
        counted += (ULONG64)t.NonPagedAllocs + t.PagedAllocs;
    }
    ck_assert_uint_eq(counted, allocs);

    /* everything went back: no live bytes, no big allocations beyond what there was before */
    ntmem_flush_thread_pool_cache();
    for (int pool = 0; pool < 2; pool++) {
        NTMEM_POOL_USAGE u = pt_usage(Pools[pool]);
        ck_assert_uint_eq(u.UsedBytes, before[pool].UsedBytes);
        ck_assert_uint_eq(u.BigAllocations, before[pool].BigAllocations);
        /* the exited threads' caches were returned: at most 16 empty pages stay per pool */
        ck_assert_msg(u.CommittedBytes <= before[pool].CommittedBytes + 16 * PAGE_SIZE, "pool %d: %zu -> %zu", pool,
                      (size_t)before[pool].CommittedBytes, (size_t)u.CommittedBytes);
    }
}
END_TEST

static Suite *stress_pool_suite(void)
{
    Suite *s = suite_create("stress_pool");
    TCase *t = tcase_create("threads");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, threads_share_the_pool_and_the_counters_balance);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(stress_pool_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
