/* lookaside.h - lookaside-list internals: per-thread caches, the registry, the balance set pass. */
#ifndef NTMEM_EX_LOOKASIDE_H
#define NTMEM_EX_LOOKASIDE_H

#include <pthread.h>
#include "ex/pool.h"

/* One thread's cache for one list (NTMEM_LOOKASIDE_CACHE, which wdm.h's inline routines read): blocks
 * that thread freed, handed back to it without any shared access. Only the owner changes Head and
 * Count, except that deleting the list empties every cache (the list may not be in use then).
 * Counters are owner-written with plain stores and read by queries. */
typedef NTMEM_LOOKASIDE_CACHE EXP_LOOKASIDE_CACHE;

typedef struct _EXP_LOOKASIDE_THREAD {
    EXP_LOOKASIDE_CACHE *Caches;   /* indexed by the list's slot; grown under ExpLookasideLock and
                                      mirrored in the thread state for the inline fast paths */
    ULONG Capacity;
    struct _EXP_LOOKASIDE_THREAD *Next, *Prev;
} EXP_LOOKASIDE_THREAD;

/* ntmem's private record of a registered list. */
typedef struct _EXP_LOOKASIDE_SHADOW {
    PGENERAL_LOOKASIDE_POOL List;
    ULONG Slot;
    BOOLEAN Ex;
    BOOLEAN PoolBacked;            /* the list allocates from pool itself (no custom routines) */
    PVOID Creator;                 /* return address of the ExInitialize* call: who owns the list */
    ULONG ExFlags;
    ULONG64 RetiredAllocates;      /* counts of thread caches folded back at thread exit */
    ULONG64 RetiredFrees;
    ULONG64 AllocateMisses;        /* counted with atomics on the slow paths */
    ULONG64 FreeMisses;
    ULONG FlushEpoch;              /* advanced by ExFlushLookasideListEx; caches catch up on their
                                      owner's next slow path */
} EXP_LOOKASIDE_SHADOW;

#define EXP_LOOKASIDE_MAGIC 0x7361614Cu /* Future[1] of a registered list ("Laas") */
#define EXP_MAX_LOOKASIDE_LISTS 65536
#define EXP_MINIMUM_LOOKASIDE_DEPTH 4

extern NTMEM_HIDDEN pthread_mutex_t ExpLookasideLock;
extern NTMEM_HIDDEN LIST_ENTRY ExpNPagedLookasideListHead; /* as Windows keeps them, by pool */
extern NTMEM_HIDDEN LIST_ENTRY ExpPagedLookasideListHead;
extern NTMEM_HIDDEN EXP_LOOKASIDE_SHADOW *ExpLookasideSlots[EXP_MAX_LOOKASIDE_LISTS];
extern NTMEM_HIDDEN EXP_LOOKASIDE_THREAD *ExpLookasideThreads;
extern NTMEM_HIDDEN ULONG ExpLookasideSlotLimit; /* slots at or above it were never used */

/* A chain of blocks to hand to the list's Free routine once the registry lock is dropped. */
typedef struct _EXP_FREE_CHAIN {
    PVOID Head;
    ULONG Count;
} EXP_FREE_CHAIN;

NTMEM_HIDDEN void ExpFreeChain(PGENERAL_LOOKASIDE_POOL List, BOOLEAN Ex, EXP_FREE_CHAIN *Chain);
/* Sums every thread's counts into the list's GENERAL_LOOKASIDE fields; lock held. */
NTMEM_HIDDEN void ExpRefreshLookasideCounters(EXP_LOOKASIDE_SHADOW *Shadow, ULONG64 *Held);
NTMEM_HIDDEN void ExpStartBalanceSet(void);

#endif /* NTMEM_EX_LOOKASIDE_H */
