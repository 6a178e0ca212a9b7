/* mm.h - memory-manager internals: the system range, its PFN-style page database and page allocator. */
#ifndef NTMEM_MM_H
#define NTMEM_MM_H

#include <pthread.h>
#include <wdm.h>
#include "ke/ke.h"

/* Regions of the system range, each with its own page allocator and commit limit. */
typedef enum _MI_REGION_ID {
    MiNonPagedPoolRegion = 0,
    MiPagedPoolRegion = 1,
    MiSystemPteRegion = 2, /* reserved for later users of system space (special pool, mappings) */
    MiRegionCount
} MI_REGION_ID;

/* What a system page is used for; kept in the page's MI_PFN entry. */
typedef enum _MI_PAGE_STATE {
    MiPageFree = 0,          /* never used, or returned and decommitted */
    MiPageSmallPool,         /* carved into blocks with POOL_HEADERs */
    MiPageSmallPoolEmpty,    /* committed, held empty in a pool descriptor's page cache */
    MiPageBigPoolStart,      /* first page of a page-aligned ("big") allocation */
    MiPageBigPoolTail,       /* following pages of one */
    MiPageBigPoolFreed,      /* first page of a big allocation that was freed (double-free detection) */
    MiPageSystemUse          /* handed out by MiAllocateSystemPages */
} MI_PAGE_STATE;

/* One entry per system page, like the PFN database (32 bytes; the pager keeps its flags in PagerFlags). */
typedef struct _MI_PFN {
    UCHAR State;          /* MI_PAGE_STATE */
    UCHAR PoolType;       /* base POOL_TYPE of a big allocation */
    USHORT Flags;         /* MI_PFN_QUOTA, ... */
    ULONG Tag;            /* big allocation's tag */
    SIZE_T Pages;         /* big allocation's page count (start page) */
    PEPROCESS ProcessBilled;
    ULONG PagerFlags;     /* MI_PFN_MLOCKED; the pager's own, so pool code never writes it */
    ULONG Spare;
} MI_PFN;
#define MI_PFN_QUOTA 0x0001
#define MI_PFN_HAS_OBJECT 0x0002 /* a registered object (lookaside list) lives in this allocation */
#define MI_PFN_MLOCKED 0x0001    /* PagerFlags: a nonpaged page the host agreed to lock in memory */

typedef struct _MI_REGION {
    PUCHAR Base;
    SIZE_T Pages;             /* reserved size */
    SIZE_T LimitPages;        /* commit limit, <= Pages */
    SIZE_T CommittedPages;
    SIZE_T PeakCommittedPages;
    SIZE_T BigAllocations;    /* live big allocations (for MUST_SUCCEED_POOL_EMPTY's parameters) */
    SIZE_T Hint;              /* lowest page that may be free */
    ULONG64 *Bitmap;          /* one bit per page: set = in use */
    pthread_mutex_t Lock;
} MI_REGION;

typedef struct _MI_SYSTEM_SPACE {
    PUCHAR Start;             /* == MmSystemRangeStart */
    PUCHAR End;
    MI_PFN *PfnDatabase;      /* indexed by (va - PfnBase) >> PAGE_SHIFT */
    PUCHAR PfnBase;           /* first page the database describes: the nonpaged pool's base */
    PUCHAR PagedPoolStart;    /* the paged pool follows the nonpaged pool directly... */
    PUCHAR PoolEnd;           /* ...and ends here, so one range check finds pool addresses */
    SIZE_T PoolBytes;         /* PoolEnd - PfnBase */
    SIZE_T PagedPoolOffset;   /* PagedPoolStart - PfnBase */
    /* One byte per pool page, for the pool's free fast path: 1 + pool index (1 nonpaged, 2 paged)
     * when the page holds small blocks, 0 otherwise. Kept in step with the PFN states. */
    UCHAR *SmallPoolPages;
    MI_REGION Regions[MiRegionCount];
} MI_SYSTEM_SPACE;

extern NTMEM_HIDDEN MI_SYSTEM_SPACE MiSystemSpace;

