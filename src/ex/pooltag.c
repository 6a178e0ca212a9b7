/* pooltag.c - per-tag pool counters: per-thread tables written without locks, summed on query. */
#include <stdlib.h>

#include "ex/pool.h"

static pthread_mutex_t ExpThreadListLock = PTHREAD_MUTEX_INITIALIZER;
static EXP_POOL_THREAD *ExpThreadList;     /* live threads with pool state */
static EXP_TAG_COUNTS *ExpRetired;         /* exited threads' totals, and overflow tags */
static ULONG ExpRetiredCount, ExpRetiredCapacity;

static ULONG ExpTagHash(ULONG tag)
{
    return (tag * 0x9E3779B1u) >> 24; /* EXP_THREAD_TAGS == 256 */
}

EXP_TAG_COUNTS *ExpFindTagSlow(EXP_POOL_THREAD *t, ULONG tag)
{
    if (tag == 0)
        return NULL; /* 0 marks empty slots; the shared table keeps such counts */
    for (ULONG i = 0, slot = ExpTagHash(tag); i < EXP_THREAD_TAGS; i++, slot = (slot + 1) & (EXP_THREAD_TAGS - 1)) {
        EXP_TAG_COUNTS *c = &t->Tags[slot];
        ULONG have = c->Tag; /* only this thread writes Tag */
        if (have == tag) {
            t->LastTag = c;
            return c;
        }
        if (have == 0) {
            /* Counters are zero already; publishing the tag last lets readers see a whole entry. */
            __atomic_store_n(&c->Tag, tag, __ATOMIC_RELEASE);
            t->LastTag = c;
            return c;
        }
    }
    return NULL; /* table full: the caller counts in the shared table */
}

