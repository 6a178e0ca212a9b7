/* pager.c - pageable memory: software PTEs, page-out, page-in, and the faults that bring pages back. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mm/pager.h"
#include "os/os.h"
#include "vf/vf.h"

MI_PAGER MiPager = {.Lock = PTHREAD_MUTEX_INITIALIZER, .Counters.WorkingSetLimitPages = (ULONG64)-1};

static pthread_once_t MiPagerOnce = PTHREAD_ONCE_INIT;
/* A page on its way from the page file to its address; the pager lock serialises its users. */
static UCHAR MiInPageBuffer[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
/* Set after a nonpaged commit the host refused to lock; cleared when a locked page is returned. */
static UCHAR MiNonPagedLockRefused;
ULONG64 MiNonPagedLockedPages, MiNonPagedLockFailures; /* atomic: no lock on the nonpaged path */

static inline PUCHAR MiRangeVa(const MI_PAGEABLE_RANGE *r, SIZE_T page)
{
    return r->Base + (page << PAGE_SHIFT);
}

static inline void MiCountResident(MI_PAGEABLE_RANGE *r, LONG delta)
{
    MiPager.Counters.ResidentPageablePages += (ULONG64)(LONG64)delta;
    if (r->PagedPool)
        MiPager.Counters.ResidentPagedPoolPages += (ULONG64)(LONG64)delta;
}

/* ---- fork: the child gets its pages back and a page file of its own ---------------------------- */

/* The inherited page file is the parent's, whose slots the parent goes on reusing; so the child reads
 * everything it has paged out back at once, and the parent, still holding the pager lock, waits for
 * it to finish (a pipe) before it may free or reuse a slot. Only forks with pages out pay for this. */
static int MiForkPipe[2] = {-1, -1};

static void MiForkPrepare(void)
{
    pthread_mutex_lock(&MiPager.Lock);
    if (MiPager.Counters.PagedOutPages != 0 && OsPipe(MiForkPipe) != 0)
        MiForkPipe[0] = MiForkPipe[1] = -1;
}

static void MiForkParent(void)
{
    if (MiForkPipe[0] >= 0) {
        OsCloseFile(MiForkPipe[1]);
        OsPipeWait(MiForkPipe[0]);
        OsCloseFile(MiForkPipe[0]);
        MiForkPipe[0] = MiForkPipe[1] = -1;
    }
    pthread_mutex_unlock(&MiPager.Lock);
}

static void MiForkChild(void)
{
    for (ULONG i = 0; i < MiPager.RangeLimit && MiPager.Counters.PagedOutPages != 0; i++) {
        MI_PAGEABLE_RANGE *r = &MiPager.Ranges[i];
        for (SIZE_T p = 0; r->InUse && p < r->Pages; p++) {
            if (r->Groups != NULL && (p & 63) == 0 && r->Groups[p / 64] == 0)
                p += 63; /* nothing committed in this group */
            else if (r->Ptes[p].State == MiPtePagedOut)
                MiPageInLocked(r, p);
        }
    }
    MiPageFileAfterFork();
    MiWorkingSetAfterFork();
    if (MiForkPipe[1] >= 0) {
        OsCloseFile(MiForkPipe[0]);
        OsPipeSignal(MiForkPipe[1]);
        OsCloseFile(MiForkPipe[1]);
        MiForkPipe[0] = MiForkPipe[1] = -1;
    }
    pthread_mutex_unlock(&MiPager.Lock); /* taken by MiForkPrepare in the parent */
}

static void MiInitializePagerOnce(void)
{
    MiEnsureInitialized();
    const MI_REGION *pool = &MiSystemSpace.Regions[MiPagedPoolRegion];
    MI_PAGEABLE_RANGE *r = &MiPager.Ranges[MI_PAGED_POOL_RANGE];
    /* One PTE per page of the reservation; untouched pages of the array cost nothing. */
    SIZE_T groups = ALIGN_UP_BY((pool->Pages + 63) / 64, PAGE_SIZE);
    SIZE_T bytes = ALIGN_UP_BY(pool->Pages * sizeof(MI_PAGER_PTE), PAGE_SIZE) + groups;
    void *ptes;
    if (OsReserve(NULL, bytes, &ptes) != 0 || OsCommit(ptes, bytes) != 0) {
        OsWriteStderr("ntmem: cannot map the pager's PTEs\n", 35);
        OsAbort();
    }
    pthread_mutex_lock(&MiPager.Lock);
    r->Base = pool->Base;
    r->Pages = pool->Pages;
    r->PagedPool = TRUE;
    r->Groups = (UCHAR *)ptes + bytes - groups;
    strcpy(r->Name, "paged pool");
    __atomic_store_n(&r->Ptes, (MI_PAGER_PTE *)ptes, __ATOMIC_RELEASE);
    r->InUse = TRUE;
    if (MiPager.RangeLimit == 0)
        MiPager.RangeLimit = 1;
    pthread_mutex_unlock(&MiPager.Lock);
    pthread_atfork(MiForkPrepare, MiForkParent, MiForkChild);
}

void MiInitializePager(void)
{
    pthread_once(&MiPagerOnce, MiInitializePagerOnce);
}

/* ---- the three transitions ------------------------------------------------------------------- */

void MiMakeTransitionLocked(MI_PAGEABLE_RANGE *r, SIZE_T page)
{
    MI_PAGER_PTE *pte = &r->Ptes[page];
    if (pte->State != MiPteResident || pte->LockCount != 0)
        return;
    OsProtect(MiRangeVa(r, page), PAGE_SIZE, PROT_NONE);
    pte->State = MiPteTransition;
    MiPager.Counters.TransitionPages++;
}

MI_PAGEOUT_RESULT MiPageOutLocked(MI_PAGEABLE_RANGE *r, SIZE_T page)
{
    MI_PAGER_PTE *pte = &r->Ptes[page];
    if ((pte->State != MiPteResident && pte->State != MiPteTransition) || pte->LockCount != 0)
        return MiPageOutSkipped;
    ULONG slot;
    if (!MiAllocatePageFileSlot(&slot))
        return MiPageOutNoSpace;
    PUCHAR va = MiRangeVa(r, page);
    /* Read-only while it is copied: a thread writing it now faults, waits for the lock and finds
     * the page paged out, so no write is lost between the copy and the release. */
    OsProtect(va, PAGE_SIZE, PROT_READ);
    if (MiWritePageFileSlot(slot, va) != 0) {
        MiFreePageFileSlot(slot);
        MiPager.Counters.FailedWrites++;
        OsProtect(va, PAGE_SIZE, pte->State == MiPteResident ? pte->Protect : PROT_NONE);
        return MiPageOutSkipped;
    }
    /* Inaccessible before the contents go, so no reader sees the zeroes in between. */
    OsProtect(va, PAGE_SIZE, PROT_NONE);
    OsDiscard(va, PAGE_SIZE);
    if (pte->State == MiPteTransition)
        MiPager.Counters.TransitionPages--;
    pte->State = MiPtePagedOut;
    pte->Slot = slot + 1;
    MiCountResident(r, -1);
    MiPager.Counters.PagedOutPages++;
    MiPager.Counters.PageOuts++;
    return MiPageOutWritten;
}

int MiPageInLocked(MI_PAGEABLE_RANGE *r, SIZE_T page)
{
    MI_PAGER_PTE *pte = &r->Ptes[page];
    if (pte->State != MiPtePagedOut)
        return 0;
    int rc = MiReadPageFileSlot(pte->Slot - 1, MiInPageBuffer);
    if (rc == 0)
        rc = OsInstallPage(MiRangeVa(r, page), MiInPageBuffer, PAGE_SIZE, pte->Protect);
    if (rc != 0)
        return rc;
    MiFreePageFileSlot(pte->Slot - 1);
    pte->Slot = 0;
    pte->State = MiPteResident;
    MiCountResident(r, 1);
    MiPager.Counters.PagedOutPages--;
    MiPager.Counters.PageIns++;
    return 0;
}

/* ---- lookup ------------------------------------------------------------------------------------ */

static MI_PAGEABLE_RANGE *MiFindRangeLocked(const void *address, SIZE_T *page)
{
    const UCHAR *a = address;
    for (ULONG i = 0; i < MiPager.RangeLimit; i++) {
        MI_PAGEABLE_RANGE *r = &MiPager.Ranges[i];
        if (r->InUse && a >= r->Base && a < r->Base + (r->Pages << PAGE_SHIFT)) {
            *page = (SIZE_T)(a - r->Base) >> PAGE_SHIFT;
            return r;
        }
    }
    return NULL;
}

/* Without the lock: could Address be pageable at all? Keeps every other fault off the pager lock. */
static BOOLEAN MiMayBePageable(const void *address)
{
    const MI_PAGEABLE_RANGE *pool = &MiPager.Ranges[MI_PAGED_POOL_RANGE];
    const UCHAR *a = address;
    if (__atomic_load_n(&pool->Ptes, __ATOMIC_ACQUIRE) != NULL && a >= pool->Base &&
        a < pool->Base + (pool->Pages << PAGE_SHIFT))
        return TRUE;
    return (ULONG_PTR)a >= __atomic_load_n(&MiPager.RegisteredLow, __ATOMIC_RELAXED) &&
           (ULONG_PTR)a < __atomic_load_n(&MiPager.RegisteredHigh, __ATOMIC_RELAXED);
}

/* ---- faults ------------------------------------------------------------------------------------ */

/* A touch at DISPATCH_LEVEL or above of a page that is not there: what Windows does with it. */
static DECLSPEC_NORETURN void MiPageableTouchedAtDispatch(const void *address, ULONG_PTR how, PVOID ip, KIRQL irql,
                                                          PCSTR name)
{
    BOOLEAN driver = VfIsDriverAddress(ip);
    KiBugCheckWithReason(driver ? DRIVER_IRQL_NOT_LESS_OR_EQUAL : IRQL_NOT_LESS_OR_EQUAL, (ULONG_PTR)address, irql,
                         how, (ULONG_PTR)ip,
                         "%s %s at %p at IRQL %u%s, and the page is not resident (paged out or trimmed): "
                         "pageable memory may be touched only at APC_LEVEL or below",
                         how == 1 ? "write to" : how == 8 ? "execution in" : "read from", name, address,
                         (unsigned)irql, driver ? " by a driver" : "");
}

BOOLEAN MiPageableFault(const void *address, ULONG_PTR how, PVOID ip)
{
    if (!MiMayBePageable(address))
        return FALSE;
    int saved_errno = errno;
    pthread_mutex_lock(&MiPager.Lock);
    SIZE_T page;
    MI_PAGEABLE_RANGE *r = MiFindRangeLocked(address, &page);
    MI_PAGER_PTE *pte = r != NULL ? &r->Ptes[page] : NULL;
    int need = how == 1 ? PROT_WRITE : how == 8 ? PROT_EXEC : PROT_READ;
    /* Uncommitted pool, and accesses the page never allowed (a write to code), are not ours. */
    if (pte == NULL || pte->State == MiPteUnused || !(pte->Protect & need)) {
        pthread_mutex_unlock(&MiPager.Lock);
        errno = saved_errno;
        return FALSE;
    }
    KIRQL irql = KiThread.Irql;
    if (irql >= DISPATCH_LEVEL && pte->LockCount == 0) {
        /* Under IRQL checking every touch is caught; without it only a page that is not there is
         * a real page fault (a resident page hidden by earlier checking just comes back). */
        BOOLEAN checking = VfIrqlCheckingOn();
        if (checking || pte->State != MiPteResident) {
            char name[sizeof r->Name];
            memcpy(name, r->Name, sizeof name);
            pthread_mutex_unlock(&MiPager.Lock);
            errno = saved_errno;
            if (checking)
                VfPageableTouchedAtDispatch(address, how, ip, irql, name);
            MiPageableTouchedAtDispatch(address, how, ip, irql, name);
        }
    }
    PUCHAR va = MiRangeVa(r, page);
    switch ((MI_PTE_STATE)pte->State) {
    case MiPteTransition:
        pte->State = MiPteResident;
        MiPager.Counters.TransitionPages--;
        MiPager.Counters.SoftFaults++;
        /* fall through */
    case MiPteResident: /* hidden by IRQL checking, or another thread brought it back first */
        OsProtect(va, PAGE_SIZE, pte->Protect);
        break;
    case MiPtePagedOut: {
        int rc = MiPageInLocked(r, page);
        if (rc != 0) {
            /* As Windows reports it: P1 the PTE, P2 the status, P3 the PTE's contents, P4 the address. */
            ULONG64 contents;
            memcpy(&contents, pte, sizeof contents);
            pthread_mutex_unlock(&MiPager.Lock);
            KiBugCheckWithReason(KERNEL_DATA_INPAGE_ERROR, (ULONG_PTR)pte, (ULONG_PTR)(ULONG)STATUS_IN_PAGE_ERROR,
                                 (ULONG_PTR)contents, (ULONG_PTR)address,
                                 "page %p could not be read back from the page file (errno %d)", (void *)va, rc);
        }
        break;
    }
    default:
        break;
    }
    pthread_mutex_unlock(&MiPager.Lock);
    errno = saved_errno;
    return TRUE;
}

/* ---- pool pages come and go (pages.c) ----------------------------------------------------------- */

void MiPagerPagesCommitted(MI_REGION_ID region, PVOID base, SIZE_T pages)
{
    if (region == MiNonPagedPoolRegion) {
        /* Nonpaged pool is never paged; where the host allows it, it is not swapped either. */
        if (!__atomic_load_n(&MiNonPagedLockRefused, __ATOMIC_RELAXED) && OsLockMemory(base, pages << PAGE_SHIFT) == 0) {
            for (SIZE_T i = 0; i < pages; i++)
                __atomic_store_n(&MiPfnOf((PUCHAR)base + (i << PAGE_SHIFT))->PagerFlags, MI_PFN_MLOCKED, __ATOMIC_RELAXED);
            __atomic_add_fetch(&MiNonPagedLockedPages, pages, __ATOMIC_RELAXED);
        } else {
            __atomic_store_n(&MiNonPagedLockRefused, 1, __ATOMIC_RELAXED);
            __atomic_add_fetch(&MiNonPagedLockFailures, 1, __ATOMIC_RELAXED);
        }
        return;
    }
    if (region != MiPagedPoolRegion)
        return;
    MiInitializePager();
    MI_PAGEABLE_RANGE *r = &MiPager.Ranges[MI_PAGED_POOL_RANGE];
    SIZE_T first = (SIZE_T)((PUCHAR)base - r->Base) >> PAGE_SHIFT;
    pthread_mutex_lock(&MiPager.Lock);
    for (SIZE_T i = first; i < first + pages; i++) {
        r->Ptes[i] = (MI_PAGER_PTE){.State = MiPteResident, .Protect = PROT_READ | PROT_WRITE};
        r->Groups[i / 64]++;
    }
    MiCountResident(r, (LONG)pages);
    MiWorkingSetGrew();
    pthread_mutex_unlock(&MiPager.Lock);
}

void MiPagerPagesReleased(MI_REGION_ID region, PVOID base, SIZE_T pages)
{
    if (region == MiNonPagedPoolRegion) {
        SIZE_T locked = 0;
        for (SIZE_T i = 0; i < pages; i++)
            locked += __atomic_exchange_n(&MiPfnOf((PUCHAR)base + (i << PAGE_SHIFT))->PagerFlags, 0, __ATOMIC_RELAXED) &
                      MI_PFN_MLOCKED;
        if (locked != 0) {
            __atomic_sub_fetch(&MiNonPagedLockedPages, locked, __ATOMIC_RELAXED);
            __atomic_store_n(&MiNonPagedLockRefused, 0, __ATOMIC_RELAXED); /* room again, perhaps */
        }
        return;
    }
    if (region != MiPagedPoolRegion)
        return;
    MI_PAGEABLE_RANGE *r = &MiPager.Ranges[MI_PAGED_POOL_RANGE];
    SIZE_T first = (SIZE_T)((PUCHAR)base - r->Base) >> PAGE_SHIFT;
    pthread_mutex_lock(&MiPager.Lock);
    for (SIZE_T i = first; i < first + pages; i++) {
        MI_PAGER_PTE *pte = &r->Ptes[i];
        if (pte->State == MiPtePagedOut) {
            MiFreePageFileSlot(pte->Slot - 1);
            MiPager.Counters.PagedOutPages--;
        } else if (pte->State != MiPteUnused) {
            if (pte->State == MiPteTransition)
                MiPager.Counters.TransitionPages--;
            MiCountResident(r, -1);
        }
        if (pte->State != MiPteUnused)
            r->Groups[i / 64]--;
        *pte = (MI_PAGER_PTE){0};
    }
    pthread_mutex_unlock(&MiPager.Lock);
}

/* ---- Driver Verifier's IRQL checking ------------------------------------------------------------ */

void MiHidePageableMemory(void)
{
    if (__atomic_load_n(&MiPager.Ranges[MI_PAGED_POOL_RANGE].Ptes, __ATOMIC_ACQUIRE) == NULL)
        return; /* no paged pool yet, and no ranges */
    pthread_mutex_lock(&MiPager.Lock);
    for (ULONG i = 0; i < MiPager.RangeLimit; i++) {
        MI_PAGEABLE_RANGE *r = &MiPager.Ranges[i];
        if (!r->InUse)
            continue;
        /* One call for the whole range (never-committed pool and paged-out pages are no-access
         * already), then the locked pages are opened again. */
        OsProtect(r->Base, r->Pages << PAGE_SHIFT, PROT_NONE);
        for (SIZE_T p = 0, seen = 0; seen < r->LockedPages && p < r->Pages; p++)
            if (r->Ptes[p].LockCount != 0) {
                OsProtect(MiRangeVa(r, p), PAGE_SIZE, r->Ptes[p].Protect);
                seen++;
            }
    }
    pthread_mutex_unlock(&MiPager.Lock);
}
