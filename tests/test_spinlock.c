/* test_spinlock.c - spin locks: IRQL effects, try/test, mutual exclusion, and every misuse's STOP. */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <wdm.h>

#include "death.h"

START_TEST(initialize_makes_the_lock_free)
{
    KSPIN_LOCK Lock = (KSPIN_LOCK)0x1234;

    KeInitializeSpinLock(&Lock);
    ck_assert_uint_eq(Lock, 0);
    ck_assert(KeTestSpinLock(&Lock));
}
END_TEST

START_TEST(acquire_raises_to_dispatch_and_release_restores)
{
    KSPIN_LOCK Lock;
    KIRQL Old = 0xFF;

    KeInitializeSpinLock(&Lock);
    KeAcquireSpinLock(&Lock, &Old);
    ck_assert_uint_eq(Old, PASSIVE_LEVEL);
    ck_assert_uint_eq(KeGetCurrentIrql(), DISPATCH_LEVEL);
    ck_assert(!KeTestSpinLock(&Lock));
    ck_assert_uint_ne(Lock, 0);
    KeReleaseSpinLock(&Lock, Old);
    ck_assert_uint_eq(KeGetCurrentIrql(), PASSIVE_LEVEL);
    ck_assert(KeTestSpinLock(&Lock));
    ck_assert_uint_eq(Lock, 0);
}
END_TEST

