/* test_stress_lookaside.c - threads sharing lookaside lists, handing blocks across, with a balance set
 * racing them: exact totals, no block handed out twice, nothing left in pool after delete. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ntddk.h>
#include <ntmem.h>

#include "lookasidetest.h"
#include "pooltest.h"

#define TAG_S 'sstS' /* "Stss" */
#define WORKERS 3
#define MAX_OUT 64
#define BLOCK 48

#if defined(__SANITIZE_THREAD__)
#define ITERATIONS 20000
#else
#define ITERATIONS 200000
#endif

typedef struct block {
    ULONG64 link;       /* the lists link through the first word while they hold the block */
    ULONG owner;        /* thread that allocated it */
    ULONG list;         /* 0: the nonpaged list, 1: the Ex list */
    ULONG64 seq;        /* the owner's sequence number */
    ULONG64 check;      /* owner ^ seq ^ a constant */
} block;

static NPAGED_LOOKASIDE_LIST Np;
static LOOKASIDE_LIST_EX Ex;

/* ---- in-use flags: a lock-free address -> flag table (entries are never removed) ------------------ */
#define SET_BITS 16
static _Atomic(ULONG_PTR) SetKey[1u << SET_BITS];
static atomic_int SetFlag[1u << SET_BITS];
static atomic_int DoubleHandouts, BadFrees, Corrupt;

static atomic_int *in_use_flag(PVOID p)
{
    ULONG_PTR key = (ULONG_PTR)p;
    ULONG i = (ULONG)((key >> 4) * 0x9E3779B97F4A7C15ull >> (64 - SET_BITS));
    for (ULONG n = 0; n < (1u << SET_BITS); n++, i = (i + 1) & ((1u << SET_BITS) - 1)) {
        ULONG_PTR k = atomic_load(&SetKey[i]);
        if (k == key)
            return &SetFlag[i];
        if (k == 0) {
            ULONG_PTR expected = 0;
            if (atomic_compare_exchange_strong(&SetKey[i], &expected, key) || expected == key)
                return &SetFlag[i];
        }
    }
    abort(); /* table full: more distinct blocks than the test can ever have */
}

/* ---- the hand-over queue ------------------------------------------------------------------------ */
static pthread_mutex_t QueueLock = PTHREAD_MUTEX_INITIALIZER;
static PVOID Queue[256];
static ULONG QueueCount;

static int queue_put(PVOID p)
{
    int ok = 0;
    pthread_mutex_lock(&QueueLock);
    if (QueueCount < 256) {
        Queue[QueueCount++] = p;
        ok = 1;
    }
    pthread_mutex_unlock(&QueueLock);
    return ok;
}

static PVOID queue_take(void)
{
    PVOID p = NULL;
    pthread_mutex_lock(&QueueLock);
    if (QueueCount > 0)
        p = Queue[--QueueCount];
    pthread_mutex_unlock(&QueueLock);
    return p;
}

/* ---- workers ------------------------------------------------------------------------------------ */
typedef struct worker {
    pthread_t thread;
    ULONG id;
    ULONG64 allocates[2], frees[2];
} worker;

static atomic_int Stop;

static PVOID take_block(worker *w, int which, ULONG64 seq)
{
    block *b = which ? ExAllocateFromLookasideListEx(&Ex) : ExAllocateFromNPagedLookasideList(&Np);
    if (b == NULL)
        abort();
    w->allocates[which]++;
    if (atomic_exchange(in_use_flag(b), 1) != 0)
        atomic_fetch_add(&DoubleHandouts, 1);
    b->owner = w->id;
    b->list = (ULONG)which;
    b->seq = seq;
    b->check = w->id ^ seq ^ 0xB10CB10CB10Cull;
    return b;
}

static void give_back(worker *w, PVOID p)
{
    block *b = p;
    if (b->check != (b->owner ^ b->seq ^ 0xB10CB10CB10Cull) || b->list > 1)
        atomic_fetch_add(&Corrupt, 1);
    int which = (int)b->list;
    if (atomic_exchange(in_use_flag(b), 0) != 1)
        atomic_fetch_add(&BadFrees, 1);
    if (which)
        ExFreeToLookasideListEx(&Ex, b);
    else
        ExFreeToNPagedLookasideList(&Np, b);
    w->frees[which]++;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    PVOID out[MAX_OUT];
    ULONG n = 0;
    ULONG64 rng = 0x1234 + w->id, seq = 0;
    for (ULONG it = 0; it < ITERATIONS; it++) {
        ULONG r = pt_rand(&rng);
        if (r % 4 != 0 && n < MAX_OUT) {
            /* a burst of allocations */
            ULONG burst = 1 + (r >> 8) % 16;
            while (burst-- > 0 && n < MAX_OUT)
                out[n++] = take_block(w, (r >> 4) & 1, ++seq);
        } else if (n > 0) {
            /* a burst of frees, some handed to another thread */
            ULONG burst = 1 + (r >> 8) % 24;
            while (burst-- > 0 && n > 0) {
                PVOID p = out[--n];
                if ((pt_rand(&rng) & 7) == 0 && queue_put(p))
                    continue;
                give_back(w, p);
            }
        }
        if ((r & 3) == 1) {
            PVOID p = queue_take();
            if (p != NULL)
                give_back(w, p);
        }
    }
    while (n > 0)
        give_back(w, out[--n]);
    return NULL;
}

