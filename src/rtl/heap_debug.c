/* heap_debug.c - debug heaps, like PageHeap: fill patterns, tail checking, free checking and
 * full-page blocks that end at an inaccessible page and stay inaccessible after they are freed. */
#include <string.h>

#include "os/os.h"
#include "rtl/heap.h"

#define HP_TAIL_BYTE 0xAB
#define HP_ALLOC_FILL 0xBAADF00DU
#define HP_FREE_FILL 0xFEEEFEEEU
#define HP_TAIL_MIN 8 /* debug blocks get at least this many checked bytes after them */

static ULONG HpDebugSetting;
static pthread_once_t HpDebugOnce = PTHREAD_ONCE_INIT;

static void HpReadDebugSetting(void)
{
    static const struct {
        const char *Name;
        ULONG Flag;
    } names[] = {{"fill", NTMEM_HEAP_DEBUG_FILL},
                 {"tail", NTMEM_HEAP_DEBUG_TAIL},
                 {"free", NTMEM_HEAP_DEBUG_FREE},
                 {"fullpage", NTMEM_HEAP_DEBUG_FULLPAGE}};
    const char *text = OsGetEnv("NTMEM_HEAP_DEBUG");
    for (const char *p = text; p != NULL && *p != '\0';) {
        size_t n = strcspn(p, ",");
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strlen(names[i].Name) == n && strncmp(p, names[i].Name, n) == 0)
                HpDebugSetting |= names[i].Flag;
        p += n + (p[n] == ',');
    }
}

ULONG HpDebugFlags(void)
{
    pthread_once(&HpDebugOnce, HpReadDebugSetting);
    return __atomic_load_n(&HpDebugSetting, __ATOMIC_RELAXED);
}

NTMEM_API ULONG ntmem_set_heap_debug(ULONG flags)
{
    ULONG old = HpDebugFlags();
    __atomic_store_n(&HpDebugSetting, flags & 0xF, __ATOMIC_RELAXED);
    return old;
}

static void HpFillPattern(PUCHAR p, SIZE_T n, ULONG pattern)
{
    for (SIZE_T i = 0; i < n; i++)
        p[i] = (UCHAR)(pattern >> (8 * (((ULONG_PTR)(p + i)) & 3)));
}

static BOOLEAN HpHasPattern(const UCHAR *p, SIZE_T n, ULONG pattern)
{
    for (SIZE_T i = 0; i < n; i++)
        if (p[i] != (UCHAR)(pattern >> (8 * (((ULONG_PTR)(p + i)) & 3))))
            return FALSE;
    return TRUE;
}

static BOOLEAN HpTailIntact(const UCHAR *tail, SIZE_T n)
{
    for (SIZE_T i = 0; i < n; i++)
        if (tail[i] != HP_TAIL_BYTE)
            return FALSE;
    return TRUE;
}

void HpDebugFillFree(HP_HEAP *h, HP_ENTRY *e, ULONG units)
{
    (void)h;
    HpFillPattern((PUCHAR)(e + 1) + sizeof(LIST_ENTRY), (SIZE_T)units * HP_UNIT - HP_UNIT - sizeof(LIST_ENTRY),
                  HP_FREE_FILL);
}

/* ---- full-page blocks ------------------------------------------------------------------------------ */

static PVOID HpPageAllocate(HP_HEAP *h, SIZE_T bytes)
{
    SIZE_T data = ALIGN_UP_BY(bytes, HP_UNIT);
    SIZE_T used = ALIGN_UP_BY(sizeof(HP_BIG_BLOCK) + data, PAGE_SIZE);
    if (data < bytes || used < data)
        return NULL;
    PUCHAR base = VirtualAlloc(NULL, used + PAGE_SIZE, MEM_RESERVE, h->Protect);
    if (base == NULL)
        return NULL;
    if (VirtualAlloc(base, used, MEM_COMMIT, h->Protect) == NULL) {
        VirtualFree(base, 0, MEM_RELEASE);
        return NULL;
    }
    /* The data ends where the inaccessible page starts (to the 16-byte alignment). */
    PUCHAR p = base + used - data;
    HP_BIG_BLOCK *big = (HP_BIG_BLOCK *)(p - sizeof(HP_BIG_BLOCK));
    big->RegionBase = base;
    big->RegionSize = used + PAGE_SIZE;
    big->Requested = bytes;
    HP_BLOCK b = {0, 0, HP_BUSY | HP_BIG, 0, 0};
    HpEncode(h, &big->Entry, &b);
    memset(p + bytes, HP_TAIL_BYTE, data - bytes);
    InsertTailList(&h->BigBlocks, &big->Links);
    return p;
}

BOOLEAN HpDebugInQuarantine(HP_HEAP *h, const void *data)
{
    for (ULONG i = 0; i < HP_QUARANTINE; i++)
        if (h->QuarantineData[i] == data)
            return TRUE;
    return FALSE;
}

/* A freed full-page block becomes inaccessible and stays reserved a while, so a use after free
 * faults; the oldest of them is released to make room. */
