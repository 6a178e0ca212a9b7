/* heap_inspect.c - looking into a heap: HeapValidate, HeapWalk, HeapSummary, HeapCompact, HeapLock. */
#include <string.h>

#include "rtl/heap.h"

/* Whether one block is a busy block of the heap (lock held); nothing is reported. */
static BOOL HpValidBlock(HP_HEAP *h, const void *p)
{
    if ((h->Debug & NTMEM_HEAP_DEBUG_FULLPAGE) && HpDebugInQuarantine(h, p))
        return FALSE;
    HP_BIG_BLOCK *big = HpBigOf(h, p);
    if (big != NULL)
        return h->Debug == 0 || HpDebugBlockIntact(h, (PUCHAR)p, &(HP_BLOCK){0, 0, HP_BUSY | HP_BIG, 0, 0}, TRUE);
    HP_ENTRY *e = HpEntryOf(p);
    int segment = HpSegmentOf(h, e);
    HP_BLOCK b;
    if (segment < 0 || ((ULONG_PTR)p & (HP_UNIT - 1)) != 0 || !HpDecode(h, e, &b))
        return FALSE;
    return (b.Flags & HP_BUSY) && !(b.Flags & HP_BIG) && b.Segment == segment && !(b.Flags & HP_CACHED) &&
           (h->Debug == 0 || HpDebugBlockIntact(h, (PUCHAR)p, &b, TRUE));
}

/* Every block of every segment decodes, sizes chain, free blocks are linked (lock held). */
static BOOL HpValidHeap(HP_HEAP *h)
{
    for (ULONG i = 0; i < h->SegmentCount; i++) {
        const HP_SEGMENT *s = &h->Segments[i];
        PUCHAR at = s->FirstBlock;
        ULONG prev = 0;
        while (at < s->CommitEnd) {
            HP_BLOCK b;
            if (!HpDecode(h, (HP_ENTRY *)at, &b) || b.Size < 2 || b.PrevSize != prev || b.Segment != i ||
                at + (SIZE_T)b.Size * HP_UNIT > s->CommitEnd)
                return FALSE;
            if (!(b.Flags & HP_BUSY)) {
                const LIST_ENTRY *links = (const LIST_ENTRY *)(at + HP_UNIT);
                if (links->Flink->Blink != links || links->Blink->Flink != links)
                    return FALSE;
            }
            if (h->Debug != 0 && !HpDebugBlockIntact(h, at + HP_UNIT, &b, (b.Flags & HP_BUSY) != 0))
                return FALSE;
            prev = b.Size;
            at += (SIZE_T)b.Size * HP_UNIT;
        }
    }
    for (LIST_ENTRY *l = h->BigBlocks.Flink; l != &h->BigBlocks; l = l->Flink) {
        HP_BIG_BLOCK *big = CONTAINING_RECORD(l, HP_BIG_BLOCK, Links);
        HP_BLOCK b;
        if (!HpDecode(h, &big->Entry, &b) || b.Flags != (HP_BUSY | HP_BIG) ||
            (h->Debug != 0 && !HpDebugBlockIntact(h, (PUCHAR)(&big->Entry + 1), &b, TRUE)))
            return FALSE;
    }
    return TRUE;
}

WINBASEAPI BOOL WINAPI HeapValidate(HANDLE handle, DWORD flags, LPCVOID p)
{
    (void)flags;
    HP_HEAP *h = HpFromHandle(handle);
    if (h == NULL)
        return FALSE;
    pthread_mutex_lock(&h->Lock);
    BOOL valid = p != NULL ? HpValidBlock(h, p) : HpValidHeap(h);
    pthread_mutex_unlock(&h->Lock);
    return valid;
}

WINBASEAPI SIZE_T WINAPI HeapCompact(HANDLE handle, DWORD flags)
{
    (void)flags;
    HP_HEAP *h = HpFromHandle(handle);
    if (h == NULL)
        return 0;
    HpFrontFlush(h); /* this thread's cached blocks can coalesce too */
    pthread_mutex_lock(&h->Lock);
    SIZE_T largest = HpCompact(h);
    pthread_mutex_unlock(&h->Lock);
    return largest;
}

