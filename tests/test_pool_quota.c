/* test_pool_quota.c - the current process, pool quota charges, peaks, limits, and their failures. */
#include <check.h>
#include <unistd.h>
#include <ntddk.h>
#include <ntmem.h>

#include "death.h"
#include "pooltest.h"

#define TAG 'atQP'

static const POOL_TYPE Pools[2] = {NonPagedPool, PagedPool};

static NTMEM_QUOTA_USAGE quota(void)
{
    NTMEM_QUOTA_USAGE q;
    ck_assert_uint_eq((ULONG)ntmem_query_process_quota(PsGetCurrentProcess(), &q), (ULONG)STATUS_SUCCESS);
    return q;
}

static SIZE_T used(const NTMEM_QUOTA_USAGE *q, int pool)
{
    return pool ? q->QuotaPagedPoolUsage : q->QuotaNonPagedPoolUsage;
}

static SIZE_T peak(const NTMEM_QUOTA_USAGE *q, int pool)
{
    return pool ? q->QuotaPeakPagedPoolUsage : q->QuotaPeakNonPagedPoolUsage;
}

static void set_limit(int pool, SIZE_T limit)
{
    NTMEM_QUOTA_USAGE q = quota();
    ck_assert_uint_eq((ULONG)ntmem_set_process_quota_limits(PsGetCurrentProcess(), pool ? limit : q.PagedPoolLimit,
                                                           pool ? q.NonPagedPoolLimit : limit),
                      (ULONG)STATUS_SUCCESS);
}

static void unlimited(void)
{
    ck_assert_uint_eq((ULONG)ntmem_set_process_quota_limits(PsGetCurrentProcess(), (SIZE_T)-1, (SIZE_T)-1),
                      (ULONG)STATUS_SUCCESS);
    NTMEM_QUOTA_USAGE q = quota();
    ck_assert_uint_eq(q.PagedPoolLimit, (SIZE_T)-1);
    ck_assert_uint_eq(q.NonPagedPoolLimit, (SIZE_T)-1);
}

/* ---- the process ------------------------------------------------------------------------------- */

START_TEST(current_process_is_stable_and_has_our_pid)
{
    PEPROCESS p = PsGetCurrentProcess();
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_eq(PsGetCurrentProcess(), p);
    ck_assert_ptr_eq(IoGetCurrentProcess(), p);
    ck_assert_uint_eq((ULONG_PTR)PsGetProcessId(p), (ULONG_PTR)getpid());
    ck_assert_uint_eq((ULONG_PTR)PsGetCurrentProcessId(), (ULONG_PTR)getpid());
    /* defaults: no limits */
    NTMEM_QUOTA_USAGE q = quota();
    ck_assert_uint_eq(q.PagedPoolLimit, (SIZE_T)-1);
    ck_assert_uint_eq(q.NonPagedPoolLimit, (SIZE_T)-1);
    ck_assert_uint_eq((ULONG)ntmem_query_process_quota(p, NULL), (ULONG)STATUS_INVALID_PARAMETER);
}
END_TEST

/* The seed's DisplayItsProcessName reads the name at EPROCESS+0x174: the executable's first 15 chars. */
START_TEST(process_name_sits_at_0x174)
{
    PEPROCESS pEProcess = PsGetCurrentProcess();
    PTSTR ProcessName = (PTSTR)((ULONG_PTR)pEProcess + 0x174);
    ck_assert_str_eq(ProcessName, "test_pool_quota");
    ck_assert_uint_le(strlen(ProcessName), 15);
}
END_TEST

/* ---- charges ----------------------------------------------------------------------------------- */

