/* pool_free.c - ExFreePool* and ExQueryPoolBlockSize: validation, bug checks, per-thread caching. */
#include "ex/pool.h"
#include "ex/track.h"
#include "vf/vf.h"

void ExpWrongTag(PVOID block, ULONG allocator_tag, ULONG given_tag)
{
    KiBugCheckWithReason(BAD_POOL_CALLER, 0x0A, (ULONG_PTR)block, allocator_tag, given_tag,
                         given_tag == 0 ? "pool block %p has the protected tag '%.4s' and was freed without it"
                                        : "pool block %p was allocated with tag '%.4s' but freed with another tag",
                         block, (const char *)&allocator_tag);
}

void ExpBadQuotaProcess(PVOID block, ULONG tag, PEPROCESS process)
{
    KiBugCheckWithReason(BAD_POOL_CALLER, 0x0D, (ULONG_PTR)block, tag, (ULONG_PTR)process,
                         "quota block %p names %p as its process: its header was overwritten", block,
                         (void *)process);
}

static DECLSPEC_NORETURN void ExpBadIrqlFree(KIRQL irql, ULONG pool, PVOID block)
{
    KiBugCheckWithReason(BAD_POOL_CALLER, 9, irql, pool, (ULONG_PTR)block,
                         "%s pool freed at IRQL %u; it may be freed at %s or below", pool ? "paged" : "nonpaged",
                         irql, pool ? "APC_LEVEL" : "DISPATCH_LEVEL");
}

/* The address is no live pool block and no small-block page: say what it is. */
static DECLSPEC_NORETURN void ExpNotPoolAddress(PVOID block, MI_REGION_ID region)
{
    if (!MiIsSystemAddress(block))
        KiBugCheckWithReason(BAD_POOL_CALLER, 0x40, (ULONG_PTR)block, (ULONG_PTR)MmSystemRangeStart, 0,
                             "%p was freed to the pool but is a user-mode address (system space starts at %p)",
                             block, MmSystemRangeStart);
    if (region > MiPagedPoolRegion)
        KiBugCheckWithReason(BAD_POOL_CALLER, 0x42, (ULONG_PTR)block, 0, 0,
                             "%p was freed to the pool but was never in any pool", block);
    MI_PFN *pfn = MiPfnOf(block);
    MI_PAGE_STATE state = MiPageState(pfn);
    if (state == MiPageBigPoolFreed && BYTE_OFFSET(block) == 0)
        KiBugCheckWithReason(BAD_POOL_CALLER, 7, 0, 0, (ULONG_PTR)block,
                             "pool block %p (tag '%.4s') was freed twice", block, (const char *)&pfn->Tag);
    if (state == MiPageSmallPoolEmpty && ((ULONG_PTR)block & (EXP_BLOCK_UNIT - 1)) == 0 &&
        BYTE_OFFSET(block) >= sizeof(POOL_HEADER))
        ExpReportStaleDoubleFree(block); /* every block of the page was freed: this one before */
    if (state == MiPageBigPoolTail || state == MiPageBigPoolStart) {
        if (region == MiPagedPoolRegion) {
            const MI_REGION *r = &MiSystemSpace.Regions[MiPagedPoolRegion];
            KiBugCheckWithReason(BAD_POOL_CALLER, 0x41286, 0, 0, ((PUCHAR)block - r->Base) >> PAGE_SHIFT,
                                 "%p is in the middle of a paged pool allocation, not at its start", block);
        }
        KiBugCheckWithReason(BAD_POOL_CALLER, 0x46, (ULONG_PTR)block, 0, 0,
                             "%p is in the middle of a nonpaged pool allocation, not at its start", block);
    }
    if (region == MiPagedPoolRegion)
        KiBugCheckWithReason(BAD_POOL_CALLER, 0x48, (ULONG_PTR)block, 0, 0,
                             "%p is a paged pool address that is not allocated", block);
    KiBugCheckWithReason(BAD_POOL_CALLER, 0x44, (ULONG_PTR)block, 0, 0,
                         "%p is a nonpaged pool address that is not allocated", block);
}

/* Quick header checks on the fast path; anything odd goes to the full (locked) diagnosis. */
static BOOLEAN ExpHeaderLooksLive(PVOID block, PPOOL_HEADER h, ULONG pool)
{
    /* Alignment first: only then is the header known to lie in the same (committed) page. */
    if (((ULONG_PTR)block & (EXP_BLOCK_UNIT - 1)) != 0 || BYTE_OFFSET(block) < sizeof(POOL_HEADER))
        return FALSE;
    ULONG type = h->PoolType, units = h->BlockSize;
    return type != 0 && (type & ~(EXP_POOL_QUOTA | EXP_POOL_HAS_OBJECT | 7u)) == 0 &&
           ExpPoolIndex((type & 7u) - 1) == pool &&
           units >= EXP_MIN_UNITS && (BYTE_OFFSET(h) >> EXP_BLOCK_SHIFT) + units <= EXP_PAGE_UNITS;
}

