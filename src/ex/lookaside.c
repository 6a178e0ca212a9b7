/* lookaside.c - lookaside lists: per-thread caches in front of a shared SLIST, refilled from pool. */
#include <stdio.h>
#include <stdlib.h>

#include "ex/lookaside.h"
#include "vf/vf.h"

pthread_mutex_t ExpLookasideLock = PTHREAD_MUTEX_INITIALIZER;
LIST_ENTRY ExpNPagedLookasideListHead = {&ExpNPagedLookasideListHead, &ExpNPagedLookasideListHead};
LIST_ENTRY ExpPagedLookasideListHead = {&ExpPagedLookasideListHead, &ExpPagedLookasideListHead};
EXP_LOOKASIDE_SHADOW *ExpLookasideSlots[EXP_MAX_LOOKASIDE_LISTS];
EXP_LOOKASIDE_THREAD *ExpLookasideThreads;
ULONG ExpLookasideSlotLimit;

static pthread_key_t ExpLookasideKey;
static pthread_once_t ExpLookasideKeyOnce = PTHREAD_ONCE_INIT;

/* ---- registry ---------------------------------------------------------------------------------- */

/* The shadow of a registered list, or NULL; lock held or the caller owns the list. */
static EXP_LOOKASIDE_SHADOW *ExpShadowOf(PGENERAL_LOOKASIDE_POOL list)
{
    ULONG slot = list->Future[0];
    if (list->Future[1] != EXP_LOOKASIDE_MAGIC || slot >= EXP_MAX_LOOKASIDE_LISTS)
        return NULL;
    EXP_LOOKASIDE_SHADOW *shadow = __atomic_load_n(&ExpLookasideSlots[slot], __ATOMIC_ACQUIRE);
    return shadow != NULL && shadow->List == list ? shadow : NULL;
}

static BOOLEAN ExpIsPagedList(PGENERAL_LOOKASIDE_POOL list)
{
    return ExpPoolIndex((ULONG)list->Type & 7) == 1;
}

/* Gives each block of a chain to the list's Free routine (outside the registry lock, since a Free
 * routine may itself use lookaside lists). */
void ExpFreeChain(PGENERAL_LOOKASIDE_POOL list, BOOLEAN ex, EXP_FREE_CHAIN *chain)
{
    PVOID block = chain->Head;
    while (block != NULL) {
        PVOID next = *(PVOID *)block;
        if (ex)
            list->FreeEx(block, (PLOOKASIDE_LIST_EX)list);
        else
            list->Free(block);
        block = next;
    }
    chain->Head = NULL;
    chain->Count = 0;
}

static void ExpChainPush(EXP_FREE_CHAIN *chain, PVOID block)
{
    *(PVOID *)block = chain->Head;
    chain->Head = block;
    chain->Count++;
}

/* Takes every block of one thread's cache for the list; lock held. */
static void ExpEmptyCache(EXP_LOOKASIDE_CACHE *c, EXP_FREE_CHAIN *chain)
{
    PVOID block = c->Head;
    while (block != NULL) {
        PVOID next = *(PVOID *)block;
        ExpChainPush(chain, block);
        block = next;
    }
    c->Head = NULL;
    c->Count = 0;
}

/* Takes the shared list's blocks. */
static void ExpEmptySharedList(PGENERAL_LOOKASIDE_POOL list, EXP_FREE_CHAIN *chain)
{
    PSLIST_ENTRY entry = InterlockedFlushSList(&list->ListHead);
    while (entry != NULL) {
        PSLIST_ENTRY next = entry->Next;
        ExpChainPush(chain, entry);
        entry = next;
    }
}

/* Unregisters a list and takes every block it holds, in every thread's cache too: the caller
 * guarantees, as deleting requires, that no thread uses the list meanwhile. Lock held. */
