/* test_stress_spinlock.c - threads hammer a spin-lock-protected counter and list; totals must be exact. */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <wdm.h>

#define THREADS 4
#define ROUNDS 100000
#define ITEMS_PER_THREAD 64

typedef struct item {
    LIST_ENTRY Link;
    int Owner;
} item;

static KSPIN_LOCK Lock;
static LIST_ENTRY Shared;
static long Counter;    /* plain: only the lock protects it */
static long ListLength; /* likewise */
static int Ready;       /* threads started; all begin together so that they really contend */

typedef struct worker {
    int Index;
    item Items[ITEMS_PER_THREAD];
    KIRQL IrqlAfter;
    int Bad;
} worker;

/* Each round moves one of the thread's items onto the shared list or takes any item off it, using
 * the three ways in: KeAcquireSpinLock, the DPC-level pair at DISPATCH_LEVEL, and a try loop. */
static void locked_round(worker *w, int Round, int *Next)
{
    KIRQL Old;
    int Way = Round % 3;

    if (Way == 0) {
        KeAcquireSpinLock(&Lock, &Old);
    } else {
        KeRaiseIrql(DISPATCH_LEVEL, &Old);
        if (Way == 1) {
            KeAcquireSpinLockAtDpcLevel(&Lock);
        } else {
            while (!KeTryToAcquireSpinLockAtDpcLevel(&Lock))
                while (!KeTestSpinLock(&Lock))
                    ;
        }
    }
    if (KeGetCurrentIrql() != DISPATCH_LEVEL)
        w->Bad++;

    Counter++;
    if (*Next < ITEMS_PER_THREAD && (Round & 1) == 0) {
        InsertTailList(&Shared, &w->Items[(*Next)++].Link);
        ListLength++;
    } else if (!IsListEmpty(&Shared)) {
        RemoveHeadList(&Shared);
        ListLength--;
    }

    if (Way == 0) {
        KeReleaseSpinLock(&Lock, Old);
    } else {
        KeReleaseSpinLockFromDpcLevel(&Lock);
        KeLowerIrql(Old);
    }
}

static void *hammer(void *arg)
{
    worker *w = arg;
    int Next = 0;

    for (int i = 0; i < ITEMS_PER_THREAD; i++)
        w->Items[i].Owner = w->Index;
    __atomic_add_fetch(&Ready, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&Ready, __ATOMIC_ACQUIRE) < THREADS)
        sched_yield();
    for (int Round = 0; Round < ROUNDS; Round++)
        locked_round(w, Round, &Next);
    w->IrqlAfter = KeGetCurrentIrql();
    return NULL;
}

START_TEST(counter_and_list_stay_exact)
{
    static worker Workers[THREADS];
    pthread_t Threads[THREADS];

    KeInitializeSpinLock(&Lock);
    InitializeListHead(&Shared);
    Counter = ListLength = 0;
    Ready = 0;
    for (int i = 0; i < THREADS; i++) {
        Workers[i].Index = i;
        Workers[i].IrqlAfter = 0xFF;
        Workers[i].Bad = 0;
        ck_assert_int_eq(pthread_create(&Threads[i], NULL, hammer, &Workers[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(Threads[i], NULL);

    ck_assert_int_eq(Counter, (long)THREADS * ROUNDS);
    for (int i = 0; i < THREADS; i++) {
        ck_assert_uint_eq(Workers[i].IrqlAfter, PASSIVE_LEVEL);
        ck_assert_int_eq(Workers[i].Bad, 0);
    }
    /* The list is intact and as long as the inserts minus removes said. */
    long Walked = 0;
    for (PLIST_ENTRY e = Shared.Flink; e != &Shared; e = e->Flink) {
        ck_assert_ptr_eq(e->Flink->Blink, e);
        Walked++;
    }
    ck_assert_int_eq(Walked, ListLength);
    ck_assert(KeTestSpinLock(&Lock));
    ck_assert_uint_eq(KeGetCurrentIrql(), PASSIVE_LEVEL);
}
END_TEST

static Suite *stress_suite(void)
{
    Suite *s = suite_create("stress_spinlock");
    TCase *t = tcase_create("contention");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, counter_and_list_stay_exact);
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
