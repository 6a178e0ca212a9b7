/* heap.h - heap internals: the heap, its segments, encoded block headers, the back end and the
 * per-thread front end. */
#ifndef NTMEM_RTL_HEAP_H
#define NTMEM_RTL_HEAP_H

#include <pthread.h>
#include <windows.h>
#include <ntmem.h>
#include "ex/track.h"
#include "ke/ke.h"

#define HP_UNIT 16                            /* block granularity, header size */
#define HP_SIGNATURE 0x50414548u              /* "HEAP" */
#define HP_MAX_SEGMENTS 64
#define HP_BIG_THRESHOLD 0x7F000              /* VirtualMemoryThreshold: larger blocks get their own region */
#define HP_EXACT_LISTS 128                    /* free lists for 2..129 units, then one per power of two */
#define HP_LISTS (HP_EXACT_LISTS + 40)
#define HP_FRONT_UNITS 64                     /* the front end serves blocks of up to 64 units (1 KB) */

/* Header flags (inside the encoded header). */
#define HP_BUSY 0x01
#define HP_BIG 0x02
#define HP_CACHED 0x04 /* busy to the back end, but sitting free in a thread's front-end cache */
#define HP_DECOMMITTED 0x08 /* a free block whose pages after its links HeapCompact gave back */

/* The 16 bytes before every block's data, stored XOR-ed with the heap's keys and checked by a keyed
 * checksum, so a stray write, a pointer that is not a block, or a block of another heap is seen.
 * PrevSize stays outside the checksum (it is checked against the previous block's Size instead): the
 * back end rewrites it under the lock when a neighbour changes, while the front end rewrites the rest
 * of a cached block's header without the lock, and the two must not overwrite each other. */
typedef struct _HP_ENTRY {
    ULONG SizeWord;  /* Size (units) */
    ULONG PrevWord;  /* PrevSize (units) */
    ULONG64 Word1;   /* Flags | Unused << 8 | Segment << 16 | Check << 32 */
} HP_ENTRY;

typedef struct _HP_BLOCK {
    ULONG Size;     /* units, header included */
    ULONG PrevSize; /* units of the block before it in its segment, 0 for the first */
    UCHAR Flags;
    UCHAR Unused;   /* bytes of the block beyond the request and the header */
    USHORT Segment;
} HP_BLOCK;

typedef struct _HP_SEGMENT {
    PUCHAR Base;
    SIZE_T Reserved;
    PUCHAR FirstBlock;
    PUCHAR CommitEnd; /* blocks cover [FirstBlock, CommitEnd); the rest is reserved */
    HP_ENTRY *Last;   /* the block that ends at CommitEnd, NULL while there is none */
} HP_SEGMENT;

/* A block bigger than the threshold: its own region, linked for walking and destroying. */
typedef struct _HP_BIG_BLOCK {
    LIST_ENTRY Links;
    PUCHAR RegionBase;  /* the VirtualAlloc region (debug full-page blocks sit at its end) */
    SIZE_T RegionSize;
    SIZE_T Requested;
    SIZE_T Reserved;
    HP_ENTRY Entry;     /* right before the data */
} HP_BIG_BLOCK;

#define HP_QUARANTINE 64 /* freed full-page blocks kept inaccessible */

typedef struct _HP_HEAP {
    ULONG Signature;
    ULONG Flags;                 /* HeapCreate's options */
    ULONG64 Key0, Key1, CheckKey;
    ULONG64 Id;                  /* unique for the process's life: thread caches key on it */
    pthread_mutex_t Lock;        /* recursive: HeapLock then HeapAlloc on one thread */
    BOOLEAN Fixed;
    BOOLEAN FrontEnd;            /* the low-fragmentation front end (HeapCompatibilityInformation 2) */
    ULONG Protect;               /* PAGE_READWRITE or PAGE_EXECUTE_READWRITE */
    SIZE_T MaximumSize;
    ULONG SegmentCount;
    HP_SEGMENT Segments[HP_MAX_SEGMENTS];
    LIST_ENTRY FreeLists[HP_LISTS];
    ULONG64 FreeBitmap[(HP_LISTS + 63) / 64];
    LIST_ENTRY BigBlocks;
    LIST_ENTRY HeapLinks;        /* the process's heap list */
    ULONG Debug;                 /* NTMEM_HEAP_DEBUG_* when the heap was made */
    volatile LONG LockCount;     /* HeapLock holds: the front end then waits for the lock too */
    ULONG QuarantineNext;
    PUCHAR QuarantineBase[HP_QUARANTINE];
    PUCHAR QuarantineData[HP_QUARANTINE];
} HP_HEAP;