static void ExpUnregister(EXP_LOOKASIDE_SHADOW *shadow, EXP_FREE_CHAIN *chain)
{
    PGENERAL_LOOKASIDE_POOL list = shadow->List;
    for (EXP_LOOKASIDE_THREAD *t = ExpLookasideThreads; t != NULL; t = t->Next) {
        if (shadow->Slot >= t->Capacity || t->Caches[shadow->Slot].List != list)
            continue;
        EXP_LOOKASIDE_CACHE *c = &t->Caches[shadow->Slot];
        ExpEmptyCache(c, chain);
        c->List = NULL;
        c->Allocates = c->Frees = 0;
    }
    ExpEmptySharedList(list, chain);
    RemoveEntryList(&list->ListEntry);
    __atomic_store_n(&ExpLookasideSlots[shadow->Slot], NULL, __ATOMIC_RELEASE);
    list->Future[0] = list->Future[1] = 0;
    free(shadow);
}

static PVOID ExpDefaultAllocateEx(POOL_TYPE type, SIZE_T size, ULONG tag, PLOOKASIDE_LIST_EX list);
static VOID ExpDefaultFreeEx(PVOID block, PLOOKASIDE_LIST_EX list);

/* Registers a list whose public fields are filled (and that is not registered). */
static void ExpRegister(PGENERAL_LOOKASIDE_POOL list, BOOLEAN ex, ULONG ex_flags, BOOLEAN pool_backed, PVOID creator)
{
    EXP_LOOKASIDE_SHADOW *shadow = calloc(1, sizeof *shadow);
    if (shadow == NULL) {
        fprintf(stderr, "ntmem: out of host memory registering a lookaside list\n");
        abort();
    }
    pthread_mutex_lock(&ExpLookasideLock);
    ULONG slot;
    for (slot = 0; slot < EXP_MAX_LOOKASIDE_LISTS && ExpLookasideSlots[slot] != NULL; slot++)
        ;
    if (slot == EXP_MAX_LOOKASIDE_LISTS) {
        pthread_mutex_unlock(&ExpLookasideLock);
        fprintf(stderr, "ntmem: more than %d lookaside lists at once\n", EXP_MAX_LOOKASIDE_LISTS);
        abort();
    }
    if (slot >= ExpLookasideSlotLimit)
        ExpLookasideSlotLimit = slot + 1;
    shadow->List = list;
    shadow->Slot = slot;
    shadow->Ex = ex;
    shadow->ExFlags = ex_flags;
    shadow->PoolBacked = pool_backed;
    shadow->Creator = creator;
    list->Future[0] = slot;
    list->Future[1] = EXP_LOOKASIDE_MAGIC;
    InsertTailList(ExpIsPagedList(list) ? &ExpPagedLookasideListHead : &ExpNPagedLookasideListHead,
                   &list->ListEntry);
    __atomic_store_n(&ExpLookasideSlots[slot], shadow, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&ExpLookasideLock);
    ExpMarkPoolObject(list);
    ExpStartBalanceSet();
}

/*
 * Initialising a list that is registered already: the verifier calls that 0xC4/0xCA (before anything
 * is touched); without it the old registration is taken down cleanly first - its blocks freed with
 * its own routines, which the list's fields still hold - instead of corrupting the registry.
 */
static void ExpRetireOldRegistration(PGENERAL_LOOKASIDE_POOL list)
{
    EXP_FREE_CHAIN old = {NULL, 0};
    pthread_mutex_lock(&ExpLookasideLock);
    EXP_LOOKASIDE_SHADOW *existing = ExpShadowOf(list);
    if (existing == NULL) {
        pthread_mutex_unlock(&ExpLookasideLock);
        return;
    }
    if (VfIsEnabled()) {
        pthread_mutex_unlock(&ExpLookasideLock);
        KiBugCheckWithReason(DRIVER_VERIFIER_DETECTED_VIOLATION, 0xCA, (ULONG_PTR)list, 0, 0,
                             "lookaside list %p was initialised a second time without being deleted",
                             (void *)list);
    }
    BOOLEAN ex = existing->Ex;
    ExpUnregister(existing, &old);
    pthread_mutex_unlock(&ExpLookasideLock);
    ExpFreeChain(list, ex, &old);
}

void ExpMarkPoolObject(PVOID object)
{
    NTMEM_POOL_BLOCK_INFO info;
    if (MiRegionOf(object) > MiPagedPoolRegion || !NT_SUCCESS(ntmem_pool_lookup(object, &info)) || !info.Allocated)
        return;
    if (info.Header != NULL)
        ((PPOOL_HEADER)info.Header)->PoolType |= EXP_POOL_HAS_OBJECT; /* the owner's byte: we are it */
    else
        MiPfnOf(info.Block)->Flags |= MI_PFN_HAS_OBJECT;
}

