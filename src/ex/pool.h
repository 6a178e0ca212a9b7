/* pool.h - executive pool internals: the x64 POOL_HEADER, pool descriptors, per-thread caches, tags. */
#ifndef NTMEM_EX_POOL_H
#define NTMEM_EX_POOL_H

#include <ntddk.h>
#include <ntmem.h>
#include "ke/ke.h"
#include "mm/mm.h"
#include "seh/seh.h"

/*
 * The x64 pool header: 16 bytes in front of every small block. Sizes are in 16-byte units. Its four
 * first fields are separate bytes (the Windows bit fields occupy the same bytes) because different
 * owners write them: PreviousSize, PoolIndex and BlockSize change only under the descriptor lock;
 * PoolType, PoolTag and ProcessBilled belong to whoever owns the block. Separate bytes keep those
 * writers from overwriting each other.
 */
typedef struct _POOL_HEADER {
    UCHAR PreviousSize;   /* size of the block before this one in the page, 0 for the first */
    UCHAR PoolIndex;      /* descriptor index; EXP_POOL_INDEX_FREE while on a descriptor free list */
    UCHAR BlockSize;      /* this block's size, header included */
    UCHAR PoolType;       /* 0 = free; else (base pool type + 1) | EXP_POOL_QUOTA | EXP_POOL_HAS_OBJECT */
    ULONG PoolTag;
    PEPROCESS ProcessBilled; /* quota blocks only */
} POOL_HEADER, *PPOOL_HEADER;

#define EXP_BLOCK_SHIFT 4
#define EXP_BLOCK_UNIT 16
#define EXP_PAGE_UNITS (PAGE_SIZE / EXP_BLOCK_UNIT)      /* 256 */
#define EXP_MAX_SMALL_UNITS 254                          /* a page (256) minus a minimal free block */
#define EXP_MAX_SMALL_BYTES (EXP_MAX_SMALL_UNITS * EXP_BLOCK_UNIT - sizeof(POOL_HEADER)) /* 4048 */
#define EXP_MIN_UNITS 2                                  /* a free block holds a LIST_ENTRY */
#define EXP_POOL_INDEX_FREE 0x80
#define EXP_POOL_QUOTA 0x08
#define EXP_POOL_HAS_OBJECT 0x40   /* PoolType bit: a registered object (lookaside list) lives here */
#define EXP_CACHE_MAX_UNITS 33                           /* blocks up to 512 data bytes are cached */
#define EXP_EMPTY_PAGE_CACHE 16                          /* empty pages a descriptor keeps committed */
#define EXP_POOL_COUNT 2                                 /* nonpaged (0) and paged (1) descriptors */

static inline PPOOL_HEADER ExpHeaderOf(const void *Block)
{
    return (PPOOL_HEADER)((PUCHAR)Block - sizeof(POOL_HEADER));
}

static inline ULONG ExpUnitsFor(SIZE_T Bytes)
{
    ULONG units = (ULONG)((Bytes + sizeof(POOL_HEADER) + EXP_BLOCK_UNIT - 1) >> EXP_BLOCK_SHIFT);
    return units < EXP_MIN_UNITS ? EXP_MIN_UNITS : units;
}

/* Base pool type 0..7 -> descriptor: every even type is nonpaged, every odd type paged. */
static inline ULONG ExpPoolIndex(ULONG BasePoolType)
{
    return BasePoolType & 1;
}

/* A descriptor: one per pool, holding the free blocks of partly used pages. */
typedef struct _EXP_POOL_DESCRIPTOR {
    pthread_mutex_t Lock;
    ULONG PoolIndex;
    MI_REGION_ID Region;
    ULONG64 NonEmpty[EXP_PAGE_UNITS / 64];  /* bit n: ListHeads[n] holds blocks */
    LIST_ENTRY ListHeads[EXP_PAGE_UNITS];   /* free blocks by size in units */
    PVOID EmptyPages[EXP_EMPTY_PAGE_CACHE];
    ULONG EmptyPageCount;
} EXP_POOL_DESCRIPTOR;

extern NTMEM_HIDDEN EXP_POOL_DESCRIPTOR ExpPoolDescriptors[EXP_POOL_COUNT];

/* ---- per-thread state ----------------------------------------------------------------------- */

/*
 * A cache bin: free blocks of exactly one size and pool, plus the counts of the bin's most recent tag.
 * Counting at the bin costs one increment (bytes follow from the bin's size); when a block of another
 * tag passes through, the bin's counts are folded into the thread's tag table and the bin switches.
 */
typedef struct _EXP_CACHE_BIN {
    PVOID Head;      /* free blocks linked through their first 8 bytes */
    LONG Room;       /* blocks the bin may still take before it must flush: MaxDepth - depth */
    ULONG MaxDepth;
    ULONG Tag;       /* tag counted here, as given; EXP_NO_TAG when none */
    ULONG Reserved;
    ULONG64 Allocs;  /* allocations and frees of Tag in this bin not yet in the tag table */
    ULONG64 Frees;
    ULONG64 Padding[3]; /* one cache line a bin */
} EXP_CACHE_BIN;
#define EXP_NO_TAG 0xFFFFFFFFu /* not a valid tag (its bytes are not ASCII); counted in the table */

