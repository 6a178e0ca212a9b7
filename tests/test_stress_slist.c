/* test_stress_slist.c - threads share SLISTs and ExInterlocked lists; nothing is lost or doubled. */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <wdm.h>

/*
 * Iteration counts are fixed (never timed) and sized so that each test takes well under a second
 * normally and one to two seconds under ThreadSanitizer on two CPUs. The payload sits after the
 * SLIST_ENTRY and is written with plain stores: only the entry's current owner touches it, so any
 * report from ThreadSanitizer here is a missing happens-before edge in the lists themselves.
 */
#ifdef NTMEM_SANITIZED
#define SCALE 20
#else
#define SCALE 32
#endif

#define FREE_MARK 0xFF

typedef struct _NODE {
    SLIST_ENTRY Entry;
    ULONG Id;
    UCHAR Owner;       /* FREE_MARK on a list, else the index of the thread holding it */
    ULONG Pushes;      /* flush test: times its producer pushed it */
    ULONG Received;    /* flush test: times a consumer took it */
} NODE;

static NODE *node_of(PSLIST_ENTRY e)
{
    return CONTAINING_RECORD(e, NODE, Entry);
}

static int Ready;

static void start_together(int Threads)
{
    __atomic_add_fetch(&Ready, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&Ready, __ATOMIC_ACQUIRE) < Threads)
        sched_yield();
}

/* ---- a fixed population moves between one list and the threads' hands ------------------------- */

#define POP_THREADS 4
#define POPULATION 512
#define POP_ROUNDS (6000 * SCALE)
#define HAND 8

static SLIST_HEADER Pool;

typedef struct popper {
    int Index;
    long Pops, Pushes, Bad;
} popper;

static void *pop_push(void *arg)
{
    popper *p = arg;
    PSLIST_ENTRY Hand[HAND];
    unsigned Rng = 2463534242u + (unsigned)p->Index * 7919u;

    start_together(POP_THREADS);
    for (int Round = 0; Round < POP_ROUNDS; Round++) {
        Rng ^= Rng << 13, Rng ^= Rng >> 17, Rng ^= Rng << 5;
        int Want = 1 + (int)(Rng % HAND), Held = 0;
        while (Held < Want) {
            PSLIST_ENTRY e = InterlockedPopEntrySList(&Pool);
            if (e == NULL)
                break;
            NODE *n = node_of(e);
            /* Two threads holding one entry, or an entry that was never on the list, shows here. */
            if (n->Owner != FREE_MARK || n->Id >= POPULATION)
                p->Bad++;
            n->Owner = (UCHAR)p->Index;
            Hand[Held++] = e;
            p->Pops++;
        }
        /* Give back in a different order than taken, one at a time or as one pre-linked chain. */
        for (int i = 0; i < Held; i++) {
            NODE *n = node_of(Hand[i]);
            if (n->Owner != (UCHAR)p->Index)
                p->Bad++;
            n->Owner = FREE_MARK;
        }
        if (Held > 1 && (Round & 1)) {
            /* Atomic: a pop that lost one of these entries may still be reading its Next. */
            for (int i = 0; i + 1 < Held; i++)
                __atomic_store_n(&Hand[i]->Next, Hand[i + 1], __ATOMIC_RELAXED);
            InterlockedPushListSListEx(&Pool, Hand[0], Hand[Held - 1], (ULONG)Held);
        } else {
            for (int i = Held - 1; i >= 0; i--)
                InterlockedPushEntrySList(&Pool, Hand[i]);
        }
        p->Pushes += Held;
    }
    return NULL;
}

