/* pool_small.c - pool descriptors: small blocks carved from pages, free lists by size, coalescing. */
#include "ex/pool.h"
#include "ex/track.h"

EXP_POOL_DESCRIPTOR ExpPoolDescriptors[EXP_POOL_COUNT] = {
    {.Lock = PTHREAD_MUTEX_INITIALIZER, .PoolIndex = 0, .Region = MiNonPagedPoolRegion},
    {.Lock = PTHREAD_MUTEX_INITIALIZER, .PoolIndex = 1, .Region = MiPagedPoolRegion},
};
static pthread_once_t ExpListsOnce = PTHREAD_ONCE_INIT;

static void ExpInitializeLists(void)
{
    for (int p = 0; p < EXP_POOL_COUNT; p++)
        for (int i = 0; i < EXP_PAGE_UNITS; i++)
            InitializeListHead(&ExpPoolDescriptors[p].ListHeads[i]);
}

static void ExpLock(EXP_POOL_DESCRIPTOR *d)
{
    pthread_once(&ExpListsOnce, ExpInitializeLists);
    pthread_mutex_lock(&d->Lock);
}

static inline PPOOL_HEADER ExpNext(PPOOL_HEADER h, ULONG units)
{
    return (PPOOL_HEADER)((PUCHAR)h + ((SIZE_T)units << EXP_BLOCK_SHIFT));
}

static inline ULONG ExpOffsetUnits(const void *h)
{
    return BYTE_OFFSET(h) >> EXP_BLOCK_SHIFT;
}

static inline PLIST_ENTRY ExpLinks(PPOOL_HEADER h)
{
    return (PLIST_ENTRY)(h + 1);
}

/* ---- free lists, with link checks (BAD_POOL_HEADER 3 on corruption) ----------------------------- */

static void ExpUnlinkFree(EXP_POOL_DESCRIPTOR *d, PPOOL_HEADER h)
{
    PLIST_ENTRY e = ExpLinks(h);
    ExpTrackInternal(e, sizeof *e);
    PLIST_ENTRY f = e->Flink, b = e->Blink;
    ExpTrackInternal(f, sizeof *f);
    ExpTrackInternal(b, sizeof *b);
    if (f->Blink != e || b->Flink != e)
        KiBugCheckWithReason(BAD_POOL_HEADER, 3, (ULONG_PTR)e, (ULONG_PTR)f->Blink, (ULONG_PTR)b->Flink,
                             "the free list around pool block %p is corrupt: a freed block was written to", (void *)h);
    b->Flink = f;
    f->Blink = b;
    PLIST_ENTRY head = &d->ListHeads[h->BlockSize];
    if (f == b && f == head)
        d->NonEmpty[h->BlockSize >> 6] &= ~(1ULL << (h->BlockSize & 63));
    ExpTrackInternalDone(e, sizeof *e);
    if (f != head)
        ExpTrackInternalDone(f, sizeof *f);
    if (b != head && b != f)
        ExpTrackInternalDone(b, sizeof *b);
}

static void ExpLinkFree(EXP_POOL_DESCRIPTOR *d, PPOOL_HEADER h, ULONG units)
{
    ExpTrackInternal(h, sizeof *h);
    h->BlockSize = (UCHAR)units;
    h->PoolType = 0;
    h->PoolIndex = (UCHAR)(d->PoolIndex | EXP_POOL_INDEX_FREE);
    h->PoolTag = 0;
    if (ExpOffsetUnits(h) + units < EXP_PAGE_UNITS) {
        PPOOL_HEADER next = ExpNext(h, units);
        ExpTrackInternal(next, sizeof *next);
        next->PreviousSize = (UCHAR)units;
    }
    PLIST_ENTRY e = ExpLinks(h), head = &d->ListHeads[units], first = head->Flink;
    ExpTrackInternal(e, sizeof *e);
    if (first != head)
        ExpTrackInternal(first, sizeof *first); /* InsertHeadList rewrites its Blink */
    InsertHeadList(head, e);
    ExpTrackInternalDone(e, sizeof *e);
    if (first != head)
        ExpTrackInternalDone(first, sizeof *first);
    d->NonEmpty[units >> 6] |= 1ULL << (units & 63);
}

