/* test_lookaside.c - lookaside lists: the classic and Ex APIs, routines, counters, registry, delete. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ntddk.h>
#include <ntmem.h>

#include "death.h"
#include "lookasidetest.h"
#include "pooltest.h"

#define TAG_L 'LkaL' /* "LakL" */
#define TAG_C 'CkaL'
#define TAG_X 'XkaL'
#define TAG_Q 'QkaL'
#define TAG_T 'TkaL'
#define TAG_R 'RkaL'

/* Every test runs in its own forked child; exact counts must not be moved by the balance set. */
static void quiet_balance_set(void)
{
    ntmem_set_lookaside_period(0);
}

static SIZE_T tag_used(ULONG tag, POOL_TYPE pool)
{
    SYSTEM_POOLTAG t;
    pt_tag_counts(tag, &t);
    return pool == PagedPool ? t.PagedUsed : t.NonPagedUsed;
}

static ULONG tag_allocs(ULONG tag, POOL_TYPE pool)
{
    SYSTEM_POOLTAG t;
    pt_tag_counts(tag, &t);
    return pool == PagedPool ? t.PagedAllocs : t.NonPagedAllocs;
}

static ULONG tag_frees(ULONG tag, POOL_TYPE pool)
{
    SYSTEM_POOLTAG t;
    pt_tag_counts(tag, &t);
    return pool == PagedPool ? t.PagedFrees : t.NonPagedFrees;
}

/* ---- blocks ------------------------------------------------------------------------------------ */

START_TEST(blocks_are_writable_sized_and_tagged)
{
    static const SIZE_T sizes[] = {8, 13, 64, 200, 1000, 4000, 5000};
    enum lt_kind k = (enum lt_kind)_i;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        lt_list l;
        lt_init(&l, k, sizes[s], TAG_L);
        PGENERAL_LOOKASIDE_POOL g = lt_general(&l);
        ck_assert_uint_eq(g->Size, sizes[s]);
        ck_assert_uint_eq(g->Tag, TAG_L);
        ck_assert_uint_eq((ULONG)g->Type, (ULONG)lt_pool(k));
        PVOID p[5];
        for (int i = 0; i < 5; i++) {
            p[i] = lt_alloc(&l);
            ck_assert_ptr_nonnull(p[i]);
            memset(p[i], 0xA0 + i, sizes[s]);
            NTMEM_POOL_BLOCK_INFO info;
            ck_assert_uint_eq((ULONG)ntmem_pool_lookup(p[i], &info), (ULONG)STATUS_SUCCESS);
            ck_assert_msg(info.Tag == TAG_L, "%s size %zu: tag 0x%08X", lt_kind_names[k], (size_t)sizes[s],
                          info.Tag);
            ck_assert_uint_eq((ULONG)info.PoolType, (ULONG)lt_pool(k));
            ck_assert(info.Allocated);
            ck_assert_ptr_eq(info.Block, p[i]);
            ck_assert_uint_ge(ExQueryPoolBlockSize(p[i], NULL), sizes[s]);
            ck_assert_msg(((ULONG_PTR)p[i] & 15) == 0, "block %p not 16-byte aligned", p[i]);
        }
        for (int i = 0; i < 5; i++)
            for (SIZE_T b = 0; b < sizes[s]; b++)
                ck_assert_uint_eq(((unsigned char *)p[i])[b], 0xA0 + i);
        for (int i = 0; i < 5; i++)
            lt_free(&l, p[i]);
        lt_delete(&l);
        ck_assert_uint_eq(tag_used(TAG_L, lt_pool(k)), 0);
    }
}
END_TEST

START_TEST(a_freed_block_is_reused_lifo)
{
    lt_list l;
    enum lt_kind k = (enum lt_kind)_i;
    lt_init(&l, k, 48, TAG_L);
    PVOID p = lt_alloc(&l), q = lt_alloc(&l);
    ck_assert_ptr_ne(p, q);
    lt_free(&l, p);
    ck_assert_ptr_eq(lt_alloc(&l), p);
    lt_free(&l, p);
    lt_free(&l, q);
    ck_assert_ptr_eq(lt_alloc(&l), q);
    ck_assert_ptr_eq(lt_alloc(&l), p);
    ck_assert_uint_eq(tag_allocs(TAG_L, lt_pool(k)), 2); /* only the first two went to pool */
    lt_free(&l, q);
    lt_free(&l, p);
    lt_delete(&l);
    ck_assert_uint_eq(tag_frees(TAG_L, lt_pool(k)), 2);
}
END_TEST

/* ---- custom routines --------------------------------------------------------------------------- */

static struct {
    ULONG allocates, frees;
    POOL_TYPE type;
    SIZE_T bytes;
    ULONG tag;
    PLOOKASIDE_LIST_EX context_alloc, context_free;
    int fail; /* the next allocations return NULL */
} calls;

static PVOID NTAPI counting_allocate(POOL_TYPE type, SIZE_T bytes, ULONG tag)
{
    calls.allocates++;
    calls.type = type;
    calls.bytes = bytes;
    calls.tag = tag;
    if (calls.fail)
        return NULL;
    return ExAllocatePoolWithTag(type, bytes, TAG_C);
}

static VOID NTAPI counting_free(PVOID p)
{
    calls.frees++;
    ExFreePoolWithTag(p, TAG_C);
}

static PVOID NTAPI counting_allocate_ex(POOL_TYPE type, SIZE_T bytes, ULONG tag, PLOOKASIDE_LIST_EX list)
{
    calls.context_alloc = list;
    return counting_allocate(type, bytes, tag);
}

static VOID NTAPI counting_free_ex(PVOID p, PLOOKASIDE_LIST_EX list)
{
    calls.context_free = list;
    counting_free(p);
}