void ExpLookasideBlockFreed(PVOID block, SIZE_T size)
{
    PUCHAR start = block, end = start + size;
    for (;;) {
        EXP_FREE_CHAIN chain = {NULL, 0};
        PGENERAL_LOOKASIDE_POOL found = NULL;
        BOOLEAN ex = FALSE;
        pthread_mutex_lock(&ExpLookasideLock);
        for (ULONG slot = 0; slot < ExpLookasideSlotLimit && found == NULL; slot++) {
            EXP_LOOKASIDE_SHADOW *shadow = ExpLookasideSlots[slot];
            if (shadow == NULL || (PUCHAR)shadow->List < start || (PUCHAR)shadow->List >= end)
                continue;
            if (VfIsEnabled()) {
                pthread_mutex_unlock(&ExpLookasideLock);
                KiBugCheckWithReason(DRIVER_VERIFIER_DETECTED_VIOLATION, 0xCC, (ULONG_PTR)shadow->List,
                                     (ULONG_PTR)block, size,
                                     "pool block %p was freed while lookaside list %p inside it was still "
                                     "initialised", block, (void *)shadow->List);
            }
            found = shadow->List;
            ex = shadow->Ex;
            ExpUnregister(shadow, &chain);
        }
        pthread_mutex_unlock(&ExpLookasideLock);
        if (found == NULL)
            return;
        ExpFreeChain(found, ex, &chain);
    }
}

/* The first registered list created by code in [Start, End) - a driver image being unloaded - or
 * NULL. Lists in that image's globals or its pool would be walked by the balance set after the
 * driver is gone. */
PVOID ExpLookasideCreatedBy(ULONG_PTR start, ULONG_PTR end)
{
    PVOID found = NULL;
    pthread_mutex_lock(&ExpLookasideLock);
    for (ULONG slot = 0; slot < ExpLookasideSlotLimit && found == NULL; slot++) {
        EXP_LOOKASIDE_SHADOW *shadow = ExpLookasideSlots[slot];
        if (shadow != NULL && (ULONG_PTR)shadow->Creator >= start && (ULONG_PTR)shadow->Creator < end)
            found = shadow->List;
    }
    pthread_mutex_unlock(&ExpLookasideLock);
    return found;
}

/* Fills the public fields every kind of list shares. */
static void ExpInitializeFields(PGENERAL_LOOKASIDE_POOL list, ULONG type, SIZE_T size, ULONG tag)
{
    if (size < LOOKASIDE_MINIMUM_BLOCK_SIZE) {
        if (VfIsEnabled())
            KiBugCheckWithReason(DRIVER_VERIFIER_DETECTED_VIOLATION, 0xCD, (ULONG_PTR)list, size,
                                 LOOKASIDE_MINIMUM_BLOCK_SIZE,
                                 "lookaside list %p was created for %zu-byte blocks; the minimum is %zu",
                                 (void *)list, (size_t)size, (size_t)LOOKASIDE_MINIMUM_BLOCK_SIZE);
        size = LOOKASIDE_MINIMUM_BLOCK_SIZE; /* never hand out blocks too small to link */
    }
    InitializeSListHead(&list->ListHead);
    list->Depth = EXP_MINIMUM_LOOKASIDE_DEPTH; /* the caller's Depth is ignored, as documented */
    list->MaximumDepth = EX_MAXIMUM_LOOKASIDE_DEPTH_BASE;
    list->TotalAllocates = list->AllocateMisses = 0;
    list->TotalFrees = list->FreeMisses = 0;
    list->LastTotalAllocates = list->LastAllocateMisses = 0;
    list->Type = (POOL_TYPE)type;
    list->Tag = tag;
    list->Size = (ULONG)(size > 0xFFFFFFFFu ? 0xFFFFFFFFu : size);
}

