/* test_low_resources.c - Driver Verifier's low resources simulation (a grace period, then pool
 * allocations fail at the given rate, the same ones again for the same seed) and its zero-byte check. */
#include <check.h>
#include <string.h>
#include <ntddk.h>
#include <ntmem.h>

#include "death.h"

/* Which of n allocations fail (1 bit each), for one setting. */
static void failures(ULONG percent, ULONG64 seed, ULONG64 grace, int n, UCHAR *failed)
{
    ntmem_set_low_resources(percent, seed, grace);
    ntmem_set_verifier_flags(NTMEM_VERIFIER_LOW_RESOURCES);
    for (int i = 0; i < n; i++) {
        PVOID p = ExAllocatePoolWithTag(i & 1 ? PagedPool : NonPagedPoolNx, 64 + (SIZE_T)i % 200, 'woLR');
        failed[i] = p == NULL;
        if (p != NULL)
            ExFreePoolWithTag(p, 'woLR');
    }
    ntmem_set_verifier_flags(0);
}

START_TEST(after_the_grace_period_allocations_fail_at_the_rate_and_replay_by_seed)
{
    enum { N = 4000 };
    static UCHAR a[N], b[N], c[N];
    NTMEM_VERIFIER_COUNTERS before, after;
    ntmem_query_verifier_counters(&before);
    failures(20, 42, 500, N, a);
    ntmem_query_verifier_counters(&after);
    int failed = 0;
    for (int i = 0; i < N; i++) {
        if (i < 500)
            ck_assert_msg(!a[i], "allocation %d failed inside the grace period", i);
        failed += a[i];
    }
    ck_assert_int_gt(failed, (N - 500) * 20 / 100 / 2); /* about 20% of 3500 */
    ck_assert_int_lt(failed, (N - 500) * 20 / 100 * 2);
    ck_assert_uint_eq(after.FaultsInjected - before.FaultsInjected, (ULONG64)failed);
    /* The verifier's request counters: every request attempted, the ones not failed succeeded. */
    ck_assert_uint_eq(after.AllocationsAttempted - before.AllocationsAttempted, N);
    ck_assert_uint_eq(after.AllocationsSucceeded - before.AllocationsSucceeded, (ULONG64)(N - failed));
    failures(20, 42, 500, N, b);
    ck_assert(memcmp(a, b, N) == 0); /* the same seed fails the same allocations */
    failures(20, 43, 500, N, c);
    ck_assert(memcmp(a, c, N) != 0);
}
END_TEST

/* NTMEM_VERIFIER's syntax through ntmem_configure_verifier: flags and each switch's parameters are
 * applied together; text with any mistake is refused and changes nothing. */
