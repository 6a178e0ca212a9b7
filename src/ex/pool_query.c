/* pool_query.c - ntmem.h's pool interfaces: limits, usage and the !pool-style lookup. */
#include <stdlib.h>

#include "ex/pool.h"
#include "vf/vf.h"

static MI_REGION *ExpRegionOfType(POOL_TYPE type)
{
    return &MiSystemSpace.Regions[ExpPoolIndex((ULONG)type & 7) ? MiPagedPoolRegion : MiNonPagedPoolRegion];
}

NTMEM_API NTSTATUS ntmem_set_pool_limit(POOL_TYPE type, SIZE_T bytes)
{
    MiEnsureInitialized();
    MI_REGION *r = ExpRegionOfType(type);
    SIZE_T pages = bytes >> PAGE_SHIFT;
    pthread_mutex_lock(&r->Lock);
    __atomic_store_n(&r->LimitPages, pages < r->Pages ? pages : r->Pages, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&r->Lock);
    return STATUS_SUCCESS;
}

NTMEM_API NTSTATUS ntmem_query_pool_usage(POOL_TYPE type, PNTMEM_POOL_USAGE usage)
{
    if (usage == NULL)
        return STATUS_INVALID_PARAMETER;
    MiEnsureInitialized();
    MI_REGION *r = ExpRegionOfType(type);
    ULONG pool = ExpPoolIndex((ULONG)type & 7);
    pthread_mutex_lock(&r->Lock);
    usage->LimitBytes = r->LimitPages << PAGE_SHIFT;
    usage->ReservedBytes = r->Pages << PAGE_SHIFT;
    usage->CommittedBytes = r->CommittedPages << PAGE_SHIFT;
    usage->PeakCommittedBytes = r->PeakCommittedPages << PAGE_SHIFT;
    usage->BigAllocations = __atomic_load_n(&r->BigAllocations, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&r->Lock);
    EXP_TAG_COUNTS *tags;
    ULONG count = ExpSnapshotTags(&tags);
    usage->UsedBytes = 0;
    for (ULONG i = 0; i < count; i++)
        usage->UsedBytes += (SIZE_T)(tags[i].BytesAllocated[pool] - tags[i].BytesFreed[pool]);
    free(tags);
    return STATUS_SUCCESS;
}

NTMEM_API NTSTATUS ntmem_pool_lookup(PVOID address, PNTMEM_POOL_BLOCK_INFO info)
{
    if (info == NULL)
        return STATUS_INVALID_PARAMETER;
    MiEnsureInitialized();
    MI_REGION_ID region = MiRegionOf(address);
    memset(info, 0, sizeof *info);
    ULONG special_type;
    if (region == MiSystemPteRegion &&
        VfSpecialPoolQuery(address, &info->Block, &info->BlockSize, &info->Tag, &special_type)) {
        info->PoolType = (POOL_TYPE)special_type; /* a special pool block has no header */
        info->Allocated = TRUE;
        return STATUS_SUCCESS;
    }
    if (region > MiPagedPoolRegion)
        return STATUS_INVALID_ADDRESS;
    MI_REGION *r = &MiSystemSpace.Regions[region];
    /* Big allocations: walk back from the page to the start page under the region lock. */
    pthread_mutex_lock(&r->Lock);
    PUCHAR page = PAGE_ALIGN(address);
    MI_PFN *pfn = MiPfnOf(page);
    while (MiPageState(pfn) == MiPageBigPoolTail && page > r->Base) {
        page -= PAGE_SIZE;
        pfn = MiPfnOf(page);
    }
    if (MiPageState(pfn) == MiPageBigPoolStart && (PUCHAR)address < page + (pfn->Pages << PAGE_SHIFT)) {
        info->Block = page;
        info->BlockSize = pfn->Pages << PAGE_SHIFT;
        info->Tag = pfn->Tag;
        info->PoolType = (POOL_TYPE)pfn->PoolType;
        info->Allocated = TRUE;
        info->QuotaCharged = (pfn->Flags & MI_PFN_QUOTA) != 0;
        info->ProcessBilled = pfn->ProcessBilled;
        pthread_mutex_unlock(&r->Lock);
        return STATUS_SUCCESS;
    }
    pthread_mutex_unlock(&r->Lock);
    return ExpLookupSmallBlock(address, info);
}