static void ExpInitializeClassic(PGENERAL_LOOKASIDE_POOL list, ULONG type, PALLOCATE_FUNCTION allocate,
                                 PFREE_FUNCTION free_routine, ULONG flags, SIZE_T size, ULONG tag, PVOID creator)
{
    ExpRetireOldRegistration(list);
    /* Windows 8 and later honour these two flags and fold them into the list's pool type. */
    type |= flags & (POOL_RAISE_IF_ALLOCATION_FAILURE | POOL_NX_ALLOCATION);
    ExpInitializeFields(list, type, size, tag);
    list->Allocate = allocate != NULL ? allocate : ExAllocatePoolWithTag;
    list->Free = free_routine != NULL ? free_routine : ExFreePool;
    ExpRegister(list, FALSE, 0, allocate == NULL, creator);
}

NTKERNELAPI VOID NTAPI ExInitializeNPagedLookasideList(PNPAGED_LOOKASIDE_LIST lookaside, PALLOCATE_FUNCTION allocate,
                                                       PFREE_FUNCTION free_routine, ULONG flags, SIZE_T size,
                                                       ULONG tag, USHORT depth)
{
    (void)depth;
    ExpInitializeClassic((PGENERAL_LOOKASIDE_POOL)&lookaside->L, NonPagedPool, allocate, free_routine, flags, size, tag,
                         __builtin_return_address(0));
}

NTKERNELAPI VOID NTAPI ExInitializePagedLookasideList(PPAGED_LOOKASIDE_LIST lookaside, PALLOCATE_FUNCTION allocate,
                                                      PFREE_FUNCTION free_routine, ULONG flags, SIZE_T size,
                                                      ULONG tag, USHORT depth)
{
    (void)depth;
    ExpInitializeClassic((PGENERAL_LOOKASIDE_POOL)&lookaside->L, PagedPool, allocate, free_routine, flags, size, tag,
                         __builtin_return_address(0));
}

NTKERNELAPI NTSTATUS NTAPI ExInitializeLookasideListEx(PLOOKASIDE_LIST_EX lookaside, PALLOCATE_FUNCTION_EX allocate,
                                                       PFREE_FUNCTION_EX free_routine, POOL_TYPE type, ULONG flags,
                                                       SIZE_T size, ULONG tag, USHORT depth)
{
    (void)depth;
    ULONG base = (ULONG)type & ~(ULONG)(NonPagedPoolSession | POOL_NX_ALLOCATION);
    if (base != NonPagedPool && base != PagedPool)
        return STATUS_INVALID_PARAMETER_4;
    if ((flags & ~(EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL | EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE)) != 0 ||
        flags == (EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL | EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE))
        return STATUS_INVALID_PARAMETER_5;
    PGENERAL_LOOKASIDE_POOL list = &lookaside->L;
    ExpRetireOldRegistration(list);
    ExpInitializeFields(list, (ULONG)type, size, tag);
    list->AllocateEx = allocate != NULL ? allocate : ExpDefaultAllocateEx;
    list->FreeEx = free_routine != NULL ? free_routine : ExpDefaultFreeEx;
    ExpRegister(list, TRUE, flags, allocate == NULL, __builtin_return_address(0));
    return STATUS_SUCCESS;
}

/* Without routines of its own an Ex list takes pool; FAIL_NO_RAISE makes it charge quota and return
 * NULL on failure, RAISE_ON_FAIL makes a failure raise (the documented meanings of the flags). */
static PVOID ExpDefaultAllocateEx(POOL_TYPE type, SIZE_T size, ULONG tag, PLOOKASIDE_LIST_EX lookaside)
{
    EXP_LOOKASIDE_SHADOW *shadow = ExpShadowOf(&lookaside->L);
    ULONG flags = shadow != NULL ? shadow->ExFlags : 0;
    if (flags & EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE)
        return ExAllocatePoolWithQuotaTag((POOL_TYPE)(type | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE), size, tag);
    if (flags & EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL)
        return ExAllocatePoolWithTag((POOL_TYPE)(type | POOL_RAISE_IF_ALLOCATION_FAILURE), size, tag);
    return ExAllocatePoolWithTag(type, size, tag);
}

static VOID ExpDefaultFreeEx(PVOID block, PLOOKASIDE_LIST_EX lookaside)
{
    (void)lookaside;
    ExFreePool(block);
}

/* ---- delete and flush -------------------------------------------------------------------------- */

/* Deleting frees every block the list holds; blocks still out stay pool allocations of its tag. A
 * list that is not registered is 0xC4/0xCB under the verifier and ignored without it. */