WINBASEAPI BOOL WINAPI HeapLock(HANDLE handle)
{
    HP_HEAP *h = HpFromHandle(handle);
    if (h == NULL)
        return FALSE;
    pthread_mutex_lock(&h->Lock);
    /* While it is held, other threads' small blocks go through the lock as well. */
    __atomic_add_fetch(&h->LockCount, 1, __ATOMIC_ACQ_REL);
    return TRUE;
}

WINBASEAPI BOOL WINAPI HeapUnlock(HANDLE handle)
{
    HP_HEAP *h = HpFromHandle(handle);
    if (h == NULL)
        return FALSE;
    __atomic_sub_fetch(&h->LockCount, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_unlock(&h->Lock);
    return TRUE;
}

WINBASEAPI BOOL WINAPI HeapSummary(HANDLE handle, DWORD flags, LPHEAP_SUMMARY summary)
{
    (void)flags;
    HP_HEAP *h = HpFromHandle(handle);
    if (h == NULL)
        return FALSE;
    if (summary == NULL || summary->cb != sizeof(HEAP_SUMMARY)) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    SIZE_T allocated = 0, committed = 0, reserved = 0;
    pthread_mutex_lock(&h->Lock);
    for (ULONG i = 0; i < h->SegmentCount; i++) {
        const HP_SEGMENT *s = &h->Segments[i];
        /* Committed is what VirtualQuery says: HeapCompact leaves holes inside free blocks. */
        MEMORY_BASIC_INFORMATION m;
        for (PUCHAR at = s->Base; at < s->CommitEnd && VirtualQuery(at, &m, sizeof m) == sizeof m;
             at = (PUCHAR)m.BaseAddress + m.RegionSize)
            if (m.State == MEM_COMMIT) {
                PUCHAR end = (PUCHAR)m.BaseAddress + m.RegionSize;
                committed += (SIZE_T)((end < s->CommitEnd ? end : s->CommitEnd) - (PUCHAR)m.BaseAddress);
            }
        reserved += s->Reserved;
        for (PUCHAR at = s->FirstBlock; at < s->CommitEnd;) {
            HP_BLOCK b;
            if (!HpDecode(h, (HP_ENTRY *)at, &b))
                break;
            if ((b.Flags & HP_BUSY) && !(b.Flags & HP_CACHED))
                allocated += HpRequested(&b);
            at += (SIZE_T)b.Size * HP_UNIT;
        }
    }
    for (LIST_ENTRY *l = h->BigBlocks.Flink; l != &h->BigBlocks; l = l->Flink) {
        const HP_BIG_BLOCK *big = CONTAINING_RECORD(l, HP_BIG_BLOCK, Links);
        allocated += big->Requested;
        committed += big->RegionSize;
        reserved += big->RegionSize;
    }
    pthread_mutex_unlock(&h->Lock);
    summary->cbAllocated = allocated;
    summary->cbCommitted = committed;
    summary->cbReserved = reserved;
    summary->cbMaxReserve = h->Fixed ? h->Segments[0].Reserved : reserved;
    return TRUE;
}

/* ---- walking ------------------------------------------------------------------------------------------ */

static void HpRegionEntry(HP_HEAP *h, ULONG i, LPPROCESS_HEAP_ENTRY e)
{
    const HP_SEGMENT *s = &h->Segments[i];
    memset(e, 0, sizeof *e);
    e->lpData = s->Base;
    e->cbData = (DWORD)(s->CommitEnd - s->Base);
    e->iRegionIndex = (BYTE)i;
    e->wFlags = PROCESS_HEAP_REGION;
    e->Region.dwCommittedSize = (DWORD)(s->CommitEnd - s->Base);
    e->Region.dwUnCommittedSize = (DWORD)(s->Base + s->Reserved - s->CommitEnd);
    e->Region.lpFirstBlock = s->FirstBlock;
    e->Region.lpLastBlock = s->Base + s->Reserved;
}

/* The entry for the block at At (or what follows the segment's blocks); FALSE at the very end. */
static BOOL HpBlockEntry(HP_HEAP *h, ULONG i, PUCHAR at, LPPROCESS_HEAP_ENTRY e);

static BOOL HpBigEntry(HP_HEAP *h, LIST_ENTRY *l, LPPROCESS_HEAP_ENTRY e)
{
    if (l == &h->BigBlocks)
        return FALSE;
    HP_BIG_BLOCK *big = CONTAINING_RECORD(l, HP_BIG_BLOCK, Links);
    memset(e, 0, sizeof *e);
    e->lpData = &big->Entry + 1;
    e->cbData = (DWORD)big->Requested;
    e->cbOverhead = (BYTE)sizeof(HP_BIG_BLOCK);
    e->wFlags = PROCESS_HEAP_ENTRY_BUSY;
    return TRUE;
}

static BOOL HpAfterSegment(HP_HEAP *h, ULONG i, LPPROCESS_HEAP_ENTRY e, BOOL uncommitted_done)
{
    const HP_SEGMENT *s = &h->Segments[i];
    if (!uncommitted_done && s->CommitEnd < s->Base + s->Reserved) {
        memset(e, 0, sizeof *e);
        e->lpData = s->CommitEnd;
        e->cbData = (DWORD)(s->Base + s->Reserved - s->CommitEnd);
        e->iRegionIndex = (BYTE)i;
        e->wFlags = PROCESS_HEAP_UNCOMMITTED_RANGE;
        return TRUE;
    }
    if (i + 1 < h->SegmentCount) {
        HpRegionEntry(h, i + 1, e);
        return TRUE;
    }
    return HpBigEntry(h, h->BigBlocks.Flink, e);
}

static BOOL HpBlockEntry(HP_HEAP *h, ULONG i, PUCHAR at, LPPROCESS_HEAP_ENTRY e)
{
    const HP_SEGMENT *s = &h->Segments[i];
    if (at >= s->CommitEnd)
        return HpAfterSegment(h, i, e, FALSE);
    HP_BLOCK b;
    if (!HpDecode(h, (HP_ENTRY *)at, &b))
        HpReportCorruption(h, at + HP_UNIT, "a block header met while walking the heap is corrupt");
    BOOL busy = (b.Flags & HP_BUSY) && !(b.Flags & HP_CACHED);
    memset(e, 0, sizeof *e);
    e->lpData = at + HP_UNIT;
    e->cbData = (DWORD)(busy ? HpRequested(&b) : (SIZE_T)b.Size * HP_UNIT - HP_UNIT);
    e->cbOverhead = (BYTE)(busy ? HP_UNIT + b.Unused : HP_UNIT);
    e->iRegionIndex = (BYTE)i;
    e->wFlags = busy ? PROCESS_HEAP_ENTRY_BUSY : 0;
    return TRUE;
}

WINBASEAPI BOOL WINAPI HeapWalk(HANDLE handle, LPPROCESS_HEAP_ENTRY e)
{
    HP_HEAP *h = HpFromHandle(handle);
    if (h == NULL)
        return FALSE;
    if (e == NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    pthread_mutex_lock(&h->Lock);
    BOOL more;
    ULONG i = e->iRegionIndex;
    if (e->lpData == NULL) {
        HpRegionEntry(h, 0, e);
        more = TRUE;
    } else if (e->wFlags & PROCESS_HEAP_REGION) {
        more = i < h->SegmentCount && HpBlockEntry(h, i, h->Segments[i].FirstBlock, e);
    } else if (e->wFlags & PROCESS_HEAP_UNCOMMITTED_RANGE) {
        more = i < h->SegmentCount && HpAfterSegment(h, i, e, TRUE);
    } else {
        HP_BIG_BLOCK *big = HpBigOf(h, e->lpData);
        if (big != NULL) {
            more = HpBigEntry(h, big->Links.Flink, e);
        } else {
            HP_BLOCK b;
            PUCHAR at = (PUCHAR)e->lpData - HP_UNIT;
            more = i < h->SegmentCount && HpSegmentOf(h, at) == (int)i && HpDecode(h, (HP_ENTRY *)at, &b) &&
                   HpBlockEntry(h, i, at + (SIZE_T)b.Size * HP_UNIT, e);
        }
    }
    pthread_mutex_unlock(&h->Lock);
    if (!more)
        SetLastError(ERROR_NO_MORE_ITEMS);
    return more;
}
