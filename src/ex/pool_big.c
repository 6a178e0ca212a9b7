/* pool_big.c - page-aligned pool allocations of a page or more, described by their PFN entries. */
#include "ex/pool.h"
#include "ex/track.h"

static MI_REGION_ID ExpRegionFor(ULONG pool)
{
    return pool ? MiPagedPoolRegion : MiNonPagedPoolRegion;
}

PVOID ExpAllocateBig(ULONG pool, ULONG base_type, SIZE_T bytes, ULONG tag, ULONG limit_percent)
{
    MI_REGION_ID id = ExpRegionFor(pool);
    if (bytes == 0 || bytes > (MiSystemSpace.Regions[id].Pages << PAGE_SHIFT))
        return NULL;
    SIZE_T pages = BYTES_TO_PAGES(bytes);
    PUCHAR va = MiAllocatePages(id, pages, limit_percent);
    if (va == NULL)
        return NULL;
    MI_PFN *pfn = MiPfnOf(va);
    pfn->PoolType = (UCHAR)base_type;
    pfn->Flags = 0;
    pfn->Tag = tag;
    pfn->Pages = pages;
    pfn->ProcessBilled = NULL;
    for (SIZE_T i = 1; i < pages; i++)
        MiSetPageState(&pfn[i], MiPageBigPoolTail);
    MiSetPageState(pfn, MiPageBigPoolStart);
    __atomic_add_fetch(&MiSystemSpace.Regions[id].BigAllocations, 1, __ATOMIC_RELAXED);
    return va;
}

void ExpMarkBigQuota(PVOID block, PEPROCESS process)
{
    MI_PFN *pfn = MiPfnOf(block);
    pfn->ProcessBilled = process;
    pfn->Flags |= MI_PFN_QUOTA;
}

SIZE_T ExpFreeBig(PVOID block, ULONG tag, BOOLEAN check_tag, ULONG pool)
{
    MI_PFN *pfn = MiPfnOf(block);
    if (check_tag ? pfn->Tag != tag : (pfn->Tag & PROTECTED_POOL) != 0)
        ExpWrongTag(block, pfn->Tag, check_tag ? tag : 0);
    SIZE_T pages = pfn->Pages, size = pages << PAGE_SHIFT;
    if (pfn->Flags & MI_PFN_HAS_OBJECT)
        ExpLookasideBlockFreed(block, size);
    if (pfn->Flags & MI_PFN_QUOTA) {
        if (!PspIsProcess(pfn->ProcessBilled))
            ExpBadQuotaProcess(block, pfn->Tag, pfn->ProcessBilled);
        PspReturnPoolQuota(pfn->ProcessBilled, pool, size);
    }
    ExpTrackFree(block, size);
    MI_REGION_ID id = ExpRegionFor(pool);
    __atomic_sub_fetch(&MiSystemSpace.Regions[id].BigAllocations, 1, __ATOMIC_RELAXED);
    /* The first page remembers it held a freed allocation, so a second free is called a double free. */
    MiFreePages(id, block, pages, MiPageBigPoolFreed);
    return size;
}