static void ExpDelete(PGENERAL_LOOKASIDE_POOL list, BOOLEAN flush_only)
{
    EXP_FREE_CHAIN chain = {NULL, 0};
    pthread_mutex_lock(&ExpLookasideLock);
    EXP_LOOKASIDE_SHADOW *shadow = ExpShadowOf(list);
    if (shadow == NULL) {
        pthread_mutex_unlock(&ExpLookasideLock);
        if (VfIsEnabled())
            KiBugCheckWithReason(DRIVER_VERIFIER_DETECTED_VIOLATION, 0xCB, (ULONG_PTR)list, 0, 0,
                                 "lookaside list %p was %s but was never initialised (or already deleted)",
                                 (void *)list, flush_only ? "flushed" : "deleted");
        return;
    }
    BOOLEAN ex = shadow->Ex;
    if (flush_only) {
        /* Other threads may be using the list: only the shared part and this thread's cache are
         * emptied now; the other caches empty themselves on their owners' next slow path. */
        ExpEmptySharedList(list, &chain);
        __atomic_store_n(&shadow->FlushEpoch, shadow->FlushEpoch + 1, __ATOMIC_RELAXED);
        EXP_LOOKASIDE_THREAD *t = KiThread.Lookaside;
        if (t != NULL && shadow->Slot < t->Capacity && t->Caches[shadow->Slot].List == list) {
            ExpEmptyCache(&t->Caches[shadow->Slot], &chain);
            t->Caches[shadow->Slot].FlushEpoch = shadow->FlushEpoch;
        }
    } else {
        ExpUnregister(shadow, &chain);
    }
    pthread_mutex_unlock(&ExpLookasideLock);
    ExpFreeChain(list, ex, &chain);
}

NTKERNELAPI VOID NTAPI ExDeleteNPagedLookasideList(PNPAGED_LOOKASIDE_LIST lookaside)
{
    ExpDelete((PGENERAL_LOOKASIDE_POOL)&lookaside->L, FALSE);
}

NTKERNELAPI VOID NTAPI ExDeletePagedLookasideList(PPAGED_LOOKASIDE_LIST lookaside)
{
    ExpDelete((PGENERAL_LOOKASIDE_POOL)&lookaside->L, FALSE);
}

NTKERNELAPI VOID NTAPI ExDeleteLookasideListEx(PLOOKASIDE_LIST_EX lookaside)
{
    ExpDelete(&lookaside->L, FALSE);
}

NTKERNELAPI VOID NTAPI ExFlushLookasideListEx(PLOOKASIDE_LIST_EX lookaside)
{
    ExpDelete(&lookaside->L, TRUE);
}

/* ---- per-thread state -------------------------------------------------------------------------- */

/* At thread exit the caches' blocks go back to their lists (or to pool beyond the depth) and their
 * counts are folded into the lists' totals. */
static void ExpLookasideThreadExit(void *arg)
{
    EXP_LOOKASIDE_THREAD *t = arg;
    /* Blocks beyond a list's depth go to its Free routine after the lock is dropped; the caches array
     * is free to hold that work list since this thread is done with it. */
    ULONG spills = 0;
    pthread_mutex_lock(&ExpLookasideLock);
    for (ULONG slot = 0; slot < t->Capacity; slot++) {
        EXP_LOOKASIDE_CACHE *c = &t->Caches[slot];
        EXP_LOOKASIDE_SHADOW *shadow = ExpLookasideSlots[slot];
        if (c->List == NULL || shadow == NULL || shadow->List != c->List)
            continue;
        shadow->RetiredAllocates += c->Allocates;
        shadow->RetiredFrees += c->Frees;
        EXP_FREE_CHAIN spill = {NULL, 0};
        while (c->Head != NULL) {
            PVOID block = c->Head;
            c->Head = *(PVOID *)block;
            PGENERAL_LOOKASIDE_POOL list = c->List;
            if (QueryDepthSList(&list->ListHead) < list->Depth)
                InterlockedPushEntrySList(&list->ListHead, block);
            else
                ExpChainPush(&spill, block);
        }
        __atomic_add_fetch(&shadow->FreeMisses, spill.Count, __ATOMIC_RELAXED);
        EXP_LOOKASIDE_CACHE *work = &t->Caches[spills++]; /* spills <= slot: already visited */
        work->List = spill.Count ? c->List : NULL;
        work->Head = spill.Head;
        work->FlushEpoch = shadow->Ex; /* the work list reuses the field for the list's kind */
    }
    if (t->Prev != NULL)
        t->Prev->Next = t->Next;
    else
        ExpLookasideThreads = t->Next;
    if (t->Next != NULL)
        t->Next->Prev = t->Prev;
    pthread_mutex_unlock(&ExpLookasideLock);
    KiThread.Lookaside = NULL;
    KiThread.LookasideCaches = NULL;
    KiThread.LookasideCapacity = 0;
    for (ULONG i = 0; i < spills; i++) {
        EXP_FREE_CHAIN chain = {t->Caches[i].Head, 0};
        if (t->Caches[i].List != NULL)
            ExpFreeChain(t->Caches[i].List, (BOOLEAN)t->Caches[i].FlushEpoch, &chain);
    }
    free(t->Caches);
    free(t);
}

