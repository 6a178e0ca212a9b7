/* test_pool_misuse.c - pool misuse ends in the documented bug check: exact code and parameters. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <ntddk.h>
#include <ntmem.h>

#include "death.h"
#include "pooltest.h"

#define TAG 'suMP'
#define OTHER 'rhtO'

static const POOL_TYPE Pools[2] = {NonPagedPool, PagedPool};

/* Runs fn(arg) in a child and checks the STOP code and all four parameters (~0 = don't care). */
#define ANY (~0ULL)
static void expect_stop(void (*fn)(void *), void *arg, unsigned code, unsigned long long p1, unsigned long long p2,
                        unsigned long long p3, unsigned long long p4)
{
    static death_result r;
    death_run(fn, arg, &r);
    ck_assert_msg(r.parsed, "no STOP report; child wrote:\n%s", r.output);
    unsigned long long want[4] = {p1, p2, p3, p4};
    ck_assert_msg(r.code == code, "STOP 0x%08X, expected 0x%08X\n%s", r.code, code, r.output);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(want[i] == ANY || r.p[i] == want[i], "P%d 0x%llX, expected 0x%llX\n%s", i + 1, r.p[i], want[i],
                      r.output);
    ck_assert_msg(r.aborted, "child did not die by SIGABRT (status 0x%x)", r.status);
}

typedef struct free_args {
    PVOID p;
    ULONG tag;
    int with_tag;
} free_args;

static void do_free(void *arg)
{
    free_args *a = arg;
    if (a->with_tag)
        ExFreePoolWithTag(a->p, a->tag);
    else
        ExFreePool(a->p);
}

static void do_free_twice(void *arg)
{
    free_args *a = arg;
    ExFreePoolWithTag(a->p, a->tag);
    ExFreePoolWithTag(a->p, a->tag);
}

static void do_free_flush_free(void *arg)
{
    free_args *a = arg;
    ExFreePoolWithTag(a->p, a->tag);
    ntmem_flush_thread_pool_cache();
    ExFreePoolWithTag(a->p, a->tag);
}

/*
 * Allocates blocks of one size and finds two neighbours in a page (q right after p). Where the page has
 * room, a third live block r follows q, so that freeing p and q never empties the page. All stay live.
 */
static void adjacent_pair(POOL_TYPE type, SIZE_T n, PUCHAR *p, PUCHAR *q)
{
    enum { MAX = 160 };
    PUCHAR b[MAX];
    for (int i = 0; i < MAX; i++) {
        b[i] = ExAllocatePoolWithTag(type, n, TAG);
        ck_assert_ptr_nonnull(b[i]);
        memset(b[i], 0, n);
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < MAX; i++) {
            SIZE_T step = ExQueryPoolBlockSize(b[i], NULL) + 16;
            for (int j = 0; j < MAX; j++) {
                if (b[j] != b[i] + step)
                    continue;
                int third = pass == 1;
                for (int k = 0; k < MAX && !third; k++)
                    third = b[k] == b[j] + ExQueryPoolBlockSize(b[j], NULL) + 16;
                if (third) {
                    *p = b[i];
                    *q = b[j];
                    return;
                }
            }
        }
    }
    ck_abort_msg("no two adjacent blocks of %zu bytes", (size_t)n);
}

/* ---- wrong tags --------------------------------------------------------------------------------- */

START_TEST(free_with_the_wrong_tag)
{
    static const SIZE_T sizes[] = {40, 600, 4048, PAGE_SIZE, 3 * PAGE_SIZE};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        free_args a = {ExAllocatePoolWithTag(Pools[_i], sizes[i], TAG), OTHER, 1};
        expect_stop(do_free, &a, BAD_POOL_CALLER, 0x0A, (ULONG_PTR)a.p, TAG, OTHER);
        ExFreePoolWithTag(a.p, TAG); /* still fine in this process */
    }
}
END_TEST