START_TEST(quota_blocks_charge_their_size_and_return_it)
{
    int pool = _i;
    POOL_TYPE type = Pools[pool];
    NTMEM_QUOTA_USAGE q0 = quota();
    SIZE_T other0 = used(&q0, !pool);

    static const SIZE_T sizes[] = {1, 40, 100, 512, 1000, 4048, 4049, PAGE_SIZE, 3 * PAGE_SIZE + 5};
    PVOID p[9];
    SIZE_T charged = 0;
    for (int i = 0; i < 9; i++) {
        p[i] = ExAllocatePoolWithQuotaTag(type, sizes[i], TAG);
        ck_assert_ptr_nonnull(p[i]);
        BOOLEAN qc = FALSE;
        SIZE_T data = ExQueryPoolBlockSize(p[i], &qc);
        ck_assert(qc);
        SIZE_T expect = sizes[i] > 4048 ? ROUND_TO_PAGES(sizes[i]) : data + 16;
        if (sizes[i] > 4048)
            ck_assert_uint_eq(data, expect);
        else
            ck_assert_uint_eq(pt_small_block_bytes(sizes[i]) <= expect && expect <= pt_small_block_bytes(sizes[i]) + 16,
                              1);
        charged += expect;
        NTMEM_QUOTA_USAGE q = quota();
        ck_assert_uint_eq(used(&q, pool) - used(&q0, pool), charged);
        ck_assert_uint_eq(used(&q, !pool), other0); /* the other pool is untouched */
    }
    NTMEM_QUOTA_USAGE top = quota();
    ck_assert_uint_ge(peak(&top, pool), used(&top, pool));
    /* free in a different order; every free returns exactly its charge */
    for (int i = 8; i >= 0; i -= 2) {
        SIZE_T back = sizes[i] > 4048 ? ROUND_TO_PAGES(sizes[i]) : ExQueryPoolBlockSize(p[i], NULL) + 16;
        NTMEM_QUOTA_USAGE a = quota();
        ExFreePoolWithTag(p[i], TAG);
        NTMEM_QUOTA_USAGE b = quota();
        ck_assert_uint_eq(used(&a, pool) - used(&b, pool), back);
    }
    for (int i = 7; i >= 0; i -= 2)
        ExFreePool(p[i]);
    NTMEM_QUOTA_USAGE q = quota();
    ck_assert_uint_eq(used(&q, pool), used(&q0, pool));
    /* the peak remembers the maximum */
    ck_assert_uint_eq(peak(&q, pool), peak(&top, pool));
    ck_assert_uint_ge(peak(&q, pool), used(&q0, pool) + charged);
    /* non-quota allocations charge nothing */
    PVOID plain = ExAllocatePoolWithTag(type, 1000, TAG);
    q = quota();
    ck_assert_uint_eq(used(&q, pool), used(&q0, pool));
    ExFreePoolWithTag(plain, TAG);
}
END_TEST

START_TEST(peak_tracks_the_maximum)
{
    int pool = _i;
    POOL_TYPE type = Pools[pool];
    NTMEM_QUOTA_USAGE q0 = quota();
    PVOID a = ExAllocatePoolWithQuotaTag(type, 10 * PAGE_SIZE, TAG);
    NTMEM_QUOTA_USAGE q1 = quota();
    ck_assert_uint_eq(used(&q1, pool), used(&q0, pool) + 10 * PAGE_SIZE);
    ck_assert_uint_ge(peak(&q1, pool), used(&q1, pool));
    SIZE_T high = peak(&q1, pool);
    ExFreePool(a);
    PVOID b = ExAllocatePoolWithQuotaTag(type, 2 * PAGE_SIZE, TAG);
    NTMEM_QUOTA_USAGE q2 = quota();
    ck_assert_uint_eq(used(&q2, pool), used(&q0, pool) + 2 * PAGE_SIZE);
    ck_assert_uint_eq(peak(&q2, pool), high);
    ExFreePool(b);
}
END_TEST