/* Smallest non-empty list whose blocks can give exactly Units: that size, or one at least two units
 * larger (a one-unit remainder could not stand alone as a free block). 0 if none. */
static ULONG ExpFindList(const EXP_POOL_DESCRIPTOR *d, ULONG units)
{
    if (d->NonEmpty[units >> 6] & (1ULL << (units & 63)))
        return units;
    ULONG from = units + 2;
    for (ULONG w = from >> 6; w < EXP_PAGE_UNITS / 64; w++) {
        ULONG64 bits = d->NonEmpty[w];
        if (w == from >> 6)
            bits &= ~0ULL << (from & 63);
        if (bits)
            return (w << 6) + (ULONG)__builtin_ctzll(bits);
    }
    return 0;
}

/* ---- pages ------------------------------------------------------------------------------------ */

/* A fresh page for the descriptor (from its empty-page cache first); NULL when the pool is full. */
static PPOOL_HEADER ExpGetPage(EXP_POOL_DESCRIPTOR *d, ULONG limit_percent)
{
    PVOID page;
    if (d->EmptyPageCount > 0) {
        page = d->EmptyPages[--d->EmptyPageCount];
    } else {
        page = MiAllocatePages(d->Region, 1, limit_percent);
        if (page == NULL)
            return NULL;
    }
    MiSetPageState(MiPfnOf(page), MiPageSmallPool);
    return page;
}

/* A page whose blocks are all free again: keep a few committed, give the rest back. */
static void ExpPutPage(EXP_POOL_DESCRIPTOR *d, PVOID page)
{
    ExpAsanUnpoison(page, PAGE_SIZE);
    if (d->EmptyPageCount < EXP_EMPTY_PAGE_CACHE) {
        MiSetPageState(MiPfnOf(page), MiPageSmallPoolEmpty);
        d->EmptyPages[d->EmptyPageCount++] = page;
    } else {
        MiFreePages(d->Region, page, 1, MiPageFree);
    }
}

/* ---- carving ---------------------------------------------------------------------------------- */

/* Cuts a block of Units off the front of the free span at H (Total units, not on any list) and
 * returns the header of what is left (or NULL). A remainder of one unit stays with the block. */
static PPOOL_HEADER ExpCutFront(EXP_POOL_DESCRIPTOR *d, PPOOL_HEADER h, ULONG total, ULONG units, ULONG *given)
{
    if (total - units < EXP_MIN_UNITS)
        units = total;
    ExpTrackInternal(h, sizeof *h);
    h->BlockSize = (UCHAR)units;
    h->PoolIndex = (UCHAR)d->PoolIndex;
    h->PoolType = 0;
    h->PoolTag = 0;
    h->ProcessBilled = NULL;
    *given = units;
    if (units == total) {
        if (ExpOffsetUnits(h) + units < EXP_PAGE_UNITS)
            ExpNext(h, units)->PreviousSize = (UCHAR)units;
        return NULL;
    }
    PPOOL_HEADER rest = ExpNext(h, units);
    ExpTrackInternal(rest, sizeof *rest);
    rest->PreviousSize = (UCHAR)units;
    return rest;
}

/* A free span for a block of Units: the best-fitting free block, or else a fresh page. Returns NULL
 * when the pool has no page to give; *Total is the span's size in units. */