START_TEST(protected_tag_must_be_given_at_free)
{
    static const SIZE_T sizes[] = {40, 2 * PAGE_SIZE};
    const ULONG ptag = TAG | PROTECTED_POOL;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        free_args a = {ExAllocatePoolWithTag(Pools[_i], sizes[i], ptag), 0, 0};
        expect_stop(do_free, &a, BAD_POOL_CALLER, 0x0A, (ULONG_PTR)a.p, ptag, 0);
        /* the tag without the protected bit is a wrong tag as well */
        a.with_tag = 1;
        a.tag = TAG;
        expect_stop(do_free, &a, BAD_POOL_CALLER, 0x0A, (ULONG_PTR)a.p, ptag, TAG);
        /* the exact tag frees it */
        ExFreePoolWithTag(a.p, ptag);
    }
}
END_TEST

/* ---- double frees ------------------------------------------------------------------------------- */

START_TEST(double_free_of_a_small_block)
{
    static const SIZE_T sizes[] = {16, 100, 512, 1000, 2000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        PUCHAR p, q; /* p, live, keeps q's page in use */
        adjacent_pair(Pools[_i], sizes[i], &p, &q);
        free_args a = {q, TAG, 1};
        expect_stop(do_free_twice, &a, BAD_POOL_CALLER, 0x07, 0, ANY, (ULONG_PTR)q);
    }
}
END_TEST

/*
 * The only block of its page (4048 bytes): the first free empties the page, which the descriptor keeps
 * in its cache of empty pages. The second free is still a pool-caller error about that address; which
 * subtype (0x07 freed twice, or 0x44/0x48 not allocated) is left to the implementation.
 */
START_TEST(double_free_of_the_only_block_of_a_page)
{
    static death_result r;
    free_args a = {ExAllocatePoolWithTag(Pools[_i], 4048, TAG), TAG, 1};
    death_run(do_free_twice, &a, &r);
    ck_assert_msg(r.parsed && r.aborted, "%s", r.output);
    ck_assert_msg(r.code == BAD_POOL_CALLER, "STOP 0x%X\n%s", r.code, r.output);
    ck_assert_msg(r.p[0] == 0x07 || r.p[0] == (_i ? 0x48u : 0x44u), "P1 0x%llX\n%s", r.p[0], r.output);
    ck_assert(r.p[1] == (ULONG_PTR)a.p || r.p[3] == (ULONG_PTR)a.p);
}
END_TEST

/* The block went back to the descriptor in between; its predecessor is live, so it is still a block. */
START_TEST(double_free_after_the_cache_was_flushed)
{
    PUCHAR p, q;
    adjacent_pair(Pools[_i], 64, &p, &q);
    free_args a = {q, TAG, 1};
    expect_stop(do_free_flush_free, &a, BAD_POOL_CALLER, 0x07, 0, ANY, (ULONG_PTR)q);
    adjacent_pair(Pools[_i], 1000, &p, &q);
    a.p = q;
    expect_stop(do_free_flush_free, &a, BAD_POOL_CALLER, 0x07, 0, ANY, (ULONG_PTR)q);
}
END_TEST

static void free_both_flush_free_second(void *arg)
{
    PUCHAR *pq = arg;
    ExFreePoolWithTag(pq[0], TAG);
    ExFreePoolWithTag(pq[1], TAG);
    ntmem_flush_thread_pool_cache(); /* q is merged into p's free block */
    ExFreePoolWithTag(pq[1], TAG);
}

/*
 * The freed block was merged into its free predecessor before the second free. A double free is still
 * a double free (0xC2 0x07, P4 the address): Windows reads the stale header that says "free", and a
 * driver writer needs to hear "freed twice", not "not a pool block".
 */
START_TEST(double_free_after_the_block_was_coalesced)
{
    PUCHAR pq[2];
    adjacent_pair(Pools[_i], 64, &pq[0], &pq[1]);
    expect_stop(free_both_flush_free_second, pq, BAD_POOL_CALLER, 0x07, 0, ANY, (ULONG_PTR)pq[1]);
}
END_TEST

START_TEST(double_free_of_a_big_block)
{
    static const SIZE_T sizes[] = {PAGE_SIZE, 5000, 4 * PAGE_SIZE};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        free_args a = {ExAllocatePoolWithTag(Pools[_i], sizes[i], TAG), TAG, 1};
        expect_stop(do_free_twice, &a, BAD_POOL_CALLER, 0x07, 0, ANY, (ULONG_PTR)a.p);
        a.with_tag = 0;
        ExFreePool(a.p);
    }
}
END_TEST

