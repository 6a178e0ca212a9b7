/* pool_cache.c - per-thread caches of free small blocks (the per-processor lookasides of NT's pool). */
#include <stdio.h>
#include <stdlib.h>

#include "ex/pool.h"
#include "ex/track.h"

EXP_TAG_COUNTS ExpNoTag = {.Tag = EXP_NO_TAG};

static pthread_key_t ExpThreadKey;
static pthread_once_t ExpThreadKeyOnce = PTHREAD_ONCE_INIT;

/* How many blocks one trip to the shared descriptor moves: about 4 KB, between 16 and 128 blocks. */
static ULONG ExpBatchFor(ULONG units)
{
    ULONG n = 4096 / (units << EXP_BLOCK_SHIFT);
    return n < 16 ? 16 : n > 128 ? 128 : n;
}

void ExpSwitchBinTag(EXP_POOL_THREAD *t, ULONG units, ULONG pool, ULONG tag)
{
    EXP_CACHE_BIN *bin = &t->Bins[units][pool];
    ULONG old = bin->Tag;
    /* Readers skip a bin whose tag is EXP_NO_TAG, so they never count its numbers twice. */
    __atomic_store_n(&bin->Tag, EXP_NO_TAG, __ATOMIC_RELEASE);
    if (old != EXP_NO_TAG) {
        ULONG64 allocs = bin->Allocs, frees = bin->Frees, size = (ULONG64)units << EXP_BLOCK_SHIFT;
        if (allocs != 0)
            ExpCountAllocMany(t, old, pool, allocs, allocs * size);
        if (frees != 0)
            ExpCountFreeMany(t, old, pool, frees, frees * size);
    }
    __atomic_store_n(&bin->Allocs, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&bin->Frees, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&bin->Tag, tag, __ATOMIC_RELEASE);
}

static void ExpThreadExit(void *arg)
{
    EXP_POOL_THREAD *t = arg;
    for (ULONG p = 0; p < EXP_POOL_COUNT; p++) {
        for (ULONG u = EXP_MIN_UNITS; u <= EXP_CACHE_MAX_UNITS; u++) {
            ExpFlushBin(t, p, u, 0);
            ExpSwitchBinTag(t, u, p, EXP_NO_TAG);
        }
    }
    ExpRetireThreadTags(t);
    KiThread.Pool = NULL;
    KiThread.PoolFast = NULL;
    free(t);
}

static void ExpCreateThreadKey(void)
{
    if (pthread_key_create(&ExpThreadKey, ExpThreadExit) != 0) {
        fprintf(stderr, "ntmem: pthread_key_create failed\n");
        abort();
    }
}

EXP_POOL_THREAD *ExpCreatePoolThread(void)
{
    MiEnsureInitialized();
    KiPrepareThreadForExceptions(); /* a thread's first pool use readies it for fault dispatch */
    pthread_once(&ExpThreadKeyOnce, ExpCreateThreadKey);
    EXP_POOL_THREAD *t = calloc(1, sizeof *t);
    if (t == NULL) {
        fprintf(stderr, "ntmem: out of host memory for a thread's pool state\n");
        abort();
    }
    for (ULONG p = 0; p < EXP_POOL_COUNT; p++) {
        for (ULONG u = 0; u <= EXP_CACHE_MAX_UNITS; u++) {
            t->Bins[u][p].MaxDepth = 4 * ExpBatchFor(u ? u : 1);
            t->Bins[u][p].Room = (LONG)t->Bins[u][p].MaxDepth;
            t->Bins[u][p].Tag = EXP_NO_TAG;
        }
    }
    t->LastTag = &ExpNoTag;
    ExpRegisterThreadTags(t);
    KiThread.Pool = t;
    KiThread.PoolFast = ExpTrackingActive() ? NULL : t;
    pthread_setspecific(ExpThreadKey, t);
    return t;
}

PVOID ExpRefillBin(EXP_POOL_THREAD *t, ULONG pool, ULONG units, ULONG limit_percent)
{
    EXP_CACHE_BIN *bin = &t->Bins[units][pool];
    PVOID list;
    ULONG got = ExpTakeBlocks(&ExpPoolDescriptors[pool], units, ExpBatchFor(units), &list, limit_percent);
    if (got == 0)
        return NULL;
    /* Keep all but the first; the caller gets that one. */
    ExpTrackInternal(list, sizeof(PVOID));
    bin->Head = *(PVOID *)list;
    ExpTrackInternalDone(list, sizeof(PVOID));
    bin->Room = (LONG)bin->MaxDepth - (LONG)(got - 1);
    return list;
}

void ExpFlushBin(EXP_POOL_THREAD *t, ULONG pool, ULONG units, ULONG keep)
{
    EXP_CACHE_BIN *bin = &t->Bins[units][pool];
    ULONG depth = (ULONG)((LONG)bin->MaxDepth - bin->Room);
    if (depth <= keep)
        return;
    /* Detach depth - keep blocks from the head and hand them back in one locked trip. */
    PVOID first = bin->Head, last = first;
    for (ULONG i = 1; i < depth - keep; i++) {
        ExpTrackInternal(last, sizeof(PVOID));
        PVOID next = *(PVOID *)last;
        ExpTrackInternalDone(last, sizeof(PVOID));
        last = next;
    }
    ExpTrackInternal(last, sizeof(PVOID));
    bin->Head = *(PVOID *)last;
    *(PVOID *)last = NULL;
    ExpTrackInternalDone(last, sizeof(PVOID));
    bin->Room = (LONG)(bin->MaxDepth - keep);
    ExpReturnBlocks(&ExpPoolDescriptors[pool], first);
}

NTMEM_API VOID ntmem_flush_thread_pool_cache(VOID)
{
    EXP_POOL_THREAD *t = KiThread.Pool;
    if (t == NULL)
        return;
    for (ULONG p = 0; p < EXP_POOL_COUNT; p++)
        for (ULONG u = EXP_MIN_UNITS; u <= EXP_CACHE_MAX_UNITS; u++)
            ExpFlushBin(t, p, u, 0);
}