/* Reserves the system range once (thread-safe; also run by a library constructor). */
NTMEM_HIDDEN void MiInitializeSystemSpace(void);

/* Commits Pages contiguous pages of the region, or returns NULL (limit, exhaustion or host failure).
 * LimitPercent (1..100) lets low-priority callers fail before the limit itself. Caller sets PFN state. */
NTMEM_HIDDEN PVOID MiAllocatePages(MI_REGION_ID Region, SIZE_T Pages, ULONG LimitPercent);
/* Decommits and returns pages; the first page's PFN state becomes FirstState, the others MiPageFree. */
NTMEM_HIDDEN void MiFreePages(MI_REGION_ID Region, PVOID Base, SIZE_T Pages, MI_PAGE_STATE FirstState);
/* The same without PFN states, for regions the PFN database does not cover (system PTE space). */
NTMEM_HIDDEN void MiReleaseRegionPages(MI_REGION_ID Region, PVOID Base, SIZE_T Pages);

static inline BOOLEAN MiIsSystemAddress(const void *Va)
{
    return (PUCHAR)Va >= MiSystemSpace.Start && (PUCHAR)Va < MiSystemSpace.End;
}

/* The region holding Va, or MiRegionCount when Va is in no region. */
static inline MI_REGION_ID MiRegionOf(const void *Va)
{
    for (int i = 0; i < MiRegionCount; i++) {
        const MI_REGION *r = &MiSystemSpace.Regions[i];
        if ((PUCHAR)Va >= r->Base && (PUCHAR)Va < r->Base + (r->Pages << PAGE_SHIFT))
            return (MI_REGION_ID)i;
    }
    return MiRegionCount;
}

/* PFN entry of a page inside a region (callers check MiRegionOf first). */
static inline MI_PFN *MiPfnOf(const void *Va)
{
    return &MiSystemSpace.PfnDatabase[((PUCHAR)Va - MiSystemSpace.PfnBase) >> PAGE_SHIFT];
}

/* Page states are read without locks by diagnostics that may race with their owners: relaxed atomics. */
static inline MI_PAGE_STATE MiPageState(const MI_PFN *Pfn)
{
    return (MI_PAGE_STATE)__atomic_load_n(&Pfn->State, __ATOMIC_RELAXED);
}

static inline void MiSetPageState(MI_PFN *Pfn, MI_PAGE_STATE State)
{
    __atomic_store_n(&Pfn->State, (UCHAR)State, __ATOMIC_RELAXED);
    SIZE_T page = (SIZE_T)(Pfn - MiSystemSpace.PfnDatabase);
    if (page < (MiSystemSpace.PoolBytes >> PAGE_SHIFT)) {
        UCHAR small = State != MiPageSmallPool ? 0 : page >= (MiSystemSpace.PagedPoolOffset >> PAGE_SHIFT) ? 2 : 1;
        __atomic_store_n(&MiSystemSpace.SmallPoolPages[page], small, __ATOMIC_RELAXED);
    }
}

static inline void MiEnsureInitialized(void)
{
    if (NTMEM_UNLIKELY(__atomic_load_n(&MiSystemSpace.End, __ATOMIC_ACQUIRE) == NULL))
        MiInitializeSystemSpace();
}

/* ---- the commit charge (commit.c) ------------------------------------------------------------- */
typedef struct _MI_COMMIT_INFO {
    SIZE_T CommittedPages; /* charged now (the process's and, with one process, the system's) */
    SIZE_T PeakPages;
    SIZE_T LimitPages;
} MI_COMMIT_INFO, *PMI_COMMIT_INFO;

/* Charges Pages against the commit limit: STATUS_COMMITMENT_LIMIT when they do not fit. */
NTMEM_HIDDEN NTSTATUS MiChargeCommit(SIZE_T Pages);
NTMEM_HIDDEN void MiReturnCommit(SIZE_T Pages);
NTMEM_HIDDEN SIZE_T MiCommitLimit(void);
NTMEM_HIDDEN void MiQueryCommit(PMI_COMMIT_INFO Info);

#endif /* NTMEM_MM_H */