static void init_counting(lt_list *l, enum lt_kind k, SIZE_T size, ULONG tag)
{
    memset(l, 0, sizeof *l);
    memset(&calls, 0, sizeof calls);
    l->kind = k;
    switch (k) {
    case LT_NPAGED:
        ExInitializeNPagedLookasideList(&l->u.np, counting_allocate, counting_free, 0, size, tag, 0);
        break;
    case LT_PAGED:
        ExInitializePagedLookasideList(&l->u.pg, counting_allocate, counting_free, 0, size, tag, 0);
        break;
    default:
        ck_assert_uint_eq((ULONG)ExInitializeLookasideListEx(&l->u.ex, counting_allocate_ex, counting_free_ex,
                                                              lt_pool(k), 0, size, tag, 0),
                          (ULONG)STATUS_SUCCESS);
    }
}

START_TEST(custom_routines_are_called_exactly_on_misses)
{
    lt_list l;
    enum lt_kind k = (enum lt_kind)_i;
    init_counting(&l, k, 40, TAG_X);
    PGENERAL_LOOKASIDE_POOL g = lt_general(&l);
    if (lt_is_ex(k)) {
        ck_assert_ptr_eq((PVOID)g->AllocateEx, (PVOID)counting_allocate_ex);
        ck_assert_ptr_eq((PVOID)g->FreeEx, (PVOID)counting_free_ex);
    } else {
        ck_assert_ptr_eq((PVOID)g->Allocate, (PVOID)counting_allocate);
        ck_assert_ptr_eq((PVOID)g->Free, (PVOID)counting_free);
    }
    ck_assert_uint_eq(calls.allocates, 0); /* nothing is preallocated */

    /* The first allocation misses; the routine gets the list's type, size and tag. */
    PVOID p = lt_alloc(&l);
    ck_assert_uint_eq(calls.allocates, 1);
    ck_assert_uint_eq((ULONG)calls.type, (ULONG)lt_pool(k));
    ck_assert_uint_eq(calls.bytes, 40);
    ck_assert_uint_eq(calls.tag, TAG_X);
    if (lt_is_ex(k))
        ck_assert_ptr_eq(calls.context_alloc, &l.u.ex);
    ck_assert_uint_eq(ntmem_pool_lookup(p, &(NTMEM_POOL_BLOCK_INFO){0}), STATUS_SUCCESS);

    /* A freed block comes back without the routine. */
    lt_free(&l, p);
    ck_assert_uint_eq(calls.frees, 0);
    ck_assert_ptr_eq(lt_alloc(&l), p);
    ck_assert_uint_eq(calls.allocates, 1);

    /* Ten held at once: one from the cache, nine misses. */
    PVOID a[10];
    a[0] = p;
    for (int i = 1; i < 10; i++)
        a[i] = lt_alloc(&l);
    ck_assert_uint_eq(calls.allocates, 10);
    /* Freeing ten at depth 4 overflows: the thread cache holds Depth/2 = 2, the shared list 4, the
     * rest goes to the Free routine, one free miss each. */
    ck_assert_uint_eq(g->Depth, 4);
    for (int i = 0; i < 10; i++)
        lt_free(&l, a[i]);
    NTMEM_LOOKASIDE_INFO info = lt_must_info(lt_address(&l));
    ck_assert_uint_eq(info.HeldBlocks, 6);
    ck_assert_uint_eq(QueryDepthSList(&g->ListHead), 4);
    ck_assert_uint_eq(calls.frees, 4);
    if (lt_is_ex(k))
        ck_assert_ptr_eq(calls.context_free, &l.u.ex);
    ck_assert_uint_eq(info.TotalAllocates, 11);
    ck_assert_uint_eq(info.AllocateMisses, 10);
    ck_assert_uint_eq(info.TotalFrees, 11);
    ck_assert_uint_eq(info.FreeMisses, 4);

    /* The held blocks satisfy the next six allocations without the routine. */
    for (int i = 0; i < 6; i++)
        a[i] = lt_alloc(&l);
    ck_assert_uint_eq(calls.allocates, 10);
    ck_assert_uint_eq(lt_must_info(lt_address(&l)).HeldBlocks, 0);
    a[6] = lt_alloc(&l);
    ck_assert_uint_eq(calls.allocates, 11);
    for (int i = 0; i < 7; i++)
        lt_free(&l, a[i]);
    ULONG before_delete = calls.frees;
    ULONG64 held = lt_must_info(lt_address(&l)).HeldBlocks;
    lt_delete(&l);
    ck_assert_uint_eq(calls.frees, before_delete + held); /* delete gives each held block back */
    ck_assert_uint_eq(calls.frees, calls.allocates);
    ck_assert_uint_eq(tag_used(TAG_C, lt_pool(k)), 0);
}
END_TEST

START_TEST(a_failing_allocate_routine_returns_null)
{
    lt_list l;
    enum lt_kind k = (enum lt_kind)_i;
    init_counting(&l, k, 40, TAG_X);
    calls.fail = 1;
    ck_assert_ptr_null(lt_alloc(&l));
    ck_assert_uint_eq(calls.allocates, 1);
    calls.fail = 0;
    PVOID p = lt_alloc(&l);
    ck_assert_ptr_nonnull(p);
    NTMEM_LOOKASIDE_INFO info = lt_must_info(lt_address(&l));
    ck_assert_uint_eq(info.TotalAllocates, 2);
    ck_assert_uint_eq(info.AllocateMisses, 2);
    lt_free(&l, p);
    lt_delete(&l);
    ck_assert_uint_eq(calls.frees, 1);
}
END_TEST