static PPOOL_HEADER ExpTakeSpan(EXP_POOL_DESCRIPTOR *d, ULONG units, ULONG limit_percent, ULONG *total)
{
    ULONG at = units <= EXP_MAX_SMALL_UNITS ? ExpFindList(d, units) : 0;
    if (at != 0) {
        PPOOL_HEADER span = (PPOOL_HEADER)((PUCHAR)d->ListHeads[at].Flink - sizeof(POOL_HEADER));
        ExpUnlinkFree(d, span);
        *total = at;
        return span;
    }
    PPOOL_HEADER page = ExpGetPage(d, limit_percent);
    if (page != NULL) {
        ExpTrackInternal(page, sizeof *page);
        page->PreviousSize = 0;
    }
    *total = EXP_PAGE_UNITS;
    return page;
}

ULONG ExpTakeBlocks(EXP_POOL_DESCRIPTOR *d, ULONG units, ULONG count, PVOID *list, ULONG limit_percent)
{
    ULONG taken = 0;
    PVOID head = NULL;
    ExpLock(d);
    while (taken < count) {
        ULONG total;
        PPOOL_HEADER span = ExpTakeSpan(d, units, limit_percent, &total);
        if (span == NULL)
            break;
        /* Cut as many blocks as the span and the request allow, never leaving one unit behind, so
         * every block is exactly Units (cache bins rely on it); then file the remainder once. */
        while (span != NULL && taken < count && (total == units || total >= units + EXP_MIN_UNITS)) {
            ULONG given;
            PPOOL_HEADER block = span;
            span = ExpCutFront(d, block, total, units, &given);
            total -= given;
            PVOID data = block + 1;
            ExpTrackInternal(data, sizeof(PVOID));
            *(PVOID *)data = head;
            ExpTrackInternalDone(data, sizeof(PVOID));
            head = data;
            taken++;
        }
        if (span != NULL)
            ExpLinkFree(d, span, total);
    }
    pthread_mutex_unlock(&d->Lock);
    *list = head;
    return taken;
}

/* ---- returning blocks ------------------------------------------------------------------------- */

static DECLSPEC_NORETURN void ExpNeighbourMismatch(PPOOL_HEADER a, PPOOL_HEADER b)
{
    KiBugCheckWithReason(BAD_POOL_HEADER, 5, (ULONG_PTR)a, 0, (ULONG_PTR)b,
                         "adjacent pool blocks %p and %p disagree about their sizes: one was overrun",
                         (void *)a, (void *)b);
}

/* Files one freed block under the lock: checks it against both neighbours, then merges with the free
 * ones (Windows checks neighbours at this point too, which is why corruption surfaces at a free). */
static void ExpReturnOne(EXP_POOL_DESCRIPTOR *d, PPOOL_HEADER h)
{
    ULONG offset = ExpOffsetUnits(h), units = h->BlockSize;
    PPOOL_HEADER prev = NULL, next = NULL;
    if (units < EXP_MIN_UNITS || offset + units > EXP_PAGE_UNITS)
        KiBugCheckWithReason(BAD_POOL_HEADER, units == 0 ? 8 : 9, 0, 0, (ULONG_PTR)h,
                             "pool block %p has an impossible size (%u units) at free", (void *)h, units);
    if (offset == 0 ? h->PreviousSize != 0 : h->PreviousSize > offset)
        KiBugCheckWithReason(BAD_POOL_HEADER, 6, (ULONG_PTR)h, 0, (ULONG_PTR)h,
                             "pool block %p has a previous size that reaches outside its page", (void *)h);
    if (offset != 0) {
        prev = (PPOOL_HEADER)((PUCHAR)h - ((SIZE_T)h->PreviousSize << EXP_BLOCK_SHIFT));
        if (prev->BlockSize != h->PreviousSize)
            ExpNeighbourMismatch(prev, h);
    }
    if (offset + units < EXP_PAGE_UNITS) {
        next = ExpNext(h, units);
        if (next->PreviousSize != units)
            ExpNeighbourMismatch(h, next);
    }
    if (prev != NULL && (prev->PoolIndex & EXP_POOL_INDEX_FREE)) {
        ExpUnlinkFree(d, prev);
        units += prev->BlockSize;
        h = prev;
    }
    if (next != NULL && (next->PoolIndex & EXP_POOL_INDEX_FREE)) {
        ExpUnlinkFree(d, next);
        units += next->BlockSize;
    }
    if (units == EXP_PAGE_UNITS) {
        ExpPutPage(d, PAGE_ALIGN(h));
        return;
    }
    ExpLinkFree(d, h, units);
}