/* Counters of one tag. Only the owning thread writes them (relaxed stores, no locked instructions);
 * queries read them from any thread and add up all threads. */
typedef struct _EXP_TAG_COUNTS {
    ULONG Tag;                       /* 0 = empty slot; PROTECTED_POOL bit stripped */
    ULONG Reserved;
    ULONG64 Allocs[EXP_POOL_COUNT];
    ULONG64 Frees[EXP_POOL_COUNT];
    ULONG64 BytesAllocated[EXP_POOL_COUNT];
    ULONG64 BytesFreed[EXP_POOL_COUNT];
} EXP_TAG_COUNTS;

#define EXP_THREAD_TAGS 256          /* power of two; overflow goes to the shared locked table */

typedef struct _EXP_POOL_THREAD {
    EXP_CACHE_BIN Bins[EXP_CACHE_MAX_UNITS + 1][EXP_POOL_COUNT]; /* by size, then pool */
    EXP_TAG_COUNTS *LastTag;         /* one-entry cache in front of the hash; never NULL */
    struct _EXP_POOL_THREAD *Next, *Prev; /* registry of live threads, under ExpThreadListLock */
    EXP_TAG_COUNTS Tags[EXP_THREAD_TAGS];
} EXP_POOL_THREAD;

NTMEM_HIDDEN EXP_POOL_THREAD *ExpCreatePoolThread(void);
/* What LastTag points at before a thread's first count: a tag no allocation can have. */
extern NTMEM_HIDDEN EXP_TAG_COUNTS ExpNoTag;
/* Folds a bin's counts into the tag table and makes Tag the bin's tag (the bin-count slow path). */
NTMEM_HIDDEN void ExpSwitchBinTag(EXP_POOL_THREAD *Thread, ULONG Units, ULONG PoolIndex, ULONG Tag);

static inline EXP_POOL_THREAD *ExpCurrentPoolThread(void)
{
    EXP_POOL_THREAD *t = KiThread.Pool;
    return NTMEM_LIKELY(t != NULL) ? t : ExpCreatePoolThread();
}

/* ---- small blocks (pool_small.c) ------------------------------------------------------------ */
/* Takes up to Count blocks of Units from the descriptor, linked through their first word; returns how
 * many it found (0 when the pool is out of pages). Blocks come back with PoolType 0. */
NTMEM_HIDDEN ULONG ExpTakeBlocks(EXP_POOL_DESCRIPTOR *Desc, ULONG Units, ULONG Count, PVOID *List,
                                 ULONG LimitPercent);
/* Returns a linked list of freed blocks (PoolType already 0) to the descriptor, coalescing. */
NTMEM_HIDDEN void ExpReturnBlocks(EXP_POOL_DESCRIPTOR *Desc, PVOID List);
/* Allocates one small block aligned for its data to Alignment (16 or 64) under the lock. */
NTMEM_HIDDEN PVOID ExpAllocateAlignedBlock(EXP_POOL_DESCRIPTOR *Desc, ULONG Units, ULONG Alignment,
                                           ULONG LimitPercent);
/* Full diagnosis of a small-block free that failed the quick checks; always bug checks. */
NTMEM_HIDDEN DECLSPEC_NORETURN void ExpDiagnoseBadSmallFree(PVOID Block, ULONG PoolType);
/* Bug checks with a double free (0xC2/0x07) when the stale header in front of Block says it was freed
 * already (after its page merged it away or emptied); returns otherwise. */
NTMEM_HIDDEN void ExpReportStaleDoubleFree(PVOID Block);
/* Walks the page of Address under the lock and describes the block that holds it. */
NTMEM_HIDDEN NTSTATUS ExpLookupSmallBlock(PVOID Address, PNTMEM_POOL_BLOCK_INFO Info);

/* ---- per-thread caches (pool_cache.c) ------------------------------------------------------- */
NTMEM_HIDDEN PVOID ExpRefillBin(EXP_POOL_THREAD *Thread, ULONG PoolIndex, ULONG Units, ULONG LimitPercent);
NTMEM_HIDDEN void ExpFlushBin(EXP_POOL_THREAD *Thread, ULONG PoolIndex, ULONG Units, ULONG Keep);

/* ---- big blocks (pool_big.c) ---------------------------------------------------------------- */
NTMEM_HIDDEN PVOID ExpAllocateBig(ULONG PoolIndex, ULONG BasePoolType, SIZE_T Bytes, ULONG Tag,
                                  ULONG LimitPercent);
