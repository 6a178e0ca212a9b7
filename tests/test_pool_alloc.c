/* test_pool_alloc.c - pool placement, alignment, sizes, zeroing, ExAllocatePool2/3, limits, lookup, reuse. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ntddk.h>
#include <ntmem.h>

#include "death.h"
#include "pooltest.h"

#define TAG 'tlAP' /* shows as "PAlt" in poolmon */

static const POOL_TYPE Pools[2] = {NonPagedPool, PagedPool};

static void assert_in_system_space(PVOID p)
{
    ck_assert_ptr_nonnull(p);
    ck_assert_msg((PUCHAR)p >= (PUCHAR)MmSystemRangeStart, "%p below MmSystemRangeStart %p", p, MmSystemRangeStart);
    ck_assert_uint_gt((ULONG_PTR)p, (ULONG_PTR)MmHighestUserAddress);
    ck_assert_uint_ge((ULONG_PTR)p, MmUserProbeAddress);
}

static POOL_TYPE lookup_type(PVOID p)
{
    NTMEM_POOL_BLOCK_INFO info;
    ck_assert_uint_eq((ULONG)ntmem_pool_lookup(p, &info), (ULONG)STATUS_SUCCESS);
    return info.PoolType;
}

/* ---- placement ----------------------------------------------------------------------------------- */

START_TEST(system_range_constants_are_consistent)
{
    ck_assert_ptr_nonnull(MmSystemRangeStart);
    ck_assert_uint_lt((ULONG_PTR)MmHighestUserAddress, (ULONG_PTR)MmSystemRangeStart);
    ck_assert_uint_eq(MmUserProbeAddress, (ULONG_PTR)MmHighestUserAddress + 1);
    ck_assert_ptr_eq(MM_SYSTEM_RANGE_START, MmSystemRangeStart);
    ck_assert_uint_eq((ULONG_PTR)MmSystemRangeStart & (PAGE_SIZE - 1), 0);
}
END_TEST

/* Every size from 1 to a page: system space, 16-byte aligned, never across a page, right pool. */
START_TEST(every_size_is_in_system_space_aligned_and_within_a_page)
{
    POOL_TYPE type = Pools[_i];
    for (SIZE_T n = 1; n <= PAGE_SIZE; n++) {
        PUCHAR p = ExAllocatePoolWithTag(type, n, TAG);
        assert_in_system_space(p);
        ck_assert_msg(((ULONG_PTR)p & 15) == 0, "size %zu: %p not 16-byte aligned", (size_t)n, (void *)p);
        if (n < PAGE_SIZE)
            ck_assert_msg(PAGE_ALIGN(p) == PAGE_ALIGN(p + n - 1), "size %zu: %p crosses a page", (size_t)n,
                          (void *)p);
        if (n > 4048)
            ck_assert_msg(BYTE_OFFSET(p) == 0, "size %zu: %p is not page-aligned", (size_t)n, (void *)p);
        ck_assert_int_eq(lookup_type(p), type);
        p[0] = 1;
        p[n - 1] = 2;
        ExFreePoolWithTag(p, TAG);
    }
}
END_TEST

START_TEST(page_sized_and_larger_blocks_are_page_aligned)
{
    static const SIZE_T sizes[] = {4049, 4095, PAGE_SIZE, PAGE_SIZE + 1, 2 * PAGE_SIZE, 10000, 65536, 1 << 20};
    POOL_TYPE type = Pools[_i];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        PUCHAR p = ExAllocatePoolWithTag(type, sizes[i], TAG);
        assert_in_system_space(p);
        ck_assert_uint_eq(BYTE_OFFSET(p), 0);
        memset(p, 0x5A, sizes[i]);
        ck_assert_uint_eq(ExQueryPoolBlockSize(p, NULL), ROUND_TO_PAGES(sizes[i]));
        ck_assert_int_eq(lookup_type(p), type);
        ExFreePoolWithTag(p, TAG);
    }
}
END_TEST

START_TEST(cache_aligned_types_give_64_byte_alignment)
{
    POOL_TYPE type = _i ? PagedPoolCacheAligned : NonPagedPoolCacheAligned;
    PVOID kept[400];
    int n = 0;
    for (SIZE_T size = 1; size <= 5000 && n < 400; size += 13) {
        PUCHAR p = ExAllocatePoolWithTag(type, size, TAG);
        assert_in_system_space(p);
        ck_assert_msg(((ULONG_PTR)p & 63) == 0, "size %zu: %p not cache aligned", (size_t)size, (void *)p);
        if (size < PAGE_SIZE)
            ck_assert(PAGE_ALIGN(p) == PAGE_ALIGN(p + size - 1));
        memset(p, 0xC3, size);
        /* the base type decides the pool: 4 is nonpaged, 5 paged */
        NTMEM_POOL_BLOCK_INFO info;
        ck_assert_uint_eq((ULONG)ntmem_pool_lookup(p, &info), (ULONG)STATUS_SUCCESS);
        ck_assert_int_eq(info.PoolType & 1, _i);
        kept[n++] = p; /* kept live so that later blocks must be aligned in partly used pages */
    }
    for (int i = 0; i < n; i++)
        ExFreePoolWithTag(kept[i], TAG);
}
END_TEST

typedef struct live_block {
    PUCHAR p;
    SIZE_T n;
} live_block;

static int by_address(const void *a, const void *b)
{
    PUCHAR x = ((const live_block *)a)->p, y = ((const live_block *)b)->p;
    return x < y ? -1 : x > y;
}

static UCHAR pattern(SIZE_T i, SIZE_T j)
{
    return (UCHAR)(i * 31 + j * 7 + 1);
}

