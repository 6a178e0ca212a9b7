/* pool_tracking.c - pool attributed to driver images: every allocation made from a registered driver
 * image is kept with its tag, size and call stack, and counted per driver and tag; at unload what is
 * left is reported, grouped by tag, and under Driver Verifier's pool tracking it is STOP 0xC4/0x62.
 * The fail sweep's "fail the k-th allocation of the driver" lives here too: it needs the same
 * attribution. */
#define _GNU_SOURCE
#include <execinfo.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os/os.h"
#include "vf/vf.h"

#define VF_MAX_DRIVERS 32
#define VF_STACK 12

#define VF_DRIVER_TAGS 64

typedef struct _VF_DRIVER {
    char Name[64];
    ULONG_PTR Start, End;
    BOOLEAN Loaded;
    ULONG64 Allocations, Frees;
    SIZE_T CurrentBytes, PeakBytes;
    ULONG64 Attempts;   /* allocation requests seen by the fail sweep */
    ULONG64 FailAt;     /* fail the request with this number (1-based); 0: none */
    ULONG64 Injected;
    ULONG TagCount;     /* tags beyond VF_DRIVER_TAGS are counted in the driver's totals only */
    NTMEM_DRIVER_TAG_USAGE Tags[VF_DRIVER_TAGS];
} VF_DRIVER;

/* One tracked allocation; a chained hash table keyed by block address. */
typedef struct _VF_TRACKED {
    struct _VF_TRACKED *Next;
    PVOID Block;
    SIZE_T Size;
    ULONG Tag;
    ULONG Driver;
    NTMEM_DRIVER_TAG_USAGE *Usage; /* the driver's counters for this tag and pool, or NULL */
    int Frames;
    void *Stack[VF_STACK];
} VF_TRACKED;

#define VF_BUCKETS 4096

static pthread_mutex_t VfTrackLock = PTHREAD_MUTEX_INITIALIZER;
/* Registered images: while there are any, allocations are attributed whether or not the verifier's
 * pool tracking is on (the driver host's summary needs them); read by VfRecomputeSlowPath. */
NTMEM_HIDDEN volatile ULONG VfRegisteredDrivers;
static volatile ULONG VfSweepArmed;
static ULONG64 VfPendingFailAt;
/* Requests and successes seen while the pool's slow path is on (verifier switches or drivers). */
static ULONG64 VfRequests, VfSucceeded;

void VfCountRequest(void)
{
    __atomic_add_fetch(&VfRequests, 1, __ATOMIC_RELAXED);
}

void VfQueryRequestCounts(ULONG64 *requests, ULONG64 *succeeded)
{
    *requests = __atomic_load_n(&VfRequests, __ATOMIC_RELAXED);
    *succeeded = __atomic_load_n(&VfSucceeded, __ATOMIC_RELAXED);
} /* the fail sweep's k for drivers registered from now on */
static VF_DRIVER VfDrivers[VF_MAX_DRIVERS];
static VF_TRACKED *VfBuckets[VF_BUCKETS];

static ULONG VfBucketOf(const void *block)
{
    return (ULONG)(((ULONG_PTR)block >> 4) * 0x9E3779B97F4A7C15ULL >> 52) % VF_BUCKETS;
}