static void HpPageFree(HP_HEAP *h, HP_BIG_BLOCK *big, PVOID data)
{
    SIZE_T slack = ALIGN_UP_BY(big->Requested, HP_UNIT) - big->Requested;
    if (!HpTailIntact((PUCHAR)data + big->Requested, slack))
        HpReportCorruption(h, data, "the bytes after the block were overwritten (a buffer overrun)");
    RemoveEntryList(&big->Links);
    PUCHAR base = big->RegionBase;
    SIZE_T size = big->RegionSize;
    VirtualFree(base, size - PAGE_SIZE, MEM_DECOMMIT);
    ULONG slot = h->QuarantineNext++ % HP_QUARANTINE;
    if (h->QuarantineBase[slot] != NULL)
        VirtualFree(h->QuarantineBase[slot], 0, MEM_RELEASE);
    h->QuarantineBase[slot] = base;
    h->QuarantineData[slot] = data;
}

void HpDebugReleaseQuarantine(HP_HEAP *h)
{
    for (ULONG i = 0; i < HP_QUARANTINE; i++)
        if (h->QuarantineBase[i] != NULL)
            VirtualFree(h->QuarantineBase[i], 0, MEM_RELEASE);
}

/* ---- allocation and freeing ----------------------------------------------------------------------------- */

PVOID HpDebugAllocate(HP_HEAP *h, SIZE_T bytes)
{
    PVOID p;
    HpLock(h);
    if (h->Debug & NTMEM_HEAP_DEBUG_FULLPAGE) {
        p = HpPageAllocate(h, bytes);
    } else {
        ULONG units = (ULONG)((bytes + HP_TAIL_MIN + 2 * HP_UNIT - 1) / HP_UNIT);
        p = HpAllocateBlock(h, units, bytes);
        if (p != NULL) {
            HP_BLOCK b;
            if (!HpDecode(h, HpEntryOf(p), &b))
                HpReportCorruption(h, p, "a block header is corrupt");
            SIZE_T span = (SIZE_T)b.Size * HP_UNIT - HP_UNIT;
            /* The block was free: beyond its old links it must still hold the free fill. */
            if ((h->Debug & NTMEM_HEAP_DEBUG_FREE) &&
                !HpHasPattern((PUCHAR)p + sizeof(LIST_ENTRY), span - sizeof(LIST_ENTRY), HP_FREE_FILL))
                HpReportCorruption(h, p, "a free block was written to after it was freed (a use after free)");
            memset((PUCHAR)p + bytes, HP_TAIL_BYTE, span - bytes);
        }
    }
    HpUnlock(h);
    if (p != NULL && (h->Debug & NTMEM_HEAP_DEBUG_FILL))
        HpFillPattern(p, bytes, HP_ALLOC_FILL);
    return p;
}

BOOLEAN HpDebugBlockIntact(HP_HEAP *h, PUCHAR data, const HP_BLOCK *b, BOOLEAN busy)
{
    if (b->Flags & HP_BIG) {
        HP_BIG_BLOCK *big = HpBigOf(h, data);
        return big != NULL &&
               (!(h->Debug & NTMEM_HEAP_DEBUG_FULLPAGE) ||
                HpTailIntact(data + big->Requested, ALIGN_UP_BY(big->Requested, HP_UNIT) - big->Requested));
    }
    SIZE_T span = (SIZE_T)b->Size * HP_UNIT - HP_UNIT;
    if (busy)
        return HpTailIntact(data + HpRequested(b), b->Unused);
    return !(h->Debug & (NTMEM_HEAP_DEBUG_FILL | NTMEM_HEAP_DEBUG_FREE)) ||
           HpHasPattern(data + sizeof(LIST_ENTRY), span - sizeof(LIST_ENTRY), HP_FREE_FILL);
}

void HpDebugFree(HP_HEAP *h, PVOID data)
{
    HpLock(h);
    if ((h->Debug & NTMEM_HEAP_DEBUG_FULLPAGE) && HpDebugInQuarantine(h, data))
        HpReportCorruption(h, data, "the block is already free (a double free)");
    HP_BLOCK b;
    if (!HpDecode(h, HpEntryOf(data), &b))
        HpReportCorruption(h, data, "not a block of this heap, or its header was overwritten");
    if (!(b.Flags & HP_BUSY))
        HpReportCorruption(h, data, "the block is already free (a double free)");
    if (b.Flags & HP_BIG) {
        HP_BIG_BLOCK *big = HpBigOf(h, data);
        if (big == NULL)
            HpReportCorruption(h, data, "a big block this heap does not have (freed twice?)");
        if (h->Debug & NTMEM_HEAP_DEBUG_FULLPAGE)
            HpPageFree(h, big, data);
        else
            HpFreeBig(h, data);
    } else {
        if (!HpTailIntact((PUCHAR)data + HpRequested(&b), b.Unused))
            HpReportCorruption(h, data, "the bytes after the block were overwritten (a buffer overrun)");
        HpFreeBlock(h, data, &b);
    }
    HpUnlock(h);
}
