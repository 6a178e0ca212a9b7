/* lookaside_balance.c - the balance set pass: exact lookaside statistics and adaptive depths. */
#include <stdlib.h>
#include <time.h>

#include "ex/lookaside.h"
#include "os/os.h"

/*
 * The depth rule, applied to each list once a period (one second by default) from what happened in
 * that period:
 *   - fewer than EXP_IDLE_ALLOCATIONS allocations: the list is idle, its depth drops by
 *     EXP_IDLE_SHRINK (not below EXP_MINIMUM_LOOKASIDE_DEPTH) and the blocks above the new depth go
 *     back to pool;
 *   - busy, with fewer than EXP_QUIET_MISSES_PER_MILLE misses per thousand allocations: the list is
 *     deep enough, its depth drops by one;
 *   - busy and missing more: the depth grows by (MaximumDepth - Depth) * misses-per-mille / 2000 + 5,
 *     up to MaximumDepth.
 * These are the constants of the NT balance set manager's lookaside adjustment.
 */
#define EXP_IDLE_ALLOCATIONS 25
#define EXP_IDLE_SHRINK 10
#define EXP_QUIET_MISSES_PER_MILLE 5
#define EXP_GROWTH_STEP 5

static ULONG ExpBalancePeriodMs = 1000;
static pthread_once_t ExpBalanceOnce = PTHREAD_ONCE_INIT;

static USHORT ExpComputeDepth(ULONG allocates, ULONG misses, USHORT depth, USHORT maximum)
{
    ULONG d = depth;
    if (allocates < EXP_IDLE_ALLOCATIONS) {
        d = d > EXP_MINIMUM_LOOKASIDE_DEPTH + EXP_IDLE_SHRINK ? d - EXP_IDLE_SHRINK : EXP_MINIMUM_LOOKASIDE_DEPTH;
    } else {
        ULONG per_mille = (ULONG)((ULONG64)misses * 1000 / allocates);
        if (per_mille < EXP_QUIET_MISSES_PER_MILLE) {
            d = d > EXP_MINIMUM_LOOKASIDE_DEPTH ? d - 1 : EXP_MINIMUM_LOOKASIDE_DEPTH;
        } else {
            d += (ULONG)((ULONG64)(maximum > d ? maximum - d : 0) * per_mille / 2000) + EXP_GROWTH_STEP;
            if (d > maximum)
                d = maximum;
        }
    }
    return (USHORT)d;
}

void ExpRefreshLookasideCounters(EXP_LOOKASIDE_SHADOW *shadow, ULONG64 *held)
{
    PGENERAL_LOOKASIDE_POOL list = shadow->List;
    ULONG64 allocates = shadow->RetiredAllocates, frees = shadow->RetiredFrees;
    ULONG64 blocks = QueryDepthSList(&list->ListHead);
    for (EXP_LOOKASIDE_THREAD *t = ExpLookasideThreads; t != NULL; t = t->Next) {
        if (shadow->Slot >= t->Capacity)
            continue;
        EXP_LOOKASIDE_CACHE *c = &t->Caches[shadow->Slot];
        if (__atomic_load_n(&c->List, __ATOMIC_RELAXED) != list)
            continue;
        allocates += __atomic_load_n(&c->Allocates, __ATOMIC_RELAXED);
        frees += __atomic_load_n(&c->Frees, __ATOMIC_RELAXED);
        blocks += __atomic_load_n(&c->Count, __ATOMIC_RELAXED);
    }
    /* The GENERAL_LOOKASIDE counters are 32-bit and wrap, as on Windows. */
    __atomic_store_n(&list->TotalAllocates, (ULONG)allocates, __ATOMIC_RELAXED);
    __atomic_store_n(&list->TotalFrees, (ULONG)frees, __ATOMIC_RELAXED);
    __atomic_store_n(&list->AllocateMisses, (ULONG)__atomic_load_n(&shadow->AllocateMisses, __ATOMIC_RELAXED),
                     __ATOMIC_RELAXED);
    __atomic_store_n(&list->FreeMisses, (ULONG)__atomic_load_n(&shadow->FreeMisses, __ATOMIC_RELAXED),
                     __ATOMIC_RELAXED);
    if (held != NULL)
        *held = blocks;
}

/* Work for after the lock: blocks above a list's new depth, for its Free routine. */
typedef struct _EXP_TRIM {
    PGENERAL_LOOKASIDE_POOL List;
    BOOLEAN Ex;
    EXP_FREE_CHAIN Chain;
} EXP_TRIM;