/* ---- IRQL --------------------------------------------------------------------------------------- */

typedef struct irql_args {
    KIRQL irql;
    POOL_TYPE type;
    SIZE_T n;
    PVOID p;
    int pool2;
} irql_args;

static void alloc_at_irql(void *arg)
{
    irql_args *a = arg;
    KIRQL old;
    KeRaiseIrql(a->irql, &old);
    if (a->pool2)
        ExAllocatePool2(a->type == PagedPool ? POOL_FLAG_PAGED : POOL_FLAG_NON_PAGED, a->n, TAG);
    else
        ExAllocatePoolWithTag(a->type, a->n, TAG);
}

static void free_at_irql(void *arg)
{
    irql_args *a = arg;
    KIRQL old;
    KeRaiseIrql(a->irql, &old);
    ExFreePoolWithTag(a->p, TAG);
}

static void must_succeed_two_pages(void *arg)
{
    ntmem_set_verifier_flags(NTMEM_VERIFIER_POOL_TRACKING);
    ExAllocatePoolWithTag((POOL_TYPE)(uintptr_t)arg, 2 * PAGE_SIZE, TAG);
}

/* Under the verifier, more than a page of must-succeed pool is 0xC4/0x03 (P2 IRQL, P3 type, P4 bytes),
 * whether or not it could be met; one page is allowed. */
START_TEST(must_succeed_over_a_page_under_the_verifier)
{
    expect_stop(must_succeed_two_pages, (void *)(uintptr_t)NonPagedPoolMustSucceed, DRIVER_VERIFIER_DETECTED_VIOLATION,
                0x03, PASSIVE_LEVEL, NonPagedPoolMustSucceed, 2 * PAGE_SIZE);
    expect_stop(must_succeed_two_pages, (void *)(uintptr_t)NonPagedPoolCacheAlignedMustS,
                DRIVER_VERIFIER_DETECTED_VIOLATION, 0x03, PASSIVE_LEVEL, NonPagedPoolCacheAlignedMustS, 2 * PAGE_SIZE);
    ntmem_set_verifier_flags(NTMEM_VERIFIER_POOL_TRACKING);
    PVOID one = ExAllocatePoolWithTag(NonPagedPoolMustSucceed, PAGE_SIZE, TAG);
    ck_assert_ptr_nonnull(one);
    ExFreePoolWithTag(one, TAG);
    ntmem_set_verifier_flags(0);
    one = ExAllocatePoolWithTag(NonPagedPoolMustSucceed, 2 * PAGE_SIZE, TAG); /* without it: served */
    ck_assert_ptr_nonnull(one);
    ExFreePoolWithTag(one, TAG);
}
END_TEST

START_TEST(paged_allocation_above_apc_level)
{
    static const SIZE_T sizes[] = {24, 600, 3 * PAGE_SIZE};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        irql_args a = {DISPATCH_LEVEL, PagedPool, sizes[i], NULL, 0};
        expect_stop(alloc_at_irql, &a, BAD_POOL_CALLER, 0x08, DISPATCH_LEVEL, PagedPool, sizes[i]);
        a.pool2 = 1;
        expect_stop(alloc_at_irql, &a, BAD_POOL_CALLER, 0x08, DISPATCH_LEVEL, PagedPool, sizes[i]);
        a.pool2 = 0;
        a.irql = HIGH_LEVEL;
        expect_stop(alloc_at_irql, &a, BAD_POOL_CALLER, 0x08, HIGH_LEVEL, PagedPool, sizes[i]);
    }
}
END_TEST

START_TEST(nonpaged_allocation_above_dispatch_level)
{
    irql_args a = {HIGH_LEVEL, NonPagedPool, 64, NULL, 0};
    expect_stop(alloc_at_irql, &a, BAD_POOL_CALLER, 0x08, HIGH_LEVEL, NonPagedPool, 64);
    a.irql = DISPATCH_LEVEL + 1;
    a.n = 2 * PAGE_SIZE;
    expect_stop(alloc_at_irql, &a, BAD_POOL_CALLER, 0x08, DISPATCH_LEVEL + 1, NonPagedPool, 2 * PAGE_SIZE);
}
END_TEST