NTMEM_API PVOID ntmem_verifier_register_driver(PCSTR name, PVOID image, SIZE_T size)
{
    pthread_mutex_lock(&VfTrackLock);
    PVOID handle = NULL;
    for (ULONG i = 0; i < VF_MAX_DRIVERS && handle == NULL; i++) {
        if (VfDrivers[i].Loaded)
            continue;
        VF_DRIVER *d = &VfDrivers[i];
        /* No memset: VfIsDriverAddress may be reading Loaded. */
        snprintf(d->Name, sizeof d->Name, "%s", name != NULL ? name : "driver");
        d->Allocations = d->Frees = d->Attempts = d->Injected = 0;
        d->CurrentBytes = d->PeakBytes = 0;
        d->TagCount = 0;
        /* Atomic stores: VfIsDriverAddress reads these from the fault path, without the lock. */
        __atomic_store_n(&d->Start, (ULONG_PTR)image, __ATOMIC_RELAXED);
        __atomic_store_n(&d->End, (ULONG_PTR)image + size, __ATOMIC_RELAXED);
        __atomic_store_n(&d->Loaded, TRUE, __ATOMIC_RELEASE);
        d->FailAt = VfPendingFailAt;
        if (d->FailAt != 0)
            __atomic_add_fetch(&VfSweepArmed, 1, __ATOMIC_RELAXED);
        handle = d;
        __atomic_add_fetch(&VfRegisteredDrivers, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&VfTrackLock);
    VfRecomputeSlowPath();
    return handle;
}

BOOLEAN VfIsDriverAddress(const void *address)
{
    /* No lock: the caller may be a fault handler that interrupted a thread holding it. */
    for (ULONG i = 0; i < VF_MAX_DRIVERS; i++)
        if (__atomic_load_n(&VfDrivers[i].Loaded, __ATOMIC_ACQUIRE) &&
            (ULONG_PTR)address >= __atomic_load_n(&VfDrivers[i].Start, __ATOMIC_RELAXED) &&
            (ULONG_PTR)address < __atomic_load_n(&VfDrivers[i].End, __ATOMIC_RELAXED))
            return TRUE;
    return FALSE;
}

/* The registered driver whose image holds one of the stack's return addresses (the allocation is
 * the driver's as Windows attributes it: by the calling image). */
static LONG VfDriverOf(void *const *stack, int frames, int *frame)
{
    for (int f = 0; f < frames; f++)
        for (ULONG i = 0; i < VF_MAX_DRIVERS; i++)
            if (VfDrivers[i].Loaded && (ULONG_PTR)stack[f] >= VfDrivers[i].Start && (ULONG_PTR)stack[f] < VfDrivers[i].End) {
                *frame = f;
                return (LONG)i;
            }
    return -1;
}

/* The driver's counters for a tag and pool kind, made on first use; NULL when its table is full. */
static NTMEM_DRIVER_TAG_USAGE *VfTagUsage(VF_DRIVER *d, ULONG tag, ULONG paged)
{
    for (ULONG i = 0; i < d->TagCount; i++)
        if (d->Tags[i].Tag == tag && d->Tags[i].Paged == paged)
            return &d->Tags[i];
    if (d->TagCount == VF_DRIVER_TAGS)
        return NULL;
    NTMEM_DRIVER_TAG_USAGE *u = &d->Tags[d->TagCount++];
    memset(u, 0, sizeof *u);
    u->Tag = tag;
    u->Paged = paged;
    return u;
}

void VfTrackAllocation(PVOID block, SIZE_T size, ULONG tag, ULONG pool_index)
{
    if (block != NULL)
        __atomic_add_fetch(&VfSucceeded, 1, __ATOMIC_RELAXED);
    if (block == NULL || (!(__atomic_load_n(&VfFlags, __ATOMIC_RELAXED) & NTMEM_VERIFIER_POOL_TRACKING) &&
                          __atomic_load_n(&VfRegisteredDrivers, __ATOMIC_RELAXED) == 0))
        return;
    void *stack[VF_STACK + 8];
    int frames = backtrace(stack, VF_STACK + 8);
    pthread_mutex_lock(&VfTrackLock);
    int first = 0;
    LONG driver = VfDriverOf(stack, frames, &first);
    if (driver >= 0) {
        VF_TRACKED *t = malloc(sizeof *t);
        if (t != NULL) {
            t->Block = block;
            t->Size = size;
            t->Tag = tag;
            t->Driver = (ULONG)driver;
            /* The stack as the driver made the call: from its first frame in the driver on. */
            t->Frames = frames - first > VF_STACK ? VF_STACK : frames - first;
            memcpy(t->Stack, stack + first, (size_t)t->Frames * sizeof(void *));
            ULONG b = VfBucketOf(block);
            t->Next = VfBuckets[b];
            VfBuckets[b] = t;
            VF_DRIVER *d = &VfDrivers[driver];
            d->Allocations++;
            d->CurrentBytes += size;
            if (d->CurrentBytes > d->PeakBytes)
                d->PeakBytes = d->CurrentBytes;
            t->Usage = VfTagUsage(d, tag & ~PROTECTED_POOL, pool_index != 0);
            if (t->Usage != NULL) {
                t->Usage->Allocations++;
                t->Usage->CurrentBytes += size;
                if (t->Usage->CurrentBytes > t->Usage->PeakBytes)
                    t->Usage->PeakBytes = t->Usage->CurrentBytes;
            }
        }
    }
    pthread_mutex_unlock(&VfTrackLock);
}

void VfTrackFree(PVOID block)
{
    pthread_mutex_lock(&VfTrackLock);
    for (VF_TRACKED **p = &VfBuckets[VfBucketOf(block)]; *p != NULL; p = &(*p)->Next) {
        if ((*p)->Block != block)
            continue;
        VF_TRACKED *t = *p;
        *p = t->Next;
        VF_DRIVER *d = &VfDrivers[t->Driver];
        d->Frees++;
        d->CurrentBytes -= t->Size;
        if (t->Usage != NULL) {
            t->Usage->Frees++;
            t->Usage->CurrentBytes -= t->Size;
        }
        free(t);
        break;
    }
    pthread_mutex_unlock(&VfTrackLock);
}

NTMEM_API ULONG64 ntmem_verifier_driver_allocations(PVOID handle)
{
    VF_DRIVER *d = handle;
    pthread_mutex_lock(&VfTrackLock);
    ULONG64 n = d != NULL && d->Loaded ? d->Allocations - d->Frees : 0;
    pthread_mutex_unlock(&VfTrackLock);
    return n;
}

static int VfCompareTags(const void *a, const void *b)
{
    ULONG x = (*(VF_TRACKED *const *)a)->Tag, y = (*(VF_TRACKED *const *)b)->Tag;
    return (x > y) - (x < y);
}

/* What leaked, grouped by tag, each allocation with its stack; printed before the STOP. */
static void VfReportLeaks(ULONG driver, ULONG64 count)
{
    VF_TRACKED **list = malloc((size_t)count * sizeof *list);
    ULONG64 n = 0;
    for (ULONG b = 0; b < VF_BUCKETS && list != NULL; b++)
        for (VF_TRACKED *t = VfBuckets[b]; t != NULL && n < count; t = t->Next)
            if (t->Driver == driver)
                list[n++] = t;
    char line[256];
    BOOLEAN verifier = (__atomic_load_n(&VfFlags, __ATOMIC_RELAXED) & NTMEM_VERIFIER_POOL_TRACKING) != 0;
    int len = snprintf(line, sizeof line, "*** %s: %s is unloading with %llu pool allocation(s) not freed:\n",
                       verifier ? "Driver Verifier" : "ntmem", VfDrivers[driver].Name, (unsigned long long)count);
    OsWriteStderr(line, (size_t)len);
    if (list == NULL)
        return;
    qsort(list, n, sizeof *list, VfCompareTags);
    for (ULONG64 i = 0; i < n;) {
        ULONG64 j = i;
        SIZE_T bytes = 0;
        while (j < n && list[j]->Tag == list[i]->Tag)
            bytes += list[j++]->Size;
        ULONG tag = list[i]->Tag;
        len = snprintf(line, sizeof line, "  tag '%.4s': %llu allocation(s), %zu bytes\n", (const char *)&tag,
                       (unsigned long long)(j - i), (size_t)bytes);
        OsWriteStderr(line, (size_t)len);
        for (ULONG64 k = i; k < j && k < i + 4; k++) {
            len = snprintf(line, sizeof line, "    %p, %zu bytes, allocated at:\n", list[k]->Block, list[k]->Size);
            OsWriteStderr(line, (size_t)len);
            KiPrintFrames(list[k]->Stack, list[k]->Frames);
        }
        i = j;
    }
    free(list);
}

NTMEM_API ULONG64 ntmem_verifier_unload_driver(PVOID handle)
{
    VF_DRIVER *d = handle;
    if (d == NULL)
        return 0;
    pthread_mutex_lock(&VfTrackLock);
    ULONG index = (ULONG)(d - VfDrivers);
    ULONG64 outstanding = d->Allocations - d->Frees;
    if (outstanding != 0) {
        VfReportLeaks(index, outstanding);
        if (__atomic_load_n(&VfFlags, __ATOMIC_RELAXED) & NTMEM_VERIFIER_POOL_TRACKING) {
            pthread_mutex_unlock(&VfTrackLock);
            KiBugCheckWithReason(DRIVER_VERIFIER_DETECTED_VIOLATION, 0x62, (ULONG_PTR)d->Name, 0, outstanding,
                                 "driver %s unloaded with %llu pool allocation(s) not freed (listed above)", d->Name,
                                 (unsigned long long)outstanding);
        }
        /* Without the verifier Windows says nothing; the blocks stay allocated but belong to no
         * driver any more: their records go, so a later driver in this slot is not charged for
         * their frees. */
        for (ULONG b = 0; b < VF_BUCKETS; b++) {
            for (VF_TRACKED **p = &VfBuckets[b]; *p != NULL;) {
                VF_TRACKED *t = *p;
                if (t->Driver != index) {
                    p = &t->Next;
                    continue;
                }
                *p = t->Next;
                free(t);
            }
        }
    }
    __atomic_store_n(&d->Loaded, FALSE, __ATOMIC_RELEASE);
    if (d->FailAt != 0)
        __atomic_sub_fetch(&VfSweepArmed, 1, __ATOMIC_RELAXED);
    d->FailAt = 0;
    __atomic_sub_fetch(&VfRegisteredDrivers, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&VfTrackLock);
    VfRecomputeSlowPath();
    return outstanding;
}

NTMEM_API NTSTATUS ntmem_query_driver_pool(PVOID handle, PNTMEM_DRIVER_POOL_INFO info)
{
    VF_DRIVER *d = handle;
    if (d == NULL || info == NULL || d < VfDrivers || d >= VfDrivers + VF_MAX_DRIVERS)
        return STATUS_INVALID_PARAMETER;
    pthread_mutex_lock(&VfTrackLock);
    info->Allocations = d->Allocations;
    info->Frees = d->Frees;
    info->Outstanding = d->Allocations - d->Frees;
    info->CurrentBytes = d->CurrentBytes;
    info->PeakBytes = d->PeakBytes;
    info->AllocationRequests = d->Attempts;
    info->FailuresInjected = d->Injected;
    info->TagCount = d->TagCount;
    memcpy(info->Tags, d->Tags, d->TagCount * sizeof d->Tags[0]);
    pthread_mutex_unlock(&VfTrackLock);
    return STATUS_SUCCESS;
}

/* ---- the fail sweep ------------------------------------------------------------------------------ */

NTMEM_API VOID ntmem_verifier_fail_driver_allocation(PVOID handle, ULONG64 Number)
{
    VF_DRIVER *d = handle;
    pthread_mutex_lock(&VfTrackLock);
    if (d == NULL) {
        VfPendingFailAt = Number;
        pthread_mutex_unlock(&VfTrackLock);
        return;
    }
    d->FailAt = Number;
    d->Attempts = 0;
    ULONG armed = 0;
    for (ULONG i = 0; i < VF_MAX_DRIVERS; i++)
        armed += VfDrivers[i].Loaded && VfDrivers[i].FailAt != 0;
    __atomic_store_n(&VfSweepArmed, armed, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&VfTrackLock);
}

BOOLEAN VfInjectFailure(void)
{
    if (__atomic_load_n(&VfRegisteredDrivers, __ATOMIC_RELAXED) == 0)
        return VfLowResourcesFail(); /* no driver images: every request is a candidate */
    /* With drivers loaded, faults go only to their requests, as Driver Verifier injects them only
     * into the drivers it verifies (the host's own allocations, a DRIVER_OBJECT, never fail). */
    BOOLEAN low = (__atomic_load_n(&VfFlags, __ATOMIC_RELAXED) & NTMEM_VERIFIER_LOW_RESOURCES) != 0;
    if (__atomic_load_n(&VfSweepArmed, __ATOMIC_RELAXED) == 0 && !low)
        return FALSE;
    void *stack[VF_STACK + 8];
    int frames = backtrace(stack, VF_STACK + 8);
    BOOLEAN fail = FALSE;
    pthread_mutex_lock(&VfTrackLock);
    int first;
    LONG driver = VfDriverOf(stack, frames, &first);
    if (driver >= 0 && VfDrivers[driver].FailAt != 0) {
        VF_DRIVER *d = &VfDrivers[driver];
        if (++d->Attempts == d->FailAt) {
            d->Injected++;
            fail = TRUE;
        }
    }
    pthread_mutex_unlock(&VfTrackLock);
    return fail || (driver >= 0 && low && VfLowResourcesFail());
}
