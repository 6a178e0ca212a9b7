/* special_pool.c - Driver Verifier's special pool: each selected allocation alone on a page next to
 * an inaccessible one, the rest of its page filled with a pattern checked at free, freed blocks
 * left inaccessible for a while. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ex/pool.h"
#include "mm/mm.h"
#include "os/os.h"
#include "vf/vf.h"

#define VF_QUARANTINE 1024 /* freed slots kept inaccessible before their addresses are reused */

enum { VfSlotUnused = 0, VfSlotLive = 1, VfSlotFreed = 2 };

/* What special pool knows of the data page of one allocation (indexed by page in system PTE space). */
typedef struct _VF_SLOT {
    PUCHAR Block;
    ULONG Size;
    ULONG Tag;
    UCHAR PoolType;
    UCHAR State;
    UCHAR VerifyStart; /* the inaccessible page is before the block, not after */
    UCHAR Pattern;
} VF_SLOT;

static pthread_mutex_t VfSpecialLock = PTHREAD_MUTEX_INITIALIZER;
static VF_SLOT *VfSlots;            /* one per page of the region, reserved lazily */
static PUCHAR VfQuarantine[VF_QUARANTINE];
static ULONG VfQuarantineNext;
static NTMEM_SPECIAL_POOL_INFO VfSpecialStats;
static NTMEM_SPECIAL_POOL_SETTINGS VfSpecialSettings = {0, 0, PAGE_SIZE, FALSE};
NTMEM_HIDDEN volatile UCHAR VfSpecialPoolOn;

static pthread_once_t VfSpecialOnce = PTHREAD_ONCE_INIT;

BOOLEAN VfParseSpecialPool(const char *p, const char *end, PNTMEM_SPECIAL_POOL_SETTINGS s)
{
    memset(s, 0, sizeof *s);
    s->MaxSize = PAGE_SIZE;
    while (p < end) {
        size_t n = (size_t)(end - p);
        if (n >= 8 && strncmp(p, "tag:", 4) == 0) {
            memcpy(&s->Tag, p + 4, 4); /* as shown, which is the tag's memory order */
            p += 8;
        } else if (n > 5 && strncmp(p, "size:", 5) == 0) {
            char *stop;
            s->MinSize = strtoul(p + 5, &stop, 0);
            s->MaxSize = *stop == '-' ? strtoul(stop + 1, &stop, 0) : s->MinSize;
            p = stop;
        } else if (n >= 5 && strncmp(p, "start", 5) == 0) {
            s->VerifyStart = TRUE;
            p += 5;
        } else {
            return FALSE;
        }
        if (p < end && *p != '+')
            return FALSE;
        p += p < end;
    }
    return TRUE;
}