/* Pushes a freed small block on this thread's cache, or gives it to the descriptor if too large. */
static inline void ExpCacheFreedBlock(EXP_POOL_THREAD *t, PVOID block, ULONG pool, ULONG units)
{
    ExpTrackInternal(block, sizeof(PVOID));
    if (NTMEM_LIKELY(units <= EXP_CACHE_MAX_UNITS)) {
        EXP_CACHE_BIN *bin = &t->Bins[units][pool];
        *(PVOID *)block = bin->Head;
        ExpTrackInternalDone(block, sizeof(PVOID));
        bin->Head = block;
        if (NTMEM_UNLIKELY(--bin->Room < 0))
            ExpFlushBin(t, pool, units, bin->MaxDepth / 2);
        return;
    }
    *(PVOID *)block = NULL;
    ExpTrackInternalDone(block, sizeof(PVOID));
    ExpReturnBlocks(&ExpPoolDescriptors[pool], block);
}

/* Every check of a free, in the order Windows makes them, with the exact bug check for each. */
static __attribute__((noinline)) void ExpFree(PVOID block, ULONG tag, BOOLEAN check_tag)
{
    MiEnsureInitialized();
    if (NTMEM_UNLIKELY(VfPoolSlowPath))
        VfTrackFree(block); /* Driver Verifier's pool tracking forgets the block */
    MI_REGION_ID region = MiRegionOf(block);
    KIRQL irql = KiThread.Irql;
    if (NTMEM_UNLIKELY(region == MiSystemPteRegion) && VfIsSpecialPoolAddress(block)) {
        ULONG special_pool;
        ULONG special_tag = VfSpecialPoolFree(block, tag, check_tag, irql, &special_pool);
        ExpCountFree(ExpCurrentPoolThread(), special_tag, special_pool, PAGE_SIZE);
        return;
    }
    if (NTMEM_UNLIKELY(region > MiPagedPoolRegion))
        ExpNotPoolAddress(block, region);
    ULONG pool = region == MiPagedPoolRegion;
    if (NTMEM_UNLIKELY(irql > (pool ? APC_LEVEL : DISPATCH_LEVEL)))
        ExpBadIrqlFree(irql, pool, block);
    MI_PFN *pfn = MiPfnOf(block);
    MI_PAGE_STATE state = MiPageState(pfn);
    EXP_POOL_THREAD *t = ExpCurrentPoolThread();

    if (NTMEM_UNLIKELY(state != MiPageSmallPool)) {
        if (state != MiPageBigPoolStart || BYTE_OFFSET(block) != 0)
            ExpNotPoolAddress(block, region);
        ULONG big_tag = pfn->Tag;
        SIZE_T size = ExpFreeBig(block, tag, check_tag, pool);
        ExpCountFree(t, big_tag, pool, size);
        return;
    }

    PPOOL_HEADER h = ExpHeaderOf(block);
    if (NTMEM_UNLIKELY(!ExpHeaderLooksLive(block, h, pool)))
        ExpDiagnoseBadSmallFree(block, pool);
    ULONG units = h->BlockSize, type = h->PoolType;
    if (NTMEM_UNLIKELY(check_tag ? h->PoolTag != tag : (h->PoolTag & PROTECTED_POOL) != 0))
        ExpWrongTag(block, h->PoolTag, check_tag ? tag : 0);
    SIZE_T size = (SIZE_T)units << EXP_BLOCK_SHIFT;
    if (NTMEM_UNLIKELY(type & EXP_POOL_HAS_OBJECT))
        ExpLookasideBlockFreed(block, size - sizeof(POOL_HEADER));
    if (NTMEM_UNLIKELY(type & EXP_POOL_QUOTA)) {
        if (!PspIsProcess(h->ProcessBilled))
            ExpBadQuotaProcess(block, h->PoolTag, h->ProcessBilled);
        PspReturnPoolQuota(h->ProcessBilled, pool, size);
    }
    ExpCountFree(t, h->PoolTag, pool, size);
    h->PoolType = 0;
    ExpTrackFree(block, size - sizeof(POOL_HEADER));
    ExpCacheFreedBlock(t, block, pool, units);
}

/* Out of line so the fast path below makes only tail calls and needs no stack frame. */
static __attribute__((noinline)) void ExpFreeFinishSlow(EXP_POOL_THREAD *t, ULONG tag, ULONG pool, ULONG units)
{
    EXP_CACHE_BIN *bin = &t->Bins[units][pool];
    if (tag == EXP_NO_TAG) {
        ExpCountFree(t, tag, pool, (SIZE_T)units << EXP_BLOCK_SHIFT);
    } else {
        if (bin->Tag != tag)
            ExpSwitchBinTag(t, units, pool, tag);
        ExpCounterAdd(&bin->Frees, 1);
    }
    if (bin->Room < 0)
        ExpFlushBin(t, pool, units, bin->MaxDepth / 2);
}

/*
 * The common free in a few loads: a plain NonPagedPool or PagedPool block of a cached size, in a
 * small-block page, freed by a thread with pool state at a legal IRQL with the right tag. Anything
 * else - including anything odd - goes to ExpFree, which repeats every check and reports.
 */