/* ---- headers -------------------------------------------------------------------------------------- */

static inline ULONG HpChecksum(const HP_HEAP *h, ULONG size, ULONG64 w1, const void *at)
{
    ULONG64 x = (size ^ (w1 << 7) ^ (ULONG64)(ULONG_PTR)at ^ h->CheckKey) * 0x9E3779B97F4A7C15ULL;
    return (ULONG)(x >> 32);
}

/* Writes the whole header (lock held, or the block is this thread's alone). */
static inline void HpEncode(const HP_HEAP *h, HP_ENTRY *e, const HP_BLOCK *b)
{
    ExpAsanUnpoison(e, sizeof *e); /* a new header may land in a freed block's poisoned data */
    ExpVgAccess(e, sizeof *e);
    ULONG64 w1 = b->Flags | (ULONG64)b->Unused << 8 | (ULONG64)b->Segment << 16;
    w1 |= (ULONG64)HpChecksum(h, b->Size, w1, e) << 32;
    __atomic_store_n(&e->SizeWord, b->Size ^ (ULONG)h->Key0, __ATOMIC_RELAXED);
    __atomic_store_n(&e->PrevWord, b->PrevSize ^ (ULONG)(h->Key0 >> 32), __ATOMIC_RELAXED);
    __atomic_store_n(&e->Word1, w1 ^ h->Key1, __ATOMIC_RELAXED);
}

/* Rewrites only the previous block's size (lock held). */
static inline void HpSetPrevSize(const HP_HEAP *h, HP_ENTRY *e, ULONG prev)
{
    __atomic_store_n(&e->PrevWord, prev ^ (ULONG)(h->Key0 >> 32), __ATOMIC_RELAXED);
}

/* Rewrites flags and unused bytes, keeping size and segment (the front end, without the lock). */
static inline void HpSetFlags(const HP_HEAP *h, HP_ENTRY *e, ULONG size, USHORT segment, UCHAR flags, UCHAR unused)
{
    ULONG64 w1 = flags | (ULONG64)unused << 8 | (ULONG64)segment << 16;
    w1 |= (ULONG64)HpChecksum(h, size, w1, e) << 32;
    __atomic_store_n(&e->Word1, w1 ^ h->Key1, __ATOMIC_RELAXED);
}

/* FALSE when the header does not decode: overwritten, not a block, or another heap's. */
static inline BOOLEAN HpDecode(const HP_HEAP *h, const HP_ENTRY *e, HP_BLOCK *b)
{
    ULONG size = __atomic_load_n(&e->SizeWord, __ATOMIC_RELAXED) ^ (ULONG)h->Key0;
    ULONG64 w1 = __atomic_load_n(&e->Word1, __ATOMIC_RELAXED) ^ h->Key1;
    if ((ULONG)(w1 >> 32) != HpChecksum(h, size, w1 & 0xFFFFFFFFu, e))
        return FALSE;
    b->Size = size;
    b->PrevSize = __atomic_load_n(&e->PrevWord, __ATOMIC_RELAXED) ^ (ULONG)(h->Key0 >> 32);
    b->Flags = (UCHAR)w1;
    b->Unused = (UCHAR)(w1 >> 8);
    b->Segment = (USHORT)(w1 >> 16);
    return TRUE;
}

static inline HP_ENTRY *HpEntryOf(const void *data)
{
    return (HP_ENTRY *)((PUCHAR)data - HP_UNIT);
}

static inline SIZE_T HpRequested(const HP_BLOCK *b)
{
    return (SIZE_T)b->Size * HP_UNIT - HP_UNIT - b->Unused;
}

/* ---- the back end (heap_backend.c); lock held unless the heap is HEAP_NO_SERIALIZE ------------- */