static void ExpCreateLookasideKey(void)
{
    if (pthread_key_create(&ExpLookasideKey, ExpLookasideThreadExit) != 0) {
        fprintf(stderr, "ntmem: pthread_key_create failed\n");
        abort();
    }
}

/* This thread's cache for the list, binding a slot to it (growing the array) when needed. */
static EXP_LOOKASIDE_CACHE *ExpBindCache(EXP_LOOKASIDE_SHADOW *shadow)
{
    EXP_LOOKASIDE_THREAD *t = KiThread.Lookaside;
    if (t == NULL || shadow->Slot >= t->Capacity) {
        pthread_once(&ExpLookasideKeyOnce, ExpCreateLookasideKey);
        pthread_mutex_lock(&ExpLookasideLock);
        if (t == NULL) {
            t = calloc(1, sizeof *t);
            if (t == NULL)
                abort();
            t->Next = ExpLookasideThreads;
            if (t->Next != NULL)
                t->Next->Prev = t;
            ExpLookasideThreads = t;
            KiThread.Lookaside = t;
            pthread_setspecific(ExpLookasideKey, t);
        }
        ULONG capacity = t->Capacity ? t->Capacity : 16;
        while (capacity <= shadow->Slot)
            capacity *= 2;
        if (capacity != t->Capacity) {
            EXP_LOOKASIDE_CACHE *grown = realloc(t->Caches, capacity * sizeof *grown);
            if (grown == NULL)
                abort();
            memset(grown + t->Capacity, 0, (capacity - t->Capacity) * sizeof *grown);
            t->Caches = grown;
            t->Capacity = capacity;
            KiThread.LookasideCaches = grown; /* what the inline fast paths index */
            KiThread.LookasideCapacity = capacity;
        }
        pthread_mutex_unlock(&ExpLookasideLock);
    }
    EXP_LOOKASIDE_CACHE *c = &t->Caches[shadow->Slot];
    if (c->List != shadow->List) {
        pthread_mutex_lock(&ExpLookasideLock);
        c->List = shadow->List;
        c->Head = NULL;
        c->Count = 0;
        c->Allocates = c->Frees = 0;
        c->FlushEpoch = shadow->FlushEpoch;
        pthread_mutex_unlock(&ExpLookasideLock);
    } else if (c->FlushEpoch != __atomic_load_n(&shadow->FlushEpoch, __ATOMIC_RELAXED)) {
        /* The list was flushed since this thread last came here: give back what it cached. */
        EXP_FREE_CHAIN chain = {NULL, 0};
        pthread_mutex_lock(&ExpLookasideLock);
        ExpEmptyCache(c, &chain);
        c->FlushEpoch = shadow->FlushEpoch;
        pthread_mutex_unlock(&ExpLookasideLock);
        ExpFreeChain(shadow->List, shadow->Ex, &chain);
    }
    return c;
}

/* ---- slow paths -------------------------------------------------------------------------------- */

static DECLSPEC_NORETURN void ExpNotALookasideList(PGENERAL_LOOKASIDE_POOL list, const char *what)
{
    KiBugCheckWithReason(DRIVER_VERIFIER_DETECTED_VIOLATION, 0xCB, (ULONG_PTR)list, 0, 0,
                         "%s lookaside list %p, which was never initialised (or was deleted)", what,
                         (void *)list);
}

