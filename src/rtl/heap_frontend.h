/* heap_frontend.h - the heap front end's per-thread caches and its fast paths, inlined into
 * HeapAlloc and HeapFree (heap_frontend.c has the slow paths: refills, drains, slots, thread exit). */
#ifndef NTMEM_RTL_HEAP_FRONTEND_H
#define NTMEM_RTL_HEAP_FRONTEND_H

#include "rtl/heap.h"

#define HP_CACHE_SLOTS 4   /* heaps a thread caches for at once */
#define HP_CACHE_DEPTH 64  /* blocks per size before half go back */
#define HP_REFILL 16       /* blocks taken from the back end at once */

typedef struct _HP_CACHE {
    HP_HEAP *Heap;
    ULONG64 Id;            /* the heap's identity: a new heap at the same address is another heap */
    PVOID Lists[HP_FRONT_UNITS + 1];
    UCHAR Counts[HP_FRONT_UNITS + 1];
} HP_CACHE;

typedef struct _HP_THREAD_CACHES {
    HP_CACHE Slots[HP_CACHE_SLOTS];
    ULONG Victim;
    BOOLEAN Registered;
} HP_THREAD_CACHES;

extern NTMEM_HIDDEN __thread HP_THREAD_CACHES HpCaches __attribute__((tls_model("initial-exec")));

/* A slot for a heap this thread has no slot for (maybe evicting another heap's). */
NTMEM_HIDDEN HP_CACHE *HpCacheSlow(HP_HEAP *Heap);
NTMEM_HIDDEN PVOID HpFrontRefill(HP_HEAP *Heap, HP_CACHE *Cache, ULONG Units, SIZE_T Requested);
NTMEM_HIDDEN void HpFrontDrainHalf(HP_HEAP *Heap, HP_CACHE *Cache, ULONG Units);

static inline HP_CACHE *HpCacheFor(HP_HEAP *h)
{
    HP_THREAD_CACHES *t = &HpCaches;
    for (ULONG i = 0; i < HP_CACHE_SLOTS; i++)
        if (t->Slots[i].Heap == h && t->Slots[i].Id == h->Id)
            return &t->Slots[i];
    return HpCacheSlow(h);
}

/* A cached block handed out again: busy, its unused byte count set for this request. Its header was
 * checked when it was freed; its sizes do not change. */
static inline PVOID HpHandOut(HP_HEAP *h, PVOID p, SIZE_T requested)
{
    HP_ENTRY *e = HpEntryOf(p);
    HP_BLOCK b;
    /* Checked as it leaves the cache: an overrun of the block before it, or a write after free into
     * its header, shows here at the latest. */
    if (!HpDecode(h, e, &b) || (b.Flags & ~HP_CACHED) != HP_BUSY)
        HpReportCorruption(h, p, "a free block's header was overwritten (an overrun of the block before it?)");
    /* The block may be a unit larger than its class (the back end does not split off one unit). */
    HpSetFlags(h, e, b.Size, b.Segment, HP_BUSY, (UCHAR)((SIZE_T)b.Size * HP_UNIT - HP_UNIT - requested));
    return p;
}

/* Marks a block as sitting in a cache: a second free of it is then a double free, and walkers and
 * validators see it free, all from its header (never from the block's data, the program's own). */
static inline void HpMarkCached(HP_HEAP *h, PVOID p, ULONG size, USHORT segment, UCHAR unused)
{
    HpSetFlags(h, HpEntryOf(p), size, segment, HP_BUSY | HP_CACHED, unused);
}

static inline PVOID HpFrontAllocateInline(HP_HEAP *h, ULONG units, SIZE_T requested)
{
    HP_CACHE *c = HpCacheFor(h);
    PVOID p = c->Lists[units];
    if (p == NULL)
        return HpFrontRefill(h, c, units, requested);
    c->Lists[units] = *(PVOID *)p;
    c->Counts[units]--;
    return HpHandOut(h, p, requested);
}

static inline void HpFrontFreeInline(HP_HEAP *h, PVOID p, const HP_BLOCK *b)
{
    ULONG units = b->Size;
    HP_CACHE *c = HpCacheFor(h);
    if (c->Counts[units] >= HP_CACHE_DEPTH)
        HpFrontDrainHalf(h, c, units);
    HpMarkCached(h, p, b->Size, b->Segment, b->Unused);
    *(PVOID *)p = c->Lists[units];
    c->Lists[units] = p;
    c->Counts[units]++;
}

#endif /* NTMEM_RTL_HEAP_FRONTEND_H */