NTMEM_API VOID ntmem_adjust_lookaside_depths(VOID)
{
    ULONG capacity = 16, count = 0;
    EXP_TRIM *trims = malloc(capacity * sizeof *trims);
    pthread_mutex_lock(&ExpLookasideLock);
    for (ULONG slot = 0; slot < ExpLookasideSlotLimit; slot++) {
        EXP_LOOKASIDE_SHADOW *shadow = ExpLookasideSlots[slot];
        if (shadow == NULL)
            continue;
        PGENERAL_LOOKASIDE_POOL list = shadow->List;
        ExpRefreshLookasideCounters(shadow, NULL);
        ULONG allocates = list->TotalAllocates - list->LastTotalAllocates;
        ULONG misses = list->AllocateMisses - list->LastAllocateMisses;
        list->LastTotalAllocates = list->TotalAllocates;
        list->LastAllocateMisses = list->AllocateMisses;
        USHORT depth = ExpComputeDepth(allocates, misses, list->Depth, list->MaximumDepth);
        __atomic_store_n(&list->Depth, depth, __ATOMIC_RELAXED);
        EXP_FREE_CHAIN chain = {NULL, 0};
        while (QueryDepthSList(&list->ListHead) > depth) {
            PSLIST_ENTRY entry = InterlockedPopEntrySList(&list->ListHead);
            if (entry == NULL)
                break;
            entry->Next = (PSLIST_ENTRY)chain.Head;
            chain.Head = entry;
            chain.Count++;
        }
        if (chain.Count == 0)
            continue;
        if (count == capacity) {
            EXP_TRIM *grown = trims != NULL ? realloc(trims, capacity * 2 * sizeof *trims) : NULL;
            if (grown == NULL) {
                /* No room to defer: put the blocks back; the next pass trims them. */
                while (chain.Head != NULL) {
                    PVOID next = *(PVOID *)chain.Head;
                    InterlockedPushEntrySList(&list->ListHead, chain.Head);
                    chain.Head = next;
                }
                continue;
            }
            trims = grown;
            capacity *= 2;
        }
        trims[count++] = (EXP_TRIM){list, shadow->Ex, chain};
    }
    pthread_mutex_unlock(&ExpLookasideLock);
    /* Trimmed blocks are not frees by callers, so they are not counted as free misses. */
    for (ULONG i = 0; i < count; i++)
        ExpFreeChain(trims[i].List, trims[i].Ex, &trims[i].Chain);
    free(trims);
}

NTMEM_API NTSTATUS ntmem_query_lookaside_lists(PNTMEM_LOOKASIDE_INFO info, ULONG count, PULONG total)
{
    ULONG n = 0;
    pthread_mutex_lock(&ExpLookasideLock);
    for (ULONG slot = 0; slot < ExpLookasideSlotLimit; slot++) {
        EXP_LOOKASIDE_SHADOW *shadow = ExpLookasideSlots[slot];
        if (shadow == NULL)
            continue;
        ULONG64 held;
        ExpRefreshLookasideCounters(shadow, &held);
        if (n < count && info != NULL) {
            PGENERAL_LOOKASIDE_POOL list = shadow->List;
            NTMEM_LOOKASIDE_INFO *out = &info[n];
            out->List = list;
            out->Type = list->Type;
            out->Tag = list->Tag;
            out->Size = list->Size;
            out->Depth = list->Depth;
            out->MaximumDepth = list->MaximumDepth;
            out->Ex = shadow->Ex;
            out->AllocateMisses = __atomic_load_n(&shadow->AllocateMisses, __ATOMIC_RELAXED);
            out->FreeMisses = __atomic_load_n(&shadow->FreeMisses, __ATOMIC_RELAXED);
            out->HeldBlocks = held;
            /* The 64-bit totals, not the wrapped 32-bit fields. */
            ULONG64 allocates = shadow->RetiredAllocates, frees = shadow->RetiredFrees;
            for (EXP_LOOKASIDE_THREAD *t = ExpLookasideThreads; t != NULL; t = t->Next) {
                if (shadow->Slot < t->Capacity && t->Caches[shadow->Slot].List == list) {
                    allocates += __atomic_load_n(&t->Caches[shadow->Slot].Allocates, __ATOMIC_RELAXED);
                    frees += __atomic_load_n(&t->Caches[shadow->Slot].Frees, __ATOMIC_RELAXED);
                }
            }
            out->TotalAllocates = allocates;
            out->TotalFrees = frees;
        }
        n++;
    }
    pthread_mutex_unlock(&ExpLookasideLock);
    if (total != NULL)
        *total = n;
    return n > count ? STATUS_BUFFER_TOO_SMALL : STATUS_SUCCESS;
}

NTMEM_API VOID ntmem_set_lookaside_period(ULONG milliseconds)
{
    __atomic_store_n(&ExpBalancePeriodMs, milliseconds, __ATOMIC_RELAXED);
}

/* The balance set thread: wakes every period and adjusts every list. */
static void *ExpBalanceSetThread(void *arg)
{
    (void)arg;
    for (;;) {
        ULONG period = __atomic_load_n(&ExpBalancePeriodMs, __ATOMIC_RELAXED);
        struct timespec ts = {(period ? period : 100) / 1000, (long)((period ? period : 100) % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        if (__atomic_load_n(&ExpBalancePeriodMs, __ATOMIC_RELAXED) != 0)
            ntmem_adjust_lookaside_depths();
    }
    return NULL;
}

/* The environment is read at load, so that an ntmem_set_lookaside_period call always wins. */
__attribute__((constructor)) static void ExpReadBalancePeriod(void)
{
    uint64_t ms;
    const char *text = OsGetEnv("NTMEM_LOOKASIDE_PERIOD_MS");
    if (text != NULL && OsParseSize(text, &ms) == 0)
        ExpBalancePeriodMs = (ULONG)ms;
}

static void ExpStartBalanceSetOnce(void)
{
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&thread, &attr, ExpBalanceSetThread, NULL);
    pthread_attr_destroy(&attr);
}

void ExpStartBalanceSet(void)
{
    pthread_once(&ExpBalanceOnce, ExpStartBalanceSetOnce);
}