START_TEST(paged_free_above_apc_level)
{
    static const SIZE_T sizes[] = {24, 600, 3 * PAGE_SIZE};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        irql_args a = {DISPATCH_LEVEL, PagedPool, 0, ExAllocatePoolWithTag(PagedPool, sizes[i], TAG), 0};
        expect_stop(free_at_irql, &a, BAD_POOL_CALLER, 0x09, DISPATCH_LEVEL, 1, (ULONG_PTR)a.p);
        ExFreePoolWithTag(a.p, TAG);
    }
    irql_args a = {HIGH_LEVEL, NonPagedPool, 0, ExAllocatePoolWithTag(NonPagedPool, 100, TAG), 0};
    expect_stop(free_at_irql, &a, BAD_POOL_CALLER, 0x09, HIGH_LEVEL, 0, (ULONG_PTR)a.p);
}
END_TEST

START_TEST(nonpaged_pool_is_usable_at_dispatch_level)
{
    KIRQL old;
    PVOID paged = ExAllocatePoolWithTag(PagedPool, 100, TAG);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    for (int i = 0; i < 200; i++) {
        SIZE_T n = 1 + (SIZE_T)i * 97;
        PUCHAR p = ExAllocatePoolWithTag(NonPagedPool, n, TAG);
        ck_assert_ptr_nonnull(p);
        memset(p, 1, n);
        PVOID q = ExAllocatePool2(POOL_FLAG_NON_PAGED, n, TAG);
        ck_assert_ptr_nonnull(q);
        ExFreePoolWithTag(p, TAG);
        ExFreePool(q);
    }
    KeLowerIrql(APC_LEVEL);
    /* paged pool is fine at APC_LEVEL */
    PVOID p = ExAllocatePoolWithTag(PagedPool, 100, TAG);
    ck_assert_ptr_nonnull(p);
    ExFreePoolWithTag(p, TAG);
    ExFreePoolWithTag(paged, TAG);
    KeLowerIrql(old);
    ck_assert_uint_eq(KeGetCurrentIrql(), PASSIVE_LEVEL);
}
END_TEST

/* ---- tag 0 -------------------------------------------------------------------------------------- */

static void zero_tag_with_tag(void *arg)
{
    (void)arg;
    ExAllocatePoolWithTag(PagedPool, 100, 0);
}
static void zero_tag_with_tag_nonpaged_big(void *arg)
{
    (void)arg;
    ExAllocatePoolWithTag(NonPagedPool, 3 * PAGE_SIZE, 0);
}
static void zero_tag_with_quota(void *arg)
{
    (void)arg;
    ExAllocatePoolWithQuotaTag(NonPagedPool, 64, 0);
}
static void zero_tag_with_priority(void *arg)
{
    (void)arg;
    ExAllocatePoolWithTagPriority(PagedPool, 32, 0, NormalPoolPriority);
}

START_TEST(tag_zero_is_bad_pool_caller_9b)
{
    expect_stop(zero_tag_with_tag, NULL, BAD_POOL_CALLER, 0x9B, PagedPool, 100, ANY);
    expect_stop(zero_tag_with_tag_nonpaged_big, NULL, BAD_POOL_CALLER, 0x9B, NonPagedPool, 3 * PAGE_SIZE, ANY);
    expect_stop(zero_tag_with_quota, NULL, BAD_POOL_CALLER, 0x9B, NonPagedPool, 64, ANY);
    expect_stop(zero_tag_with_priority, NULL, BAD_POOL_CALLER, 0x9B, PagedPool, 32, ANY);
}
END_TEST

/* ---- not a pool block --------------------------------------------------------------------------- */

static void free_local(void *arg)
{
    (void)arg;
    ULONG64 local[4] = {0};
    ExFreePool(local);
}