/* Many live blocks of random sizes in both pools: all writable over n bytes, none overlapping. */
START_TEST(live_blocks_are_writable_and_never_overlap)
{
    enum { COUNT = 3000 };
    live_block *b = calloc(COUNT, sizeof *b);
    ULONG64 seed = 12345;
    for (SIZE_T i = 0; i < COUNT; i++) {
        ULONG r = pt_rand(&seed);
        b[i].n = (r % 10 == 0) ? 1 + r % 9000 : 1 + r % 700;
        b[i].p = ExAllocatePoolWithTag(Pools[i & 1], b[i].n, TAG);
        assert_in_system_space(b[i].p);
        for (SIZE_T j = 0; j < b[i].n; j++)
            b[i].p[j] = pattern(i, j);
    }
    for (SIZE_T i = 0; i < COUNT; i++)
        for (SIZE_T j = 0; j < b[i].n; j++)
            ck_assert_msg(b[i].p[j] == pattern(i, j), "block %zu (%p, %zu bytes) changed at %zu", (size_t)i,
                          (void *)b[i].p, (size_t)b[i].n, (size_t)j);
    /* Also the header bytes: the block starts at least 16 bytes after the previous block's end. */
    live_block *sorted = malloc(COUNT * sizeof *sorted);
    memcpy(sorted, b, COUNT * sizeof *sorted);
    qsort(sorted, COUNT, sizeof *sorted, by_address);
    for (SIZE_T i = 1; i < COUNT; i++)
        ck_assert_msg(sorted[i - 1].p + sorted[i - 1].n <= sorted[i].p, "%p+%zu overlaps %p", (void *)sorted[i - 1].p,
                      (size_t)sorted[i - 1].n, (void *)sorted[i].p);
    /* free in a shuffled order */
    for (SIZE_T i = COUNT - 1; i > 0; i--) {
        SIZE_T k = pt_rand(&seed) % (i + 1);
        live_block t = b[i];
        b[i] = b[k];
        b[k] = t;
    }
    for (SIZE_T i = 0; i < COUNT; i++)
        ExFreePoolWithTag(b[i].p, TAG);
    free(sorted);
    free(b);
}
END_TEST

START_TEST(paged_and_nonpaged_blocks_come_from_different_ranges)
{
    PUCHAR np[64], pg[64];
    for (int i = 0; i < 64; i++) {
        np[i] = ExAllocatePoolWithTag(NonPagedPool, 24 + i * 40, TAG);
        pg[i] = ExAllocatePoolWithTag(PagedPool, 24 + i * 40, TAG);
        ck_assert_int_eq(lookup_type(np[i]), NonPagedPool);
        ck_assert_int_eq(lookup_type(pg[i]), PagedPool);
    }
    for (int i = 0; i < 64; i++)
        for (int j = 0; j < 64; j++)
            ck_assert_ptr_ne(PAGE_ALIGN(np[i]), PAGE_ALIGN(pg[j]));
    for (int i = 0; i < 64; i++) {
        ExFreePoolWithTag(np[i], TAG);
        ExFreePoolWithTag(pg[i], TAG);
    }
}
END_TEST

START_TEST(mm_is_address_valid_follows_the_pool)
{
    int local = 5;
    PUCHAR small = ExAllocatePoolWithTag(NonPagedPool, 100, TAG);
    PUCHAR big = ExAllocatePoolWithTag(PagedPool, 3 * PAGE_SIZE, TAG);
    ck_assert(MmIsAddressValid(small));
    ck_assert(MmIsAddressValid(small + 99));
    ck_assert(MmIsAddressValid(big));
    ck_assert(MmIsAddressValid(big + 3 * PAGE_SIZE - 1));
    ExFreePoolWithTag(big, TAG);
    ck_assert(!MmIsAddressValid(big));
    ck_assert(!MmIsAddressValid(big + PAGE_SIZE));
    ck_assert(!MmIsAddressValid(big + 2 * PAGE_SIZE + 100));
    PUCHAR page = ExAllocatePoolWithTag(NonPagedPool, PAGE_SIZE, TAG);
    ExFreePoolWithTag(page, TAG);
    ck_assert(!MmIsAddressValid(page));

    ck_assert(!MmIsAddressValid(NULL));
    ck_assert(!MmIsAddressValid((PVOID)0x1000));
    ck_assert(MmIsAddressValid(&local));
    PVOID user = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(user, MAP_FAILED);
    ck_assert(MmIsAddressValid(user));
    munmap(user, PAGE_SIZE);
    ck_assert(!MmIsAddressValid(user));
    ExFreePoolWithTag(small, TAG);
}
END_TEST

/* ---- sizes, quota flag, tags --------------------------------------------------------------------- */

START_TEST(query_block_size_reports_usable_bytes_and_quota)
{
    for (int pool = 0; pool < 2; pool++) {
        for (SIZE_T n = 1; n <= 4048; n += 37) {
            BOOLEAN quota = 99;
            PVOID p = ExAllocatePoolWithTag(Pools[pool], n, TAG);
            SIZE_T got = ExQueryPoolBlockSize(p, &quota);
            ck_assert_uint_ge(got, n);
            ck_assert_uint_eq(quota, FALSE);
            /* the data part of a 16-byte-unit block: rounded size minus the header, maybe one unit more */
            ck_assert_msg(got == pt_small_block_bytes(n) - 16 || got == pt_small_block_bytes(n),
                          "size %zu: block size %zu", (size_t)n, (size_t)got);
            NTMEM_POOL_BLOCK_INFO info;
            ck_assert_uint_eq((ULONG)ntmem_pool_lookup(p, &info), (ULONG)STATUS_SUCCESS);
            ck_assert_uint_eq(info.BlockSize, got + 16);
            ExFreePoolWithTag(p, TAG);
        }
        BOOLEAN quota = 99;
        PVOID p = ExAllocatePoolWithTag(Pools[pool], 3 * PAGE_SIZE + 1, TAG);
        ck_assert_uint_eq(ExQueryPoolBlockSize(p, &quota), 4 * PAGE_SIZE);
        ck_assert_uint_eq(quota, FALSE);
        ExFreePoolWithTag(p, TAG);

        p = ExAllocatePoolWithQuotaTag(Pools[pool], 200, TAG);
        ck_assert_uint_ge(ExQueryPoolBlockSize(p, &quota), 200);
        ck_assert_uint_eq(quota, TRUE);
        ExFreePoolWithTag(p, TAG);
        p = ExAllocatePoolWithQuotaTag(Pools[pool], 2 * PAGE_SIZE, TAG);
        ck_assert_uint_eq(ExQueryPoolBlockSize(p, &quota), 2 * PAGE_SIZE);
        ck_assert_uint_eq(quota, TRUE);
        ExFreePoolWithTag(p, TAG);
        /* NULL for the flag is allowed */
        p = ExAllocatePoolWithTag(Pools[pool], 10, TAG);
        ck_assert_uint_ge(ExQueryPoolBlockSize(p, NULL), 10);
        ExFreePoolWithTag(p, TAG);
    }
}
END_TEST