void ExpReturnBlocks(EXP_POOL_DESCRIPTOR *d, PVOID list)
{
    ExpLock(d);
    while (list != NULL) {
        ExpTrackInternal(list, sizeof(PVOID));
        PVOID next = *(PVOID *)list;
        PPOOL_HEADER h = ExpHeaderOf(list);
        list = next;
        ExpReturnOne(d, h);
    }
    pthread_mutex_unlock(&d->Lock);
}

/* ---- cache-aligned blocks --------------------------------------------------------------------- */

PVOID ExpAllocateAlignedBlock(EXP_POOL_DESCRIPTOR *d, ULONG units, ULONG alignment, ULONG limit_percent)
{
    ULONG slack = (alignment >> EXP_BLOCK_SHIFT) + 1; /* worst-case lead, never a 1-unit fragment */
    PVOID data = NULL;
    ExpLock(d);
    ULONG total;
    PPOOL_HEADER span = ExpTakeSpan(d, units + slack, limit_percent, &total);
    if (span != NULL) {
        ULONG_PTR first = (ULONG_PTR)(span + 1);
        ULONG lead = (ULONG)((ALIGN_UP_BY(first, alignment) - first) >> EXP_BLOCK_SHIFT);
        if (lead == 1)
            lead += alignment >> EXP_BLOCK_SHIFT;
        ULONG given;
        if (lead != 0) {
            PPOOL_HEADER rest = ExpCutFront(d, span, total, lead, &given);
            ExpLinkFree(d, span, given);
            span = rest;
            total -= given;
        }
        PPOOL_HEADER block = span;
        span = ExpCutFront(d, block, total, units, &given);
        if (span != NULL)
            ExpLinkFree(d, span, total - given);
        data = block + 1;
    }
    pthread_mutex_unlock(&d->Lock);
    return data;
}

/* ---- diagnosis and lookup: walk a page's chain of headers under the lock ---------------------- */

/* Walks from the page start towards Target; returns the header that starts at Target, or NULL if the
 * walk steps over it. Bug checks when the chain itself is broken. */
static PPOOL_HEADER ExpWalkTo(PUCHAR page, PUCHAR target, PPOOL_HEADER *containing)
{
    PPOOL_HEADER h = (PPOOL_HEADER)page, prev = NULL;
    while ((PUCHAR)h < page + PAGE_SIZE) {
        ULONG units = h->BlockSize;
        if (units == 0)
            KiBugCheckWithReason(BAD_POOL_HEADER, 8, 0, 0, (ULONG_PTR)h,
                                 "pool block %p has a block size of zero: its header was overwritten", (void *)h);
        if (ExpOffsetUnits(h) + units > EXP_PAGE_UNITS)
            KiBugCheckWithReason(BAD_POOL_HEADER, 9, (ULONG_PTR)h, 0, (ULONG_PTR)h,
                                 "pool block %p claims %u units, past the end of its page", (void *)h, units);
        if (prev != NULL && h->PreviousSize != prev->BlockSize)
            ExpNeighbourMismatch(prev, h);
        if ((PUCHAR)h == target)
            return h;
        if (target > (PUCHAR)h && target < (PUCHAR)ExpNext(h, units)) {
            if (containing != NULL)
                *containing = h;
            return NULL;
        }
        prev = h;
        h = ExpNext(h, units);
    }
    return NULL;
}