START_TEST(freeing_a_user_address)
{
    static ULONG64 global[4];
    void *heap = malloc(64);
    free_args a = {heap, TAG, 1};
    expect_stop(do_free, &a, BAD_POOL_CALLER, 0x40, (ULONG_PTR)heap, (ULONG_PTR)MmSystemRangeStart, 0);
    a.p = global;
    a.with_tag = 0;
    expect_stop(do_free, &a, BAD_POOL_CALLER, 0x40, (ULONG_PTR)global, (ULONG_PTR)MmSystemRangeStart, 0);
    a.p = NULL;
    expect_stop(do_free, &a, BAD_POOL_CALLER, 0x40, 0, (ULONG_PTR)MmSystemRangeStart, 0);
    expect_stop(free_local, NULL, BAD_POOL_CALLER, 0x40, ANY, (ULONG_PTR)MmSystemRangeStart, 0);
    free(heap);
}
END_TEST

/*
 * An interior pointer of a live small block whose data are zero: the word at p+16-16 is no header, the
 * page walk steps over it, so it is "not the start of a block": 0xC2 0x99 with P2 the address.
 */
START_TEST(freeing_inside_a_small_block)
{
    PUCHAR p = ExAllocatePoolWithTag(Pools[_i], 300, TAG);
    memset(p, 0, 300);
    free_args a = {p + 16, TAG, 1};
    expect_stop(do_free, &a, BAD_POOL_CALLER, 0x99, (ULONG_PTR)(p + 16), 0, 0);
    a.p = p + 32;
    expect_stop(do_free, &a, BAD_POOL_CALLER, 0x99, (ULONG_PTR)(p + 32), 0, 0);
    a.p = p + 256;
    a.with_tag = 0;
    expect_stop(do_free, &a, BAD_POOL_CALLER, 0x99, (ULONG_PTR)(p + 256), 0, 0);
    /* unaligned interior pointers too */
    a.p = p + 5;
    expect_stop(do_free, &a, BAD_POOL_CALLER, 0x99, (ULONG_PTR)(p + 5), 0, 0);
    ExFreePoolWithTag(p, TAG);
}
END_TEST

/*
 * Inside the first page of a big allocation (p+64): not the start of an allocation. ntmem reports it
 * as a pool-caller error; which subtype (0x46 "invalid pool address", 0x41286 for paged pool, or 0x99)
 * is the implementation's choice, so only the code and P1's family are asserted.
 */
START_TEST(freeing_inside_the_first_page_of_a_big_block)
{
    static death_result r;
    PUCHAR p = ExAllocatePoolWithTag(Pools[_i], 3 * PAGE_SIZE, TAG);
    memset(p, 0, 3 * PAGE_SIZE);
    free_args a = {p + 64, TAG, 1};
    death_run(do_free, &a, &r);
    ck_assert_msg(r.parsed && r.aborted, "%s", r.output);
    ck_assert_msg(r.code == BAD_POOL_CALLER, "STOP 0x%X\n%s", r.code, r.output);
    ck_assert_msg(r.p[0] == 0x46 || r.p[0] == 0x41286 || r.p[0] == 0x99, "P1 0x%llX\n%s", r.p[0], r.output);
    ExFreePoolWithTag(p, TAG);
}
END_TEST

START_TEST(freeing_a_later_page_of_a_nonpaged_allocation)
{
    PUCHAR p = ExAllocatePoolWithTag(NonPagedPool, 4 * PAGE_SIZE, TAG);
    for (int page = 1; page < 4; page++) {
        free_args a = {p + page * PAGE_SIZE, TAG, 1};
        expect_stop(do_free, &a, BAD_POOL_CALLER, 0x46, (ULONG_PTR)a.p, 0, 0);
    }
    ExFreePoolWithTag(p, TAG);
}
END_TEST

/* Paged: 0x41286 with P4 the page offset from the paged pool's start; that start is not public, so the
 * offsets of different pages must differ by their distance and point back to one plausible base. */