START_TEST(exallocatepool_tags_blocks_none)
{
    NTMEM_POOL_BLOCK_INFO info;
    for (int pool = 0; pool < 2; pool++) {
        PVOID small = ExAllocatePool(Pools[pool], 40);
        PVOID big = ExAllocatePool(Pools[pool], 2 * PAGE_SIZE);
        ck_assert_uint_eq((ULONG)ntmem_pool_lookup(small, &info), (ULONG)STATUS_SUCCESS);
        ck_assert_uint_eq(info.Tag, 'enoN');
        ck_assert(memcmp(&info.Tag, "None", 4) == 0); /* as it appears in memory */
        ck_assert_uint_eq((ULONG)ntmem_pool_lookup(big, &info), (ULONG)STATUS_SUCCESS);
        ck_assert_uint_eq(info.Tag, 'enoN');
        /* freeing with the tag it was given is legal */
        ExFreePoolWithTag(small, 'enoN');
        ExFreePool(big);
    }
}
END_TEST

/* ---- zeroing --------------------------------------------------------------------------------------- */

static int all_zero(const UCHAR *p, SIZE_T n)
{
    for (SIZE_T i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

typedef PVOID (*zero_allocator)(POOL_TYPE type, SIZE_T n);
static PVOID via_pool_zero(POOL_TYPE type, SIZE_T n)
{
    return ExAllocatePoolZero(type, n, TAG);
}
static PVOID via_zero_flag(POOL_TYPE type, SIZE_T n)
{
    return ExAllocatePoolWithTag((POOL_TYPE)(type | POOL_ZERO_ALLOCATION), n, TAG);
}
static PVOID via_pool2(POOL_TYPE type, SIZE_T n)
{
    return ExAllocatePool2(type == PagedPool ? POOL_FLAG_PAGED : POOL_FLAG_NON_PAGED, n, TAG);
}
static PVOID via_pool3(POOL_TYPE type, SIZE_T n)
{
    return ExAllocatePool3(type == PagedPool ? POOL_FLAG_PAGED : POOL_FLAG_NON_PAGED, n, TAG, NULL, 0);
}
static const zero_allocator ZeroAllocators[] = {via_pool_zero, via_zero_flag, via_pool2, via_pool3};

/* A block filled with 0xAB and freed comes back zeroed from every zeroing allocator. */
START_TEST(zeroing_allocators_zero_reused_blocks)
{
    static const SIZE_T sizes[] = {1, 16, 24, 100, 512, 513, 1000, 4048, 4096, 9000};
    zero_allocator alloc = ZeroAllocators[_i];
    for (int pool = 0; pool < 2; pool++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            SIZE_T n = sizes[s];
            int reused = 0;
            for (int round = 0; round < 4; round++) {
                PUCHAR dirty = ExAllocatePoolWithTag(Pools[pool], n, TAG);
                memset(dirty, 0xAB, n);
                ExFreePoolWithTag(dirty, TAG);
                PUCHAR p = alloc(Pools[pool], n);
                ck_assert_ptr_nonnull(p);
                reused += p == dirty;
                ck_assert_msg(all_zero(p, n), "allocator %d, pool %d, size %zu: not zeroed", _i, pool, (size_t)n);
                memset(p, 0xAB, n);
                ExFreePoolWithTag(p, TAG);
            }
            /* the test is only meaningful if the dirty block really came back at least once */
            ck_assert_msg(reused > 0, "allocator %d, pool %d, size %zu: the freed block was never reused", _i,
                          pool, (size_t)n);
        }
    }
}
END_TEST

/* ---- ExAllocatePool2 / ExAllocatePool3 ------------------------------------------------------------- */

START_TEST(pool2_rejects_invalid_requests)
{
    ck_assert_ptr_null(ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, 0));
    ck_assert_ptr_null(ExAllocatePool2(POOL_FLAG_NON_PAGED | 0x10000, 64, TAG));
    ck_assert_ptr_null(ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_RESERVED1, 64, TAG));
    ck_assert_ptr_null(ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_RESERVED2, 64, TAG));
    ck_assert_ptr_null(ExAllocatePool2(POOL_FLAG_PAGED | 0x80000000ULL, 64, TAG));
    ck_assert_ptr_null(ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_NON_PAGED, 64, TAG));
    ck_assert_ptr_null(ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_NON_PAGED_EXECUTE, 64, TAG));
    ck_assert_ptr_null(ExAllocatePool2(0, 64, TAG));
    ck_assert_ptr_null(ExAllocatePool2(POOL_FLAG_UNINITIALIZED, 64, TAG));
    ck_assert_ptr_null(ExAllocatePool2(POOL_FLAG_CACHE_ALIGNED | POOL_FLAG_USE_QUOTA, 64, TAG));
}
END_TEST