START_TEST(quota_zero_allocations_zero_and_charge)
{
    int pool = _i;
    POOL_TYPE type = Pools[pool];
    static const SIZE_T sizes[] = {24, 300, 1000, 3 * PAGE_SIZE};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        PUCHAR dirty = ExAllocatePoolWithTag(type, sizes[i], TAG);
        memset(dirty, 0xAB, sizes[i]);
        ExFreePoolWithTag(dirty, TAG);
        NTMEM_QUOTA_USAGE q0 = quota();
        PUCHAR p = ExAllocatePoolQuotaZero(type, sizes[i], TAG);
        ck_assert_ptr_nonnull(p);
        for (SIZE_T j = 0; j < sizes[i]; j++)
            ck_assert_msg(p[j] == 0, "size %zu byte %zu", (size_t)sizes[i], (size_t)j);
        BOOLEAN qc = FALSE;
        ExQueryPoolBlockSize(p, &qc);
        ck_assert(qc);
        NTMEM_QUOTA_USAGE q1 = quota();
        ck_assert_uint_eq(used(&q1, pool) - used(&q0, pool), pt_charged_bytes(p, sizes[i]));
        ExFreePoolWithTag(p, TAG);
    }
    /* ExAllocatePool2 with POOL_FLAG_USE_QUOTA zeroes and charges too */
    NTMEM_QUOTA_USAGE q0 = quota();
    PUCHAR p = ExAllocatePool2(POOL_FLAG_USE_QUOTA | (pool ? POOL_FLAG_PAGED : POOL_FLAG_NON_PAGED), 700, TAG);
    ck_assert_ptr_nonnull(p);
    for (int j = 0; j < 700; j++)
        ck_assert_uint_eq(p[j], 0);
    NTMEM_QUOTA_USAGE q1 = quota();
    ck_assert_uint_eq(used(&q1, pool) - used(&q0, pool), pt_charged_bytes(p, 700));
    ExFreePoolWithTag(p, TAG);
    /* ExAllocatePoolWithQuota (no tag) charges under 'None' */
    p = ExAllocatePoolWithQuota(type, 64);
    NTMEM_POOL_BLOCK_INFO info;
    ck_assert_uint_eq((ULONG)ntmem_pool_lookup(p, &info), (ULONG)STATUS_SUCCESS);
    ck_assert_uint_eq(info.Tag, 'enoN');
    ck_assert(info.QuotaCharged);
    ExFreePool(p);
    q1 = quota();
    ck_assert_uint_eq(used(&q1, pool), used(&q0, pool));
}
END_TEST

/* ---- limits -------------------------------------------------------------------------------------- */

typedef struct limit_args {
    int pool;
    SIZE_T n;
    int pool2;
} limit_args;

static void exceed_quota_raise(void *arg)
{
    limit_args *a = arg;
    NTMEM_QUOTA_USAGE q = quota();
    set_limit(a->pool, used(&q, a->pool) + 100);
    if (a->pool2)
        ExAllocatePool2(POOL_FLAG_USE_QUOTA | POOL_FLAG_RAISE_ON_FAILURE |
                            (a->pool ? POOL_FLAG_PAGED : POOL_FLAG_NON_PAGED),
                        a->n, TAG);
    else
        ExAllocatePoolWithQuotaTag(Pools[a->pool], a->n, TAG);
}

START_TEST(exceeding_the_quota_raises_quota_exceeded)
{
    static const SIZE_T sizes[] = {200, 1000, 3 * PAGE_SIZE};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        limit_args a = {_i, sizes[i], 0};
        ck_assert_bugcheck(exceed_quota_raise, &a, KMODE_EXCEPTION_NOT_HANDLED, 0xC0000044);
        a.pool2 = 1;
        ck_assert_bugcheck(exceed_quota_raise, &a, KMODE_EXCEPTION_NOT_HANDLED, 0xC0000044);
    }
}
END_TEST

