/* heap_api.c - the heap API: the process heap and the heap registry, HeapCreate/HeapDestroy,
 * HeapAlloc/HeapReAlloc/HeapFree/HeapSize, heap information, and the Rtl forms for kernel code. */
#include <string.h>

#include "rtl/heap_frontend.h"

static pthread_mutex_t HpRegistryMutex = PTHREAD_MUTEX_INITIALIZER;
static LIST_ENTRY HpHeaps = {&HpHeaps, &HpHeaps};
static HP_HEAP *HpProcessHeap;

void HpRegistryLock(void)
{
    pthread_mutex_lock(&HpRegistryMutex);
}

void HpRegistryUnlock(void)
{
    pthread_mutex_unlock(&HpRegistryMutex);
}

HP_HEAP *HpLookupById(ULONG64 id)
{
    for (LIST_ENTRY *l = HpHeaps.Flink; l != &HpHeaps; l = l->Flink) {
        HP_HEAP *h = CONTAINING_RECORD(l, HP_HEAP, HeapLinks);
        if (h->Id == id)
            return h;
    }
    return NULL;
}

HP_HEAP *HpLookup(HANDLE handle)
{
    HP_HEAP *found = NULL;
    HpRegistryLock();
    for (LIST_ENTRY *l = HpHeaps.Flink; l != &HpHeaps && found == NULL; l = l->Flink)
        if (CONTAINING_RECORD(l, HP_HEAP, HeapLinks) == (HP_HEAP *)handle)
            found = (HP_HEAP *)handle;
    HpRegistryUnlock();
    return found;
}

/* The calls made for every block check the handle by its signature alone: the registry's lock is
 * for the rarer calls. A handle that is no heap fails with ERROR_INVALID_HANDLE. */
HP_HEAP *HpFromHandle(HANDLE handle)
{
    HP_HEAP *h = handle;
    if (h == NULL || ((ULONG_PTR)h & 0xFFFF) != 0 || h->Signature != HP_SIGNATURE) {
        SetLastError(ERROR_INVALID_HANDLE);
        return NULL;
    }
    return h;
}

static HP_HEAP *HpRegister(HP_HEAP *h)
{
    if (h != NULL) {
        HpRegistryLock();
        InsertTailList(&HpHeaps, &h->HeapLinks);
        HpRegistryUnlock();
    }
    return h;
}

__attribute__((constructor)) static void HpCreateProcessHeap(void)
{
    if (HpProcessHeap == NULL)
        HpProcessHeap = HpRegister(HpCreate(HEAP_GROWABLE, 0, 0));
}

WINBASEAPI HANDLE WINAPI GetProcessHeap(VOID)
{
    if (HpProcessHeap == NULL)
        HpCreateProcessHeap();
    return HpProcessHeap;
}

WINBASEAPI DWORD WINAPI GetProcessHeaps(DWORD count, PHANDLE heaps)
{
    GetProcessHeap();
    DWORD total = 0;
    HpRegistryLock();
    for (LIST_ENTRY *l = HpHeaps.Flink; l != &HpHeaps; l = l->Flink, total++)
        if (total < count && heaps != NULL)
            heaps[total] = CONTAINING_RECORD(l, HP_HEAP, HeapLinks);
    HpRegistryUnlock();
    return total;
}

WINBASEAPI HANDLE WINAPI HeapCreate(DWORD options, SIZE_T initial, SIZE_T maximum)
{
    if (maximum != 0 && initial > maximum) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    ULONG flags = options & (HEAP_NO_SERIALIZE | HEAP_GENERATE_EXCEPTIONS | HEAP_CREATE_ENABLE_EXECUTE);
    HP_HEAP *h = HpRegister(HpCreate(flags | (maximum == 0 ? HEAP_GROWABLE : 0), initial, maximum));
    if (h == NULL)
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
    return h;
}

/* HeapDestroy frees every block at once: Valgrind is told so, or it would call them leaks. */
static void HpUntrackAll(HP_HEAP *h)
{
    for (ULONG i = 0; i < h->SegmentCount; i++)
        for (PUCHAR at = h->Segments[i].FirstBlock; at < h->Segments[i].CommitEnd;) {
            HP_BLOCK b;
            if (!HpDecode(h, (HP_ENTRY *)at, &b))
                break;
            if ((b.Flags & HP_BUSY) && !(b.Flags & HP_CACHED))
                ExpVgFree(at + HP_UNIT);
            at += (SIZE_T)b.Size * HP_UNIT;
        }
    for (LIST_ENTRY *l = h->BigBlocks.Flink; l != &h->BigBlocks; l = l->Flink)
        ExpVgFree(&CONTAINING_RECORD(l, HP_BIG_BLOCK, Links)->Entry + 1);
}

