/* vad.h - the user address space's bookkeeping: VADs (one per reservation) in a balanced tree, each
 * with its pages' states kept as runs of equal state. */
#ifndef NTMEM_MM_VAD_H
#define NTMEM_MM_VAD_H

#include "mm/mm.h"

/* A run of pages of one VAD with the same state; runs cover the VAD, sorted, neighbours differ. */
typedef struct _MI_RUN {
    SIZE_T First;   /* page index in the VAD */
    ULONG Protect;  /* PAGE_* with modifiers; 0 while only reserved */
    ULONG Committed;
} MI_RUN;

#define MI_VAD_WRITE_WATCH 0x1
#define MI_VAD_LARGE_PAGES 0x2

typedef struct _MI_VAD {
    struct _MI_VAD *Left, *Right;
    int Height;
    PUCHAR Start;             /* 64 KB aligned */
    SIZE_T Pages;
    ULONG AllocationProtect;
    ULONG Flags;              /* MI_VAD_* */
    SIZE_T CommittedPages;
    ULONG RunCount, RunCapacity;
    MI_RUN *Runs;             /* InlineRuns, or an mmap'd array once more are needed */
    MI_RUN InlineRuns[4];
    ULONG64 *Dirty;           /* write watch: one bit per page written since the last reset */
    ULONG64 *Locked;          /* VirtualLock: one bit per locked page, made on first use */
} MI_VAD;

/* One lock for the tree and every VAD's runs. Taken by the fault handler too, so nothing done while
 * holding it may touch memory a VAD describes. */
NTMEM_HIDDEN void MiLockVads(void);
NTMEM_HIDDEN void MiUnlockVads(void);

NTMEM_HIDDEN MI_VAD *MiFindVad(const void *Address);          /* the VAD containing Address */
NTMEM_HIDDEN MI_VAD *MiFindVadAtOrAfter(const void *Address); /* the lowest VAD ending above Address */
NTMEM_HIDDEN BOOLEAN MiRangeOverlapsVad(const void *Start, SIZE_T Bytes);
NTMEM_HIDDEN MI_VAD *MiCreateVad(PUCHAR Start, SIZE_T Pages, ULONG Protect, ULONG Flags); /* inserted */
NTMEM_HIDDEN void MiDeleteVad(MI_VAD *Vad);                   /* removed and freed */
NTMEM_HIDDEN SIZE_T MiVadCount(void);

/* Private memory's protections (see virtual.c). */
NTMEM_HIDDEN BOOLEAN MiValidPrivateProtection(ULONG Protect);
/* The VAD holding all of [Start, Start + Bytes), or NULL. Lock held. */
NTMEM_HIDDEN MI_VAD *MiVadForRange(PUCHAR Start, SIZE_T Bytes);
NTMEM_HIDDEN SIZE_T MiCommittedIn(const MI_VAD *Vad, SIZE_T First, SIZE_T Count);
NTMEM_HIDDEN ULONG_PTR MiHighestUser(void);

/* The run holding page Page of Vad (its index). */
NTMEM_HIDDEN ULONG MiRunIndex(const MI_VAD *Vad, SIZE_T Page);
/* Pages in run Index. */
static inline SIZE_T MiRunPages(const MI_VAD *Vad, ULONG Index)
{
    return (Index + 1 < Vad->RunCount ? Vad->Runs[Index + 1].First : Vad->Pages) - Vad->Runs[Index].First;
}
/* Gives pages [First, First + Count) the state (Committed, Protect), merging equal neighbours.
 * FALSE without memory for the runs (nothing changed). */
NTMEM_HIDDEN BOOLEAN MiSetRunState(MI_VAD *Vad, SIZE_T First, SIZE_T Count, ULONG Committed, ULONG Protect);

/* Write watch bits. */
static inline BOOLEAN MiPageDirty(const MI_VAD *Vad, SIZE_T Page)
{
    return Vad->Dirty != NULL && (Vad->Dirty[Page / 64] >> (Page % 64)) & 1;
}

/* The host protection for pages in this state (PROT_*), write watch included. */
NTMEM_HIDDEN int MiHostProtection(const MI_VAD *Vad, SIZE_T Page, ULONG Committed, ULONG Protect);
/* Applies the host protection of pages [First, First + Count) from their recorded state. */
NTMEM_HIDDEN int MiApplyProtection(MI_VAD *Vad, SIZE_T First, SIZE_T Count);

/* A fault on user memory the VADs describe, seen by the fault handler: guard pages lose their guard
 * (MI_FAULT_GUARD: raise STATUS_GUARD_PAGE_VIOLATION), first writes to write-watched pages are
 * recorded (MI_FAULT_RESOLVED: resume); MI_FAULT_NONE means an ordinary access violation. */
typedef enum _MI_FAULT_RESULT { MI_FAULT_NONE, MI_FAULT_RESOLVED, MI_FAULT_GUARD } MI_FAULT_RESULT;
NTMEM_HIDDEN MI_FAULT_RESULT MiResolveUserFault(const void *Address, BOOLEAN Write);

#endif /* NTMEM_MM_VAD_H */