START_TEST(population_survives_concurrent_push_and_pop)
{
    static popper Poppers[POP_THREADS];
    pthread_t Threads[POP_THREADS];
    NODE *Nodes = aligned_alloc(16, POPULATION * sizeof(NODE));
    static UCHAR Seen[POPULATION];

    ck_assert_ptr_nonnull(Nodes);
    InitializeSListHead(&Pool);
    for (ULONG i = 0; i < POPULATION; i++) {
        Nodes[i].Id = i;
        Nodes[i].Owner = FREE_MARK;
        InterlockedPushEntrySList(&Pool, &Nodes[i].Entry);
    }
    ULONGLONG SequenceBefore = Pool.HeaderX64.Sequence;
    Ready = 0;
    for (int i = 0; i < POP_THREADS; i++) {
        Poppers[i] = (popper){.Index = i};
        ck_assert_int_eq(pthread_create(&Threads[i], NULL, pop_push, &Poppers[i]), 0);
    }
    long Pops = 0, Pushes = 0;
    for (int i = 0; i < POP_THREADS; i++) {
        pthread_join(Threads[i], NULL);
        ck_assert_int_eq(Poppers[i].Bad, 0);
        Pops += Poppers[i].Pops;
        Pushes += Poppers[i].Pushes;
    }
    ck_assert_int_eq(Pops, Pushes);
    ck_assert_int_gt(Pops, (long)POP_THREADS * POP_ROUNDS); /* the threads really did work */

    /* Every entry is there exactly once, and Depth agrees. */
    ck_assert_uint_eq(QueryDepthSList(&Pool), POPULATION);
    memset(Seen, 0, sizeof Seen);
    ULONG Count = 0;
    for (PSLIST_ENTRY e = FirstEntrySList(&Pool); e != NULL; e = e->Next) {
        NODE *n = node_of(e);
        ck_assert_uint_lt(n->Id, POPULATION);
        ck_assert_ptr_eq(n, &Nodes[n->Id]);
        ck_assert_uint_eq(Seen[n->Id]++, 0);
        ck_assert_uint_eq(n->Owner, FREE_MARK);
        ck_assert_uint_le(++Count, POPULATION);
    }
    ck_assert_uint_eq(Count, POPULATION);
    /* Not a single push or pop could skip its sequence increment (pushed chains count once). */
    ck_assert_uint_ge(Pool.HeaderX64.Sequence - SequenceBefore, (ULONGLONG)Pops);
    free(Nodes);
}
END_TEST

/* ---- producers push, one consumer flushes, one pops; entries go home to their producer --------- */

#define PRODUCERS 2
#define PER_PRODUCER 64
#define PRODUCE_ROUNDS (15000 * SCALE)
#define FLUSH_THREADS (PRODUCERS + 2)

#define STALL_SECONDS 10 /* no progress for this long: entries were lost; fail instead of hanging */

static SLIST_HEADER Shared;
static SLIST_HEADER Home[PRODUCERS];
static long Consumed;
static int Stalled;      /* set by whichever thread gave up; every loop then ends */
static int ChainTooLong; /* a flushed chain longer than the population: a cycle */

/* Called when a thread found nothing to do; true once it has found nothing for STALL_SECONDS. */
static int stalled(time_t *Since)
{
    time_t Now = time(NULL);
    if (*Since == 0)
        *Since = Now;
    if (Now - *Since < STALL_SECONDS && !__atomic_load_n(&Stalled, __ATOMIC_RELAXED)) {
        sched_yield();
        return 0;
    }
    __atomic_store_n(&Stalled, 1, __ATOMIC_RELAXED);
    return 1;
}

typedef struct producer {
    int Index;
    long Produced;
} producer;

static void *produce(void *arg)
{
    producer *p = arg;

    time_t Idle = 0;

    start_together(FLUSH_THREADS);
    while (p->Produced < PRODUCE_ROUNDS) {
        PSLIST_ENTRY e = InterlockedPopEntrySList(&Home[p->Index]);
        if (e == NULL) {
            if (stalled(&Idle)) /* all of its entries are with the consumers, or lost */
                break;
            continue;
        }
        Idle = 0;
        node_of(e)->Pushes++;
        InterlockedPushEntrySList(&Shared, e);
        p->Produced++;
    }
    return NULL;
}

static void take(PSLIST_ENTRY e)
{
    NODE *n = node_of(e);
    n->Received++;
    InterlockedPushEntrySList(&Home[n->Owner], e);
}

