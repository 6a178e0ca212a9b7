/* heap_backend.c - the heap's back end: segments reserved and committed through VirtualAlloc, blocks
 * with encoded headers, free lists by size with a bitmap, splitting and coalescing, big blocks. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "os/os.h"
#include "rtl/heap.h"

#define HP_GROW_STEP 0x10000     /* commit at least this much at a time */
#define HP_SEGMENT_MIN 0x100000  /* growable heaps reserve at least 1 MB per segment */

void HpLock(HP_HEAP *h)
{
    if (!(h->Flags & HEAP_NO_SERIALIZE))
        pthread_mutex_lock(&h->Lock);
}

void HpUnlock(HP_HEAP *h)
{
    if (!(h->Flags & HEAP_NO_SERIALIZE))
        pthread_mutex_unlock(&h->Lock);
}

void HpReportCorruption(const HP_HEAP *h, const void *address, PCSTR what)
{
    char text[256];
    int n = snprintf(text, sizeof text,
                     "*** ntmem: heap corruption (STATUS_HEAP_CORRUPTION 0xC0000374): %s: address %p in heap %p\n",
                     what, address, (const void *)h);
    OsWriteStderr(text, n > 0 && (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
    OsAbort();
}

/* ---- free lists ---------------------------------------------------------------------------------- */

static ULONG HpListIndex(ULONG units)
{
    if (units < 2 + HP_EXACT_LISTS)
        return units - 2;
    return HP_EXACT_LISTS + (ULONG)(63 - __builtin_clzll(units)) - 7;
}

static LIST_ENTRY *HpLinks(HP_ENTRY *e)
{
    return (LIST_ENTRY *)(e + 1);
}

static void HpInsertFree(HP_HEAP *h, HP_ENTRY *e, ULONG units)
{
    ULONG i = HpListIndex(units);
    LIST_ENTRY *head = &h->FreeLists[i], *links = HpLinks(e);
    ExpAsanUnpoison(links, sizeof *links); /* the links may land in freed, poisoned data */
    ExpVgAccess(links, sizeof *links);
    links->Flink = head->Flink;
    links->Blink = head;
    head->Flink->Blink = links;
    head->Flink = links;
    h->FreeBitmap[i / 64] |= 1ULL << (i % 64);
}

static void HpRemoveFree(HP_HEAP *h, HP_ENTRY *e, ULONG units)
{
    LIST_ENTRY *links = HpLinks(e);
    /* A free block's links are checked before use: a write after free shows here. */
    if (links->Flink->Blink != links || links->Blink->Flink != links)
        HpReportCorruption(h, e + 1, "a free block's list links were overwritten (use after free?)");
    links->Blink->Flink = links->Flink;
    links->Flink->Blink = links->Blink;
    ULONG i = HpListIndex(units);
    if (h->FreeLists[i].Flink == &h->FreeLists[i])
        h->FreeBitmap[i / 64] &= ~(1ULL << (i % 64));
}

static void HpDecodeOrDie(const HP_HEAP *h, const HP_ENTRY *e, HP_BLOCK *b, PCSTR what)
{
    if (!HpDecode(h, e, b))
        HpReportCorruption(h, e + 1, what);
}

/* Sets the PrevSize of the block after e (if any) to e's size. */
static void HpLinkNext(HP_HEAP *h, HP_SEGMENT *s, HP_ENTRY *e, ULONG units)
{
    HP_ENTRY *next = (HP_ENTRY *)((PUCHAR)e + (SIZE_T)units * HP_UNIT);
    if ((PUCHAR)next >= s->CommitEnd)
        return;
    HP_BLOCK nb;
    HpDecodeOrDie(h, next, &nb, "the header of the following block is corrupt (an overrun?)");
    HpSetPrevSize(h, next, units); /* the block may be in a thread's cache: only this field changes */
}

/* ---- segments ------------------------------------------------------------------------------------ */

int HpSegmentOf(const HP_HEAP *h, const void *address)
{
    for (ULONG i = 0; i < h->SegmentCount; i++) {
        const HP_SEGMENT *s = &h->Segments[i];
        if ((const UCHAR *)address >= s->FirstBlock && (const UCHAR *)address < s->CommitEnd)
            return (int)i;
    }
    return -1;
}

/* Keeps the segment's record of its last block: called for every block whose size was just set. */
static void HpNoteLast(HP_SEGMENT *s, HP_ENTRY *e, ULONG units)
{
    if ((PUCHAR)e + (SIZE_T)units * HP_UNIT == s->CommitEnd)
        s->Last = e;
}

/* Commits Bytes more at the end of segment Index and makes them a free block (merged with a free
 * last block). FALSE when the reservation or the commit limit says no. */
static BOOLEAN HpExtendSegment(HP_HEAP *h, ULONG index, SIZE_T bytes)
{
    HP_SEGMENT *s = &h->Segments[index];
    if (s->CommitEnd + bytes > s->Base + s->Reserved)
        return FALSE;
    if (VirtualAlloc(s->CommitEnd, bytes, MEM_COMMIT, h->Protect) == NULL)
        return FALSE;
    HP_ENTRY *last = s->Last;
    HP_ENTRY *e = (HP_ENTRY *)s->CommitEnd;
    HP_BLOCK b = {(ULONG)(bytes / HP_UNIT), 0, 0, 0, (USHORT)index};
    __atomic_store_n(&s->CommitEnd, s->CommitEnd + bytes, __ATOMIC_RELAXED); /* read by HeapFree unlocked */
    if (last != NULL) {
        HP_BLOCK lb;
        HpDecodeOrDie(h, last, &lb, "the last block's header is corrupt");
        if (!(lb.Flags & HP_BUSY)) {
            HpRemoveFree(h, last, lb.Size);
            lb.Size += b.Size;
            HpEncode(h, last, &lb);
            HpInsertFree(h, last, lb.Size);
            if (h->Debug & (NTMEM_HEAP_DEBUG_FILL | NTMEM_HEAP_DEBUG_FREE))
                HpDebugFillFree(h, last, lb.Size);
            return TRUE; /* still the last block */
        }
        b.PrevSize = lb.Size;
    }
    HpEncode(h, e, &b);
    HpInsertFree(h, e, b.Size);
    s->Last = e;
    if (h->Debug & (NTMEM_HEAP_DEBUG_FILL | NTMEM_HEAP_DEBUG_FREE))
        HpDebugFillFree(h, e, b.Size);
    return TRUE;
}

static BOOLEAN HpAddSegment(HP_HEAP *h, SIZE_T need)
{
    if (h->Fixed || h->SegmentCount == HP_MAX_SEGMENTS)
        return FALSE;
    SIZE_T reserve = h->Segments[h->SegmentCount - 1].Reserved * 2;
    if (reserve < need + HP_GROW_STEP)
        reserve = need + HP_GROW_STEP;
    if (reserve > ((SIZE_T)1 << 30) && need + HP_GROW_STEP <= ((SIZE_T)1 << 30))
        reserve = (SIZE_T)1 << 30;
    reserve = ALIGN_UP_BY(reserve, 0x10000);
    PUCHAR base = VirtualAlloc(NULL, reserve, MEM_RESERVE, h->Protect);
    if (base == NULL)
        return FALSE;
    HP_SEGMENT *s = &h->Segments[h->SegmentCount];
    *s = (HP_SEGMENT){base, reserve, base, base, NULL};
    h->SegmentCount++;
    if (!HpExtendSegment(h, h->SegmentCount - 1, ALIGN_UP_BY(need > HP_GROW_STEP ? need : HP_GROW_STEP, PAGE_SIZE))) {
        h->SegmentCount--;
        VirtualFree(base, 0, MEM_RELEASE);
        return FALSE;
    }
    return TRUE;
}

/* Finds room for Units more: commits in the last segment, or adds one. */
static BOOLEAN HpGrow(HP_HEAP *h, ULONG units)
{
    SIZE_T need = (SIZE_T)units * HP_UNIT;
    ULONG last = h->SegmentCount - 1;
    HP_SEGMENT *s = &h->Segments[last];
    SIZE_T room = (SIZE_T)(s->Base + s->Reserved - s->CommitEnd);
    SIZE_T want = ALIGN_UP_BY(need > HP_GROW_STEP ? need : HP_GROW_STEP, PAGE_SIZE);
    if (want > room)
        want = ALIGN_UP_BY(need, PAGE_SIZE);
    if (want <= room && HpExtendSegment(h, last, want))
        return TRUE;
    return HpAddSegment(h, need);
}

/* ---- allocation ---------------------------------------------------------------------------------- */

static ULONG HpNextList(const HP_HEAP *h, ULONG from)
{
    for (ULONG w = from / 64; w < (HP_LISTS + 63) / 64; w++) {
        ULONG64 bits = h->FreeBitmap[w];
        if (w == from / 64)
            bits &= ~0ULL << (from % 64);
        if (bits != 0)
            return w * 64 + (ULONG)__builtin_ctzll(bits);
    }
    return HP_LISTS;
}

static HP_ENTRY *HpFindFree(HP_HEAP *h, ULONG units, HP_BLOCK *found)
{
    for (ULONG i = HpNextList(h, HpListIndex(units)); i < HP_LISTS; i = HpNextList(h, i + 1)) {
        for (LIST_ENTRY *l = h->FreeLists[i].Flink; l != &h->FreeLists[i]; l = l->Flink) {
            HP_ENTRY *e = (HP_ENTRY *)l - 1;
            HpDecodeOrDie(h, e, found, "a free block's header is corrupt (use after free?)");
            if (found->Flags & HP_BUSY)
                HpReportCorruption(h, e + 1, "a busy block is on a free list");
            if (found->Size >= units)
                return e;
            if (i < HP_EXACT_LISTS)
                break;
        }
    }
    return NULL;
}

/* A free block HeapCompact thinned out gets its pages back before any of it is used (only the pages
 * that were given back are charged again). FALSE when the commit limit says no. */
static BOOLEAN HpRecommit(HP_HEAP *h, HP_ENTRY *e, HP_BLOCK *b)
{
    if (!(b->Flags & HP_DECOMMITTED))
        return TRUE;
    if (VirtualAlloc(e, (SIZE_T)b->Size * HP_UNIT, MEM_COMMIT, h->Protect) == NULL)
        return FALSE;
    b->Flags &= (UCHAR)~HP_DECOMMITTED;
    HpEncode(h, e, b);
    return TRUE;
}

/* Makes free block e (already off its list) busy with Units units, returning the rest to a list. */
static void HpCarve(HP_HEAP *h, HP_ENTRY *e, HP_BLOCK *b, ULONG units, SIZE_T requested)
{
    HP_SEGMENT *s = &h->Segments[b->Segment];
    if (b->Size - units >= 2) {
        HP_ENTRY *rest = (HP_ENTRY *)((PUCHAR)e + (SIZE_T)units * HP_UNIT);
        HP_BLOCK rb = {b->Size - units, units, 0, 0, b->Segment};
        HpEncode(h, rest, &rb);
        HpInsertFree(h, rest, rb.Size);
        HpLinkNext(h, s, rest, rb.Size);
        HpNoteLast(s, rest, rb.Size);
        b->Size = units;
    }
    b->Flags = HP_BUSY;
    b->Unused = (UCHAR)((SIZE_T)b->Size * HP_UNIT - HP_UNIT - requested);
    HpEncode(h, e, b);
}

PVOID HpAllocateBlock(HP_HEAP *h, ULONG units, SIZE_T requested)
{
    HP_BLOCK b;
    HP_ENTRY *e = HpFindFree(h, units, &b);
    if (e == NULL) {
        if (!HpGrow(h, units))
            return NULL;
        e = HpFindFree(h, units, &b);
        if (e == NULL)
            return NULL;
    }
    if (!HpRecommit(h, e, &b))
        return NULL;
    HpRemoveFree(h, e, b.Size);
    HpCarve(h, e, &b, units, requested);
    return e + 1;
}

PVOID HpAllocateBig(HP_HEAP *h, SIZE_T requested)
{
    SIZE_T region = ALIGN_UP_BY(sizeof(HP_BIG_BLOCK) + requested, PAGE_SIZE);
    if (region < requested)
        return NULL;
    HP_BIG_BLOCK *big = VirtualAlloc(NULL, region, MEM_RESERVE | MEM_COMMIT, h->Protect);
    if (big == NULL)
        return NULL;
    big->RegionBase = (PUCHAR)big;
    big->Requested = requested;
    big->RegionSize = region;
    HP_BLOCK b = {0, 0, HP_BUSY | HP_BIG, 0, 0};
    HpEncode(h, &big->Entry, &b);
    InsertTailList(&h->BigBlocks, &big->Links);
    return &big->Entry + 1;
}

HP_BIG_BLOCK *HpBigOf(HP_HEAP *h, const void *data)
{
    for (LIST_ENTRY *l = h->BigBlocks.Flink; l != &h->BigBlocks; l = l->Flink) {
        HP_BIG_BLOCK *big = CONTAINING_RECORD(l, HP_BIG_BLOCK, Links);
        if ((const void *)(&big->Entry + 1) == data)
            return big;
    }
    return NULL;
}

void HpFreeBig(HP_HEAP *h, PVOID data)
{
    HP_BIG_BLOCK *big = HpBigOf(h, data);
    if (big == NULL)
        HpReportCorruption(h, data, "a big block this heap does not have (freed twice?)");
    RemoveEntryList(&big->Links);
    ExpAsanUnpoison(big->RegionBase, big->RegionSize); /* the addresses will be someone else's */
    VirtualFree(big->RegionBase, 0, MEM_RELEASE);
}

/* ---- freeing ------------------------------------------------------------------------------------------ */

void HpFreeBlock(HP_HEAP *h, PVOID data, const HP_BLOCK *block)
{
    HP_ENTRY *e = HpEntryOf(data);
    if (block->Segment >= h->SegmentCount || HpSegmentOf(h, e) != block->Segment)
        HpReportCorruption(h, data, "the pointer is not a block of this heap");
    HP_SEGMENT *s = &h->Segments[block->Segment];
    HP_BLOCK b = *block;
    /* The previous block may have changed size since the caller decoded this header without the
     * lock (a neighbour freed and merged): its record here is current now. */
    HP_BLOCK now;
    HpDecodeOrDie(h, e, &now, "the block's header was overwritten");
    b.PrevSize = now.PrevSize;
    HP_ENTRY *start = e;
    UCHAR thinned = 0;
    HP_ENTRY *next = (HP_ENTRY *)((PUCHAR)e + (SIZE_T)b.Size * HP_UNIT);
    if ((PUCHAR)next < s->CommitEnd) {
        HP_BLOCK nb;
        HpDecodeOrDie(h, next, &nb, "the header of the following block is corrupt (an overrun of this block?)");
        if (nb.PrevSize != b.Size)
            HpReportCorruption(h, data, "the following block does not point back at this one");
        if (!(nb.Flags & HP_BUSY)) {
            HpRemoveFree(h, next, nb.Size);
            b.Size += nb.Size;
            thinned |= nb.Flags & HP_DECOMMITTED;
        }
    }
    if (b.PrevSize != 0) {
        HP_ENTRY *prev = (HP_ENTRY *)((PUCHAR)e - (SIZE_T)b.PrevSize * HP_UNIT);
        HP_BLOCK pb;
        HpDecodeOrDie(h, prev, &pb, "the header of the preceding block is corrupt");
        if (pb.Size != b.PrevSize)
            HpReportCorruption(h, data, "the preceding block's size does not match this block's record of it");
        if (!(pb.Flags & HP_BUSY)) {
            HpRemoveFree(h, prev, pb.Size);
            start = prev;
            b.Size += pb.Size;
            b.PrevSize = pb.PrevSize;
            thinned |= pb.Flags & HP_DECOMMITTED;
        }
    }
    b.Flags = thinned; /* a merged block with given-back pages is recommitted before use */
    b.Unused = 0;
    HpEncode(h, start, &b);
    HpInsertFree(h, start, b.Size);
    HpLinkNext(h, s, start, b.Size);
    HpNoteLast(s, start, b.Size);
    if (h->Debug & (NTMEM_HEAP_DEBUG_FILL | NTMEM_HEAP_DEBUG_FREE))
        HpDebugFillFree(h, start, b.Size);
}

BOOLEAN HpResizeInPlace(HP_HEAP *h, PVOID data, const HP_BLOCK *block, SIZE_T requested)
{
    HP_ENTRY *e = HpEntryOf(data);
    HP_SEGMENT *s = &h->Segments[block->Segment];
    HP_BLOCK b;
    HpDecodeOrDie(h, e, &b, "the block's header was overwritten"); /* current under the lock */
    ULONG units = (ULONG)((requested + HP_UNIT + HP_UNIT - 1) / HP_UNIT);
    if (units < 2)
        units = 2;
    if (units > b.Size) {
        HP_ENTRY *next = (HP_ENTRY *)((PUCHAR)e + (SIZE_T)b.Size * HP_UNIT);
        HP_BLOCK nb;
        if ((PUCHAR)next >= s->CommitEnd)
            return FALSE;
        HpDecodeOrDie(h, next, &nb, "the header of the following block is corrupt (an overrun of this block?)");
        if ((nb.Flags & HP_BUSY) || b.Size + nb.Size < units || !HpRecommit(h, next, &nb))
            return FALSE;
        HpRemoveFree(h, next, nb.Size);
        b.Size += nb.Size;
        HpLinkNext(h, s, e, b.Size); /* the block after the absorbed one now follows this one */
        HpNoteLast(s, e, b.Size);
    } else if (b.Size - units >= 2) {
        /* Shrinking: the tail becomes a free block, merged with a free successor. */
        HP_ENTRY *rest = (HP_ENTRY *)((PUCHAR)e + (SIZE_T)units * HP_UNIT);
        HP_BLOCK rb = {b.Size - units, units, HP_BUSY, 0, b.Segment};
        HpEncode(h, rest, &rb);
        b.Size = units;
        b.Unused = (UCHAR)((SIZE_T)b.Size * HP_UNIT - HP_UNIT - requested);
        HpEncode(h, e, &b);
        HpLinkNext(h, s, rest, rb.Size);
        HpNoteLast(s, rest, rb.Size);
        HpFreeBlock(h, rest + 1, &rb);
        return TRUE;
    }
    HpCarve(h, e, &b, units, requested);
    return TRUE;
}

/* ---- compaction ------------------------------------------------------------------------------------ */

SIZE_T HpCompact(HP_HEAP *h)
{
    for (ULONG i = 0; i < h->SegmentCount; i++) {
        HP_SEGMENT *s = &h->Segments[i];
        HP_ENTRY *last = s->Last;
        HP_BLOCK lb;
        if (last == NULL || !HpDecode(h, last, &lb) || (lb.Flags & HP_BUSY))
            continue;
        /* Keep the free block's header and links committed; give back the whole pages after. */
        PUCHAR keep = (PUCHAR)ALIGN_UP_BY((PUCHAR)last + 2 * HP_UNIT, PAGE_SIZE);
        if (keep >= s->CommitEnd)
            continue;
        if (!VirtualFree(keep, (SIZE_T)(s->CommitEnd - keep), MEM_DECOMMIT))
            continue;
        HpRemoveFree(h, last, lb.Size);
        lb.Size = (ULONG)((SIZE_T)(keep - (PUCHAR)last) / HP_UNIT);
        __atomic_store_n(&s->CommitEnd, keep, __ATOMIC_RELAXED);
        HpEncode(h, last, &lb);
        HpInsertFree(h, last, lb.Size);
    }
    /* Free blocks elsewhere keep their header and links; the whole pages after them go back. Debug
     * heaps keep everything (their free blocks hold a fill that is checked). */
    for (ULONG i = 0; i < HP_LISTS && h->Debug == 0; i++)
        for (LIST_ENTRY *l = h->FreeLists[i].Flink; l != &h->FreeLists[i]; l = l->Flink) {
            HP_ENTRY *e = (HP_ENTRY *)l - 1;
            HP_BLOCK b;
            HpDecodeOrDie(h, e, &b, "a free block's header is corrupt (use after free?)");
            PUCHAR from = (PUCHAR)ALIGN_UP_BY((PUCHAR)e + 2 * HP_UNIT, PAGE_SIZE);
            PUCHAR to = (PUCHAR)ALIGN_DOWN_BY((PUCHAR)e + (SIZE_T)b.Size * HP_UNIT, PAGE_SIZE);
            if ((b.Flags & HP_DECOMMITTED) || to <= from || !VirtualFree(from, (SIZE_T)(to - from), MEM_DECOMMIT))
                continue;
            b.Flags |= HP_DECOMMITTED;
            HpEncode(h, e, &b);
        }
    SIZE_T largest = 0;
    for (ULONG i = 0; i < HP_LISTS; i++)
        for (LIST_ENTRY *l = h->FreeLists[i].Flink; l != &h->FreeLists[i]; l = l->Flink) {
            HP_BLOCK b;
            HpDecodeOrDie(h, (HP_ENTRY *)l - 1, &b, "a free block's header is corrupt (use after free?)");
            if ((SIZE_T)b.Size * HP_UNIT - HP_UNIT > largest)
                largest = (SIZE_T)b.Size * HP_UNIT - HP_UNIT;
        }
    return largest;
}

/* ---- creating and destroying ---------------------------------------------------------------------------- */

static ULONG64 HpRandom(void)
{
    static volatile ULONG64 state;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ULONG64 z = __atomic_add_fetch(&state, 0x9E3779B97F4A7C15ULL, __ATOMIC_RELAXED) ^ (ULONG64)ts.tv_nsec ^
                ((ULONG64)getpid() << 32);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

HP_HEAP *HpCreate(ULONG flags, SIZE_T initial, SIZE_T maximum)
{
    static volatile ULONG64 next_id;
    SIZE_T header = ALIGN_UP_BY(sizeof(HP_HEAP), HP_UNIT);
    SIZE_T reserve = maximum != 0 ? maximum : (initial > HP_SEGMENT_MIN ? initial : HP_SEGMENT_MIN);
    reserve = ALIGN_UP_BY(reserve + (maximum != 0 ? 0 : header), 0x10000);
    if (reserve < ALIGN_UP_BY(header + PAGE_SIZE, 0x10000))
        reserve = ALIGN_UP_BY(header + PAGE_SIZE, 0x10000);
    SIZE_T commit = ALIGN_UP_BY(initial > header + PAGE_SIZE ? initial : header + PAGE_SIZE, PAGE_SIZE);
    if (commit > reserve)
        commit = reserve;
    ULONG protect = (flags & HEAP_CREATE_ENABLE_EXECUTE) ? PAGE_EXECUTE_READWRITE : PAGE_READWRITE;
    PUCHAR base = VirtualAlloc(NULL, reserve, MEM_RESERVE, protect);
    if (base == NULL)
        return NULL;
    if (VirtualAlloc(base, commit, MEM_COMMIT, protect) == NULL) {
        VirtualFree(base, 0, MEM_RELEASE);
        return NULL;
    }
    HP_HEAP *h = (HP_HEAP *)base;
    h->Signature = HP_SIGNATURE;
    h->Flags = flags;
    h->Key0 = HpRandom();
    h->Key1 = HpRandom();
    h->CheckKey = HpRandom();
    h->Id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&h->Lock, &attr);
    pthread_mutexattr_destroy(&attr);
    h->Fixed = maximum != 0;
    h->Debug = HpDebugFlags();
    h->FrontEnd = !(flags & HEAP_NO_SERIALIZE) && h->Debug == 0; /* debug heaps check every block */
    h->Protect = protect;
    h->MaximumSize = maximum;
    for (ULONG i = 0; i < HP_LISTS; i++)
        InitializeListHead(&h->FreeLists[i]);
    InitializeListHead(&h->BigBlocks);
    h->SegmentCount = 1;
    h->Segments[0] = (HP_SEGMENT){base, reserve, base + header, base + header, NULL};
    /* The committed space after the heap itself is the first free block. */
    SIZE_T rest = commit - header;
    h->Segments[0].CommitEnd = base + commit;
    if (rest >= 2 * HP_UNIT) {
        HP_BLOCK b = {(ULONG)(rest / HP_UNIT), 0, 0, 0, 0};
        HpEncode(h, (HP_ENTRY *)(base + header), &b);
        HpInsertFree(h, (HP_ENTRY *)(base + header), b.Size);
        h->Segments[0].Last = (HP_ENTRY *)(base + header);
        if (h->Debug & (NTMEM_HEAP_DEBUG_FILL | NTMEM_HEAP_DEBUG_FREE))
            HpDebugFillFree(h, (HP_ENTRY *)(base + header), b.Size);
    } else {
        h->Segments[0].CommitEnd = base + header;
    }
    return h;
}

void HpReleaseAll(HP_HEAP *h)
{
    while (!IsListEmpty(&h->BigBlocks)) {
        HP_BIG_BLOCK *big = CONTAINING_RECORD(RemoveHeadList(&h->BigBlocks), HP_BIG_BLOCK, Links);
        ExpAsanUnpoison(big->RegionBase, big->RegionSize);
        VirtualFree(big->RegionBase, 0, MEM_RELEASE);
    }
    HpDebugReleaseQuarantine(h);
    for (ULONG i = h->SegmentCount; i-- > 0;)
        ExpAsanUnpoison(h->Segments[i].Base, (SIZE_T)(h->Segments[i].CommitEnd - h->Segments[i].Base));
    for (ULONG i = h->SegmentCount; i-- > 1;)
        VirtualFree(h->Segments[i].Base, 0, MEM_RELEASE);
    h->Signature = 0;
    pthread_mutex_destroy(&h->Lock);
    VirtualFree(h, 0, MEM_RELEASE); /* segment 0 holds the heap itself */
}