START_TEST(pool2_accepts_valid_requests_and_ignores_optional_flags)
{
    PVOID p;
    NTMEM_POOL_BLOCK_INFO info;

    p = ExAllocatePool2(POOL_FLAG_NON_PAGED | (1ULL << 40), 64, TAG);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(lookup_type(p), NonPagedPool);
    ExFreePoolWithTag(p, TAG);
    p = ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_OPTIONAL_END, 64, TAG);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(lookup_type(p), PagedPool);
    ExFreePoolWithTag(p, TAG);
    p = ExAllocatePool2(POOL_FLAG_NON_PAGED_EXECUTE, 64, TAG);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(lookup_type(p) & 1, NonPagedPool);
    ExFreePoolWithTag(p, TAG);
    p = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, 64, TAG);
    ck_assert_ptr_nonnull(p);
    ExFreePoolWithTag(p, TAG);

    for (int pool = 0; pool < 2; pool++) {
        POOL_FLAGS kind = pool ? POOL_FLAG_PAGED : POOL_FLAG_NON_PAGED;
        PVOID kept[100];
        for (int i = 0; i < 100; i++) {
            SIZE_T n = 1 + (SIZE_T)i * 53;
            kept[i] = ExAllocatePool2(kind | POOL_FLAG_CACHE_ALIGNED, n, TAG);
            ck_assert_ptr_nonnull(kept[i]);
            ck_assert_msg(((ULONG_PTR)kept[i] & 63) == 0, "size %zu: %p", (size_t)n, kept[i]);
            ck_assert(all_zero(kept[i], n));
            ck_assert_uint_eq((ULONG)ntmem_pool_lookup(kept[i], &info), (ULONG)STATUS_SUCCESS);
            ck_assert_int_eq(info.PoolType & 1, pool);
        }
        for (int i = 0; i < 100; i++)
            ExFreePoolWithTag(kept[i], TAG);
    }
}
END_TEST

static void pool2_raise_invalid_flags(void *arg)
{
    (void)arg;
    ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_RAISE_ON_FAILURE | 0x10000, 64, TAG);
}

static void pool2_raise_tag_zero(void *arg)
{
    (void)arg;
    ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_RAISE_ON_FAILURE, 64, 0);
}

static void pool2_raise_two_kinds(void *arg)
{
    (void)arg;
    ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_NON_PAGED | POOL_FLAG_RAISE_ON_FAILURE, 64, TAG);
}

static void pool2_raise_exhausted(void *arg)
{
    (void)arg;
    ntmem_set_pool_limit(NonPagedPool, 0);
    ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_RAISE_ON_FAILURE, 2 * PAGE_SIZE, TAG);
}

static void pool3_raise_bad_parameter(void *arg)
{
    (void)arg;
    POOL_EXTENDED_PARAMETER x;
    memset(&x, 0, sizeof x);
    x.Type = PoolExtendedParameterSecurePool;
    ExAllocatePool3(POOL_FLAG_NON_PAGED | POOL_FLAG_RAISE_ON_FAILURE, 64, TAG, &x, 1);
}

START_TEST(pool2_raise_on_failure_is_an_unhandled_exception)
{
    ck_assert_bugcheck(pool2_raise_invalid_flags, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0xC000000D);
    ck_assert_bugcheck(pool2_raise_tag_zero, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0xC000000D);
    ck_assert_bugcheck(pool2_raise_two_kinds, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0xC000000D);
    ck_assert_bugcheck(pool2_raise_exhausted, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0xC000009A);
    ck_assert_bugcheck(pool3_raise_bad_parameter, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0xC000000D);
}
END_TEST

static POOL_EXTENDED_PARAMETER xparam(ULONG type, int optional)
{
    POOL_EXTENDED_PARAMETER x;
    memset(&x, 0, sizeof x);
    x.Type = type;
    x.Optional = optional ? 1 : 0;
    return x;
}

static int pool3_ok(POOL_FLAGS flags, const POOL_EXTENDED_PARAMETER *x, ULONG count)
{
    PVOID p = ExAllocatePool3(flags, 100, TAG, x, count);
    if (p == NULL)
        return 0;
    ck_assert(all_zero(p, 100));
    ExFreePoolWithTag(p, TAG);
    return 1;
}

START_TEST(pool3_extended_parameters)
{
    POOL_EXTENDED_PARAMETER x[2];
    static const EX_POOL_PRIORITY priorities[] = {
        LowPoolPriority, LowPoolPrioritySpecialPoolOverrun, LowPoolPrioritySpecialPoolUnderrun,
        NormalPoolPriority, NormalPoolPrioritySpecialPoolOverrun, NormalPoolPrioritySpecialPoolUnderrun,
        HighPoolPriority, HighPoolPrioritySpecialPoolOverrun, HighPoolPrioritySpecialPoolUnderrun};

    ck_assert(pool3_ok(POOL_FLAG_NON_PAGED, NULL, 0));
    for (size_t i = 0; i < sizeof priorities / sizeof priorities[0]; i++) {
        x[0] = xparam(PoolExtendedParameterPriority, 0);
        x[0].Priority = priorities[i];
        ck_assert_msg(pool3_ok(POOL_FLAG_NON_PAGED, x, 1), "priority %d", priorities[i]);
        ck_assert_msg(pool3_ok(POOL_FLAG_PAGED, x, 1), "priority %d", priorities[i]);
    }
    /* NUMA: one node here; node 0 is fine, node 1 only if any node will do */
    x[0] = xparam(PoolExtendedParameterNumaNode, 0);
    x[0].PreferredNode = 0;
    ck_assert(pool3_ok(POOL_FLAG_NON_PAGED, x, 1));
    x[0].PreferredNode = 1;
    ck_assert(!pool3_ok(POOL_FLAG_NON_PAGED, x, 1));
    x[0].PreferredNode = 1 | MM_ANY_NODE_OK;
    ck_assert(pool3_ok(POOL_FLAG_NON_PAGED, x, 1));
    /* secure pool cannot be had: required fails, optional is ignored */
    POOL_EXTENDED_PARAMS_SECURE_POOL secure;
    memset(&secure, 0, sizeof secure);
    x[0] = xparam(PoolExtendedParameterSecurePool, 0);
    x[0].SecurePoolParams = &secure;
    ck_assert(!pool3_ok(POOL_FLAG_NON_PAGED, x, 1));
    x[0].Optional = 1;
    ck_assert(pool3_ok(POOL_FLAG_NON_PAGED, x, 1));
    /* unknown and invalid types */
    x[0] = xparam(PoolExtendedParameterMax + 5, 0);
    ck_assert(!pool3_ok(POOL_FLAG_NON_PAGED, x, 1));
    x[0].Optional = 1;
    ck_assert(pool3_ok(POOL_FLAG_NON_PAGED, x, 1));
    x[0] = xparam(PoolExtendedParameterInvalidType, 0);
    ck_assert(!pool3_ok(POOL_FLAG_NON_PAGED, x, 1));
    /* the same type twice */
    x[0] = xparam(PoolExtendedParameterPriority, 0);
    x[0].Priority = NormalPoolPriority;
    x[1] = x[0];
    ck_assert(!pool3_ok(POOL_FLAG_NON_PAGED, x, 2));
    /* a count with no array */
    ck_assert(!pool3_ok(POOL_FLAG_NON_PAGED, NULL, 1));
    /* the flags rules of ExAllocatePool2 apply too */
    ck_assert(!pool3_ok(POOL_FLAG_NON_PAGED | POOL_FLAG_PAGED, NULL, 0));
    ck_assert_ptr_null(ExAllocatePool3(POOL_FLAG_NON_PAGED, 100, 0, NULL, 0));
}
END_TEST