void ExpReportStaleDoubleFree(PVOID block)
{
    PPOOL_HEADER stale = ExpHeaderOf(block);
    ExpTrackInternal(stale, sizeof *stale);
    if (stale->PoolType != 0 || stale->BlockSize < EXP_MIN_UNITS)
        return;
    ULONG64 contents;
    memcpy(&contents, stale, sizeof contents);
    KiBugCheckWithReason(BAD_POOL_CALLER, 7, 0, (ULONG_PTR)contents, (ULONG_PTR)block,
                         "pool block %p (tag '%.4s') was freed twice", block, (const char *)&stale->PoolTag);
}

void ExpDiagnoseBadSmallFree(PVOID block, ULONG pool_type)
{
    EXP_POOL_DESCRIPTOR *d = &ExpPoolDescriptors[ExpPoolIndex(pool_type)];
    PUCHAR target = (PUCHAR)block - sizeof(POOL_HEADER);
    ExpLock(d);
    PPOOL_HEADER h = NULL, containing = NULL;
    BOOLEAN aligned = ((ULONG_PTR)block & (EXP_BLOCK_UNIT - 1)) == 0 && BYTE_OFFSET(block) >= sizeof(POOL_HEADER);
    if (aligned)
        h = ExpWalkTo(PAGE_ALIGN(block), target, &containing);
    if (h == NULL) {
        /* A block freed and then merged into a free neighbour keeps its old header inside the merged
         * block: freeing it again is a double free, not a stray pointer. */
        if (containing != NULL && (containing->PoolIndex & EXP_POOL_INDEX_FREE))
            ExpReportStaleDoubleFree(block);
        KiBugCheckWithReason(BAD_POOL_CALLER, 0x99, (ULONG_PTR)block, 0, 0,
                             "%p is inside a pool page but is not the start of a pool block", block);
    }
    if (h->PoolType == 0 || (h->PoolIndex & EXP_POOL_INDEX_FREE)) {
        ULONG64 contents;
        memcpy(&contents, h, sizeof contents);
        KiBugCheckWithReason(BAD_POOL_CALLER, 7, 0, (ULONG_PTR)contents, (ULONG_PTR)block,
                             "pool block %p (tag '%.4s') was freed twice", block, (const char *)&h->PoolTag);
    }
    KiBugCheckWithReason(BAD_POOL_HEADER, 7, 0, 0, (ULONG_PTR)h,
                         "the header of pool block %p is corrupt (pool type %u, size %u units)", block,
                         h->PoolType, h->BlockSize);
}

NTSTATUS ExpLookupSmallBlock(PVOID address, PNTMEM_POOL_BLOCK_INFO info)
{
    EXP_POOL_DESCRIPTOR *d = &ExpPoolDescriptors[MiRegionOf(address) == MiPagedPoolRegion ? 1 : 0];
    PUCHAR page = PAGE_ALIGN(address);
    NTSTATUS status = STATUS_INVALID_ADDRESS;
    ExpLock(d);
    if (MiPageState(MiPfnOf(page)) == MiPageSmallPool) {
        PPOOL_HEADER h = NULL;
        PPOOL_HEADER exact = ExpWalkTo(page, (PUCHAR)address, &h);
        if (exact != NULL)
            h = exact;
        if (h != NULL) {
            ULONG type = __atomic_load_n(&h->PoolType, __ATOMIC_RELAXED);
            info->Header = h;
            info->Block = h + 1;
            info->BlockSize = (SIZE_T)h->BlockSize << EXP_BLOCK_SHIFT;
            info->Allocated = type != 0;
            info->Tag = info->Allocated ? __atomic_load_n(&h->PoolTag, __ATOMIC_RELAXED) : 0;
            info->PoolType = (POOL_TYPE)(type ? ((type & 7u) - 1) : d->PoolIndex);
            info->QuotaCharged = (type & EXP_POOL_QUOTA) != 0;
            info->ProcessBilled = info->QuotaCharged ? h->ProcessBilled : NULL;
            status = STATUS_SUCCESS;
        }
    }
    pthread_mutex_unlock(&d->Lock);
    return status;
}