NTMEM_HIDDEN void HpLock(HP_HEAP *Heap);
NTMEM_HIDDEN void HpUnlock(HP_HEAP *Heap);
/* Segment 0 holds the heap itself. NULL without memory. */
NTMEM_HIDDEN HP_HEAP *HpCreate(ULONG Flags, SIZE_T Initial, SIZE_T Maximum);
NTMEM_HIDDEN void HpReleaseAll(HP_HEAP *Heap);
/* A busy block of Units units for Requested bytes, or NULL. */
NTMEM_HIDDEN PVOID HpAllocateBlock(HP_HEAP *Heap, ULONG Units, SIZE_T Requested);
NTMEM_HIDDEN PVOID HpAllocateBig(HP_HEAP *Heap, SIZE_T Requested);
/* Frees a decoded busy block (coalescing); reports corruption found on the way. */
NTMEM_HIDDEN void HpFreeBlock(HP_HEAP *Heap, PVOID Data, const HP_BLOCK *Block);
NTMEM_HIDDEN void HpFreeBig(HP_HEAP *Heap, PVOID Data);
/* Grows or shrinks a busy block where it is; FALSE if the space is not there. */
NTMEM_HIDDEN BOOLEAN HpResizeInPlace(HP_HEAP *Heap, PVOID Data, const HP_BLOCK *Block, SIZE_T Requested);
/* Decommits free space at the ends of segments; returns the largest free block's size. */
NTMEM_HIDDEN SIZE_T HpCompact(HP_HEAP *Heap);
/* The segment holding Address, or -1. */
NTMEM_HIDDEN int HpSegmentOf(const HP_HEAP *Heap, const void *Address);
NTMEM_HIDDEN HP_BIG_BLOCK *HpBigOf(HP_HEAP *Heap, const void *Data);
/* Ends the process: STATUS_HEAP_CORRUPTION with what was found where. */
NTMEM_HIDDEN DECLSPEC_NORETURN void HpReportCorruption(const HP_HEAP *Heap, const void *Address, PCSTR What);

/* ---- the front end (heap_frontend.c; its fast paths are in heap_frontend.h) --------------------------- */

/* Gives this thread's cached blocks of Heap back to the back end (lock held or not needed). */
NTMEM_HIDDEN void HpFrontFlush(HP_HEAP *Heap);
/* Forgets the heap in this thread's cache without touching its blocks (the heap is going). */
NTMEM_HIDDEN void HpFrontForget(HP_HEAP *Heap);

/* ---- debug heaps (heap_debug.c) --------------------------------------------------------------------- */

NTMEM_HIDDEN ULONG HpDebugFlags(void);
NTMEM_HIDDEN PVOID HpDebugAllocate(HP_HEAP *Heap, SIZE_T Bytes);
/* Checks and frees a block of a debug heap (quarantine, header, tail), reporting corruption. */
NTMEM_HIDDEN void HpDebugFree(HP_HEAP *Heap, PVOID Data);
NTMEM_HIDDEN BOOLEAN HpDebugInQuarantine(HP_HEAP *Heap, const void *Data);
/* Whether a busy block's tail and a free block's fill are intact (nothing reported). */
NTMEM_HIDDEN BOOLEAN HpDebugBlockIntact(HP_HEAP *Heap, PUCHAR Data, const HP_BLOCK *Block, BOOLEAN Busy);
/* Fills a free block's data (after its links) so later writes to it can be seen. */
NTMEM_HIDDEN void HpDebugFillFree(HP_HEAP *Heap, HP_ENTRY *Entry, ULONG Units);
NTMEM_HIDDEN void HpDebugReleaseQuarantine(HP_HEAP *Heap);

/* ---- the registry of heaps (heap_api.c) ------------------------------------------------------------ */

/* The live heap with that handle, or NULL. */
NTMEM_HIDDEN HP_HEAP *HpLookup(HANDLE Handle);
NTMEM_HIDDEN HP_HEAP *HpLookupById(ULONG64 Id);
/* The heap a handle names, checked by its signature alone (no registry lock: callers may hold a heap
 * lock, and the registry lock is taken before heap locks); ERROR_INVALID_HANDLE otherwise. */
NTMEM_HIDDEN HP_HEAP *HpFromHandle(HANDLE Handle);
NTMEM_HIDDEN void HpRegistryLock(void);
NTMEM_HIDDEN void HpRegistryUnlock(void);

#endif /* NTMEM_RTL_HEAP_H */
