/* pager.h - the pager's private interface: pageable ranges, their software PTEs, the page file and
 * the working set. */
#ifndef NTMEM_MM_PAGER_H
#define NTMEM_MM_PAGER_H

#include <ntmem.h>
#include "mm/mm.h"

/*
 * ---- pageable ranges ------------------------------------------------------------------------------
 * Paged pool is pageable from the start. Other memory - the pageable sections of driver images,
 * which live in user space and may be MAP_PRIVATE file mappings - is made pageable by registering
 * it. A pageable page is resident (accessible with its original protection), in transition (trimmed
 * to no access, contents still in memory: a touch is a soft fault) or paged out (written to the page
 * file and its memory released: a touch below DISPATCH_LEVEL reads it back, at DISPATCH_LEVEL or
 * above it is STOP 0x0A, or 0xD1 from a registered driver). The ranges must be private mappings:
 * a page read back is the process's own copy.
 */

/* Base and Bytes page-aligned and mapped; each page's current protection is remembered as its
 * original one (pages with no access stay out of paging). Returns a handle, or NULL (no room in the
 * table, overlap with another range, bad arguments). */
NTMEM_HIDDEN PVOID MiRegisterPageableRange(PVOID Base, SIZE_T Bytes, PCSTR Name);
/* Brings every page back, with its original protection, and forgets the range. */
NTMEM_HIDDEN void MiUnregisterPageableRange(PVOID Handle);
/* Counted per page: a locked page is brought in, never trimmed, and stays accessible at
 * DISPATCH_LEVEL even under Driver Verifier's IRQL checking. Pages outside any range are ignored. */
NTMEM_HIDDEN void MiLockPageableRange(PVOID Base, SIZE_T Bytes);
NTMEM_HIDDEN void MiUnlockPageableRange(PVOID Base, SIZE_T Bytes);
/* Writes every unlocked page of [Base, Base + Bytes) to the page file and releases it, now; returns
 * how many pages were written (pages already out, locked or refused by a full page file are not). */
NTMEM_HIDDEN SIZE_T MiPageOutRange(PVOID Base, SIZE_T Bytes);

/* ---- hooks for the rest of ntmem ---------------------------------------------------------------- */

/* pages.c: newly committed pool pages (paged: resident and trimmable; nonpaged: locked where the
 * host allows) and pages about to be decommitted (their page-file slots and states are dropped). */
NTMEM_HIDDEN void MiPagerPagesCommitted(MI_REGION_ID Region, PVOID Base, SIZE_T Pages);
NTMEM_HIDDEN void MiPagerPagesReleased(MI_REGION_ID Region, PVOID Base, SIZE_T Pages);
/* The fault handler: a fault on pageable memory. TRUE when resolved (continue the instruction);
 * bug checks at DISPATCH_LEVEL or above; FALSE for faults that are not the pager's. */
NTMEM_HIDDEN BOOLEAN MiPageableFault(const void *Address, ULONG_PTR How, PVOID Ip);
/* Driver Verifier's IRQL checking: makes every unlocked pageable page inaccessible now; each comes
 * back on its first touch below DISPATCH_LEVEL. */
NTMEM_HIDDEN void MiHidePageableMemory(void);

/* ---- shared by pager.c, pagefile.c and working_set.c ---------------------------------------------- */

typedef enum _MI_PTE_STATE {
    MiPteUnused = 0, /* not pageable (uncommitted paged pool, a no-access page of a range) */
    MiPteResident,
    MiPteTransition,
    MiPtePagedOut
} MI_PTE_STATE;

/* The pager's software PTE for one pageable page; changed only under MiPager.Lock. */
typedef struct _MI_PAGER_PTE {
    UCHAR State;      /* MI_PTE_STATE */
    UCHAR Protect;    /* original PROT_* bits */
    USHORT LockCount;
    ULONG Slot;       /* page-file slot + 1 while paged out, else 0 */
} MI_PAGER_PTE;

