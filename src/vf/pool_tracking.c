/* pool_tracking.c - Driver Verifier's pool tracking: every allocation made from a registered driver
 * image is kept with its tag, size and call stack; unloading a driver that still owns pool is STOP
 * 0xC4 with P1 0x62, after a report of what leaked, grouped by tag. */
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

typedef struct _VF_DRIVER {
    char Name[64];
    ULONG_PTR Start, End;
    BOOLEAN Loaded;
    ULONG64 Outstanding;
} VF_DRIVER;

/* One tracked allocation; a chained hash table keyed by block address. */
typedef struct _VF_TRACKED {
    struct _VF_TRACKED *Next;
    PVOID Block;
    SIZE_T Size;
    ULONG Tag;
    ULONG Driver;
    int Frames;
    void *Stack[VF_STACK];
} VF_TRACKED;

#define VF_BUCKETS 4096

static pthread_mutex_t VfTrackLock = PTHREAD_MUTEX_INITIALIZER;
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
        d->Outstanding = 0; /* no memset: VfIsDriverAddress may be reading Loaded */
        snprintf(d->Name, sizeof d->Name, "%s", name != NULL ? name : "driver");
        /* Atomic stores: VfIsDriverAddress reads these from the fault path, without the lock. */
        __atomic_store_n(&d->Start, (ULONG_PTR)image, __ATOMIC_RELAXED);
        __atomic_store_n(&d->End, (ULONG_PTR)image + size, __ATOMIC_RELAXED);
        __atomic_store_n(&d->Loaded, TRUE, __ATOMIC_RELEASE);
        handle = d;
    }
    pthread_mutex_unlock(&VfTrackLock);
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

void VfTrackAllocation(PVOID block, SIZE_T size, ULONG tag)
{
    if (!(__atomic_load_n(&VfFlags, __ATOMIC_RELAXED) & NTMEM_VERIFIER_POOL_TRACKING) || block == NULL)
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
            VfDrivers[driver].Outstanding++;
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
        VfDrivers[t->Driver].Outstanding--;
        free(t);
        break;
    }
    pthread_mutex_unlock(&VfTrackLock);
}

NTMEM_API ULONG64 ntmem_verifier_driver_allocations(PVOID handle)
{
    VF_DRIVER *d = handle;
    pthread_mutex_lock(&VfTrackLock);
    ULONG64 n = d != NULL && d->Loaded ? d->Outstanding : 0;
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
    int len = snprintf(line, sizeof line, "*** Driver Verifier: %s is unloading with %llu pool allocation(s) not freed:\n",
                       VfDrivers[driver].Name, (unsigned long long)count);
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

NTMEM_API VOID ntmem_verifier_unload_driver(PVOID handle)
{
    VF_DRIVER *d = handle;
    if (d == NULL)
        return;
    pthread_mutex_lock(&VfTrackLock);
    ULONG index = (ULONG)(d - VfDrivers);
    ULONG64 outstanding = d->Outstanding;
    if (outstanding != 0) {
        VfReportLeaks(index, outstanding);
        pthread_mutex_unlock(&VfTrackLock);
        KiBugCheckWithReason(DRIVER_VERIFIER_DETECTED_VIOLATION, 0x62, (ULONG_PTR)d->Name, 0, outstanding,
                             "driver %s unloaded with %llu pool allocation(s) not freed (listed above)", d->Name,
                             (unsigned long long)outstanding);
    }
    __atomic_store_n(&d->Loaded, FALSE, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&VfTrackLock);
}
