/* vf.h - Driver Verifier internals: which switches are on. */
#ifndef NTMEM_VF_H
#define NTMEM_VF_H

#include <ntmem.h>
#include "ke/ke.h"

extern NTMEM_HIDDEN ULONG VfFlags;

/* True when any verifier switch is on: the checks Windows only makes under the verifier. */
static inline BOOLEAN VfIsEnabled(void)
{
    return __atomic_load_n(&VfFlags, __ATOMIC_RELAXED) != 0;
}

/* Set while special pool, low resources or pool tracking is on: the pool's fast paths then step aside
 * to the checked slow paths (verifier.c keeps it in step with the switches). */
extern NTMEM_HIDDEN volatile UCHAR VfPoolSlowPath;

/* ---- special pool (special_pool.c) ---------------------------------------------------------------- */

/* The parameters NTMEM_VERIFIER's special_pool= takes, in [Text, End): tag:Tag1+size:16-64+start;
 * FALSE for anything else. */
NTMEM_HIDDEN BOOLEAN VfParseSpecialPool(const char *Text, const char *End, PNTMEM_SPECIAL_POOL_SETTINGS Settings);
extern NTMEM_HIDDEN volatile UCHAR VfSpecialPoolOn;
/* low_resources=percent[:seed[:grace]] in [Text, End) (seed 0 and grace 1000 unless given); FALSE
 * for anything else. */
NTMEM_HIDDEN BOOLEAN VfParseLowResources(const char *Text, const char *End, ULONG *Percent, ULONG64 *Seed,
                                         ULONG64 *Grace);
/* Low resources simulation (low_resources.c): TRUE when this allocation is to fail. */
NTMEM_HIDDEN BOOLEAN VfLowResourcesFail(void);
/* Turns special pool on or off (setting it up on first use); TRUE when it is on. */
NTMEM_HIDDEN BOOLEAN VfSpecialPoolSwitch(BOOLEAN On);
/* A special pool block for the request, or NULL (not selected, or special pool exhausted). */
NTMEM_HIDDEN PVOID VfSpecialPoolAllocate(ULONG PoolType, SIZE_T Bytes, ULONG Tag);
NTMEM_HIDDEN BOOLEAN VfIsSpecialPoolAddress(const void *Address);
/* Frees a special pool block after every check, or bug checks (0xC1, 0xC2); returns the block's tag
 * and pool index for the tag counters. */
NTMEM_HIDDEN ULONG VfSpecialPoolFree(PVOID Block, ULONG Tag, BOOLEAN CheckTag, KIRQL Irql, PULONG PoolIndex);
/* The live special pool block holding Address: its start, size, tag and pool type. */
NTMEM_HIDDEN BOOLEAN VfSpecialPoolQuery(const void *Address, PVOID *Block, SIZE_T *Size, ULONG *Tag, ULONG *PoolType);
/* A kernel-mode fault on special pool: STOP 0xD5 (freed) or 0xD6 (beyond the allocation); returns
 * for other addresses. */
NTMEM_HIDDEN void VfSpecialPoolFault(const void *Address, ULONG_PTR How, PVOID Ip);

/* ---- pool tracking (pool_tracking.c) ---------------------------------------------------------------- */

/* A pool request seen by the verifier's slow path (its "allocations attempted"). */
NTMEM_HIDDEN void VfCountRequest(void);
NTMEM_HIDDEN void VfQueryRequestCounts(ULONG64 *Requests, ULONG64 *Succeeded);
/* Registered driver images (ntmem_verifier_register_driver): while there are any, pool is attributed. */
extern NTMEM_HIDDEN volatile ULONG VfRegisteredDrivers;
/* Records an allocation for the driver on its call stack, if any (PoolIndex 0 nonpaged, 1 paged). */
NTMEM_HIDDEN void VfTrackAllocation(PVOID Block, SIZE_T Size, ULONG Tag, ULONG PoolIndex);
NTMEM_HIDDEN void VfTrackFree(PVOID Block);
/* Whether Address lies in a registered driver image (bug checks choose 0xD1 over 0x0A by it); read
 * without the lock, from the fault path. */
NTMEM_HIDDEN BOOLEAN VfIsDriverAddress(const void *Address);
/* TRUE when this pool request is to fail: low resources simulation or the fail sweep's chosen request.
 * While driver images are registered only their requests are candidates. */
NTMEM_HIDDEN BOOLEAN VfInjectFailure(void);
/* The switches or the registered drivers changed: decide whether the pool's fast paths step aside. */
NTMEM_HIDDEN void VfRecomputeSlowPath(void);

/* ---- IRQL checking (irql_checking.c) ------------------------------------------------------------- */

static inline BOOLEAN VfIrqlCheckingOn(void)
{
    return (__atomic_load_n(&VfFlags, __ATOMIC_RELAXED) & NTMEM_VERIFIER_IRQL_CHECKING) != 0;
}
/* A thread went from below DISPATCH_LEVEL to DISPATCH_LEVEL or above: all unlocked pageable memory
 * becomes inaccessible (the pager brings each page back on its first touch below DISPATCH_LEVEL). */
NTMEM_HIDDEN void VfIrqlRaisedToDispatch(void);
/* Pageable memory (Name says which) touched at DISPATCH_LEVEL or above while IRQL checking is on:
 * STOP 0xD1, whoever touched it and whether or not the page was resident. */
NTMEM_HIDDEN DECLSPEC_NORETURN void VfPageableTouchedAtDispatch(const void *Address, ULONG_PTR How, PVOID Ip,
                                                                KIRQL Irql, PCSTR Name);

#endif /* NTMEM_VF_H */