START_TEST(null_routines_mean_pool)
{
    NPAGED_LOOKASIDE_LIST n;
    PAGED_LOOKASIDE_LIST pg;
    ExInitializeNPagedLookasideList(&n, NULL, NULL, 0, 32, TAG_L, 0);
    ExInitializePagedLookasideList(&pg, NULL, NULL, 0, 32, TAG_L, 0);
    ck_assert_ptr_eq((PVOID)n.L.Allocate, (PVOID)ExAllocatePoolWithTag);
    ck_assert_ptr_eq((PVOID)n.L.Free, (PVOID)ExFreePool);
    ck_assert_ptr_eq((PVOID)pg.L.Allocate, (PVOID)ExAllocatePoolWithTag);
    ck_assert_ptr_eq((PVOID)pg.L.Free, (PVOID)ExFreePool);
    LOOKASIDE_LIST_EX x;
    ck_assert_uint_eq((ULONG)ExInitializeLookasideListEx(&x, NULL, NULL, NonPagedPool, 0, 32, TAG_L, 0),
                      (ULONG)STATUS_SUCCESS);
    ck_assert_ptr_nonnull((PVOID)x.L.AllocateEx);
    ck_assert_ptr_nonnull((PVOID)x.L.FreeEx);
    /* The stored default routines can be called directly, as drivers do to bypass the list. */
    PVOID p = x.L.AllocateEx(x.L.Type, x.L.Size, x.L.Tag, &x);
    NTMEM_POOL_BLOCK_INFO info;
    ck_assert_uint_eq((ULONG)ntmem_pool_lookup(p, &info), (ULONG)STATUS_SUCCESS);
    ck_assert_uint_eq(info.Tag, TAG_L);
    x.L.FreeEx(p, &x);
    ExDeleteNPagedLookasideList(&n);
    ExDeletePagedLookasideList(&pg);
    ExDeleteLookasideListEx(&x);
    ck_assert_uint_eq(tag_used(TAG_L, NonPagedPool), 0);
}
END_TEST

START_TEST(classic_flags_fold_into_the_pool_type)
{
    NPAGED_LOOKASIDE_LIST n;
    ExInitializeNPagedLookasideList(&n, NULL, NULL, POOL_RAISE_IF_ALLOCATION_FAILURE, 32, TAG_L, 0);
    ck_assert_uint_eq((ULONG)n.L.Type, (ULONG)(NonPagedPool | POOL_RAISE_IF_ALLOCATION_FAILURE));
    ExDeleteNPagedLookasideList(&n);
    ExInitializeNPagedLookasideList(&n, NULL, NULL, POOL_NX_ALLOCATION, 32, TAG_L, 0);
    ck_assert_uint_eq((ULONG)n.L.Type, (ULONG)(NonPagedPool | POOL_NX_ALLOCATION));
    PVOID p = ExAllocateFromNPagedLookasideList(&n);
    NTMEM_POOL_BLOCK_INFO info;
    ck_assert_uint_eq((ULONG)ntmem_pool_lookup(p, &info), (ULONG)STATUS_SUCCESS);
    ck_assert_uint_eq((ULONG)info.PoolType, (ULONG)NonPagedPool);
    ExFreeToNPagedLookasideList(&n, p);
    ExDeleteNPagedLookasideList(&n);
    PAGED_LOOKASIDE_LIST pg;
    ExInitializePagedLookasideList(&pg, NULL, NULL, POOL_RAISE_IF_ALLOCATION_FAILURE, 32, TAG_L, 0);
    ck_assert_uint_eq((ULONG)pg.L.Type, (ULONG)(PagedPool | POOL_RAISE_IF_ALLOCATION_FAILURE));
    ExDeletePagedLookasideList(&pg);
    /* Other flag bits are not pool type modifiers and are not folded. */
    ExInitializePagedLookasideList(&pg, NULL, NULL, POOL_QUOTA_FAIL_INSTEAD_OF_RAISE, 32, TAG_L, 0);
    ck_assert_uint_eq((ULONG)pg.L.Type, (ULONG)PagedPool);
    ExDeletePagedLookasideList(&pg);
}
END_TEST

/* ---- counters ---------------------------------------------------------------------------------- */

START_TEST(counters_are_exact_in_the_registry_and_the_fields)
{
    lt_list l;
    enum lt_kind k = (enum lt_kind)_i;
    POOL_TYPE pool = lt_pool(k);
    lt_init(&l, k, 64, TAG_Q);
    PGENERAL_LOOKASIDE_POOL g = lt_general(&l);
    ULONG64 allocates = 0, frees = 0;
    PVOID held[100];
    ULONG64 seed = 7;
    /* Bursts of varying height: some hit, some miss, some overflow. */
    for (int round = 0; round < 40; round++) {
        ULONG n = 1 + pt_rand(&seed) % 100;
        for (ULONG i = 0; i < n; i++, allocates++)
            held[i] = lt_alloc(&l);
        for (ULONG i = 0; i < n; i++, frees++)
            lt_free(&l, held[i]);
    }
    NTMEM_LOOKASIDE_INFO info = lt_must_info(lt_address(&l));
    ck_assert_uint_eq(info.TotalAllocates, allocates);
    ck_assert_uint_eq(info.TotalFrees, frees);
    /* With the default routines every miss is a pool allocation or free of the tag. */
    ck_assert_uint_eq(info.AllocateMisses, tag_allocs(TAG_Q, pool));
    ck_assert_uint_eq(info.FreeMisses, tag_frees(TAG_Q, pool));
    ck_assert_uint_eq(info.HeldBlocks, tag_allocs(TAG_Q, pool) - tag_frees(TAG_Q, pool));
    ck_assert_uint_eq(tag_used(TAG_Q, pool), info.HeldBlocks * pt_small_block_bytes(64));
    ck_assert_uint_gt(info.AllocateMisses, 0);
    ck_assert_uint_gt(info.FreeMisses, 0);
    ck_assert_uint_lt(info.AllocateMisses, allocates);
    /* The query refreshed the 32-bit fields. */
    ck_assert_uint_eq(g->TotalAllocates, (ULONG)allocates);
    ck_assert_uint_eq(g->TotalFrees, (ULONG)frees);
    ck_assert_uint_eq(g->AllocateMisses, (ULONG)info.AllocateMisses);
    ck_assert_uint_eq(g->FreeMisses, (ULONG)info.FreeMisses);
    /* And the registry describes the list. */
    ck_assert_uint_eq((ULONG)info.Type, (ULONG)pool);
    ck_assert_uint_eq(info.Tag, TAG_Q);
    ck_assert_uint_eq(info.Size, 64);
    ck_assert_uint_eq(info.Ex, lt_is_ex(k));
    ck_assert_uint_eq(info.Depth, g->Depth);
    ck_assert_uint_eq(info.MaximumDepth, 256);
    lt_delete(&l);
    ck_assert_uint_eq(tag_used(TAG_Q, pool), 0);
    ck_assert_uint_eq(tag_allocs(TAG_Q, pool), tag_frees(TAG_Q, pool));
}
END_TEST