WINBASEAPI BOOL WINAPI HeapDestroy(HANDLE handle)
{
    HP_HEAP *h = HpLookup(handle);
    if (h == NULL || h == HpProcessHeap) {
        SetLastError(h == NULL ? ERROR_INVALID_HANDLE : ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    /* Out of the registry first: other threads' caches then know its blocks are gone. */
    HpRegistryLock();
    RemoveEntryList(&h->HeapLinks);
    HpRegistryUnlock();
    HpFrontForget(h);
    if (ExpTrackingActive() && h->Debug == 0)
        HpUntrackAll(h);
    HpReleaseAll(h);
    return TRUE;
}

/* Failing allocations: NULL and ERROR_NOT_ENOUGH_MEMORY, or STATUS_NO_MEMORY raised when asked. */
static PVOID HpFail(ULONG flags, SIZE_T bytes)
{
    SetLastError(ERROR_NOT_ENOUGH_MEMORY);
    if (flags & HEAP_GENERATE_EXCEPTIONS) {
        ULONG_PTR argument = bytes;
        RaiseException((DWORD)STATUS_NO_MEMORY, 0, 1, &argument);
    }
    return NULL;
}

/* ASan and Valgrind: the requested bytes are the program's, the rest of the block is a red zone. */
static void HpTrackAlloc(HP_HEAP *h, PVOID p, SIZE_T bytes)
{
    HP_BLOCK b;
    SIZE_T data = bytes;
    if (HpDecode(h, HpEntryOf(p), &b) && !(b.Flags & HP_BIG))
        data = (SIZE_T)b.Size * HP_UNIT - HP_UNIT;
    ExpTrackAlloc(p, bytes, data);
}

/* A freed block is off limits to the program, except its first 16 bytes, which the heap's own
 * lists use. */
static void HpTrackFree(const HP_BLOCK *b, PVOID p)
{
    ExpVgFree(p);
    ExpVgAccess(p, HP_UNIT);
    ExpAsanUnpoison(p, HP_UNIT);
    if (!(b->Flags & HP_BIG))
        ExpAsanPoison((PUCHAR)p + HP_UNIT, (SIZE_T)b->Size * HP_UNIT - 2 * HP_UNIT);
}

static BOOLEAN HpUsesFrontEnd(const HP_HEAP *h, ULONG flags, ULONG units)
{
    return h->FrontEnd && !(flags & HEAP_NO_SERIALIZE) && units <= HP_FRONT_UNITS &&
           __atomic_load_n(&h->LockCount, __ATOMIC_ACQUIRE) == 0;
}

WINBASEAPI LPVOID WINAPI HeapAlloc(HANDLE handle, DWORD flags, SIZE_T bytes)
{
    HP_HEAP *h = HpFromHandle(handle);
    if (h == NULL)
        return NULL;
    flags |= h->Flags & (HEAP_NO_SERIALIZE | HEAP_GENERATE_EXCEPTIONS);
    PVOID p;
    if (h->Debug != 0 && (bytes < HP_BIG_THRESHOLD || (h->Debug & NTMEM_HEAP_DEBUG_FULLPAGE))) {
        p = HpDebugAllocate(h, bytes);
    } else if (bytes >= HP_BIG_THRESHOLD) {
        /* Fixed heaps hold nothing this big; growable ones give it its own region. */
        if (h->Fixed || bytes > ((SIZE_T)1 << 46))
            return HpFail(flags, bytes);
        HpLock(h);
        p = HpAllocateBig(h, bytes);
        HpUnlock(h);
    } else {
        ULONG units = (ULONG)((bytes + 2 * HP_UNIT - 1) / HP_UNIT);
        if (units < 2)
            units = 2; /* room for the free-list links once it is freed */
        if (HpUsesFrontEnd(h, flags, units)) {
            p = HpFrontAllocateInline(h, units, bytes);
        } else {
            HpLock(h);
            p = HpAllocateBlock(h, units, bytes);
            HpUnlock(h);
        }
    }
    if (p == NULL)
        return HpFail(flags, bytes);
    if (ExpTrackingActive() && h->Debug == 0)
        HpTrackAlloc(h, p, bytes);
    if (flags & HEAP_ZERO_MEMORY)
        memset(p, 0, bytes);
    return p;
}

/* The decoded header of a busy block of h, or the corruption report. */
static void HpCheckBusy(HP_HEAP *h, PVOID p, HP_BLOCK *b)
{
    if (!HpDecode(h, HpEntryOf(p), b))
        HpReportCorruption(h, p, "not a block of this heap, or its header was overwritten");
    if (!(b->Flags & HP_BUSY) || (b->Flags & HP_CACHED))
        HpReportCorruption(h, p, "the block is already free (a double free)");
}

WINBASEAPI BOOL WINAPI HeapFree(HANDLE handle, DWORD flags, LPVOID p)
{
    if (p == NULL)
        return TRUE;
    HP_HEAP *h = HpFromHandle(handle);
    if (h == NULL)
        return FALSE;
    flags |= h->Flags & HEAP_NO_SERIALIZE;
    if (h->Debug != 0) {
        HpDebugFree(h, p);
        return TRUE;
    }
    HP_BLOCK b;
    HpCheckBusy(h, p, &b);
    if (ExpTrackingActive())
        HpTrackFree(&b, p);
    if (b.Flags & HP_BIG) {
        HpLock(h);
        HpFreeBig(h, p);
        HpUnlock(h);
    } else if (HpUsesFrontEnd(h, flags, b.Size)) {
        HpFrontFreeInline(h, p, &b);
    } else {
        HpLock(h);
        HpFreeBlock(h, p, &b);
        HpUnlock(h);
    }
    return TRUE;
}

WINBASEAPI SIZE_T WINAPI HeapSize(HANDLE handle, DWORD flags, LPCVOID p)
{
    (void)flags;
    HP_HEAP *h = HpFromHandle(handle);
    HP_BLOCK b;
    if (h == NULL || p == NULL || ((h->Debug & NTMEM_HEAP_DEBUG_FULLPAGE) && HpDebugInQuarantine(h, p)) ||
        !HpDecode(h, HpEntryOf(p), &b) || !(b.Flags & HP_BUSY))
        return (SIZE_T)-1;
    if (b.Flags & HP_BIG) {
        HpLock(h);
        HP_BIG_BLOCK *big = HpBigOf(h, p);
        SIZE_T size = big != NULL ? big->Requested : (SIZE_T)-1;
        HpUnlock(h);
        return size;
    }
    return (b.Flags & HP_CACHED) ? (SIZE_T)-1 : HpRequested(&b);
}

WINBASEAPI LPVOID WINAPI HeapReAlloc(HANDLE handle, DWORD flags, LPVOID p, SIZE_T bytes)
{
    HP_HEAP *h = HpFromHandle(handle);
    if (h == NULL)
        return NULL;
    if (p == NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    flags |= h->Flags & (HEAP_NO_SERIALIZE | HEAP_GENERATE_EXCEPTIONS);
    if ((h->Debug & NTMEM_HEAP_DEBUG_FULLPAGE) && HpDebugInQuarantine(h, p))
        HpReportCorruption(h, p, "the block is already free (a use after free)");
    HP_BLOCK b;
    HpCheckBusy(h, p, &b);
    if (h->Debug != 0) {
        /* Debug heaps check the old block and always move it, so every block keeps its tail. */
        if (!HpDebugBlockIntact(h, p, &b, TRUE))
            HpReportCorruption(h, p, "the bytes after the block were overwritten (a buffer overrun)");
        SIZE_T size = HeapSize(h, 0, p);
        if (flags & HEAP_REALLOC_IN_PLACE_ONLY)
            return HpFail(flags, bytes);
        PVOID q = HeapAlloc(h, flags & ~(DWORD)HEAP_ZERO_MEMORY, bytes);
        if (q == NULL)
            return NULL;
        memcpy(q, p, size < bytes ? size : bytes);
        if ((flags & HEAP_ZERO_MEMORY) && bytes > size)
            memset((PUCHAR)q + size, 0, bytes - size);
        HeapFree(h, flags, p);
        return q;
    }
    SIZE_T old;
    BOOLEAN done = FALSE;
    HpLock(h);
    if (b.Flags & HP_BIG) {
        HP_BIG_BLOCK *big = HpBigOf(h, p);
        if (big == NULL)
            HpReportCorruption(h, p, "a big block this heap does not have");
        old = big->Requested;
        if (bytes >= HP_BIG_THRESHOLD && bytes <= big->RegionSize - sizeof(HP_BIG_BLOCK)) {
            big->Requested = bytes; /* the region already holds it */
            done = TRUE;
        }
    } else {
        old = HpRequested(&b);
        /* Watched by a tool, blocks move unless told not to, so it sees every change of size. */
        done = bytes < HP_BIG_THRESHOLD && (!ExpTrackingActive() || (flags & HEAP_REALLOC_IN_PLACE_ONLY)) &&
               HpResizeInPlace(h, p, &b, bytes);
    }
    HpUnlock(h);
    if (done) {
        if (ExpTrackingActive()) {
            HP_BLOCK now;
            SIZE_T data = HpDecode(h, HpEntryOf(p), &now) && !(now.Flags & HP_BIG)
                              ? (SIZE_T)now.Size * HP_UNIT - HP_UNIT
                              : bytes;
            ExpAsanUnpoison(p, bytes);
            if (data > bytes)
                ExpAsanPoison((PUCHAR)p + bytes, data - bytes);
            ExpVgAccess(p, bytes);
        }
        if ((flags & HEAP_ZERO_MEMORY) && bytes > old)
            memset((PUCHAR)p + old, 0, bytes - old);
        return p;
    }
    if (flags & HEAP_REALLOC_IN_PLACE_ONLY)
        return HpFail(flags, bytes); /* the block stays as it was */
    PVOID q = HeapAlloc(h, flags & ~(DWORD)HEAP_ZERO_MEMORY, bytes);
    if (q == NULL)
        return NULL;
    memcpy(q, p, old < bytes ? old : bytes);
    if ((flags & HEAP_ZERO_MEMORY) && bytes > old)
        memset((PUCHAR)q + old, 0, bytes - old);
    HeapFree(h, flags, p);
    return q;
}

WINBASEAPI BOOL WINAPI HeapSetInformation(HANDLE handle, HEAP_INFORMATION_CLASS information_class, PVOID information,
                                          SIZE_T length)
{
    if (information_class == HeapEnableTerminationOnCorruption)
        return TRUE; /* corruption always ends the process here */
    if (information_class != HeapCompatibilityInformation) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    HP_HEAP *h = HpFromHandle(handle);
    if (h == NULL)
        return FALSE;
    if (information == NULL || length < sizeof(ULONG)) {
        SetLastError(ERROR_INSUFFICIENT_BUFFER);
        return FALSE;
    }
    /* Only turning the low-fragmentation front end on is possible, and not for unserialized heaps. */
    if (*(const ULONG *)information != 2 || (h->Flags & HEAP_NO_SERIALIZE)) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    h->FrontEnd = TRUE;
    return TRUE;
}

WINBASEAPI BOOL WINAPI HeapQueryInformation(HANDLE handle, HEAP_INFORMATION_CLASS information_class, PVOID information,
                                            SIZE_T length, PSIZE_T returned)
{
    if (information_class != HeapCompatibilityInformation) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    HP_HEAP *h = HpFromHandle(handle);
    if (h == NULL)
        return FALSE;
    if (returned != NULL)
        *returned = sizeof(ULONG);
    if (information == NULL || length < sizeof(ULONG)) {
        SetLastError(ERROR_INSUFFICIENT_BUFFER);
        return FALSE;
    }
    *(ULONG *)information = h->FrontEnd ? 2 : 0;
    return TRUE;
}

/* ---- the Rtl forms ------------------------------------------------------------------------------------- */

NTSYSAPI PVOID NTAPI RtlCreateHeap(ULONG flags, PVOID base, SIZE_T reserve, SIZE_T commit, PVOID lock,
                                   PRTL_HEAP_PARAMETERS parameters)
{
    if (base != NULL || lock != NULL || parameters != NULL)
        return NULL; /* caller-supplied memory and locks are not supported */
    ULONG kept = flags & (HEAP_NO_SERIALIZE | HEAP_GENERATE_EXCEPTIONS | HEAP_GROWABLE | HEAP_CREATE_ENABLE_EXECUTE);
    SIZE_T maximum = (flags & HEAP_GROWABLE) ? 0 : (reserve != 0 ? reserve : 0x100000);
    return HpRegister(HpCreate(kept, commit, maximum));
}

NTSYSAPI PVOID NTAPI RtlDestroyHeap(PVOID heap)
{
    return HeapDestroy(heap) ? NULL : heap;
}

NTSYSAPI PVOID NTAPI RtlAllocateHeap(PVOID heap, ULONG flags, SIZE_T size)
{
    return HeapAlloc(heap, flags, size);
}

NTSYSAPI BOOLEAN NTAPI RtlFreeHeap(PVOID heap, ULONG flags, PVOID p)
{
    return HeapFree(heap, flags, p) ? TRUE : FALSE;
}

NTSYSAPI SIZE_T NTAPI RtlSizeHeap(PVOID heap, ULONG flags, PVOID p)
{
    return HeapSize(heap, flags, p);
}