/* Records that a big block's quota was charged to Process (returned when it is freed). */
NTMEM_HIDDEN void ExpMarkBigQuota(PVOID Block, PEPROCESS Process);
/* Frees a big block (tag checked if asked, quota returned); returns its size for accounting. */
NTMEM_HIDDEN SIZE_T ExpFreeBig(PVOID Block, ULONG Tag, BOOLEAN CheckTag, ULONG PoolIndex);
/* Wrong tag given at free: BAD_POOL_CALLER 0x0A. */
NTMEM_HIDDEN DECLSPEC_NORETURN void ExpWrongTag(PVOID Block, ULONG AllocatorTag, ULONG GivenTag);
/* A quota block whose process pointer is not a process: BAD_POOL_CALLER 0x0D. */
NTMEM_HIDDEN DECLSPEC_NORETURN void ExpBadQuotaProcess(PVOID Block, ULONG Tag, PEPROCESS Process);

/* ---- tag accounting (pooltag.c) ------------------------------------------------------------- */
NTMEM_HIDDEN EXP_TAG_COUNTS *ExpFindTagSlow(EXP_POOL_THREAD *Thread, ULONG Tag);

static inline void ExpCounterAdd(ULONG64 *Counter, ULONG64 Value)
{
    /* A plain load and store: the owner is the only writer, readers tolerate a stale value. */
    __atomic_store_n(Counter, __atomic_load_n(Counter, __ATOMIC_RELAXED) + Value, __ATOMIC_RELAXED);
}

static inline EXP_TAG_COUNTS *ExpTagCounts(EXP_POOL_THREAD *Thread, ULONG Tag)
{
    Tag &= ~PROTECTED_POOL;
    EXP_TAG_COUNTS *c = Thread->LastTag;
    if (NTMEM_LIKELY(c->Tag == Tag))
        return c;
    return ExpFindTagSlow(Thread, Tag);
}

/* Counts in the shared (locked) table, for tags that do not fit a thread's table. */
NTMEM_HIDDEN void ExpCountShared(ULONG Tag, ULONG PoolIndex, BOOLEAN Alloc, ULONG64 Count, ULONG64 Bytes);

static inline void ExpCountAllocMany(EXP_POOL_THREAD *Thread, ULONG Tag, ULONG PoolIndex, ULONG64 Count,
                                     ULONG64 Bytes)
{
    EXP_TAG_COUNTS *c = ExpTagCounts(Thread, Tag);
    if (NTMEM_UNLIKELY(c == NULL)) {
        ExpCountShared(Tag, PoolIndex, TRUE, Count, Bytes);
        return;
    }
    ExpCounterAdd(&c->Allocs[PoolIndex], Count);
    ExpCounterAdd(&c->BytesAllocated[PoolIndex], Bytes);
}

static inline void ExpCountFreeMany(EXP_POOL_THREAD *Thread, ULONG Tag, ULONG PoolIndex, ULONG64 Count,
                                    ULONG64 Bytes)
{
    EXP_TAG_COUNTS *c = ExpTagCounts(Thread, Tag);
    if (NTMEM_UNLIKELY(c == NULL)) {
        ExpCountShared(Tag, PoolIndex, FALSE, Count, Bytes);
        return;
    }
    ExpCounterAdd(&c->Frees[PoolIndex], Count);
    ExpCounterAdd(&c->BytesFreed[PoolIndex], Bytes);
}

#define ExpCountAlloc(t, tag, pool, bytes) ExpCountAllocMany((t), (tag), (pool), 1, (bytes))
#define ExpCountFree(t, tag, pool, bytes) ExpCountFreeMany((t), (tag), (pool), 1, (bytes))

/* Sums every thread's counters into an array the caller frees; returns the number of tags. */
NTMEM_HIDDEN ULONG ExpSnapshotTags(EXP_TAG_COUNTS **Out);
/* Folds an exiting thread's counters into the retired totals and unlinks it. */
NTMEM_HIDDEN void ExpRetireThreadTags(EXP_POOL_THREAD *Thread);
NTMEM_HIDDEN void ExpRegisterThreadTags(EXP_POOL_THREAD *Thread);

/* ---- objects living in pool (lookaside.c) ------------------------------------------------------ */
/* Marks the pool block holding Object so that its free looks for registered objects first. */
NTMEM_HIDDEN void ExpMarkPoolObject(PVOID Object);
/* A marked block [Block, Block+Size) is being freed: lists registered inside it are 0xC4/0xCC under
 * the verifier, and are unregistered (their blocks freed) without it, so nothing points into freed
 * pool afterwards. */
NTMEM_HIDDEN void ExpLookasideBlockFreed(PVOID Block, SIZE_T Size);
/* A registered lookaside list that code in [Start, End) initialised, or NULL (lookaside.c). */
NTMEM_HIDDEN PVOID ExpLookasideCreatedBy(ULONG_PTR Start, ULONG_PTR End);

/* ---- quota (ps/process.c) ------------------------------------------------------------------- */
NTMEM_HIDDEN NTSTATUS PspChargePoolQuota(PEPROCESS Process, ULONG PoolIndex, SIZE_T Bytes);
NTMEM_HIDDEN void PspReturnPoolQuota(PEPROCESS Process, ULONG PoolIndex, SIZE_T Bytes);
NTMEM_HIDDEN BOOLEAN PspIsProcess(PEPROCESS Process);

#endif /* NTMEM_EX_POOL_H */