START_TEST(registry_lists_and_forgets_lists)
{
    ULONG before = lt_registered();
    lt_list l[LT_KINDS];
    for (int k = 0; k < LT_KINDS; k++) {
        ck_assert(!lt_info(lt_address(&l[k]), NULL));
        lt_init_depth(&l[k], (enum lt_kind)k, 24 + 8 * k, TAG_R + k, 0);
        ck_assert_uint_eq(lt_registered(), before + k + 1);
    }
    for (int k = 0; k < LT_KINDS; k++) {
        NTMEM_LOOKASIDE_INFO i = lt_must_info(lt_address(&l[k]));
        ck_assert_uint_eq((ULONG)i.Type, (ULONG)lt_pool((enum lt_kind)k));
        ck_assert_uint_eq(i.Tag, TAG_R + k);
        ck_assert_uint_eq(i.Size, 24 + 8 * k);
        ck_assert_uint_eq(i.Ex, lt_is_ex((enum lt_kind)k));
        ck_assert_uint_eq(i.Depth, 4);
        ck_assert_uint_eq(i.MaximumDepth, 256);
        ck_assert_uint_eq(i.TotalAllocates, 0);
        ck_assert_uint_eq(i.HeldBlocks, 0);
    }
    /* Too small a buffer: the count, and STATUS_BUFFER_TOO_SMALL. */
    NTMEM_LOOKASIDE_INFO one[1];
    ULONG total = 0;
    ck_assert_uint_eq((ULONG)ntmem_query_lookaside_lists(one, 1, &total), (ULONG)STATUS_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(total, before + LT_KINDS);
    for (int k = 0; k < LT_KINDS; k++) {
        lt_delete(&l[k]);
        ck_assert(!lt_info(lt_address(&l[k]), NULL));
        ck_assert_uint_eq(lt_registered(), before + LT_KINDS - k - 1);
    }
}
END_TEST

START_TEST(depth_argument_is_ignored)
{
    static const USHORT depths[] = {0, 1, 4, 100, 256, 1000, 65535};
    enum lt_kind k = (enum lt_kind)_i;
    for (size_t d = 0; d < sizeof depths / sizeof depths[0]; d++) {
        lt_list l;
        lt_init_depth(&l, k, 32, TAG_L, depths[d]);
        PGENERAL_LOOKASIDE_POOL g = lt_general(&l);
        ck_assert_msg(g->Depth == 4, "Depth %u for argument %u", g->Depth, depths[d]);
        ck_assert_uint_eq(g->MaximumDepth, 256);
        ck_assert_uint_eq(g->TotalAllocates, 0);
        ck_assert_uint_eq(g->AllocateMisses, 0);
        ck_assert_uint_eq(g->TotalFrees, 0);
        ck_assert_uint_eq(g->FreeMisses, 0);
        ck_assert_uint_eq(QueryDepthSList(&g->ListHead), 0);
        lt_delete(&l);
    }
}
END_TEST

/* ---- delete and flush -------------------------------------------------------------------------- */

START_TEST(delete_frees_held_blocks_and_leaves_outstanding_ones_in_pool)
{
    lt_list l;
    enum lt_kind k = (enum lt_kind)_i;
    POOL_TYPE pool = lt_pool(k);
    lt_init(&l, k, 100, TAG_L);
    PVOID p[20];
    for (int i = 0; i < 20; i++)
        p[i] = lt_alloc(&l);
    SIZE_T block = pt_charged_bytes(p[0], 100);
    for (int i = 5; i < 20; i++)
        lt_free(&l, p[i]);
    ck_assert_uint_gt(lt_must_info(lt_address(&l)).HeldBlocks, 0);
    lt_delete(&l);
    ck_assert(!lt_info(lt_address(&l), NULL));
    ck_assert_uint_eq(tag_used(TAG_L, pool), 5 * block);
    ck_assert_uint_eq(tag_allocs(TAG_L, pool) - tag_frees(TAG_L, pool), 5);
    for (int i = 0; i < 5; i++) {
        NTMEM_POOL_BLOCK_INFO info;
        ck_assert_uint_eq((ULONG)ntmem_pool_lookup(p[i], &info), (ULONG)STATUS_SUCCESS);
        ck_assert(info.Allocated);
        ck_assert_uint_eq(info.Tag, TAG_L);
        ck_assert_uint_eq((ULONG)info.PoolType, (ULONG)pool);
        memset(p[i], 0x5A, 100);
        ExFreePool(p[i]);
    }
    ck_assert_uint_eq(tag_used(TAG_L, pool), 0);
    ck_assert_uint_eq(tag_allocs(TAG_L, pool), tag_frees(TAG_L, pool));
}
END_TEST

/* Delete reaches the caches of other threads, which later exit without freeing anything twice. */
static struct {
    lt_list *list;
    pthread_barrier_t used, deleted;
} other;

static void *cache_then_wait(void *arg)
{
    (void)arg;
    PVOID a = lt_alloc(other.list), b = lt_alloc(other.list);
    lt_free(other.list, a);
    lt_free(other.list, b); /* both stay in this thread's cache */
    pthread_barrier_wait(&other.used);
    pthread_barrier_wait(&other.deleted);
    return NULL;
}

START_TEST(delete_empties_other_threads_caches)
{
    lt_list l;
    enum lt_kind k = (enum lt_kind)_i;
    POOL_TYPE pool = lt_pool(k);
    lt_init(&l, k, 64, TAG_T);
    other.list = &l;
    pthread_barrier_init(&other.used, NULL, 2);
    pthread_barrier_init(&other.deleted, NULL, 2);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, cache_then_wait, NULL), 0);
    pthread_barrier_wait(&other.used);
    ck_assert_uint_eq(lt_must_info(lt_address(&l)).HeldBlocks, 2);
    ck_assert_uint_eq(tag_used(TAG_T, pool), 2 * pt_small_block_bytes(64));
    lt_delete(&l);
    ck_assert_uint_eq(tag_used(TAG_T, pool), 0);
    pthread_barrier_wait(&other.deleted);
    pthread_join(t, NULL);
    ck_assert_uint_eq(tag_used(TAG_T, pool), 0);
    ck_assert_uint_eq(tag_allocs(TAG_T, pool), 2);
    ck_assert_uint_eq(tag_frees(TAG_T, pool), 2);
}
END_TEST