static void *consume(void *arg)
{
    int Flusher = arg != NULL;
    const long Total = (long)PRODUCERS * PRODUCE_ROUNDS;
    time_t Idle = 0;

    start_together(FLUSH_THREADS);
    while (__atomic_load_n(&Consumed, __ATOMIC_RELAXED) < Total) {
        long Got = 0;
        if (Flusher) {
            PSLIST_ENTRY e = InterlockedFlushSList(&Shared);
            while (e != NULL) {
                if (Got == PRODUCERS * PER_PRODUCER) {
                    __atomic_store_n(&ChainTooLong, 1, __ATOMIC_RELAXED);
                    __atomic_store_n(&Stalled, 1, __ATOMIC_RELAXED);
                    return NULL;
                }
                PSLIST_ENTRY Next = e->Next; /* read before take() links it into its home list */
                take(e);
                Got++;
                e = Next;
            }
        } else {
            PSLIST_ENTRY e = InterlockedPopEntrySList(&Shared);
            if (e != NULL) {
                take(e);
                Got = 1;
            }
        }
        if (Got) {
            __atomic_add_fetch(&Consumed, Got, __ATOMIC_RELAXED);
            Idle = 0;
        } else if (stalled(&Idle)) {
            break;
        }
    }
    return NULL;
}

START_TEST(flush_and_pop_consumers_receive_every_push_once)
{
    static producer Producers[PRODUCERS];
    pthread_t Threads[FLUSH_THREADS];
    NODE *Nodes = aligned_alloc(16, PRODUCERS * PER_PRODUCER * sizeof(NODE));

    ck_assert_ptr_nonnull(Nodes);
    InitializeSListHead(&Shared);
    for (int p = 0; p < PRODUCERS; p++) {
        InitializeSListHead(&Home[p]);
        for (int i = 0; i < PER_PRODUCER; i++) {
            NODE *n = &Nodes[p * PER_PRODUCER + i];
            *n = (NODE){.Id = (ULONG)(p * PER_PRODUCER + i), .Owner = (UCHAR)p};
            InterlockedPushEntrySList(&Home[p], &n->Entry);
        }
    }
    Ready = 0;
    Consumed = 0;
    Stalled = ChainTooLong = 0;
    for (int p = 0; p < PRODUCERS; p++) {
        Producers[p] = (producer){.Index = p};
        ck_assert_int_eq(pthread_create(&Threads[p], NULL, produce, &Producers[p]), 0);
    }
    ck_assert_int_eq(pthread_create(&Threads[PRODUCERS], NULL, consume, (void *)1), 0);
    ck_assert_int_eq(pthread_create(&Threads[PRODUCERS + 1], NULL, consume, NULL), 0);
    for (int i = 0; i < FLUSH_THREADS; i++)
        pthread_join(Threads[i], NULL);

    ck_assert_msg(!ChainTooLong, "a flushed chain was longer than the population: the list has a cycle");
    ck_assert_msg(!Stalled, "no progress for %d s: %ld of %ld pushes consumed", STALL_SECONDS, Consumed,
                  (long)PRODUCERS * PRODUCE_ROUNDS);
    ck_assert_int_eq(Consumed, (long)PRODUCERS * PRODUCE_ROUNDS);
    ck_assert_uint_eq(QueryDepthSList(&Shared), 0);
    ck_assert_ptr_null(FirstEntrySList(&Shared));
    long Pushes = 0;
    for (int i = 0; i < PRODUCERS * PER_PRODUCER; i++) {
        ck_assert_uint_eq(Nodes[i].Received, Nodes[i].Pushes);
        Pushes += Nodes[i].Pushes;
    }
    ck_assert_int_eq(Pushes, (long)PRODUCERS * PRODUCE_ROUNDS);
    /* Everything went home: each home list holds exactly its own entries. */
    for (int p = 0; p < PRODUCERS; p++) {
        ck_assert_uint_eq(QueryDepthSList(&Home[p]), PER_PRODUCER);
        int Count = 0;
        for (PSLIST_ENTRY e = FirstEntrySList(&Home[p]); e != NULL; e = e->Next, Count++)
            ck_assert_uint_eq(node_of(e)->Owner, (UCHAR)p);
        ck_assert_int_eq(Count, PER_PRODUCER);
    }
    free(Nodes);
}
END_TEST

/* ---- ExInterlockedInsertTailList / RemoveHeadList across threads ------------------------------- */

#define LIST_THREADS 4
#define LIST_ITEMS 32
#define LIST_ROUNDS (8000 * SCALE)

typedef struct list_item {
    LIST_ENTRY Link;
    ULONG Id;
} list_item;