/* Finds or appends Tag in the retired table; ExpThreadListLock held. */
static EXP_TAG_COUNTS *ExpRetiredSlot(ULONG tag)
{
    for (ULONG i = 0; i < ExpRetiredCount; i++)
        if (ExpRetired[i].Tag == tag)
            return &ExpRetired[i];
    if (ExpRetiredCount == ExpRetiredCapacity) {
        ULONG cap = ExpRetiredCapacity ? ExpRetiredCapacity * 2 : 64;
        EXP_TAG_COUNTS *grown = realloc(ExpRetired, cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        ExpRetired = grown;
        ExpRetiredCapacity = cap;
    }
    EXP_TAG_COUNTS *c = &ExpRetired[ExpRetiredCount++];
    memset(c, 0, sizeof *c);
    c->Tag = tag;
    return c;
}

void ExpCountShared(ULONG tag, ULONG pool, BOOLEAN alloc, ULONG64 count, ULONG64 bytes)
{
    pthread_mutex_lock(&ExpThreadListLock);
    EXP_TAG_COUNTS *c = ExpRetiredSlot(tag & ~PROTECTED_POOL);
    if (c != NULL) {
        if (alloc) {
            c->Allocs[pool] += count;
            c->BytesAllocated[pool] += bytes;
        } else {
            c->Frees[pool] += count;
            c->BytesFreed[pool] += bytes;
        }
    }
    pthread_mutex_unlock(&ExpThreadListLock);
}

void ExpRegisterThreadTags(EXP_POOL_THREAD *t)
{
    pthread_mutex_lock(&ExpThreadListLock);
    t->Prev = NULL;
    t->Next = ExpThreadList;
    if (ExpThreadList != NULL)
        ExpThreadList->Prev = t;
    ExpThreadList = t;
    pthread_mutex_unlock(&ExpThreadListLock);
}

static void ExpAddCounts(EXP_TAG_COUNTS *to, const EXP_TAG_COUNTS *from)
{
    for (ULONG p = 0; p < EXP_POOL_COUNT; p++) {
        to->Allocs[p] += __atomic_load_n(&from->Allocs[p], __ATOMIC_RELAXED);
        to->Frees[p] += __atomic_load_n(&from->Frees[p], __ATOMIC_RELAXED);
        to->BytesAllocated[p] += __atomic_load_n(&from->BytesAllocated[p], __ATOMIC_RELAXED);
        to->BytesFreed[p] += __atomic_load_n(&from->BytesFreed[p], __ATOMIC_RELAXED);
    }
}

void ExpRetireThreadTags(EXP_POOL_THREAD *t)
{
    pthread_mutex_lock(&ExpThreadListLock);
    for (ULONG i = 0; i < EXP_THREAD_TAGS; i++) {
        if (t->Tags[i].Tag == 0)
            continue;
        EXP_TAG_COUNTS *c = ExpRetiredSlot(t->Tags[i].Tag);
        if (c != NULL)
            ExpAddCounts(c, &t->Tags[i]);
    }
    if (t->Prev != NULL)
        t->Prev->Next = t->Next;
    else
        ExpThreadList = t->Next;
    if (t->Next != NULL)
        t->Next->Prev = t->Prev;
    pthread_mutex_unlock(&ExpThreadListLock);
}

/* The counts cache bins hold for their current tag (bytes follow from each bin's block size). */
static void ExpAddBinCounts(EXP_POOL_THREAD *t, EXP_TAG_COUNTS *all, ULONG *n)
{
    for (ULONG u = EXP_MIN_UNITS; u <= EXP_CACHE_MAX_UNITS; u++) {
        for (ULONG p = 0; p < EXP_POOL_COUNT; p++) {
            EXP_CACHE_BIN *bin = &t->Bins[u][p];
            ULONG tag = __atomic_load_n(&bin->Tag, __ATOMIC_ACQUIRE);
            if (tag == EXP_NO_TAG)
                continue;
            ULONG64 allocs = __atomic_load_n(&bin->Allocs, __ATOMIC_RELAXED);
            ULONG64 frees = __atomic_load_n(&bin->Frees, __ATOMIC_RELAXED);
            EXP_TAG_COUNTS *c = &all[(*n)++];
            c->Tag = tag & ~PROTECTED_POOL;
            c->Allocs[p] = allocs;
            c->Frees[p] = frees;
            c->BytesAllocated[p] = allocs * ((ULONG64)u << EXP_BLOCK_SHIFT);
            c->BytesFreed[p] = frees * ((ULONG64)u << EXP_BLOCK_SHIFT);
        }
    }
}

static int ExpCompareTags(const void *a, const void *b)
{
    ULONG x = ((const EXP_TAG_COUNTS *)a)->Tag, y = ((const EXP_TAG_COUNTS *)b)->Tag;
    return x < y ? -1 : x > y;
}

ULONG ExpSnapshotTags(EXP_TAG_COUNTS **out)
{
    pthread_mutex_lock(&ExpThreadListLock);
    ULONG capacity = ExpRetiredCount;
    for (EXP_POOL_THREAD *t = ExpThreadList; t != NULL; t = t->Next)
        capacity += EXP_THREAD_TAGS + (EXP_CACHE_MAX_UNITS + 1) * EXP_POOL_COUNT;
    EXP_TAG_COUNTS *all = calloc(capacity ? capacity : 1, sizeof *all);
    ULONG n = 0;
    if (all != NULL) {
        for (ULONG i = 0; i < ExpRetiredCount; i++)
            all[n++] = ExpRetired[i];
        for (EXP_POOL_THREAD *t = ExpThreadList; t != NULL; t = t->Next) {
            for (ULONG i = 0; i < EXP_THREAD_TAGS; i++) {
                ULONG tag = __atomic_load_n(&t->Tags[i].Tag, __ATOMIC_ACQUIRE);
                if (tag == 0)
                    continue;
                all[n].Tag = tag;
                ExpAddCounts(&all[n++], &t->Tags[i]);
            }
            ExpAddBinCounts(t, all, &n);
        }
    }
    pthread_mutex_unlock(&ExpThreadListLock);
    if (all == NULL) {
        *out = NULL;
        return 0;
    }
    /* Merge the same tag from different sources. */
    qsort(all, n, sizeof *all, ExpCompareTags);
    ULONG merged = 0;
    for (ULONG i = 0; i < n; i++) {
        if (merged > 0 && all[merged - 1].Tag == all[i].Tag)
            ExpAddCounts(&all[merged - 1], &all[i]);
        else
            all[merged++] = all[i];
    }
    *out = all;
    return merged;
}