START_TEST(flush_empties_the_list_and_keeps_it_usable)
{
    LOOKASIDE_LIST_EX x;
    POOL_TYPE pool = _i ? PagedPool : NonPagedPool;
    ck_assert_uint_eq((ULONG)ExInitializeLookasideListEx(&x, NULL, NULL, pool, 0, 64, TAG_L, 0),
                      (ULONG)STATUS_SUCCESS);
    PVOID p[20];
    for (int i = 0; i < 20; i++)
        p[i] = ExAllocateFromLookasideListEx(&x);
    for (int i = 0; i < 20; i++)
        ExFreeToLookasideListEx(&x, p[i]);
    NTMEM_LOOKASIDE_INFO before = lt_must_info(&x);
    ck_assert_uint_gt(before.HeldBlocks, 0);
    ck_assert_uint_gt(tag_used(TAG_L, pool), 0);
    ExFlushLookasideListEx(&x);
    NTMEM_LOOKASIDE_INFO after = lt_must_info(&x);
    ck_assert_uint_eq(after.HeldBlocks, 0);
    ck_assert_uint_eq(QueryDepthSList(&x.L.ListHead), 0);
    ck_assert_uint_eq(tag_used(TAG_L, pool), 0);
    /* Still registered, with its counts. */
    ck_assert_uint_eq(after.TotalAllocates, 20);
    ck_assert_uint_eq(after.TotalFrees, 20);
    ck_assert_uint_eq(after.Depth, before.Depth);
    /* Still usable: the next allocation misses, the one after that hits. */
    PVOID q = ExAllocateFromLookasideListEx(&x);
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_eq(lt_must_info(&x).AllocateMisses, before.AllocateMisses + 1);
    ExFreeToLookasideListEx(&x, q);
    ck_assert_ptr_eq(ExAllocateFromLookasideListEx(&x), q);
    ExFreeToLookasideListEx(&x, q);
    after = lt_must_info(&x);
    ck_assert_uint_eq(after.TotalAllocates, 22);
    ck_assert_uint_eq(after.AllocateMisses, before.AllocateMisses + 1);
    ExFlushLookasideListEx(&x); /* twice in a row is fine */
    ExFlushLookasideListEx(&x);
    ExDeleteLookasideListEx(&x);
    ck_assert_uint_eq(tag_used(TAG_L, pool), 0);
}
END_TEST

/* ---- Ex initialisation ------------------------------------------------------------------------- */

START_TEST(ex_init_status_codes)
{
    LOOKASIDE_LIST_EX x;
    ULONG before = lt_registered();
    static const POOL_TYPE bad_types[] = {NonPagedPoolMustSucceed, NonPagedPoolCacheAligned,
                                          PagedPoolCacheAligned, NonPagedPoolCacheAlignedMustS, 7,
                                          (POOL_TYPE)(NonPagedPool | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE)};
    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
        memset(&x, 0, sizeof x);
        NTSTATUS s = ExInitializeLookasideListEx(&x, NULL, NULL, bad_types[i], 0, 64, TAG_L, 0);
        ck_assert_msg(s == STATUS_INVALID_PARAMETER_4, "type 0x%x: 0x%08X", (unsigned)bad_types[i], (unsigned)s);
        ck_assert_uint_eq((ULONG)STATUS_INVALID_PARAMETER_4, 0xC00000F2u);
    }
    static const ULONG bad_flags[] = {EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL | EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE,
                                      4, 0x80000000u, EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL | 8};
    for (size_t i = 0; i < sizeof bad_flags / sizeof bad_flags[0]; i++) {
        memset(&x, 0, sizeof x);
        NTSTATUS s = ExInitializeLookasideListEx(&x, NULL, NULL, NonPagedPool, bad_flags[i], 64, TAG_L, 0);
        ck_assert_msg(s == STATUS_INVALID_PARAMETER_5, "flags 0x%x: 0x%08X", bad_flags[i], (unsigned)s);
        ck_assert_uint_eq((ULONG)STATUS_INVALID_PARAMETER_5, 0xC00000F3u);
    }
    ck_assert_uint_eq(lt_registered(), before); /* failures register nothing */

    static const POOL_TYPE good_types[] = {NonPagedPool, PagedPool, NonPagedPoolNx, NonPagedPoolSession,
                                           PagedPoolSession, NonPagedPoolSessionNx};
    static const ULONG good_flags[] = {0, EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL,
                                       EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE};
    for (size_t i = 0; i < sizeof good_types / sizeof good_types[0]; i++) {
        for (size_t f = 0; f < sizeof good_flags / sizeof good_flags[0]; f++) {
            memset(&x, 0, sizeof x);
            NTSTATUS s = ExInitializeLookasideListEx(&x, NULL, NULL, good_types[i], good_flags[f], 64, TAG_L, 0);
            ck_assert_msg(s == STATUS_SUCCESS, "type 0x%x flags %u: 0x%08X", (unsigned)good_types[i],
                          good_flags[f], (unsigned)s);
            ck_assert_uint_eq((ULONG)x.L.Type, (ULONG)good_types[i]);
            PVOID p = ExAllocateFromLookasideListEx(&x);
            ck_assert_ptr_nonnull(p);
            NTMEM_POOL_BLOCK_INFO info;
            ck_assert_uint_eq((ULONG)ntmem_pool_lookup(p, &info), (ULONG)STATUS_SUCCESS);
            ck_assert_uint_eq((ULONG)info.PoolType, (ULONG)((ULONG)good_types[i] & 1 ? PagedPool : NonPagedPool));
            ExFreeToLookasideListEx(&x, p);
            ExDeleteLookasideListEx(&x);
        }
    }
    ck_assert_uint_eq(lt_registered(), before);
}
END_TEST