typedef struct list_worker {
    int Index;
    list_item Items[LIST_ITEMS];
    PLIST_ENTRY Held[LIST_THREADS * LIST_ITEMS];
    int HeldCount;
    long Inserts, Removes, Bad;
    KIRQL IrqlAfter;
} list_worker;

static LIST_ENTRY ListHead;
static KSPIN_LOCK ListLock;

static void *insert_remove(void *arg)
{
    list_worker *w = arg;

    /* Every thread starts holding its own items; it later holds whatever it removed. */
    for (int i = 0; i < LIST_ITEMS; i++)
        w->Held[w->HeldCount++] = &w->Items[i].Link;
    start_together(LIST_THREADS);
    for (int Round = 0; Round < LIST_ROUNDS; Round++) {
        if (w->HeldCount > 0 && (Round % 3 != 2 || w->HeldCount == LIST_THREADS * LIST_ITEMS)) {
            PLIST_ENTRY Prev = ExInterlockedInsertTailList(&ListHead, w->Held[--w->HeldCount], &ListLock);
            if (Prev != NULL && CONTAINING_RECORD(Prev, list_item, Link)->Id >= LIST_THREADS * LIST_ITEMS)
                w->Bad++;
            w->Inserts++;
        } else {
            PLIST_ENTRY e = ExInterlockedRemoveHeadList(&ListHead, &ListLock);
            if (e != NULL) {
                w->Held[w->HeldCount++] = e;
                w->Removes++;
            }
        }
        if (KeGetCurrentIrql() != PASSIVE_LEVEL)
            w->Bad++;
    }
    /* Hand everything back so the final list must hold every item once. */
    while (w->HeldCount > 0) {
        ExInterlockedInsertTailList(&ListHead, w->Held[--w->HeldCount], &ListLock);
        w->Inserts++;
    }
    w->IrqlAfter = KeGetCurrentIrql();
    return NULL;
}

START_TEST(interlocked_list_totals_stay_exact)
{
    static list_worker Workers[LIST_THREADS];
    static UCHAR Seen[LIST_THREADS * LIST_ITEMS];
    pthread_t Threads[LIST_THREADS];

    KeInitializeSpinLock(&ListLock);
    InitializeListHead(&ListHead);
    Ready = 0;
    for (int i = 0; i < LIST_THREADS; i++) {
        memset(&Workers[i], 0, sizeof Workers[i]);
        Workers[i].Index = i;
        for (int k = 0; k < LIST_ITEMS; k++)
            Workers[i].Items[k].Id = (ULONG)(i * LIST_ITEMS + k);
        ck_assert_int_eq(pthread_create(&Threads[i], NULL, insert_remove, &Workers[i]), 0);
    }
    long Inserts = 0, Removes = 0;
    for (int i = 0; i < LIST_THREADS; i++) {
        pthread_join(Threads[i], NULL);
        ck_assert_int_eq(Workers[i].Bad, 0);
        ck_assert_uint_eq(Workers[i].IrqlAfter, PASSIVE_LEVEL);
        Inserts += Workers[i].Inserts;
        Removes += Workers[i].Removes;
    }
    ck_assert(KeTestSpinLock(&ListLock));
    ck_assert_int_gt(Removes, 0);
    ck_assert_int_eq(Inserts - Removes, LIST_THREADS * LIST_ITEMS);

    memset(Seen, 0, sizeof Seen);
    int Count = 0;
    for (PLIST_ENTRY e = ListHead.Flink; e != &ListHead; e = e->Flink) {
        ck_assert_ptr_eq(e->Flink->Blink, e);
        ULONG Id = CONTAINING_RECORD(e, list_item, Link)->Id;
        ck_assert_uint_lt(Id, LIST_THREADS * LIST_ITEMS);
        ck_assert_uint_eq(Seen[Id]++, 0);
        ck_assert_int_le(++Count, LIST_THREADS * LIST_ITEMS);
    }
    ck_assert_int_eq(Count, LIST_THREADS * LIST_ITEMS);
}
END_TEST

static Suite *stress_slist_suite(void)
{
    Suite *s = suite_create("stress_slist");
    TCase *t = tcase_create("contention");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, population_survives_concurrent_push_and_pop);
    tcase_add_test(t, flush_and_pop_consumers_receive_every_push_once);
    tcase_add_test(t, interlocked_list_totals_stay_exact);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(stress_slist_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