START_TEST(freeing_a_later_page_of_a_paged_allocation)
{
    static death_result r;
    PUCHAR p = ExAllocatePoolWithTag(PagedPool, 4 * PAGE_SIZE, TAG);
    PUCHAR base = NULL;
    for (int page = 1; page < 4; page++) {
        free_args a = {p + page * PAGE_SIZE, TAG, 1};
        death_run(do_free, &a, &r);
        ck_assert_msg(r.parsed && r.aborted, "%s", r.output);
        ck_assert_uint_eq(r.code, BAD_POOL_CALLER);
        ck_assert_msg(r.p[0] == 0x41286, "P1 0x%llX\n%s", r.p[0], r.output);
        PUCHAR b = (PUCHAR)a.p - r.p[3] * PAGE_SIZE;
        if (base == NULL)
            base = b;
        ck_assert_ptr_eq(b, base);
    }
    ck_assert_uint_ge((ULONG_PTR)base, (ULONG_PTR)MmSystemRangeStart);
    ck_assert_uint_le((ULONG_PTR)base, (ULONG_PTR)p);
    ck_assert_uint_eq(BYTE_OFFSET(base), 0);
    /* nonpaged pool lies below the paged pool's start */
    PVOID np = ExAllocatePoolWithTag(NonPagedPool, 64, TAG);
    ck_assert_uint_lt((ULONG_PTR)np, (ULONG_PTR)base);
    ExFreePoolWithTag(np, TAG);
    ExFreePoolWithTag(p, TAG);
}
END_TEST

/*
 * A pool address that is not allocated: pages are handed out first-fit from the bottom of each pool, so
 * 16 MiB above a fresh block (well inside the pool's reservation, which is at least 64 MiB) nothing was
 * ever allocated; MmIsAddressValid confirms it before the free. Nonpaged: 0x44; paged: 0x48.
 */
START_TEST(freeing_an_unallocated_pool_address)
{
    POOL_TYPE type = Pools[_i];
    ck_assert_uint_ge(pt_usage(type).ReservedBytes, 64u << 20);
    PUCHAR p = ExAllocatePoolWithTag(type, PAGE_SIZE, TAG);
    PUCHAR q = p + (16u << 20);
    NTMEM_POOL_BLOCK_INFO info;
    ck_assert(!MmIsAddressValid(q));
    ck_assert_uint_eq((ULONG)ntmem_pool_lookup(q, &info), (ULONG)STATUS_INVALID_ADDRESS);
    free_args a = {q, TAG, 1};
    expect_stop(do_free, &a, BAD_POOL_CALLER, _i ? 0x48 : 0x44, (ULONG_PTR)q, ANY, ANY);
    ExFreePoolWithTag(p, TAG);
}
END_TEST

/* ---- corrupt headers ---------------------------------------------------------------------------- */

typedef struct corrupt_args {
    PUCHAR p;
    int offset;
    UCHAR value;
} corrupt_args;

static void corrupt_then_free(void *arg)
{
    corrupt_args *a = arg;
    PUCHAR h = a->p - 16;
    pt_unpoison(h, 16);
    h[a->offset] = a->value;
    ExFreePoolWithTag(a->p, TAG);
}

/* BlockSize (header byte 2) zeroed: the page walk meets a zero-sized block: 0x19 P1 8, P4 the header. */
START_TEST(zero_block_size_is_bad_pool_header)
{
    static const SIZE_T sizes[] = {64, 1000};
    for (size_t i = 0; i < 2; i++) {
        PUCHAR p, q;
        adjacent_pair(Pools[_i], sizes[i], &p, &q);
        corrupt_args a = {q, 2, 0};
        expect_stop(corrupt_then_free, &a, BAD_POOL_HEADER, 0x08, ANY, ANY, (ULONG_PTR)(q - 16));
    }
}
END_TEST

/* PoolType (header byte 3) zeroed: the header says "free": a double free, 0xC2 0x07. */
START_TEST(zero_pool_type_is_a_double_free)
{
    PUCHAR p, q;
    adjacent_pair(Pools[_i], 64, &p, &q);
    corrupt_args a = {q, 3, 0};
    expect_stop(corrupt_then_free, &a, BAD_POOL_CALLER, 0x07, 0, ANY, (ULONG_PTR)q);
}
END_TEST