static __attribute__((always_inline)) inline void ExpFreeFast(PVOID block, ULONG tag, BOOLEAN check_tag)
{
    KI_THREAD *kt = &KiThread;
    EXP_POOL_THREAD *t = kt->PoolFast;
    ULONG_PTR offset = (ULONG_PTR)((PUCHAR)block - MiSystemSpace.PfnBase);
    /* A small block starts 16-aligned and at least 16 bytes into its page: subtracting 16 from the
     * page offset must leave a multiple of 16 below PAGE_SIZE (bit 12 catches offset 0). */
    if (NTMEM_UNLIKELY(t == NULL || offset >= MiSystemSpace.PoolBytes || VfPoolSlowPath ||
                       ((BYTE_OFFSET(block) - EXP_BLOCK_UNIT) & (PAGE_SIZE | (EXP_BLOCK_UNIT - 1))) != 0))
        return ExpFree(block, tag, check_tag);
    /* One byte says both that the page holds small blocks and which pool it is. */
    ULONG kind = __atomic_load_n(&MiSystemSpace.SmallPoolPages[offset >> PAGE_SHIFT], __ATOMIC_RELAXED);
    ULONG pool = kind - 1;
    if (NTMEM_UNLIKELY(pool > 1 || kt->Irql + pool > DISPATCH_LEVEL)) /* paged pool allows one level less */
        return ExpFree(block, tag, check_tag);
    PPOOL_HEADER h = ExpHeaderOf(block);
    ULONG type = h->PoolType, units = h->BlockSize, htag = h->PoolTag;
    if (NTMEM_UNLIKELY(type != kind || units - EXP_MIN_UNITS > EXP_CACHE_MAX_UNITS - EXP_MIN_UNITS ||
                       (BYTE_OFFSET(h) >> EXP_BLOCK_SHIFT) + units > EXP_PAGE_UNITS ||
                       (check_tag ? htag != tag : (htag & PROTECTED_POOL) != 0)))
        return ExpFree(block, tag, check_tag);
    h->PoolType = 0;
    EXP_CACHE_BIN *bin = &t->Bins[units][pool];
    *(PVOID *)block = bin->Head;
    bin->Head = block;
    LONG room = --bin->Room;
    if (NTMEM_UNLIKELY(bin->Tag != htag || room < 0))
        return ExpFreeFinishSlow(t, htag, pool, units);
    ExpCounterAdd(&bin->Frees, 1);
}

NTKERNELAPI VOID NTAPI ExFreePoolWithTag(PVOID block, ULONG tag)
{
    ExpFreeFast(block, tag, TRUE);
}

NTKERNELAPI VOID NTAPI ExFreePool(PVOID block)
{
    ExpFreeFast(block, 0, FALSE);
}

/* Extended parameters at free describe secure pool, which ntmem never hands out: a required one
 * means the caller passed something that is not one of our blocks. */
NTKERNELAPI VOID NTAPI ExFreePool2(PVOID block, ULONG tag, PCPOOL_EXTENDED_PARAMETER params, ULONG count)
{
    for (ULONG i = 0; i < count; i++)
        if (params == NULL || !params[i].Optional)
            KiBugCheckWithReason(BAD_POOL_CALLER, 0x46, (ULONG_PTR)block, 0, 0,
                                 "ExFreePool2 was given a required extended parameter for %p, which is not secure pool",
                                 block);
    ExpFree(block, tag, TRUE);
}

NTKERNELAPI SIZE_T NTAPI ExQueryPoolBlockSize(PVOID block, PBOOLEAN quota_charged)
{
    MiEnsureInitialized();
    MI_REGION_ID region = MiRegionOf(block);
    PVOID special;
    SIZE_T special_size;
    ULONG special_tag, special_type;
    if (region == MiSystemPteRegion && VfSpecialPoolQuery(block, &special, &special_size, &special_tag, &special_type) &&
        special == block) {
        if (quota_charged != NULL)
            *quota_charged = FALSE; /* quota allocations never come from special pool */
        return special_size;
    }
    if (region > MiPagedPoolRegion)
        ExpNotPoolAddress(block, region);
    MI_PFN *pfn = MiPfnOf(block);
    MI_PAGE_STATE state = MiPageState(pfn);
    if (state == MiPageBigPoolStart && BYTE_OFFSET(block) == 0) {
        if (quota_charged != NULL)
            *quota_charged = (pfn->Flags & MI_PFN_QUOTA) != 0;
        return pfn->Pages << PAGE_SHIFT;
    }
    if (state != MiPageSmallPool)
        ExpNotPoolAddress(block, region);
    PPOOL_HEADER h = ExpHeaderOf(block);
    if (!ExpHeaderLooksLive(block, h, region == MiPagedPoolRegion))
        ExpDiagnoseBadSmallFree(block, region == MiPagedPoolRegion);
    if (quota_charged != NULL)
        *quota_charged = (h->PoolType & EXP_POOL_QUOTA) != 0;
    return ((SIZE_T)h->BlockSize << EXP_BLOCK_SHIFT) - sizeof(POOL_HEADER);
}