static NTMEM_QUOTA_USAGE quota(void)
{
    NTMEM_QUOTA_USAGE q;
    ck_assert_uint_eq((ULONG)ntmem_query_process_quota(PsGetCurrentProcess(), &q), (ULONG)STATUS_SUCCESS);
    return q;
}

START_TEST(fail_no_raise_charges_quota_and_returns_null)
{
    POOL_TYPE pool = _i ? PagedPool : NonPagedPool;
    LOOKASIDE_LIST_EX x;
    ck_assert_uint_eq((ULONG)ExInitializeLookasideListEx(&x, NULL, NULL, pool, EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE,
                                                          200, TAG_L, 0),
                      (ULONG)STATUS_SUCCESS);
    NTMEM_QUOTA_USAGE q0 = quota();
    PVOID p = ExAllocateFromLookasideListEx(&x);
    ck_assert_ptr_nonnull(p);
    NTMEM_POOL_BLOCK_INFO info;
    ck_assert_uint_eq((ULONG)ntmem_pool_lookup(p, &info), (ULONG)STATUS_SUCCESS);
    ck_assert(info.QuotaCharged);
    ck_assert_ptr_eq(info.ProcessBilled, PsGetCurrentProcess());
    NTMEM_QUOTA_USAGE q1 = quota();
    SIZE_T charged = pt_charged_bytes(p, 200);
    if (pool == PagedPool)
        ck_assert_uint_eq(q1.QuotaPagedPoolUsage, q0.QuotaPagedPoolUsage + charged);
    else
        ck_assert_uint_eq(q1.QuotaNonPagedPoolUsage, q0.QuotaNonPagedPoolUsage + charged);
    ExFreeToLookasideListEx(&x, p);

    /* Over the process's quota: NULL, no raise, counted as an allocation and a miss. */
    PVOID held = ExAllocateFromLookasideListEx(&x); /* takes the cached block back */
    ck_assert_ptr_eq(held, p);
    SIZE_T limit = pool == PagedPool ? q1.QuotaPagedPoolUsage : q1.QuotaNonPagedPoolUsage;
    ck_assert_uint_eq((ULONG)ntmem_set_process_quota_limits(PsGetCurrentProcess(),
                                                              pool == PagedPool ? limit : (SIZE_T)-1,
                                                              pool == PagedPool ? (SIZE_T)-1 : limit),
                      (ULONG)STATUS_SUCCESS);
    NTMEM_LOOKASIDE_INFO i0 = lt_must_info(&x);
    ck_assert_ptr_null(ExAllocateFromLookasideListEx(&x));
    NTMEM_LOOKASIDE_INFO i1 = lt_must_info(&x);
    ck_assert_uint_eq(i1.TotalAllocates, i0.TotalAllocates + 1);
    ck_assert_uint_eq(i1.AllocateMisses, i0.AllocateMisses + 1);
    ck_assert_uint_eq((ULONG)ntmem_set_process_quota_limits(PsGetCurrentProcess(), (SIZE_T)-1, (SIZE_T)-1),
                      (ULONG)STATUS_SUCCESS);
    ExFreeToLookasideListEx(&x, held);
    ExDeleteLookasideListEx(&x);
    NTMEM_QUOTA_USAGE q2 = quota();
    ck_assert_uint_eq(q2.QuotaPagedPoolUsage, q0.QuotaPagedPoolUsage);
    ck_assert_uint_eq(q2.QuotaNonPagedPoolUsage, q0.QuotaNonPagedPoolUsage);
}
END_TEST

START_TEST(other_flags_charge_no_quota)
{
    static const ULONG flags[] = {0, EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL};
    for (int f = 0; f < 2; f++) {
        LOOKASIDE_LIST_EX x;
        ck_assert_uint_eq((ULONG)ExInitializeLookasideListEx(&x, NULL, NULL, NonPagedPool, flags[f], 200, TAG_L, 0),
                          (ULONG)STATUS_SUCCESS);
        NTMEM_QUOTA_USAGE q0 = quota();
        PVOID p = ExAllocateFromLookasideListEx(&x);
        NTMEM_POOL_BLOCK_INFO info;
        ck_assert_uint_eq((ULONG)ntmem_pool_lookup(p, &info), (ULONG)STATUS_SUCCESS);
        ck_assert(!info.QuotaCharged);
        ck_assert_uint_eq(quota().QuotaNonPagedPoolUsage, q0.QuotaNonPagedPoolUsage);
        ExFreeToLookasideListEx(&x, p);
        ExDeleteLookasideListEx(&x);
    }
}
END_TEST

/* A pool too small for one more block: RAISE_ON_FAIL raises (no handler yet: STOP 0x1E), the others
 * return NULL. Blocks of 64 KiB need fresh pages, so the limit is the pool's committed size now. */
#define BIG_BLOCK (64 * 1024)

static void clamp_pool(POOL_TYPE pool)
{
    ck_assert_uint_eq((ULONG)ntmem_set_pool_limit(pool, pt_usage(pool).CommittedBytes), (ULONG)STATUS_SUCCESS);
}