/* PoolType naming the other pool: the header is corrupt (0x19), not a free of the other pool's block. */
START_TEST(pool_type_of_the_other_pool_is_bad_pool_header)
{
    static death_result r;
    PUCHAR p, q;
    adjacent_pair(Pools[_i], 64, &p, &q);
    corrupt_args a = {q, 3, (UCHAR)(_i ? NonPagedPool + 1 : PagedPool + 1)};
    death_run(corrupt_then_free, &a, &r);
    ck_assert_msg(r.parsed && r.aborted, "%s", r.output);
    ck_assert_msg(r.code == BAD_POOL_HEADER, "STOP 0x%X\n%s", r.code, r.output);
}
END_TEST

typedef struct overrun_args {
    PUCHAR p, q;
    UCHAR value;
    int free_p;
    int flush;
} overrun_args;

/* Writes one byte past the end of p's block: the PreviousSize byte of q's header. */
static void overrun_then_free(void *arg)
{
    overrun_args *a = arg;
    PUCHAR qh = a->q - 16;
    pt_unpoison(qh, 1);
    qh[0] = a->value;
    ExFreePoolWithTag(a->free_p ? a->p : a->q, TAG);
    if (a->flush)
        ntmem_flush_thread_pool_cache();
}

/*
 * p overran into its neighbour q's header (PreviousSize). With p's data zero and PreviousSize set to 1,
 * the free of q (or of p) finds that the neighbours disagree about their sizes: 0x19 P1 5, with q's
 * header as one of the two entries (P2 or P4). Blocks of 1000 bytes go straight back to the descriptor,
 * so the check happens at the free; blocks of 64 bytes are cached per thread and checked at the flush.
 */
START_TEST(overrun_into_the_next_header_is_found_at_free)
{
    static death_result r;
    static const SIZE_T sizes[] = {1000, 64};
    for (size_t i = 0; i < 2; i++) {
        for (int free_p = 0; free_p < 2; free_p++) {
            overrun_args a;
            adjacent_pair(Pools[_i], sizes[i], &a.p, &a.q);
            a.value = free_p ? 0x7F : 1;
            a.free_p = free_p;
            a.flush = sizes[i] <= 512;
            death_run(overrun_then_free, &a, &r);
            ck_assert_msg(r.parsed && r.aborted, "size %zu free_p %d:\n%s", (size_t)sizes[i], free_p, r.output);
            ck_assert_msg(r.code == BAD_POOL_HEADER && r.p[0] == 5, "size %zu free_p %d: STOP 0x%X P1 0x%llX\n%s",
                          (size_t)sizes[i], free_p, r.code, r.p[0], r.output);
            ck_assert_msg(r.p[1] == (ULONG_PTR)(a.q - 16) || r.p[3] == (ULONG_PTR)(a.q - 16), "%s", r.output);
        }
    }
}
END_TEST

/* A PreviousSize larger than the block's offset in its page reaches outside the page: 0x19 P1 6. */
START_TEST(previous_size_beyond_the_page_is_bad_pool_header)
{
    PUCHAR p, q;
    adjacent_pair(Pools[_i], 1000, &p, &q);
    ck_assert_uint_lt(BYTE_OFFSET(q) / 16, 0xFF);
    overrun_args a = {p, q, 0xFF, 0, 0};
    expect_stop(overrun_then_free, &a, BAD_POOL_HEADER, 0x06, ANY, ANY, ANY);
}
END_TEST

typedef struct freelist_args {
    PUCHAR a, b, c;
} freelist_args;

static LIST_ENTRY Fake = {&Fake, &Fake};

/* b is free on a descriptor list between live a and c; its links are overwritten; freeing a merges with
 * b and unlinks it, and the list check fails: 0x19 P1 3, P2 the entry. */
static void corrupt_free_list(void *arg)
{
    freelist_args *f = arg;
    ExFreePoolWithTag(f->b, TAG);
    ntmem_flush_thread_pool_cache();
    pt_unpoison(f->b, 16);
    PLIST_ENTRY e = (PLIST_ENTRY)f->b;
    e->Flink = &Fake;
    e->Blink = &Fake;
    ExFreePoolWithTag(f->a, TAG);
    ntmem_flush_thread_pool_cache();
}

