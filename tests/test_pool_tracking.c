/* test_pool_tracking.c - Driver Verifier's pool tracking: allocations are attributed to a registered
 * driver image by their call stack, and unloading with pool outstanding is STOP 0xC4 (P1 0x62) after
 * a report of the leaked blocks grouped by tag, with their stacks. */
#include <check.h>
#include <string.h>
#include <ntddk.h>
#include <ntmem.h>

#include "death.h"

/* This test program's code plays the driver image. */
extern char __executable_start[], etext[];

static PVOID load_driver(const char *name)
{
    ntmem_set_verifier_flags(NTMEM_VERIFIER_POOL_TRACKING);
    PVOID d = ntmem_verifier_register_driver(name, __executable_start, (SIZE_T)(etext - __executable_start));
    ck_assert_ptr_nonnull(d);
    return d;
}

START_TEST(allocations_are_counted_for_the_driver_until_freed)
{
    PVOID d = load_driver("tracked.sys");
    PVOID a = ExAllocatePoolWithTag(NonPagedPoolNx, 100, 'kcrT');
    PVOID b = ExAllocatePoolWithTag(PagedPool, 5000, 'kcrT'); /* a page-sized one too */
    PVOID c = ExAllocatePool2(POOL_FLAG_NON_PAGED, 40, 'kcr2');
    ck_assert_uint_eq(ntmem_verifier_driver_allocations(d), 3);
    ExFreePoolWithTag(b, 'kcrT');
    ck_assert_uint_eq(ntmem_verifier_driver_allocations(d), 2);
    ExFreePoolWithTag(a, 'kcrT');
    ExFreePool(c);
    ck_assert_uint_eq(ntmem_verifier_driver_allocations(d), 0);
    ntmem_verifier_unload_driver(d); /* nothing left: no bug check */
    ntmem_set_verifier_flags(0);
}
END_TEST

/* Without pool tracking an unload with pool left returns the count; the leaked blocks then belong to
 * no driver, so a driver registered later in the same slot is not charged when they are freed. */
START_TEST(leaks_without_the_verifier_are_counted_then_forgotten)
{
    PVOID d = ntmem_verifier_register_driver("first.sys", __executable_start, (SIZE_T)(etext - __executable_start));
    PVOID leaked = ExAllocatePoolWithTag(NonPagedPoolNx, 100, 'kaeL');
    ck_assert_uint_eq(ntmem_verifier_unload_driver(d), 1);
    PVOID e = ntmem_verifier_register_driver("second.sys", __executable_start, (SIZE_T)(etext - __executable_start));
    ck_assert_ptr_eq(e, d); /* the same slot again */
    ExFreePoolWithTag(leaked, 'kaeL');
    NTMEM_DRIVER_POOL_INFO info;
    ck_assert_int_eq(ntmem_query_driver_pool(e, &info), STATUS_SUCCESS);
    ck_assert_uint_eq(info.Frees, 0);
    ck_assert_uint_eq(info.Outstanding, 0);
    ck_assert_uint_eq(info.CurrentBytes, 0);
    ck_assert_uint_eq(ntmem_verifier_unload_driver(e), 0);
}
END_TEST

static volatile int leaky_calls;

static __attribute__((noinline)) void leaky_dispatch_routine(void)
{
    ExAllocatePoolWithTag(NonPagedPoolNx, 64, 'kaeL');
    ExAllocatePoolWithTag(NonPagedPoolNx, 32, 'kaeL');
    ExAllocatePoolWithTag(PagedPool, 16, '2kaL');
    leaky_calls++; /* no tail call: the routine keeps its frame */
}

static void leaky_driver(void *arg)
{
    (void)arg;
    PVOID d = load_driver("leaky.sys");
    leaky_dispatch_routine();
    PVOID kept = ExAllocatePoolWithTag(NonPagedPoolNx, 8, 'eerF');
    ExFreePoolWithTag(kept, 'eerF');
    ntmem_verifier_unload_driver(d);
}

START_TEST(unloading_with_pool_outstanding_is_stop_c4_62_with_a_report)
{
    static death_result r;
    death_run(leaky_driver, NULL, &r);
    ck_assert_msg(r.parsed, "%s", r.output);
    ck_assert_uint_eq(r.code, DRIVER_VERIFIER_DETECTED_VIOLATION);
    ck_assert_uint_eq(r.p[0], 0x62);
    ck_assert_uint_eq(r.p[3], 3);
    ck_assert(r.aborted);
    ck_assert_ptr_nonnull(strstr(r.output, "leaky.sys is unloading with 3 pool allocation(s) not freed"));
    ck_assert_ptr_nonnull(strstr(r.output, "tag 'Leak': 2 allocation(s), 96 bytes"));
    ck_assert_ptr_nonnull(strstr(r.output, "tag 'Lak2': 1 allocation(s), 16 bytes"));
    ck_assert_msg(strstr(r.output, "leaky_dispatch_routine") != NULL, "no stack names the allocating routine:\n%s",
                  r.output);
    ck_assert_ptr_null(strstr(r.output, "'Free'"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool tracking");
    TCase *t = tcase_create("pool tracking");
    tcase_add_test(t, allocations_are_counted_for_the_driver_until_freed);
    tcase_add_test(t, leaks_without_the_verifier_are_counted_then_forgotten);
    tcase_add_test(t, unloading_with_pool_outstanding_is_stop_c4_62_with_a_report);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int n = srunner_ntests_failed(r);
    srunner_free(r);
    return n != 0;
}