static void restore_pool(POOL_TYPE pool, SIZE_T limit)
{
    ck_assert_uint_eq((ULONG)ntmem_set_pool_limit(pool, limit), (ULONG)STATUS_SUCCESS);
}

static void allocate_raise_on_fail(void *arg)
{
    POOL_TYPE pool = (POOL_TYPE)(ULONG_PTR)arg;
    LOOKASIDE_LIST_EX x;
    ExInitializeLookasideListEx(&x, NULL, NULL, pool, EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL, BIG_BLOCK, TAG_L, 0);
    SIZE_T limit = pt_usage(pool).LimitBytes;
    clamp_pool(pool);
    PVOID p = ExAllocateFromLookasideListEx(&x);
    restore_pool(pool, limit);
    fprintf(stderr, "allocation returned %p instead of raising\n", p);
}

START_TEST(raise_on_fail_raises_insufficient_resources)
{
    POOL_TYPE pool = _i ? PagedPool : NonPagedPool;
    ck_assert_bugcheck(allocate_raise_on_fail, (void *)(ULONG_PTR)pool, KMODE_EXCEPTION_NOT_HANDLED,
                       (ULONG)STATUS_INSUFFICIENT_RESOURCES);
}
END_TEST

static void allocate_classic_raise(void *arg)
{
    (void)arg;
    NPAGED_LOOKASIDE_LIST n;
    ExInitializeNPagedLookasideList(&n, NULL, NULL, POOL_RAISE_IF_ALLOCATION_FAILURE, BIG_BLOCK, TAG_L, 0);
    clamp_pool(NonPagedPool);
    PVOID p = ExAllocateFromNPagedLookasideList(&n);
    fprintf(stderr, "allocation returned %p instead of raising\n", p);
}

START_TEST(classic_raise_flag_raises)
{
    ck_assert_bugcheck(allocate_classic_raise, NULL, KMODE_EXCEPTION_NOT_HANDLED, (ULONG)STATUS_INSUFFICIENT_RESOURCES);
}
END_TEST

START_TEST(without_raise_a_full_pool_gives_null)
{
    POOL_TYPE pool = _i ? PagedPool : NonPagedPool;
    static const ULONG flags[] = {0, EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE};
    SIZE_T limit = pt_usage(pool).LimitBytes;
    for (int f = 0; f < 2; f++) {
        LOOKASIDE_LIST_EX x;
        ck_assert_uint_eq((ULONG)ExInitializeLookasideListEx(&x, NULL, NULL, pool, flags[f], BIG_BLOCK, TAG_L, 0),
                          (ULONG)STATUS_SUCCESS);
        clamp_pool(pool);
        PVOID p = ExAllocateFromLookasideListEx(&x);
        restore_pool(pool, limit);
        ck_assert_ptr_null(p);
        p = ExAllocateFromLookasideListEx(&x); /* room again */
        ck_assert_ptr_nonnull(p);
        ExFreeToLookasideListEx(&x, p);
        ExDeleteLookasideListEx(&x);
    }
    NPAGED_LOOKASIDE_LIST n;
    PAGED_LOOKASIDE_LIST pg;
    if (pool == NonPagedPool)
        ExInitializeNPagedLookasideList(&n, NULL, NULL, 0, BIG_BLOCK, TAG_L, 0);
    else
        ExInitializePagedLookasideList(&pg, NULL, NULL, 0, BIG_BLOCK, TAG_L, 0);
    clamp_pool(pool);
    PVOID p = pool == NonPagedPool ? ExAllocateFromNPagedLookasideList(&n) : ExAllocateFromPagedLookasideList(&pg);
    restore_pool(pool, limit);
    ck_assert_ptr_null(p);
    if (pool == NonPagedPool)
        ExDeleteNPagedLookasideList(&n);
    else
        ExDeletePagedLookasideList(&pg);
    ck_assert_uint_eq(pt_usage(pool).LimitBytes, limit);
}
END_TEST

/* ---- threads ----------------------------------------------------------------------------------- */

static void *use_and_exit(void *arg)
{
    lt_list *l = arg;
    PVOID p[30];
    for (int i = 0; i < 30; i++)
        p[i] = lt_alloc(l);
    for (int i = 0; i < 30; i++)
        lt_free(l, p[i]);
    /* a few more, so this thread's cache holds something when it exits */
    PVOID a = lt_alloc(l), b = lt_alloc(l);
    lt_free(l, a);
    lt_free(l, b);
    return NULL;
}

START_TEST(an_exited_threads_counts_and_blocks_are_kept)
{
    lt_list l;
    enum lt_kind k = (enum lt_kind)_i;
    POOL_TYPE pool = lt_pool(k);
    lt_init(&l, k, 64, TAG_T);
    for (int round = 1; round <= 3; round++) {
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, use_and_exit, &l), 0);
        pthread_join(t, NULL);
        NTMEM_LOOKASIDE_INFO i = lt_must_info(lt_address(&l));
        ck_assert_uint_eq(i.TotalAllocates, 32u * round);
        ck_assert_uint_eq(i.TotalFrees, 32u * round);
        /* No thread cache is left: what the list holds is in its shared list, within the depth. */
        ck_assert_uint_eq(i.HeldBlocks, QueryDepthSList(&lt_general(&l)->ListHead));
        ck_assert_uint_le(i.HeldBlocks, lt_general(&l)->Depth);
        ck_assert_uint_gt(i.HeldBlocks, 0);
        ck_assert_uint_eq(tag_used(TAG_T, pool), i.HeldBlocks * pt_small_block_bytes(64));
        ck_assert_uint_eq(i.AllocateMisses, tag_allocs(TAG_T, pool));
        ck_assert_uint_eq(i.FreeMisses, tag_frees(TAG_T, pool));
    }
    /* This thread uses what the exited ones left. */
    ULONG64 misses = lt_must_info(lt_address(&l)).AllocateMisses;
    PVOID p = lt_alloc(&l);
    ck_assert_uint_eq(lt_must_info(lt_address(&l)).AllocateMisses, misses);
    lt_free(&l, p);
    lt_delete(&l);
    ck_assert_uint_eq(tag_used(TAG_T, pool), 0);
}
END_TEST