START_TEST(fail_instead_of_raise_returns_null_and_charges_nothing)
{
    int pool = _i;
    POOL_TYPE type = Pools[pool];
    static const SIZE_T sizes[] = {24, 200, 1000, 4048, 3 * PAGE_SIZE};
    PVOID base = ExAllocatePoolWithQuotaTag(type, 64, TAG); /* something is charged already */
    SIZE_T base_charge = pt_charged_bytes(base, 64);
    NTMEM_QUOTA_USAGE q0 = quota();
    set_limit(pool, used(&q0, pool) + 16); /* less than the smallest block (32 bytes) */
    SYSTEM_POOLTAG t0, t1;
    pt_tag_counts(TAG, &t0);
    NTMEM_POOL_USAGE u0 = pt_usage(type);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        PVOID p = ExAllocatePoolWithQuotaTag((POOL_TYPE)(type | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE), sizes[i], TAG);
        ck_assert_msg(p == NULL, "size %zu was served over the quota", (size_t)sizes[i]);
        p = ExAllocatePool2(POOL_FLAG_USE_QUOTA | (pool ? POOL_FLAG_PAGED : POOL_FLAG_NON_PAGED), sizes[i], TAG);
        ck_assert_msg(p == NULL, "ExAllocatePool2 size %zu was served over the quota", (size_t)sizes[i]);
        p = ExAllocatePoolQuotaUninitialized((POOL_TYPE)(type | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE), sizes[i], TAG);
        ck_assert_ptr_null(p);
        NTMEM_QUOTA_USAGE q = quota();
        ck_assert_uint_eq(used(&q, pool), used(&q0, pool));
    }
    /* a failed quota charge is no allocation: tag counters and used bytes are unchanged */
    pt_tag_counts(TAG, &t1);
    ck_assert_uint_eq(pool ? t1.PagedAllocs : t1.NonPagedAllocs, pool ? t0.PagedAllocs : t0.NonPagedAllocs);
    ck_assert_uint_eq(pool ? t1.PagedUsed : t1.NonPagedUsed, pool ? t0.PagedUsed : t0.NonPagedUsed);
    ck_assert_uint_eq(pt_usage(type).UsedBytes, u0.UsedBytes);
    ck_assert_uint_eq(pt_usage(type).BigAllocations, u0.BigAllocations);
    /* within the limit it still works, and plain allocations ignore quota */
    set_limit(pool, used(&q0, pool) + 100);
    PVOID small = ExAllocatePoolWithQuotaTag((POOL_TYPE)(type | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE), 40, TAG);
    ck_assert_ptr_nonnull(small);
    PVOID plain = ExAllocatePoolWithTag(type, 3 * PAGE_SIZE, TAG);
    ck_assert_ptr_nonnull(plain);
    /* the other pool's limit is separate */
    PVOID other = ExAllocatePoolWithQuotaTag(Pools[!pool], 3 * PAGE_SIZE, TAG);
    ck_assert_ptr_nonnull(other);
    ExFreePool(other);
    ExFreePool(plain);
    ExFreePool(small);
    ExFreePool(base);
    unlimited();
    PVOID big = ExAllocatePoolWithQuotaTag(type, 64 * PAGE_SIZE, TAG);
    ck_assert_ptr_nonnull(big);
    ExFreePool(big);
    NTMEM_QUOTA_USAGE q = quota();
    ck_assert_uint_eq(used(&q, pool), used(&q0, pool) - base_charge);
}
END_TEST

static Suite *pool_quota_suite(void)
{
    Suite *s = suite_create("pool_quota");
    TCase *t = tcase_create("process");
    tcase_add_test(t, current_process_is_stable_and_has_our_pid);
    tcase_add_test(t, process_name_sits_at_0x174);
    suite_add_tcase(s, t);

    t = tcase_create("charges");
    tcase_add_loop_test(t, quota_blocks_charge_their_size_and_return_it, 0, 2);
    tcase_add_loop_test(t, peak_tracks_the_maximum, 0, 2);
    tcase_add_loop_test(t, quota_zero_allocations_zero_and_charge, 0, 2);
    suite_add_tcase(s, t);

    t = tcase_create("limits");
    tcase_add_loop_test(t, exceeding_the_quota_raises_quota_exceeded, 0, 2);
    tcase_add_loop_test(t, fail_instead_of_raise_returns_null_and_charges_nothing, 0, 2);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(pool_quota_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    ntmem_set_process_quota_limits(PsGetCurrentProcess(), (SIZE_T)-1, (SIZE_T)-1); /* restore */
    return failures != 0;
}
