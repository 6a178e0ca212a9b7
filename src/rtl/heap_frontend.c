/* heap_frontend.c - the heap's front end for small blocks: per-thread caches of freed blocks by size,
 * refilled and drained in batches under the heap lock, so the common path takes no lock at all. */
#include <string.h>

#include "rtl/heap_frontend.h"

__thread HP_THREAD_CACHES HpCaches __attribute__((tls_model("initial-exec")));
static pthread_key_t HpThreadKey;
static pthread_once_t HpThreadKeyOnce = PTHREAD_ONCE_INIT;

/* Returns every block of a slot to its heap (lock held, heap alive). */
static void HpDrainSlot(HP_CACHE *c)
{
    HP_HEAP *h = c->Heap;
    for (ULONG u = 2; u <= HP_FRONT_UNITS; u++) {
        while (c->Lists[u] != NULL) {
            PVOID p = c->Lists[u];
            c->Lists[u] = *(PVOID *)p;
            HP_BLOCK b;
            if (!HpDecode(h, HpEntryOf(p), &b))
                HpReportCorruption(h, p, "a cached block's header was overwritten (use after free?)");
            HpFreeBlock(h, p, &b);
        }
        c->Counts[u] = 0;
    }
}

/* Empties a slot, giving its blocks back if their heap still exists. */
static void HpReleaseSlot(HP_CACHE *c)
{
    if (c->Heap == NULL)
        return;
    HpRegistryLock();
    HP_HEAP *h = HpLookupById(c->Id);
    if (h == c->Heap) {
        HpLock(h);
        HpDrainSlot(c);
        HpUnlock(h);
    }
    HpRegistryUnlock();
    memset(c, 0, sizeof *c);
}

static void HpThreadExit(void *unused)
{
    (void)unused;
    for (ULONG i = 0; i < HP_CACHE_SLOTS; i++)
        HpReleaseSlot(&HpCaches.Slots[i]);
}

static void HpCreateThreadKey(void)
{
    pthread_key_create(&HpThreadKey, HpThreadExit);
}

HP_CACHE *HpCacheSlow(HP_HEAP *h)
{
    HP_THREAD_CACHES *t = &HpCaches;
    if (!t->Registered) {
        pthread_once(&HpThreadKeyOnce, HpCreateThreadKey);
        pthread_setspecific(HpThreadKey, t);
        t->Registered = TRUE;
    }
    HP_CACHE *c = NULL;
    for (ULONG i = 0; i < HP_CACHE_SLOTS && c == NULL; i++)
        if (t->Slots[i].Heap == NULL || (t->Slots[i].Heap == h && t->Slots[i].Id != h->Id))
            c = &t->Slots[i];
    if (c != NULL && c->Heap != NULL) {
        memset(c, 0, sizeof *c); /* a destroyed heap's address reused: its blocks are gone with it */
    } else if (c == NULL) {
        c = &t->Slots[t->Victim++ % HP_CACHE_SLOTS];
        HpReleaseSlot(c);
    }
    c->Heap = h;
    c->Id = h->Id;
    return c;
}

PVOID HpFrontRefill(HP_HEAP *h, HP_CACHE *c, ULONG units, SIZE_T requested)
{
    /* A batch from the back end, one for now and the rest cached. */
    PVOID batch[HP_REFILL];
    ULONG got = 0;
    HpLock(h);
    while (got < HP_REFILL) {
        PVOID q = HpAllocateBlock(h, units, (SIZE_T)units * HP_UNIT - HP_UNIT);
        if (q == NULL)
            break;
        batch[got++] = q;
    }
    HpUnlock(h);
    if (got == 0)
        return NULL;
    for (ULONG i = 1; i < got; i++) {
        HP_BLOCK b;
        if (!HpDecode(h, HpEntryOf(batch[i]), &b))
            HpReportCorruption(h, batch[i], "a new block's header is corrupt");
        HpMarkCached(h, batch[i], b.Size, b.Segment, b.Unused);
        *(PVOID *)batch[i] = c->Lists[units];
        c->Lists[units] = batch[i];
        c->Counts[units]++;
    }
    return HpHandOut(h, batch[0], requested);
}

void HpFrontDrainHalf(HP_HEAP *h, HP_CACHE *c, ULONG units)
{
    /* Full: half of this size goes back to the back end, where it can coalesce. */
    HpLock(h);
    for (ULONG k = 0; k < HP_CACHE_DEPTH / 2; k++) {
        PVOID q = c->Lists[units];
        c->Lists[units] = *(PVOID *)q;
        c->Counts[units]--;
        HP_BLOCK qb;
        if (!HpDecode(h, HpEntryOf(q), &qb))
            HpReportCorruption(h, q, "a cached block's header was overwritten (use after free?)");
        HpFreeBlock(h, q, &qb);
    }
    HpUnlock(h);
}

void HpFrontFlush(HP_HEAP *h)
{
    for (ULONG i = 0; i < HP_CACHE_SLOTS; i++) {
        HP_CACHE *c = &HpCaches.Slots[i];
        if (c->Heap == h && c->Id == h->Id) {
            HpLock(h);
            HpDrainSlot(c);
            HpUnlock(h);
        }
    }
}

void HpFrontForget(HP_HEAP *h)
{
    for (ULONG i = 0; i < HP_CACHE_SLOTS; i++)
        if (HpCaches.Slots[i].Heap == h)
            memset(&HpCaches.Slots[i], 0, sizeof HpCaches.Slots[i]);
}