static void VfInitializeSpecialPool(void)
{
    MiEnsureInitialized();
    const MI_REGION *r = &MiSystemSpace.Regions[MiSystemPteRegion];
    void *slots = mmap(NULL, r->Pages * sizeof(VF_SLOT), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    VfSlots = slots != MAP_FAILED ? slots : NULL;
}

BOOLEAN VfSpecialPoolSwitch(BOOLEAN on)
{
    pthread_once(&VfSpecialOnce, VfInitializeSpecialPool);
    __atomic_store_n(&VfSpecialPoolOn, on && VfSlots != NULL, __ATOMIC_RELAXED);
    return VfSpecialPoolOn;
}

NTMEM_API VOID ntmem_set_special_pool(PCNTMEM_SPECIAL_POOL_SETTINGS settings)
{
    pthread_once(&VfSpecialOnce, VfInitializeSpecialPool);
    pthread_mutex_lock(&VfSpecialLock);
    VfSpecialSettings = *settings;
    if (VfSpecialSettings.MaxSize == 0 || VfSpecialSettings.MaxSize > PAGE_SIZE)
        VfSpecialSettings.MaxSize = PAGE_SIZE;
    pthread_mutex_unlock(&VfSpecialLock);
}

NTMEM_API SIZE_T ntmem_set_special_pool_limit(SIZE_T bytes)
{
    MiEnsureInitialized();
    MI_REGION *r = &MiSystemSpace.Regions[MiSystemPteRegion];
    pthread_mutex_lock(&r->Lock);
    SIZE_T old = r->LimitPages << PAGE_SHIFT;
    SIZE_T pages = bytes == 0 ? r->Pages : bytes >> PAGE_SHIFT;
    r->LimitPages = pages > r->Pages ? r->Pages : pages;
    pthread_mutex_unlock(&r->Lock);
    return old;
}

NTMEM_API VOID ntmem_query_special_pool(PNTMEM_SPECIAL_POOL_INFO info)
{
    pthread_mutex_lock(&VfSpecialLock);
    *info = VfSpecialStats;
    pthread_mutex_unlock(&VfSpecialLock);
}

static VF_SLOT *VfSlotOf(const void *page)
{
    const MI_REGION *r = &MiSystemSpace.Regions[MiSystemPteRegion];
    if (VfSlots == NULL || (const UCHAR *)page < r->Base || (const UCHAR *)page >= r->Base + (r->Pages << PAGE_SHIFT))
        return NULL;
    return &VfSlots[((const UCHAR *)page - r->Base) >> PAGE_SHIFT];
}

PVOID VfSpecialPoolAllocate(ULONG type, SIZE_T bytes, ULONG tag)
{
    pthread_mutex_lock(&VfSpecialLock);
    NTMEM_SPECIAL_POOL_SETTINGS s = VfSpecialSettings;
    VfSpecialStats.Considered++;
    BOOLEAN wanted = bytes != 0 && bytes <= PAGE_SIZE && bytes >= s.MinSize && bytes <= s.MaxSize &&
                     (s.Tag == 0 || (s.Tag & ~PROTECTED_POOL) == (tag & ~PROTECTED_POOL));
    pthread_mutex_unlock(&VfSpecialLock);
    if (!wanted)
        return NULL;
    PUCHAR pages = MiAllocatePages(MiSystemPteRegion, 2, 100);
    pthread_mutex_lock(&VfSpecialLock);
    if (pages == NULL) {
        VfSpecialStats.Fallbacks++; /* special pool is exhausted: normal pool it is */
        pthread_mutex_unlock(&VfSpecialLock);
        return NULL;
    }
    PUCHAR data = s.VerifyStart ? pages + PAGE_SIZE : pages;
    PUCHAR guard = s.VerifyStart ? pages : pages + PAGE_SIZE;
    OsProtect(guard, PAGE_SIZE, 0);
    /* At the end of its page (aligned to 16, as pool blocks are) or at the start. */
    PUCHAR block = s.VerifyStart ? data : data + PAGE_SIZE - ALIGN_UP_BY(bytes, 16);
    UCHAR pattern = (UCHAR)(((ULONG_PTR)block >> 4) | 1);
    memset(data, pattern, PAGE_SIZE);
    VF_SLOT *slot = VfSlotOf(data);
    *slot = (VF_SLOT){block, (ULONG)bytes, tag, (UCHAR)type, VfSlotLive, (UCHAR)s.VerifyStart, pattern};
    VfSpecialStats.Allocations++;
    VfSpecialStats.Outstanding++;
    pthread_mutex_unlock(&VfSpecialLock);
    return block;
}

BOOLEAN VfIsSpecialPoolAddress(const void *address)
{
    return VfSlots != NULL && MiRegionOf(address) == MiSystemPteRegion;
}

/* The first byte around the block that is not the page's pattern, or NULL. */
static PUCHAR VfDamaged(PUCHAR from, PUCHAR to, UCHAR pattern)
{
    for (PUCHAR p = from; p < to; p++)
        if (*p != pattern)
            return p;
    return NULL;
}

ULONG VfSpecialPoolFree(PVOID block, ULONG tag, BOOLEAN check_tag, KIRQL irql, PULONG pool_index)
{
    PUCHAR page = (PUCHAR)PAGE_ALIGN(block);
    pthread_mutex_lock(&VfSpecialLock);
    VF_SLOT *slot = VfSlotOf(page);
    VF_SLOT s = slot != NULL ? *slot : (VF_SLOT){0};
    pthread_mutex_unlock(&VfSpecialLock);
    if (s.State != VfSlotLive)
        KiBugCheckWithReason(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, (ULONG_PTR)block, 0, 0, 0x20,
                             s.State == VfSlotFreed ? "special pool block %p was freed twice"
                                                    : "%p was freed but special pool never allocated it",
                             block);
    if ((PUCHAR)block != s.Block)
        KiBugCheckWithReason(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, (ULONG_PTR)block, s.Size,
                             ALIGN_UP_BY(s.Size, 16), 0x21,
                             "%p is inside a special pool allocation of %u bytes at %p, not its start", block,
                             s.Size, (void *)s.Block);
    ULONG pool = (s.PoolType & 1) != 0; /* PagedPool is 1 */
    *pool_index = pool;
    if (irql > (pool ? APC_LEVEL : DISPATCH_LEVEL))
        KiBugCheckWithReason(BAD_POOL_CALLER, 9, irql, pool, (ULONG_PTR)block,
                             "special pool block %p freed at IRQL %u", block, irql);
    if (check_tag ? (s.Tag & ~PROTECTED_POOL) != (tag & ~PROTECTED_POOL) : (s.Tag & PROTECTED_POOL) != 0)
        ExpWrongTag(block, s.Tag, check_tag ? tag : 0);
    PUCHAR data = (PUCHAR)PAGE_ALIGN(block);
    PUCHAR bad = s.VerifyStart ? NULL : VfDamaged(data, s.Block, s.Pattern);
    if (bad != NULL)
        KiBugCheckWithReason(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, (ULONG_PTR)block, (ULONG_PTR)bad, 0, 0x23,
                             "the bytes before special pool block %p were overwritten at %p (an underrun)", block,
                             (void *)bad);
    bad = VfDamaged(s.Block + s.Size, data + PAGE_SIZE, s.Pattern);
    if (bad != NULL)
        KiBugCheckWithReason(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, (ULONG_PTR)block, (ULONG_PTR)bad, 0, 0x24,
                             "the bytes after special pool block %p (%u bytes) were overwritten at %p (an overrun)",
                             block, s.Size, (void *)bad);
    /* Both pages become inaccessible and stay reserved for a while: a use after free faults. */
    PUCHAR pages = s.VerifyStart ? data - PAGE_SIZE : data;
    OsProtect(pages, 2 * PAGE_SIZE, 0);
    pthread_mutex_lock(&VfSpecialLock);
    slot->State = VfSlotFreed;
    VfSpecialStats.Frees++;
    VfSpecialStats.Outstanding--;
    PUCHAR oldest = VfQuarantine[VfQuarantineNext % VF_QUARANTINE];
    VfQuarantine[VfQuarantineNext++ % VF_QUARANTINE] = pages;
    pthread_mutex_unlock(&VfSpecialLock);
    if (oldest != NULL) {
        VF_SLOT *old = VfSlotOf(oldest);
        VF_SLOT *old_data = old != NULL && old->State == VfSlotFreed ? old : VfSlotOf(oldest + PAGE_SIZE);
        if (old_data != NULL)
            old_data->State = VfSlotUnused;
        MiReleaseRegionPages(MiSystemPteRegion, oldest, 2);
    }
    return s.Tag;
}

void VfSpecialPoolFault(const void *address, ULONG_PTR how, PVOID ip)
{
    if (!VfIsSpecialPoolAddress(address))
        return;
    PUCHAR page = (PUCHAR)PAGE_ALIGN(address);
    VF_SLOT *here = VfSlotOf(page), *before = VfSlotOf(page - PAGE_SIZE), *after = VfSlotOf(page + PAGE_SIZE);
    ULONG_PTR write = how == 1;
    if ((here != NULL && here->State == VfSlotFreed) || (before != NULL && before->State == VfSlotFreed && !before->VerifyStart) ||
        (after != NULL && after->State == VfSlotFreed && after->VerifyStart))
        KiBugCheckWithReason(DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL, (ULONG_PTR)address, write, (ULONG_PTR)ip, 0,
                             "%s freed special pool at %p", write ? "write to" : "read from", address);
    if ((before != NULL && before->State == VfSlotLive && !before->VerifyStart) ||
        (after != NULL && after->State == VfSlotLive && after->VerifyStart))
        KiBugCheckWithReason(DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION, (ULONG_PTR)address, write, (ULONG_PTR)ip, 0,
                             "%s %p, on the inaccessible page %s a special pool allocation (an %s)",
                             write ? "write to" : "read from", address,
                             after != NULL && after->State == VfSlotLive ? "before" : "after",
                             after != NULL && after->State == VfSlotLive ? "underrun" : "overrun");
}

BOOLEAN VfSpecialPoolQuery(const void *address, PVOID *block, SIZE_T *size, ULONG *tag, ULONG *pool_type)
{
    if (!VfIsSpecialPoolAddress(address))
        return FALSE;
    pthread_mutex_lock(&VfSpecialLock);
    VF_SLOT *slot = VfSlotOf(PAGE_ALIGN(address));
    BOOLEAN live = slot != NULL && slot->State == VfSlotLive && (const UCHAR *)address >= slot->Block &&
                   (const UCHAR *)address < slot->Block + slot->Size;
    if (live) {
        *block = slot->Block;
        *size = slot->Size;
        *tag = slot->Tag;
        *pool_type = slot->PoolType;
    }
    pthread_mutex_unlock(&VfSpecialLock);
    return live;
}