START_TEST(corrupt_free_list_is_bad_pool_header_3)
{
    static const SIZE_T sizes[] = {1000, 64};
    for (size_t i = 0; i < 2; i++) {
        freelist_args f;
        PUCHAR x, y;
        adjacent_pair(Pools[_i], sizes[i], &x, &y);
        f.a = x;
        f.b = y;
        f.c = NULL;
        expect_stop(corrupt_free_list, &f, BAD_POOL_HEADER, 0x03, (ULONG_PTR)f.b, ANY, ANY);
    }
}
END_TEST

static void corrupt_quota_process(void *arg)
{
    PUCHAR p = arg;
    PEPROCESS *billed = (PEPROCESS *)(p - 8);
    pt_unpoison(billed, sizeof *billed);
    *billed = (PEPROCESS)(uintptr_t)0x1234;
    ExFreePoolWithTag(p, TAG);
}

START_TEST(corrupt_quota_process_is_bad_pool_caller_0d)
{
    PUCHAR p = ExAllocatePoolWithQuotaTag(Pools[_i], 100, TAG);
    expect_stop(corrupt_quota_process, p, BAD_POOL_CALLER, 0x0D, (ULONG_PTR)p, TAG, 0x1234);
    ExFreePoolWithTag(p, TAG);
}
END_TEST

static Suite *pool_misuse_suite(void)
{
    Suite *s = suite_create("pool_misuse");
    TCase *t = tcase_create("tags and double frees");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, free_with_the_wrong_tag, 0, 2);
    tcase_add_loop_test(t, protected_tag_must_be_given_at_free, 0, 2);
    tcase_add_loop_test(t, double_free_of_a_small_block, 0, 2);
    tcase_add_loop_test(t, double_free_of_the_only_block_of_a_page, 0, 2);
    tcase_add_loop_test(t, double_free_after_the_cache_was_flushed, 0, 2);
    tcase_add_loop_test(t, double_free_after_the_block_was_coalesced, 0, 2);
    tcase_add_loop_test(t, double_free_of_a_big_block, 0, 2);
    suite_add_tcase(s, t);

    t = tcase_create("irql and tag 0");
    tcase_add_test(t, paged_allocation_above_apc_level);
    tcase_add_test(t, must_succeed_over_a_page_under_the_verifier);
    tcase_add_test(t, nonpaged_allocation_above_dispatch_level);
    tcase_add_test(t, paged_free_above_apc_level);
    tcase_add_test(t, nonpaged_pool_is_usable_at_dispatch_level);
    tcase_add_test(t, tag_zero_is_bad_pool_caller_9b);
    suite_add_tcase(s, t);

    t = tcase_create("not a pool block");
    tcase_add_test(t, freeing_a_user_address);
    tcase_add_loop_test(t, freeing_inside_a_small_block, 0, 2);
    tcase_add_loop_test(t, freeing_inside_the_first_page_of_a_big_block, 0, 2);
    tcase_add_test(t, freeing_a_later_page_of_a_nonpaged_allocation);
    tcase_add_test(t, freeing_a_later_page_of_a_paged_allocation);
    tcase_add_loop_test(t, freeing_an_unallocated_pool_address, 0, 2);
    suite_add_tcase(s, t);

    t = tcase_create("corruption");
    tcase_add_loop_test(t, zero_block_size_is_bad_pool_header, 0, 2);
    tcase_add_loop_test(t, zero_pool_type_is_a_double_free, 0, 2);
    tcase_add_loop_test(t, pool_type_of_the_other_pool_is_bad_pool_header, 0, 2);
    tcase_add_loop_test(t, overrun_into_the_next_header_is_found_at_free, 0, 2);
    tcase_add_loop_test(t, previous_size_beyond_the_page_is_bad_pool_header, 0, 2);
    tcase_add_loop_test(t, corrupt_free_list_is_bad_pool_header_3, 0, 2);
    tcase_add_loop_test(t, corrupt_quota_process_is_bad_pool_caller_0d, 0, 2);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(pool_misuse_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