START_TEST(a_list_on_the_stack_can_be_reinitialised_after_delete)
{
    ULONG before = lt_registered();
    for (int round = 0; round < 50; round++) {
        lt_list l;
        enum lt_kind k = (enum lt_kind)(round % LT_KINDS);
        lt_init(&l, k, 32 + round, TAG_L);
        PVOID p = lt_alloc(&l);
        ck_assert_ptr_nonnull(p);
        lt_free(&l, p);
        NTMEM_LOOKASIDE_INFO i = lt_must_info(lt_address(&l));
        ck_assert_uint_eq(i.TotalAllocates, 1);
        ck_assert_uint_eq(i.Size, 32 + round);
        lt_delete(&l);
    }
    ck_assert_uint_eq(lt_registered(), before);
    ck_assert_uint_eq(tag_used(TAG_L, NonPagedPool), 0);
    ck_assert_uint_eq(tag_used(TAG_L, PagedPool), 0);
}
END_TEST

/* ---- the seed ---------------------------------------------------------------------------------- */

typedef struct _MYDATASTRUCT {
    ULONG number;
    LIST_ENTRY ListEntry;
} MYDATASTRUCT, *PMYDATASTRUCT;

START_TEST(seed_lookaside_test_balances_tag_1234)
{
    PAGED_LOOKASIDE_LIST pageList;
    ExInitializePagedLookasideList(&pageList, NULL, NULL, 0, sizeof(MYDATASTRUCT), '1234', 0);
    PMYDATASTRUCT MyObjectArray[50];
    for (int i = 0; i < 50; i++) {
        MyObjectArray[i] = (PMYDATASTRUCT)ExAllocateFromPagedLookasideList(&pageList);
        ck_assert_ptr_nonnull(MyObjectArray[i]);
        MyObjectArray[i]->number = (ULONG)i;
        InitializeListHead(&MyObjectArray[i]->ListEntry);
    }
    for (int i = 0; i < 50; i++) {
        ck_assert_uint_eq(MyObjectArray[i]->number, i);
        ExFreeToPagedLookasideList(&pageList, MyObjectArray[i]);
        MyObjectArray[i] = NULL;
    }
    ExDeletePagedLookasideList(&pageList);
    SYSTEM_POOLTAG t;
    ck_assert(pt_tag_counts('1234', &t));
    ck_assert_uint_eq(t.PagedAllocs, 50);
    ck_assert_uint_eq(t.PagedFrees, 50);
    ck_assert_uint_eq(t.PagedUsed, 0);
    ck_assert_uint_eq(t.NonPagedAllocs, 0);
}
END_TEST

static Suite *lookaside_suite(void)
{
    Suite *s = suite_create("lookaside");
    TCase *t = tcase_create("blocks");
    tcase_add_checked_fixture(t, quiet_balance_set, NULL);
    tcase_add_loop_test(t, blocks_are_writable_sized_and_tagged, 0, LT_KINDS);
    tcase_add_loop_test(t, a_freed_block_is_reused_lifo, 0, LT_KINDS);
    suite_add_tcase(s, t);

    t = tcase_create("routines");
    tcase_add_checked_fixture(t, quiet_balance_set, NULL);
    tcase_add_loop_test(t, custom_routines_are_called_exactly_on_misses, 0, LT_KINDS);
    tcase_add_loop_test(t, a_failing_allocate_routine_returns_null, 0, LT_KINDS);
    tcase_add_test(t, null_routines_mean_pool);
    tcase_add_test(t, classic_flags_fold_into_the_pool_type);
    suite_add_tcase(s, t);

    t = tcase_create("counters");
    tcase_add_checked_fixture(t, quiet_balance_set, NULL);
    tcase_add_loop_test(t, counters_are_exact_in_the_registry_and_the_fields, 0, LT_KINDS);
    tcase_add_test(t, registry_lists_and_forgets_lists);
    tcase_add_loop_test(t, depth_argument_is_ignored, 0, LT_KINDS);
    suite_add_tcase(s, t);

    t = tcase_create("delete");
    tcase_add_checked_fixture(t, quiet_balance_set, NULL);
    tcase_add_loop_test(t, delete_frees_held_blocks_and_leaves_outstanding_ones_in_pool, 0, LT_KINDS);
    tcase_add_loop_test(t, delete_empties_other_threads_caches, 0, LT_KINDS);
    tcase_add_loop_test(t, flush_empties_the_list_and_keeps_it_usable, 0, 2);
    tcase_add_test(t, a_list_on_the_stack_can_be_reinitialised_after_delete);
    suite_add_tcase(s, t);

    t = tcase_create("ex");
    tcase_add_checked_fixture(t, quiet_balance_set, NULL);
    tcase_add_test(t, ex_init_status_codes);
    tcase_add_loop_test(t, fail_no_raise_charges_quota_and_returns_null, 0, 2);
    tcase_add_test(t, other_flags_charge_no_quota);
    tcase_add_loop_test(t, raise_on_fail_raises_insufficient_resources, 0, 2);
    tcase_add_test(t, classic_raise_flag_raises);
    tcase_add_loop_test(t, without_raise_a_full_pool_gives_null, 0, 2);
    suite_add_tcase(s, t);

    t = tcase_create("threads");
    tcase_add_checked_fixture(t, quiet_balance_set, NULL);
    tcase_add_loop_test(t, an_exited_threads_counts_and_blocks_are_kept, 0, LT_KINDS);
    suite_add_tcase(s, t);

    t = tcase_create("seed");
    tcase_add_test(t, seed_lookaside_test_balances_tag_1234);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(lookaside_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