/* ---- exhaustion and priorities --------------------------------------------------------------------- */

/* Fills the pool with page-sized blocks until it refuses; returns how many it took. */
static int fill_with_pages(POOL_TYPE type, PVOID *out, int max)
{
    int n = 0;
    while (n < max) {
        PVOID p = ExAllocatePoolWithTag(type, PAGE_SIZE, TAG);
        if (p == NULL)
            break;
        out[n++] = p;
    }
    return n;
}

START_TEST(a_pool_limit_makes_allocations_fail_until_memory_is_freed)
{
    POOL_TYPE type = Pools[_i];
    NTMEM_POOL_USAGE before = pt_usage(type);
    SIZE_T limit = before.CommittedBytes + (1 << 20);
    ck_assert_uint_eq((ULONG)ntmem_set_pool_limit(type, limit), (ULONG)STATUS_SUCCESS);
    NTMEM_POOL_USAGE u = pt_usage(type);
    ck_assert_uint_eq(u.LimitBytes, limit);

    static PVOID pages[2048];
    int n = fill_with_pages(type, pages, 2048);
    u = pt_usage(type);
    ck_assert_uint_le(u.CommittedBytes, u.LimitBytes);
    ck_assert_int_eq(n, (int)((limit - before.CommittedBytes) / PAGE_SIZE));
    ck_assert_uint_eq(u.CommittedBytes, limit);
    ck_assert_ptr_null(ExAllocatePoolWithTag(type, PAGE_SIZE, TAG));
    ck_assert_ptr_null(ExAllocatePoolWithTag(type, 3 * PAGE_SIZE, TAG));
    ck_assert_ptr_null(ExAllocatePool2(_i ? POOL_FLAG_PAGED : POOL_FLAG_NON_PAGED, 2 * PAGE_SIZE, TAG));

    /* freeing makes room again */
    ExFreePoolWithTag(pages[--n], TAG);
    ExFreePoolWithTag(pages[--n], TAG);
    PVOID again = ExAllocatePoolWithTag(type, 2 * PAGE_SIZE, TAG);
    ck_assert_ptr_nonnull(again);
    ck_assert_ptr_null(ExAllocatePoolWithTag(type, PAGE_SIZE, TAG));
    ExFreePoolWithTag(again, TAG);
    while (n > 0)
        ExFreePoolWithTag(pages[--n], TAG);
    ck_assert_uint_eq(pt_usage(type).CommittedBytes, before.CommittedBytes);

    /* restore: values above the reservation are clipped to it */
    ck_assert_uint_eq((ULONG)ntmem_set_pool_limit(type, (SIZE_T)-1), (ULONG)STATUS_SUCCESS);
    u = pt_usage(type);
    ck_assert_uint_eq(u.LimitBytes, u.ReservedBytes);
    PVOID p = ExAllocatePoolWithTag(type, 2 << 20, TAG);
    ck_assert_ptr_nonnull(p);
    ExFreePoolWithTag(p, TAG);
}
END_TEST

static void exhaust_with_raise(void *arg)
{
    POOL_TYPE type = (POOL_TYPE)(uintptr_t)arg;
    ntmem_set_pool_limit(type, pt_usage(type).CommittedBytes);
    ExAllocatePoolWithTag((POOL_TYPE)(type | POOL_RAISE_IF_ALLOCATION_FAILURE), 2 * PAGE_SIZE, TAG);
}

static void exhaust_must_succeed(void *arg)
{
    POOL_TYPE type = (POOL_TYPE)(uintptr_t)arg;
    ntmem_set_pool_limit(NonPagedPool, pt_usage(NonPagedPool).CommittedBytes);
    ExAllocatePoolWithTag(type, 3 * PAGE_SIZE + 8, TAG);
}

START_TEST(exhaustion_with_raise_or_must_succeed_bug_checks)
{
    ck_assert_bugcheck(exhaust_with_raise, (void *)(uintptr_t)NonPagedPool, KMODE_EXCEPTION_NOT_HANDLED, 0xC000009A);
    ck_assert_bugcheck(exhaust_with_raise, (void *)(uintptr_t)PagedPool, KMODE_EXCEPTION_NOT_HANDLED, 0xC000009A);
    ck_assert_bugcheck(exhaust_must_succeed, (void *)(uintptr_t)NonPagedPoolMustSucceed, MUST_SUCCEED_POOL_EMPTY,
                       3 * PAGE_SIZE + 8);
    ck_assert_bugcheck(exhaust_must_succeed, (void *)(uintptr_t)NonPagedPoolCacheAlignedMustS,
                       MUST_SUCCEED_POOL_EMPTY, 3 * PAGE_SIZE + 8);
}
END_TEST

/* Commits page-sized blocks until the pool has exactly `pages` pages committed. */
static int commit_to(POOL_TYPE type, SIZE_T pages, PVOID *kept, int n)
{
    while (pt_usage(type).CommittedBytes < pages * PAGE_SIZE) {
        kept[n] = ExAllocatePoolWithTag(type, PAGE_SIZE, TAG);
        ck_assert_ptr_nonnull(kept[n]);
        n++;
    }
    ck_assert_uint_eq(pt_usage(type).CommittedBytes, pages * PAGE_SIZE);
    return n;
}