START_TEST(acquire_from_apc_level_returns_apc_level)
{
    KSPIN_LOCK Lock;
    KIRQL Outer, Old;

    KeInitializeSpinLock(&Lock);
    KeRaiseIrql(APC_LEVEL, &Outer);
    Old = KeAcquireSpinLockRaiseToDpc(&Lock);
    ck_assert_uint_eq(Old, APC_LEVEL);
    ck_assert_uint_eq(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeReleaseSpinLock(&Lock, Old);
    ck_assert_uint_eq(KeGetCurrentIrql(), APC_LEVEL);
    KeLowerIrql(Outer);
}
END_TEST

START_TEST(acquire_at_dispatch_level_is_allowed)
{
    KSPIN_LOCK Lock;
    KIRQL Outer, Old;

    KeInitializeSpinLock(&Lock);
    KeRaiseIrql(DISPATCH_LEVEL, &Outer);
    KeAcquireSpinLock(&Lock, &Old);
    ck_assert_uint_eq(Old, DISPATCH_LEVEL);
    KeReleaseSpinLock(&Lock, Old);
    ck_assert_uint_eq(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(Outer);
}
END_TEST

START_TEST(dpc_level_variants_leave_irql_alone)
{
    KSPIN_LOCK Lock;
    KIRQL Old;

    KeInitializeSpinLock(&Lock);
    KeRaiseIrql(DISPATCH_LEVEL, &Old);
    KeAcquireSpinLockAtDpcLevel(&Lock);
    ck_assert_uint_eq(KeGetCurrentIrql(), DISPATCH_LEVEL);
    ck_assert(!KeTestSpinLock(&Lock));
    KeReleaseSpinLockFromDpcLevel(&Lock);
    ck_assert_uint_eq(KeGetCurrentIrql(), DISPATCH_LEVEL);
    ck_assert(KeTestSpinLock(&Lock));
    KeLowerIrql(Old);
}
END_TEST

START_TEST(two_locks_nest)
{
    KSPIN_LOCK A, B;
    KIRQL OldA, OldB;

    KeInitializeSpinLock(&A);
    KeInitializeSpinLock(&B);
    KeAcquireSpinLock(&A, &OldA);
    KeAcquireSpinLock(&B, &OldB);
    ck_assert_uint_eq(OldA, PASSIVE_LEVEL);
    ck_assert_uint_eq(OldB, DISPATCH_LEVEL);
    KeReleaseSpinLock(&B, OldB);
    ck_assert_uint_eq(KeGetCurrentIrql(), DISPATCH_LEVEL);
    ck_assert(KeTestSpinLock(&B));
    ck_assert(!KeTestSpinLock(&A));
    KeReleaseSpinLock(&A, OldA);
    ck_assert_uint_eq(KeGetCurrentIrql(), PASSIVE_LEVEL);
}
END_TEST

/* A helper thread that holds a lock until told to let go. */
typedef struct holder {
    KSPIN_LOCK *Lock;
    int Held;    /* set by the holder once it owns the lock */
    int Release; /* set by the test to make it let go */
    int DelayUs; /* if non-zero, let go by itself after this long instead */
    int Released; /* written just before the release, while still holding the lock */
} holder;

static void *hold_lock(void *arg)
{
    holder *h = arg;
    KIRQL Old;

    KeAcquireSpinLock(h->Lock, &Old);
    __atomic_store_n(&h->Held, 1, __ATOMIC_RELEASE);
    if (h->DelayUs != 0)
        usleep((useconds_t)h->DelayUs);
    else
        while (!__atomic_load_n(&h->Release, __ATOMIC_ACQUIRE))
            sched_yield();
    h->Released = 1; /* plain store: only the lock orders it before the waiter's read */
    KeReleaseSpinLock(h->Lock, Old);
    return NULL;
}

static void start_holder(holder *h, KSPIN_LOCK *Lock, pthread_t *Thread, int DelayUs)
{
    h->Lock = Lock;
    h->Held = h->Release = h->Released = 0;
    h->DelayUs = DelayUs;
    ck_assert_int_eq(pthread_create(Thread, NULL, hold_lock, h), 0);
    while (!__atomic_load_n(&h->Held, __ATOMIC_ACQUIRE))
        sched_yield();
}

START_TEST(try_to_acquire)
{
    KSPIN_LOCK Lock;
    KIRQL Old;
    holder h;
    pthread_t Thread;

    KeInitializeSpinLock(&Lock);
    KeRaiseIrql(DISPATCH_LEVEL, &Old);
    ck_assert(KeTryToAcquireSpinLockAtDpcLevel(&Lock));
    ck_assert(!KeTestSpinLock(&Lock));
    ck_assert(!KeTryToAcquireSpinLockAtDpcLevel(&Lock)); /* held, by us: a try simply fails */
    KeReleaseSpinLockFromDpcLevel(&Lock);
    KeLowerIrql(Old);

    start_holder(&h, &Lock, &Thread, 0);
    ck_assert(!KeTestSpinLock(&Lock));
    KeRaiseIrql(DISPATCH_LEVEL, &Old);
    ck_assert(!KeTryToAcquireSpinLockAtDpcLevel(&Lock));
    KeLowerIrql(Old);
    __atomic_store_n(&h.Release, 1, __ATOMIC_RELEASE);
    pthread_join(Thread, NULL);
    ck_assert(KeTestSpinLock(&Lock));
}
END_TEST

START_TEST(acquire_waits_for_the_holder)
{
    KSPIN_LOCK Lock;
    KIRQL Old;
    holder h;
    pthread_t Thread;

    KeInitializeSpinLock(&Lock);
    start_holder(&h, &Lock, &Thread, 20000);
    KeAcquireSpinLock(&Lock, &Old); /* may succeed only once the holder has let go */
    ck_assert_int_eq(h.Released, 1);
    ck_assert(!KeTestSpinLock(&Lock));
    KeReleaseSpinLock(&Lock, Old);
    pthread_join(Thread, NULL);
    ck_assert_uint_eq(KeGetCurrentIrql(), PASSIVE_LEVEL);
}
END_TEST

/* ---- misuse ----------------------------------------------------------------------------------- */

static KSPIN_LOCK DeathLock;

static __attribute__((noinline)) void acquire_twice(void *arg)
{
    KIRQL Old, Old2;
    (void)arg;
    KeInitializeSpinLock(&DeathLock);
    KeAcquireSpinLock(&DeathLock, &Old);
    KeAcquireSpinLock(&DeathLock, &Old2);
}

static __attribute__((noinline)) void acquire_twice_at_dpc_level(void *arg)
{
    KIRQL Old;
    (void)arg;
    KeInitializeSpinLock(&DeathLock);
    KeAcquireSpinLock(&DeathLock, &Old);
    KeAcquireSpinLockAtDpcLevel(&DeathLock);
}

static __attribute__((noinline)) void release_free_lock(void *arg)
{
    (void)arg;
    KeInitializeSpinLock(&DeathLock);
    KeReleaseSpinLock(&DeathLock, PASSIVE_LEVEL);
}

static __attribute__((noinline)) void release_twice_from_dpc_level(void *arg)
{
    KIRQL Old;
    (void)arg;
    KeInitializeSpinLock(&DeathLock);
    KeRaiseIrql(DISPATCH_LEVEL, &Old);
    KeAcquireSpinLockAtDpcLevel(&DeathLock);
    KeReleaseSpinLockFromDpcLevel(&DeathLock);
    KeReleaseSpinLockFromDpcLevel(&DeathLock);
}

static __attribute__((noinline)) void release_lock_held_by_another_thread(void *arg)
{
    holder h;
    pthread_t Thread;
    (void)arg;
    KeInitializeSpinLock(&DeathLock);
    start_holder(&h, &DeathLock, &Thread, 0);
    KeReleaseSpinLock(&DeathLock, PASSIVE_LEVEL);
}

static __attribute__((noinline)) void acquire_above_dispatch_level(void *arg)
{
    KIRQL Old, Old2;
    (void)arg;
    KeInitializeSpinLock(&DeathLock);
    KeRaiseIrql(CLOCK_LEVEL, &Old);
    KeAcquireSpinLock(&DeathLock, &Old2);
}

static __attribute__((noinline)) void release_to_a_higher_irql(void *arg)
{
    KIRQL Old;
    (void)arg;
    KeInitializeSpinLock(&DeathLock);
    KeAcquireSpinLock(&DeathLock, &Old);
    KeReleaseSpinLock(&DeathLock, HIGH_LEVEL);
}

START_TEST(recursive_acquire_is_spin_lock_already_owned)
{
    ck_assert_bugcheck(acquire_twice, NULL, 0x0F, (ULONG_PTR)&DeathLock);
    ck_assert_bugcheck(acquire_twice_at_dpc_level, NULL, 0x0F, (ULONG_PTR)&DeathLock);

    static death_result r;
    death_run(acquire_twice, NULL, &r);
    ck_assert_msg(strstr(r.output, "SPIN_LOCK_ALREADY_OWNED") != NULL, "%s", r.output);
}
END_TEST

START_TEST(release_of_unowned_lock_is_spin_lock_not_owned)
{
    ck_assert_bugcheck(release_free_lock, NULL, 0x10, (ULONG_PTR)&DeathLock);
    ck_assert_bugcheck(release_twice_from_dpc_level, NULL, 0x10, (ULONG_PTR)&DeathLock);
    ck_assert_bugcheck(release_lock_held_by_another_thread, NULL, 0x10, (ULONG_PTR)&DeathLock);

    static death_result r;
    death_run(release_free_lock, NULL, &r);
    ck_assert_msg(strstr(r.output, "SPIN_LOCK_NOT_OWNED") != NULL, "%s", r.output);
}
END_TEST

START_TEST(acquire_above_dispatch_level_is_irql_not_greater_or_equal)
{
    static death_result r;

    ck_assert_bugcheck(acquire_above_dispatch_level, NULL, IRQL_NOT_GREATER_OR_EQUAL, CLOCK_LEVEL);
    death_run(acquire_above_dispatch_level, NULL, &r);
    ck_assert_uint_eq(r.p[1], DISPATCH_LEVEL);
}
END_TEST

START_TEST(release_to_a_higher_irql_is_irql_not_less_or_equal)
{
    static death_result r;

    ck_assert_bugcheck(release_to_a_higher_irql, NULL, IRQL_NOT_LESS_OR_EQUAL, DISPATCH_LEVEL);
    death_run(release_to_a_higher_irql, NULL, &r);
    ck_assert_uint_eq(r.p[1], HIGH_LEVEL);
}
END_TEST

static Suite *spinlock_suite(void)
{
    Suite *s = suite_create("spinlock");
    TCase *t = tcase_create("use");
    tcase_add_test(t, initialize_makes_the_lock_free);
    tcase_add_test(t, acquire_raises_to_dispatch_and_release_restores);
    tcase_add_test(t, acquire_from_apc_level_returns_apc_level);
    tcase_add_test(t, acquire_at_dispatch_level_is_allowed);
    tcase_add_test(t, dpc_level_variants_leave_irql_alone);
    tcase_add_test(t, two_locks_nest);
    tcase_add_test(t, try_to_acquire);
    tcase_add_test(t, acquire_waits_for_the_holder);
    suite_add_tcase(s, t);

    t = tcase_create("misuse");
    tcase_add_test(t, recursive_acquire_is_spin_lock_already_owned);
    tcase_add_test(t, release_of_unowned_lock_is_spin_lock_not_owned);
    tcase_add_test(t, acquire_above_dispatch_level_is_irql_not_greater_or_equal);
    tcase_add_test(t, release_to_a_higher_irql_is_irql_not_less_or_equal);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(spinlock_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