typedef struct _MI_PAGEABLE_RANGE {
    PUCHAR Base;
    SIZE_T Pages;
    MI_PAGER_PTE *Ptes;
    SIZE_T LockedPages; /* pages with a lock count */
    UCHAR *Groups;      /* paged pool: pageable pages in each group of 64, so the clock skips empty ones */
    BOOLEAN InUse;
    BOOLEAN PagedPool;
    char Name[32];
} MI_PAGEABLE_RANGE;

#define MI_PAGED_POOL_RANGE 0 /* Ranges[0]; registered ranges follow */
#define MI_MAX_PAGEABLE_RANGES 64

typedef struct _MI_PAGER {
    /* A leaf lock: held across page-file I/O, never while touching pageable memory otherwise, and
     * never while calling out (bug checks release it first). Taken in the fault handler. */
    pthread_mutex_t Lock;
    MI_PAGEABLE_RANGE Ranges[MI_MAX_PAGEABLE_RANGES];
    ULONG RangeLimit;            /* ranges in use lie below this index */
    ULONG_PTR RegisteredLow;     /* bounds of the registered ranges, for the fault path's quick test */
    ULONG_PTR RegisteredHigh;
    ULONG HandRange;             /* the trimming clock hand */
    SIZE_T HandPage;
    NTMEM_PAGER_COUNTERS Counters; /* under Lock; its two nonpaged fields are unused (below) */
} MI_PAGER;

extern NTMEM_HIDDEN MI_PAGER MiPager;
extern NTMEM_HIDDEN ULONG64 MiNonPagedLockedPages, MiNonPagedLockFailures; /* atomic */

/* Sets up Ranges[0] for paged pool once (thread-safe). */
NTMEM_HIDDEN void MiInitializePager(void);

/* With MiPager.Lock held: */
typedef enum _MI_PAGEOUT_RESULT {
    MiPageOutWritten,
    MiPageOutSkipped, /* not eligible (locked, not in memory) or its write failed: it stays */
    MiPageOutNoSpace  /* no page-file slot (full, or no file): nothing more can be written now */
} MI_PAGEOUT_RESULT;
/* Writes one unlocked resident or transition page out and releases its memory. */
NTMEM_HIDDEN MI_PAGEOUT_RESULT MiPageOutLocked(MI_PAGEABLE_RANGE *Range, SIZE_T Page);
/* Moves a resident page to transition: no access, contents kept. */
NTMEM_HIDDEN void MiMakeTransitionLocked(MI_PAGEABLE_RANGE *Range, SIZE_T Page);
/* Reads a paged-out page back (resident, original protection); an errno value on failure. */
NTMEM_HIDDEN int MiPageInLocked(MI_PAGEABLE_RANGE *Range, SIZE_T Page);

/* pagefile.c, with MiPager.Lock held: slots are numbered from 0; the file is created on the first
 * allocation. FALSE when none is free (counted) or the file cannot be created. */
NTMEM_HIDDEN BOOLEAN MiAllocatePageFileSlot(ULONG *Slot);
NTMEM_HIDDEN void MiFreePageFileSlot(ULONG Slot);
NTMEM_HIDDEN int MiWritePageFileSlot(ULONG Slot, const void *Page);
NTMEM_HIDDEN int MiReadPageFileSlot(ULONG Slot, void *Page);
/* After fork, in the child (single-threaded, lock re-initialised): the inherited file is the
 * parent's; the child's pages have been read back, so it forgets the file and will make its own. */
NTMEM_HIDDEN void MiPageFileAfterFork(void);

/* working_set.c: called with the lock held when residency grew; wakes the balance set thread if the
 * working set is over its limit. */
NTMEM_HIDDEN void MiWorkingSetGrew(void);
NTMEM_HIDDEN void MiWorkingSetAfterFork(void);

#endif /* NTMEM_MM_PAGER_H */