START_TEST(a_switch_list_sets_flags_and_parameters_or_nothing)
{
    static const char *const bad[] = {"pool_trackin", "special_pool=tag:", "special_pool=size:16-64+bogus",
                                      "low_resources=abc", "low_resources=5:1:2:3", "irql_checking=1",
                                      "pool_tracking,,nonsense"};
    ntmem_set_verifier_flags(NTMEM_VERIFIER_IRQL_CHECKING);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(ntmem_configure_verifier(bad[i]) == STATUS_INVALID_PARAMETER, "%s", bad[i]);
        ck_assert_uint_eq(ntmem_get_verifier_flags(), NTMEM_VERIFIER_IRQL_CHECKING);
    }
    ck_assert_int_eq(ntmem_configure_verifier("pool_tracking,low_resources=100:7:3"), STATUS_SUCCESS);
    ck_assert_uint_eq(ntmem_get_verifier_flags(), NTMEM_VERIFIER_POOL_TRACKING | NTMEM_VERIFIER_LOW_RESOURCES);
    for (int i = 0; i < 5; i++) { /* a grace of 3, then every request fails */
        PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 32, 'fnoC');
        ck_assert(i < 3 ? p != NULL : p == NULL);
        if (p != NULL)
            ExFreePoolWithTag(p, 'fnoC');
    }
    ck_assert_int_eq(ntmem_configure_verifier("special_pool=tag:Spcl+size:16-64"), STATUS_SUCCESS);
    ck_assert_uint_eq(ntmem_get_verifier_flags(), NTMEM_VERIFIER_SPECIAL_POOL);
    PUCHAR in = ExAllocatePoolWithTag(NonPagedPoolNx, 32, 'lcpS'); /* 'Spcl' in memory */
    PUCHAR other_tag = ExAllocatePoolWithTag(NonPagedPoolNx, 32, 'rhtO');
    PUCHAR too_big = ExAllocatePoolWithTag(NonPagedPoolNx, 100, 'lcpS');
    ck_assert_uint_eq(((ULONG_PTR)in + 32) & (PAGE_SIZE - 1), 0); /* at the end of its own page */
    ck_assert_uint_ne(((ULONG_PTR)other_tag + 32) & (PAGE_SIZE - 1), 0);
    ck_assert_uint_ne(((ULONG_PTR)too_big + 100) & (PAGE_SIZE - 1), 0);
    ExFreePoolWithTag(in, 'lcpS');
    ExFreePoolWithTag(other_tag, 'rhtO');
    ExFreePoolWithTag(too_big, 'lcpS');
    ck_assert_int_eq(ntmem_configure_verifier(""), STATUS_SUCCESS);
    ck_assert_uint_eq(ntmem_get_verifier_flags(), 0);
}
END_TEST

START_TEST(a_simulated_failure_behaves_as_exhaustion)
{
    ntmem_set_low_resources(100, 1, 0);
    ntmem_set_verifier_flags(NTMEM_VERIFIER_LOW_RESOURCES);
    ck_assert_ptr_null(ExAllocatePoolWithTag(NonPagedPoolNx, 32, 'woLR'));
    volatile NTSTATUS code = 0;
    __try {
        ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_RAISE_ON_FAILURE, 32, 'woLR');
    } __except (code = GetExceptionCode(), EXCEPTION_EXECUTE_HANDLER) {
    }
    ntmem_set_verifier_flags(0);
    ck_assert_int_eq(code, STATUS_INSUFFICIENT_RESOURCES);
    PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 32, 'woLR'); /* off again: allocations work */
    ck_assert_ptr_nonnull(p);
    ExFreePoolWithTag(p, 'woLR');
}
END_TEST

static void zero_byte_request(void *arg)
{
    (void)arg;
    ntmem_set_verifier_flags(NTMEM_VERIFIER_IRQL_CHECKING); /* any switch: the verifier is on */
    ExAllocatePoolWithTag(NonPagedPoolNx, 0, 'oreZ');
}

START_TEST(a_zero_byte_request_is_stop_c4_0_under_the_verifier_only)
{
    static death_result r;
    death_run(zero_byte_request, NULL, &r);
    ck_assert_msg(r.parsed && r.code == DRIVER_VERIFIER_DETECTED_VIOLATION, "%s", r.output);
    ck_assert_uint_eq(r.p[0], 0x00);
    ck_assert_uint_eq(r.p[1], PASSIVE_LEVEL);
    ck_assert_uint_eq(r.p[2], NonPagedPoolNx);
    ck_assert(r.aborted);
    PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 0, 'oreZ'); /* verifier off: a valid block */
    ck_assert_ptr_nonnull(p);
    ExFreePoolWithTag(p, 'oreZ');
}
END_TEST

int main(void)
{
    Suite *s = suite_create("low resources");
    TCase *t = tcase_create("low resources");
    tcase_add_test(t, after_the_grace_period_allocations_fail_at_the_rate_and_replay_by_seed);
    tcase_add_test(t, a_simulated_failure_behaves_as_exhaustion);
    tcase_add_test(t, a_switch_list_sets_flags_and_parameters_or_nothing);
    tcase_add_test(t, a_zero_byte_request_is_stop_c4_0_under_the_verifier_only);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int n = srunner_ntests_failed(r);
    srunner_free(r);
    return n != 0;
}