static int priority_ok(POOL_TYPE type, SIZE_T n, EX_POOL_PRIORITY priority)
{
    PVOID p = ExAllocatePoolWithTagPriority(type, n, TAG, priority);
    if (p == NULL)
        return 0;
    ExFreePoolWithTag(p, TAG);
    return 1;
}

/*
 * Low priority may use 80% of the pool's limit, normal 90%, high all of it. Each case runs with a limit
 * of 1000 pages and of 256 pages: 256 is not a multiple of 100, so a share computed as
 * limit / 100 * percent (2 * 80 = 160 pages, 62.5%; 2 * 90 = 180, 70%) is caught. _i: bit 0 the pool,
 * bit 1 the limit.
 */
typedef struct priority_case {
    POOL_TYPE type;
    SIZE_T limit;
    PVOID kept[1100];
    int n;
} priority_case;

static priority_case *priority_setup(int i, SIZE_T percent)
{
    static priority_case c;
    c.type = Pools[i & 1];
    c.limit = (i & 2) ? 256 : 1000;
    c.n = 0;
    ck_assert_uint_lt(pt_usage(c.type).CommittedBytes / PAGE_SIZE, c.limit / 2);
    ntmem_set_pool_limit(c.type, c.limit * PAGE_SIZE);
    c.n = commit_to(c.type, c.limit * percent / 100, c.kept, 0);
    return &c;
}

static void priority_teardown(priority_case *c)
{
    while (c->n > 0)
        ExFreePoolWithTag(c->kept[--c->n], TAG);
    ntmem_set_pool_limit(c->type, (SIZE_T)-1);
}

START_TEST(priority_at_75_percent_serves_everyone)
{
    priority_case *c = priority_setup(_i, 75);
    ck_assert_msg(priority_ok(c->type, PAGE_SIZE, LowPoolPriority), "low priority refused at 75%% of %zu pages",
                  (size_t)c->limit);
    ck_assert(priority_ok(c->type, 100, LowPoolPriority));
    ck_assert(priority_ok(c->type, PAGE_SIZE, NormalPoolPriority));
    ck_assert(priority_ok(c->type, PAGE_SIZE, HighPoolPriority));
    priority_teardown(c);
}
END_TEST

START_TEST(priority_at_85_percent_refuses_low)
{
    priority_case *c = priority_setup(_i, 85);
    ck_assert_msg(!priority_ok(c->type, PAGE_SIZE, LowPoolPriority), "low priority served at 85%%");
    ck_assert_msg(!priority_ok(c->type, 100, LowPoolPriority), "low priority (small) served at 85%%");
    ck_assert_msg(!priority_ok(c->type, PAGE_SIZE, LowPoolPrioritySpecialPoolOverrun), "low priority served at 85%%");
    ck_assert_msg(priority_ok(c->type, PAGE_SIZE, NormalPoolPriority), "normal priority refused at 85%% of %zu pages",
                  (size_t)c->limit);
    ck_assert(priority_ok(c->type, PAGE_SIZE, HighPoolPriority));
    ck_assert(priority_ok(c->type, 100, HighPoolPriority));
    priority_teardown(c);
}
END_TEST

START_TEST(priority_at_94_percent_serves_only_high)
{
    priority_case *c = priority_setup(_i, 94);
    ck_assert_msg(!priority_ok(c->type, PAGE_SIZE, NormalPoolPriority), "normal priority served at 94%%");
    ck_assert_msg(!priority_ok(c->type, PAGE_SIZE, NormalPoolPrioritySpecialPoolUnderrun), "normal served at 94%%");
    ck_assert(!priority_ok(c->type, PAGE_SIZE, LowPoolPriority));
    ck_assert(priority_ok(c->type, PAGE_SIZE, HighPoolPriority));
    ck_assert(priority_ok(c->type, PAGE_SIZE, HighPoolPrioritySpecialPoolOverrun));
    c->n = commit_to(c->type, c->limit, c->kept, c->n); /* full */
    ck_assert(!priority_ok(c->type, PAGE_SIZE, HighPoolPriority));
    priority_teardown(c);
}
END_TEST

/* ---- the seed's list of pool nodes ---------------------------------------------------------------- */

typedef struct _MYDATASTRUCT {
    ULONG number;
    LIST_ENTRY ListEntry;
} MYDATASTRUCT, *PMYDATASTRUCT;

START_TEST(link_list_test_with_pool_nodes)
{
    SYSTEM_POOLTAG before, after;
    pt_tag_counts('enoN', &before);

    LIST_ENTRY linkListHead;
    InitializeListHead(&linkListHead);
    for (ULONG i = 0; i < 10; i++) {
        PMYDATASTRUCT pData = (PMYDATASTRUCT)ExAllocatePool(PagedPool, sizeof(MYDATASTRUCT));
        ck_assert_ptr_nonnull(pData);
        ck_assert_int_eq(lookup_type(pData), PagedPool);
        pData->number = i;
        InsertHeadList(&linkListHead, &pData->ListEntry);
    }
    pt_tag_counts('enoN', &after);
    ck_assert_uint_eq(after.PagedAllocs - before.PagedAllocs, 10);
    ck_assert_uint_eq(after.PagedUsed - before.PagedUsed, 10 * pt_small_block_bytes(sizeof(MYDATASTRUCT)));

    ULONG expect = 0;
    while (!IsListEmpty(&linkListHead)) {
        PLIST_ENTRY pEntry = RemoveTailList(&linkListHead);
        PMYDATASTRUCT pData = CONTAINING_RECORD(pEntry, MYDATASTRUCT, ListEntry);
        ck_assert_uint_eq(pData->number, expect++);
        ExFreePool(pData);
    }
    ck_assert_uint_eq(expect, 10);
    pt_tag_counts('enoN', &after);
    ck_assert_uint_eq(after.PagedAllocs - before.PagedAllocs, 10);
    ck_assert_uint_eq(after.PagedFrees - before.PagedFrees, 10);
    ck_assert_uint_eq(after.PagedUsed, before.PagedUsed);
    ck_assert_uint_eq(after.NonPagedAllocs, before.NonPagedAllocs);
}
END_TEST