/* Paged lists may be used up to APC_LEVEL, nonpaged and Ex lists of nonpaged pool up to
 * DISPATCH_LEVEL: above that the list itself may be paged out, which is IRQL_NOT_LESS_OR_EQUAL. */
static void ExpCheckLookasideIrql(PGENERAL_LOOKASIDE_POOL list, KIRQL limit, BOOLEAN write, PVOID caller)
{
    KIRQL irql = KiThread.Irql;
    if (irql > limit)
        KiBugCheckWithReason(IRQL_NOT_LESS_OR_EQUAL, (ULONG_PTR)list, irql, write, (ULONG_PTR)caller,
                             "%s lookaside list %p used at IRQL %u; it may be used at %s or below",
                             ExpIsPagedList(list) ? "paged" : "nonpaged", (void *)list, irql,
                             limit == APC_LEVEL ? "APC_LEVEL" : "DISPATCH_LEVEL");
}

/* Behind the inline fast path of wdm.h: everything else an allocation may need. */
NTMEM_API PVOID ntmem_lookaside_allocate(PGENERAL_LOOKASIDE_POOL list, KIRQL limit)
{
    EXP_LOOKASIDE_SHADOW *shadow = ExpShadowOf(list);
    if (shadow == NULL)
        ExpNotALookasideList(list, "allocated from");
    ExpCheckLookasideIrql(list, limit, FALSE, __builtin_return_address(0));
    EXP_LOOKASIDE_CACHE *c = ExpBindCache(shadow);
    ExpCounterAdd(&c->Allocates, 1);
    PVOID block = c->Head;
    if (block != NULL) {
        c->Head = *(PVOID *)block;
        __atomic_store_n(&c->Count, c->Count - 1, __ATOMIC_RELAXED); /* queries read it */
        return block;
    }
    block = InterlockedPopEntrySList(&list->ListHead);
    if (block != NULL)
        return block;
    __atomic_add_fetch(&shadow->AllocateMisses, 1, __ATOMIC_RELAXED);
    block = shadow->Ex ? list->AllocateEx(list->Type, list->Size, list->Tag, (PLOOKASIDE_LIST_EX)list)
                       : list->Allocate(list->Type, list->Size, list->Tag);
    if (block == NULL && shadow->Ex && (shadow->ExFlags & EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL))
        ExRaiseStatus(STATUS_INSUFFICIENT_RESOURCES);
    return block;
}

/* Behind the inline fast path of wdm.h: a full cache keeps half its blocks; the rest go to the shared
 * list up to the depth, then back to the list's Free routine (a free miss each). */
NTMEM_API VOID ntmem_lookaside_free(PGENERAL_LOOKASIDE_POOL list, PVOID block, KIRQL limit)
{
    EXP_LOOKASIDE_SHADOW *shadow = ExpShadowOf(list);
    if (shadow == NULL)
        ExpNotALookasideList(list, "freed to");
    ExpCheckLookasideIrql(list, limit, TRUE, __builtin_return_address(0));
    EXP_LOOKASIDE_CACHE *c = ExpBindCache(shadow);
    ExpCounterAdd(&c->Frees, 1);
    *(PVOID *)block = c->Head;
    c->Head = block;
    __atomic_store_n(&c->Count, c->Count + 1, __ATOMIC_RELAXED);
    ULONG keep = __atomic_load_n(&list->Depth, __ATOMIC_RELAXED) / 2u;
    if (c->Count <= keep)
        return;
    EXP_FREE_CHAIN spill = {NULL, 0};
    while (c->Count > keep / 2) {
        PVOID out = c->Head;
        c->Head = *(PVOID *)out;
        __atomic_store_n(&c->Count, c->Count - 1, __ATOMIC_RELAXED); /* queries read it */
        if (QueryDepthSList(&list->ListHead) < __atomic_load_n(&list->Depth, __ATOMIC_RELAXED))
            InterlockedPushEntrySList(&list->ListHead, out);
        else
            ExpChainPush(&spill, out);
    }
    if (spill.Count != 0) {
        __atomic_add_fetch(&shadow->FreeMisses, spill.Count, __ATOMIC_RELAXED);
        ExpFreeChain(list, shadow->Ex, &spill);
    }
}