static void *balance_main(void *arg)
{
    (void)arg;
    NTMEM_LOOKASIDE_INFO info[8];
    ULONG total;
    while (!atomic_load(&Stop)) {
        NTSTATUS s = ntmem_query_lookaside_lists(info, 8, &total);
        if (s != STATUS_SUCCESS || total < 2)
            atomic_fetch_add(&Corrupt, 1);
        ntmem_adjust_lookaside_depths();
    }
    return NULL;
}

START_TEST(shared_lists_under_load)
{
    ntmem_set_lookaside_period(5); /* the background thread races too */
    ExInitializeNPagedLookasideList(&Np, NULL, NULL, 0, sizeof(block), TAG_S, 0);
    ck_assert_uint_eq((ULONG)ExInitializeLookasideListEx(&Ex, NULL, NULL, NonPagedPool, 0, sizeof(block) + 16, TAG_S, 0),
                      (ULONG)STATUS_SUCCESS);
    worker w[WORKERS];
    memset(w, 0, sizeof w);
    pthread_t balance;
    ck_assert_int_eq(pthread_create(&balance, NULL, balance_main, NULL), 0);
    for (int i = 0; i < WORKERS; i++) {
        w[i].id = (ULONG)i + 1;
        ck_assert_int_eq(pthread_create(&w[i].thread, NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < WORKERS; i++)
        pthread_join(w[i].thread, NULL);
    /* what is still queued is freed here */
    worker main_worker = {.id = 99};
    for (PVOID p; (p = queue_take()) != NULL;)
        give_back(&main_worker, p);
    atomic_store(&Stop, 1);
    pthread_join(balance, NULL);

    ck_assert_int_eq(atomic_load(&DoubleHandouts), 0);
    ck_assert_int_eq(atomic_load(&BadFrees), 0);
    ck_assert_int_eq(atomic_load(&Corrupt), 0);
    for (int which = 0; which < 2; which++) {
        ULONG64 allocates = 0, frees = main_worker.frees[which];
        for (int i = 0; i < WORKERS; i++) {
            allocates += w[i].allocates[which];
            frees += w[i].frees[which];
        }
        ck_assert_uint_eq(allocates, frees);
        ck_assert_uint_gt(allocates, ITERATIONS / 4);
        NTMEM_LOOKASIDE_INFO info = lt_must_info(which ? (PVOID)&Ex : (PVOID)&Np);
        ck_assert_msg(info.TotalAllocates == allocates, "list %d: TotalAllocates %llu, made %llu", which,
                      (unsigned long long)info.TotalAllocates, (unsigned long long)allocates);
        ck_assert_msg(info.TotalFrees == frees, "list %d: TotalFrees %llu, made %llu", which,
                      (unsigned long long)info.TotalFrees, (unsigned long long)frees);
        ck_assert_uint_le(info.AllocateMisses, allocates);
        ck_assert_uint_le(info.FreeMisses, frees);
    }
    /* Every pool block of the tag is one a list holds. */
    SYSTEM_POOLTAG t;
    pt_tag_counts(TAG_S, &t);
    ULONG64 held = lt_must_info(&Np).HeldBlocks + lt_must_info(&Ex).HeldBlocks;
    ck_assert_uint_eq(t.NonPagedAllocs - t.NonPagedFrees, held);
    ExDeleteNPagedLookasideList(&Np);
    ExDeleteLookasideListEx(&Ex);
    pt_tag_counts(TAG_S, &t);
    ck_assert_uint_eq(t.NonPagedUsed, 0);
    ck_assert_uint_eq(t.NonPagedAllocs, t.NonPagedFrees);
}
END_TEST

/* ExFlushLookasideListEx while other threads allocate and free: the list empties, nothing is lost
 * or handed out twice. */
static void *flusher_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&Stop))
        ExFlushLookasideListEx(&Ex);
    return NULL;
}

START_TEST(flush_while_in_use)
{
    ntmem_set_lookaside_period(0);
    ExInitializeNPagedLookasideList(&Np, NULL, NULL, 0, sizeof(block), TAG_S, 0);
    ck_assert_uint_eq((ULONG)ExInitializeLookasideListEx(&Ex, NULL, NULL, NonPagedPool, 0, sizeof(block) + 16, TAG_S, 0),
                      (ULONG)STATUS_SUCCESS);
    worker w[2];
    memset(w, 0, sizeof w);
    pthread_t flusher;
    ck_assert_int_eq(pthread_create(&flusher, NULL, flusher_main, NULL), 0);
    for (int i = 0; i < 2; i++) {
        w[i].id = (ULONG)i + 1;
        ck_assert_int_eq(pthread_create(&w[i].thread, NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(w[i].thread, NULL);
    atomic_store(&Stop, 1);
    pthread_join(flusher, NULL);
    worker main_worker = {.id = 99};
    for (PVOID p; (p = queue_take()) != NULL;)
        give_back(&main_worker, p);
    ck_assert_int_eq(atomic_load(&DoubleHandouts), 0);
    ck_assert_int_eq(atomic_load(&BadFrees), 0);
    ck_assert_int_eq(atomic_load(&Corrupt), 0);
    ExDeleteNPagedLookasideList(&Np);
    ExDeleteLookasideListEx(&Ex);
    SYSTEM_POOLTAG t;
    pt_tag_counts(TAG_S, &t);
    ck_assert_uint_eq(t.NonPagedUsed, 0);
}
END_TEST

static Suite *stress_suite(void)
{
    Suite *s = suite_create("stress_lookaside");
    TCase *t = tcase_create("shared");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, shared_lists_under_load);
    tcase_add_test(t, flush_while_in_use);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(stress_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