/* ---- ntmem_pool_lookup ------------------------------------------------------------------------------ */

START_TEST(lookup_finds_small_blocks_from_any_interior_byte)
{
    POOL_TYPE type = Pools[_i];
    PUCHAR keep = ExAllocatePoolWithTag(type, 200, TAG);
    PUCHAR p = ExAllocatePoolWithTag(type, 200, TAG | PROTECTED_POOL);
    SIZE_T data = ExQueryPoolBlockSize(p, NULL);
    NTMEM_POOL_BLOCK_INFO info;
    for (SIZE_T off = 0; off < data; off++) {
        memset(&info, 0xEE, sizeof info);
        ck_assert_uint_eq((ULONG)ntmem_pool_lookup(p + off, &info), (ULONG)STATUS_SUCCESS);
        ck_assert_ptr_eq(info.Block, p);
        ck_assert_ptr_eq(info.Header, p - 16);
        ck_assert_uint_eq(info.BlockSize, data + 16);
        ck_assert_uint_eq(info.Tag, TAG | PROTECTED_POOL);
        ck_assert_int_eq(info.PoolType, type);
        ck_assert(info.Allocated);
        ck_assert(!info.QuotaCharged);
    }
    /* the header bytes belong to the block too */
    ck_assert_uint_eq((ULONG)ntmem_pool_lookup(p - 1, &info), (ULONG)STATUS_SUCCESS);
    ck_assert_ptr_eq(info.Block, p);
    ExFreePoolWithTag(p, TAG | PROTECTED_POOL);
    memset(&info, 0xEE, sizeof info);
    ck_assert_uint_eq((ULONG)ntmem_pool_lookup(p, &info), (ULONG)STATUS_SUCCESS);
    ck_assert(!info.Allocated);
    ck_assert_uint_eq((ULONG)ntmem_pool_lookup(keep, &info), (ULONG)STATUS_SUCCESS);
    ck_assert(info.Allocated);
    ck_assert_uint_eq(info.Tag, TAG);
    ExFreePoolWithTag(keep, TAG);

    PVOID q = ExAllocatePoolWithQuotaTag(type, 64, TAG);
    ck_assert_uint_eq((ULONG)ntmem_pool_lookup(q, &info), (ULONG)STATUS_SUCCESS);
    ck_assert(info.QuotaCharged);
    ck_assert_ptr_eq(info.ProcessBilled, PsGetCurrentProcess());
    ExFreePoolWithTag(q, TAG);
}
END_TEST

START_TEST(lookup_finds_big_blocks_from_any_page)
{
    POOL_TYPE type = Pools[_i];
    PUCHAR p = ExAllocatePoolWithTag(type, 3 * PAGE_SIZE - 100, TAG);
    static const SIZE_T offs[] = {0, 1, 64, PAGE_SIZE - 1, PAGE_SIZE, PAGE_SIZE + 77, 2 * PAGE_SIZE, 3 * PAGE_SIZE - 1};
    NTMEM_POOL_BLOCK_INFO info;
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        ck_assert_uint_eq((ULONG)ntmem_pool_lookup(p + offs[i], &info), (ULONG)STATUS_SUCCESS);
        ck_assert_ptr_eq(info.Block, p);
        ck_assert_ptr_null(info.Header);
        ck_assert_uint_eq(info.BlockSize, 3 * PAGE_SIZE);
        ck_assert_uint_eq(info.Tag, TAG);
        ck_assert_int_eq(info.PoolType, type);
        ck_assert(info.Allocated);
    }
    ExFreePoolWithTag(p, TAG);
    NTSTATUS s = ntmem_pool_lookup(p, &info);
    ck_assert(s == STATUS_INVALID_ADDRESS || !info.Allocated);
    s = ntmem_pool_lookup(p + PAGE_SIZE + 5, &info);
    ck_assert(s == STATUS_INVALID_ADDRESS || !info.Allocated);
}
END_TEST

START_TEST(lookup_outside_the_pool_is_an_invalid_address)
{
    int local;
    NTMEM_POOL_BLOCK_INFO info;
    void *heap = malloc(64);
    ck_assert_uint_eq((ULONG)ntmem_pool_lookup(&local, &info), (ULONG)STATUS_INVALID_ADDRESS);
    ck_assert_uint_eq((ULONG)ntmem_pool_lookup(heap, &info), (ULONG)STATUS_INVALID_ADDRESS);
    ck_assert_uint_eq((ULONG)ntmem_pool_lookup(NULL, &info), (ULONG)STATUS_INVALID_ADDRESS);
    ck_assert_uint_eq((ULONG)ntmem_pool_lookup(MmSystemRangeStart, &info), (ULONG)STATUS_INVALID_ADDRESS);
    free(heap);
}
END_TEST

/* ---- reuse and coalescing ------------------------------------------------------------------------- */

