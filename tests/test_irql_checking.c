/* test_irql_checking.c - Driver Verifier's IRQL checking: paged pool touched at DISPATCH_LEVEL or
 * above is a deterministic STOP 0xD1; below it, access comes back and the data is intact. */
#include <check.h>
#include <string.h>
#include <ntddk.h>
#include <ntmem.h>

#include "death.h"


static volatile UCHAR *paged_block;

static void touch_paged_at_dispatch(void *write)
{
    ntmem_set_verifier_flags(NTMEM_VERIFIER_IRQL_CHECKING);
    paged_block = ExAllocatePoolWithTag(PagedPool, 128, 'lrqI');
    paged_block[5] = 1; /* fine at PASSIVE_LEVEL */
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    if (write != NULL)
        paged_block[7] = 2;
    else
        (void)paged_block[7];
    KeLowerIrql(old);
}

static void touch_paged_under_a_spin_lock(void *arg)
{
    (void)arg;
    ntmem_set_verifier_flags(NTMEM_VERIFIER_IRQL_CHECKING);
    paged_block = ExAllocatePoolWithTag(PagedPool, 64, 'lrqI');
    KSPIN_LOCK lock;
    KeInitializeSpinLock(&lock);
    KIRQL old;
    KeAcquireSpinLock(&lock, &old);
    paged_block[0] = 3;
    KeReleaseSpinLock(&lock, old);
}

START_TEST(paged_pool_touched_at_dispatch_level_is_stop_d1)
{
    SKIP_HARDWARE_DEATH_UNDER_TSAN();
    static death_result r;
    death_run(touch_paged_at_dispatch, (void *)1, &r);
    ck_assert_msg(r.parsed && r.code == DRIVER_IRQL_NOT_LESS_OR_EQUAL, "%s", r.output);
    ck_assert_uint_eq(r.p[1], DISPATCH_LEVEL);
    ck_assert_uint_eq(r.p[2], 1); /* a write */
    ck_assert_uint_ne(r.p[3], 0); /* the instruction */
    ck_assert(r.aborted);
    death_run(touch_paged_at_dispatch, NULL, &r);
    ck_assert_msg(r.parsed && r.code == DRIVER_IRQL_NOT_LESS_OR_EQUAL, "%s", r.output);
    ck_assert_uint_eq(r.p[2], 0); /* a read */
    death_run(touch_paged_under_a_spin_lock, NULL, &r);
    ck_assert_msg(r.parsed && r.code == DRIVER_IRQL_NOT_LESS_OR_EQUAL, "%s", r.output);
}
END_TEST

START_TEST(below_dispatch_level_paged_pool_comes_back_intact)
{
    ntmem_set_verifier_flags(NTMEM_VERIFIER_IRQL_CHECKING);
    PUCHAR p = ExAllocatePoolWithTag(PagedPool, 3000, 'lrqI');
    PUCHAR np = ExAllocatePoolWithTag(NonPagedPoolNx, 64, 'lrqI');
    memset(p, 0x42, 3000);
    for (int round = 0; round < 3; round++) {
        KIRQL old;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        np[round] = 1; /* nonpaged pool stays usable at DISPATCH_LEVEL */
        KeLowerIrql(old);
        for (int i = 0; i < 3000; i++)
            ck_assert_int_eq(p[i], 0x42);
    }
    ExFreePoolWithTag(p, 'lrqI');
    ExFreePoolWithTag(np, 'lrqI');
    ntmem_set_verifier_flags(0);
    /* fresh paged pool after the verifier was switched off */
    PUCHAR q = ExAllocatePoolWithTag(PagedPool, 100, 'lrqI');
    memset(q, 1, 100);
    ExFreePoolWithTag(q, 'lrqI');
}
END_TEST

int main(void)
{
    Suite *s = suite_create("irql checking");
    TCase *t = tcase_create("irql checking");
    tcase_add_test(t, paged_pool_touched_at_dispatch_level_is_stop_d1);
    tcase_add_test(t, below_dispatch_level_paged_pool_comes_back_intact);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int n = srunner_ntests_failed(r);
    srunner_free(r);
    return n != 0;
}