START_TEST(freeing_everything_gives_the_pages_back)
{
    POOL_TYPE type = Pools[_i];
    enum { COUNT = 40000 };
    PVOID *b = malloc(COUNT * sizeof *b);
    ntmem_flush_thread_pool_cache();
    NTMEM_POOL_USAGE before = pt_usage(type);
    for (int i = 0; i < COUNT; i++) {
        b[i] = ExAllocatePoolWithTag(type, 48, TAG);
        ck_assert_ptr_nonnull(b[i]);
    }
    NTMEM_POOL_USAGE full = pt_usage(type);
    SIZE_T charged = 0;
    for (int i = 0; i < COUNT; i++)
        charged += pt_charged_bytes(b[i], 48);
    ck_assert_uint_ge(charged, (SIZE_T)COUNT * 64);
    ck_assert_uint_le(charged, (SIZE_T)COUNT * 64 + 16 * (full.CommittedBytes / PAGE_SIZE));
    /* 40000 blocks of 64 bytes need at least 625 pages */
    ck_assert_uint_ge(full.CommittedBytes - before.CommittedBytes, (SIZE_T)COUNT * 64 / PAGE_SIZE * PAGE_SIZE);
    ck_assert_uint_eq(full.UsedBytes - before.UsedBytes, charged);
    for (int i = 0; i < COUNT; i++)
        ExFreePoolWithTag(b[i], TAG);
    ntmem_flush_thread_pool_cache();
    NTMEM_POOL_USAGE after = pt_usage(type);
    ck_assert_uint_eq(after.UsedBytes, before.UsedBytes);
    /* everything went back; at most the descriptor's cache of 16 empty pages stays committed */
    ck_assert_msg(after.CommittedBytes <= before.CommittedBytes + 16 * PAGE_SIZE,
                  "committed %zu before, %zu after", (size_t)before.CommittedBytes, (size_t)after.CommittedBytes);
    ck_assert_uint_ge(after.PeakCommittedBytes, full.CommittedBytes);
    /* the same again reuses those pages: the committed total does not creep */
    for (int i = 0; i < COUNT; i++)
        b[i] = ExAllocatePoolWithTag(type, 48, TAG);
    ck_assert_uint_le(pt_usage(type).CommittedBytes, full.CommittedBytes + 16 * PAGE_SIZE);
    for (int i = COUNT - 1; i >= 0; i--)
        ExFreePoolWithTag(b[i], TAG);
    ntmem_flush_thread_pool_cache();
    ck_assert_uint_le(pt_usage(type).CommittedBytes, before.CommittedBytes + 16 * PAGE_SIZE);
    free(b);
}
END_TEST

START_TEST(random_sizes_freed_in_random_order_coalesce)
{
    enum { COUNT = 20000 };
    live_block *b = malloc(COUNT * sizeof *b);
    ULONG64 seed = 777;
    ntmem_flush_thread_pool_cache();
    NTMEM_POOL_USAGE before[2] = {pt_usage(NonPagedPool), pt_usage(PagedPool)};
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < COUNT; i++) {
            ULONG r = pt_rand(&seed);
            b[i].n = r % 50 == 0 ? 4049 + r % 20000 : 1 + r % 4048;
            b[i].p = ExAllocatePoolWithTag(Pools[i & 1], b[i].n, TAG);
            ck_assert_ptr_nonnull(b[i].p);
            b[i].p[0] = (UCHAR)i;
            b[i].p[b[i].n - 1] = (UCHAR)i;
        }
        for (int i = COUNT - 1; i > 0; i--) {
            int k = (int)(pt_rand(&seed) % (ULONG)(i + 1));
            live_block t = b[i];
            b[i] = b[k];
            b[k] = t;
        }
        for (int i = 0; i < COUNT; i++)
            ExFreePoolWithTag(b[i].p, TAG);
        ntmem_flush_thread_pool_cache();
        for (int pool = 0; pool < 2; pool++) {
            NTMEM_POOL_USAGE u = pt_usage(Pools[pool]);
            ck_assert_uint_eq(u.UsedBytes, before[pool].UsedBytes);
            ck_assert_uint_eq(u.BigAllocations, before[pool].BigAllocations);
            ck_assert_msg(u.CommittedBytes <= before[pool].CommittedBytes + 16 * PAGE_SIZE,
                          "round %d pool %d: committed %zu before, %zu after", round, pool,
                          (size_t)before[pool].CommittedBytes, (size_t)u.CommittedBytes);
        }
    }
    free(b);
}
END_TEST

static Suite *pool_alloc_suite(void)
{
    Suite *s = suite_create("pool_alloc");
    TCase *t = tcase_create("placement");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, system_range_constants_are_consistent);
    tcase_add_loop_test(t, every_size_is_in_system_space_aligned_and_within_a_page, 0, 2);
    tcase_add_loop_test(t, page_sized_and_larger_blocks_are_page_aligned, 0, 2);
    tcase_add_loop_test(t, cache_aligned_types_give_64_byte_alignment, 0, 2);
    tcase_add_test(t, live_blocks_are_writable_and_never_overlap);
    tcase_add_test(t, paged_and_nonpaged_blocks_come_from_different_ranges);
    tcase_add_test(t, mm_is_address_valid_follows_the_pool);
    suite_add_tcase(s, t);

    t = tcase_create("api");
    tcase_add_test(t, query_block_size_reports_usable_bytes_and_quota);
    tcase_add_test(t, exallocatepool_tags_blocks_none);
    tcase_add_loop_test(t, zeroing_allocators_zero_reused_blocks, 0,
                        (int)(sizeof ZeroAllocators / sizeof ZeroAllocators[0]));
    tcase_add_test(t, pool2_rejects_invalid_requests);
    tcase_add_test(t, pool2_accepts_valid_requests_and_ignores_optional_flags);
    tcase_add_test(t, pool2_raise_on_failure_is_an_unhandled_exception);
    tcase_add_test(t, pool3_extended_parameters);
    tcase_add_test(t, link_list_test_with_pool_nodes);
    suite_add_tcase(s, t);

    t = tcase_create("limits");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, a_pool_limit_makes_allocations_fail_until_memory_is_freed, 0, 2);
    tcase_add_test(t, exhaustion_with_raise_or_must_succeed_bug_checks);
    tcase_add_loop_test(t, priority_at_75_percent_serves_everyone, 0, 4);
    tcase_add_loop_test(t, priority_at_85_percent_refuses_low, 0, 4);
    tcase_add_loop_test(t, priority_at_94_percent_serves_only_high, 0, 4);
    suite_add_tcase(s, t);

    t = tcase_create("lookup and reuse");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, lookup_finds_small_blocks_from_any_interior_byte, 0, 2);
    tcase_add_loop_test(t, lookup_finds_big_blocks_from_any_page, 0, 2);
    tcase_add_test(t, lookup_outside_the_pool_is_an_invalid_address);
    tcase_add_loop_test(t, freeing_everything_gives_the_pages_back, 0, 2);
    tcase_add_test(t, random_sizes_freed_in_random_order_coalesce);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(pool_alloc_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
