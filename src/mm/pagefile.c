/* pagefile.c - the page file: where it is, creating it on first use, its slots, deleting it at exit. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mm/pager.h"
#include "os/os.h"

#define MI_DEFAULT_PAGEFILE_BYTES ((SIZE_T)256 << 20)

/* The configuration (environment at load, ntmem_set_pagefile until the file exists) and, once it is
 * created, the file. Everything but the configuration is guarded by the pager lock. */
static char MiPageFileConfigured[4096]; /* empty: $TMPDIR/ntmem-pagefile-<pid> */
static SIZE_T MiPageFileBytes = MI_DEFAULT_PAGEFILE_BYTES;
static char MiPageFilePath[4096 + 32];
static int MiPageFileFd = -1;
static pid_t MiPageFileOwner;     /* only the process that created the file deletes it */
static BOOLEAN MiPageFileUnusable; /* creation failed: pages stay resident */
static ULONG64 *MiSlotMap;
static ULONG MiSlotCount, MiSlotHint;
static pthread_once_t MiExitHookOnce = PTHREAD_ONCE_INIT;

NTMEM_API NTSTATUS ntmem_set_pagefile(PCSTR path, SIZE_T bytes)
{
    if (path != NULL && (strlen(path) == 0 || strlen(path) >= sizeof MiPageFileConfigured))
        return STATUS_INVALID_PARAMETER;
    if (bytes != 0 && bytes < PAGE_SIZE)
        return STATUS_INVALID_PARAMETER;
    NTSTATUS status = STATUS_SUCCESS;
    pthread_mutex_lock(&MiPager.Lock);
    if (MiPageFileFd >= 0) {
        status = STATUS_ALREADY_COMMITTED;
    } else {
        if (path != NULL)
            strcpy(MiPageFileConfigured, path);
        if (bytes != 0)
            MiPageFileBytes = bytes;
        MiPageFileUnusable = FALSE; /* a new place deserves a new try */
    }
    pthread_mutex_unlock(&MiPager.Lock);
    return status;
}

__attribute__((constructor)) static void MiReadPageFileEnvironment(void)
{
    const char *path = OsGetEnv("NTMEM_PAGEFILE"), *size = OsGetEnv("NTMEM_PAGEFILE_SIZE");
    uint64_t bytes = 0;
    if (size != NULL && (OsParseSize(size, &bytes) != 0 || bytes < PAGE_SIZE)) {
        fprintf(stderr, "ntmem: ignoring NTMEM_PAGEFILE_SIZE=%s (expected bytes with optional K/M/G)\n", size);
        bytes = 0;
    }
    if (path != NULL || bytes != 0)
        ntmem_set_pagefile(path, (SIZE_T)bytes);
}

/* Async-signal-safe: also run on the way to SIGABRT after a bug check. */
static void MiDeletePageFile(void)
{
    if (__atomic_load_n(&MiPageFileFd, __ATOMIC_ACQUIRE) >= 0 && MiPageFileOwner == getpid())
        OsDeleteFile(MiPageFilePath);
}

static void MiInstallExitHooks(void)
{
    atexit(MiDeletePageFile);
    OsSetAbortHook(MiDeletePageFile);
}

static BOOLEAN MiCreatePageFile(void)
{
    if (MiPageFileUnusable)
        return FALSE;
    pid_t pid = getpid();
    if (MiPageFileConfigured[0] == '\0') {
        const char *dir = OsGetEnv("TMPDIR");
        snprintf(MiPageFilePath, sizeof MiPageFilePath, "%s/ntmem-pagefile-%d", dir != NULL ? dir : "/tmp", (int)pid);
    } else if (MiPageFileOwner != 0) {
        /* A forked child cannot share its parent's file: it takes the name with its pid appended. */
        snprintf(MiPageFilePath, sizeof MiPageFilePath, "%s.%d", MiPageFileConfigured, (int)pid);
    } else {
        snprintf(MiPageFilePath, sizeof MiPageFilePath, "%s", MiPageFileConfigured);
    }
    ULONG slots = (ULONG)(MiPageFileBytes >> PAGE_SHIFT);
    ULONG64 *map = calloc((slots + 63) / 64, sizeof *map);
    int fd = -1, rc = map == NULL ? ENOMEM : OsCreateFile(MiPageFilePath, (uint64_t)slots << PAGE_SHIFT, &fd);
    if (rc != 0) {
        free(map);
        MiPageFileUnusable = TRUE;
        char line[4200];
        int n = snprintf(line, sizeof line, "ntmem: cannot create the page file %s (%s); pageable memory stays resident\n",
                         MiPageFilePath, strerror(rc));
        OsWriteStderr(line, (size_t)n);
        return FALSE;
    }
    MiSlotMap = map;
    MiSlotCount = slots;
    MiSlotHint = 0;
    MiPageFileOwner = pid;
    __atomic_store_n(&MiPageFileFd, fd, __ATOMIC_RELEASE);
    MiPager.Counters.PageFileSlots = slots;
    pthread_once(&MiExitHookOnce, MiInstallExitHooks);
    return TRUE;
}

BOOLEAN MiAllocatePageFileSlot(ULONG *slot)
{
    if (MiPageFileFd < 0 && !MiCreatePageFile()) {
        MiPager.Counters.FailedWrites++;
        return FALSE;
    }
    for (ULONG word = MiSlotHint / 64; word < (MiSlotCount + 63) / 64; word++) {
        ULONG64 free_bits = ~MiSlotMap[word];
        if (free_bits == 0)
            continue;
        ULONG s = word * 64 + (ULONG)__builtin_ctzll(free_bits);
        if (s >= MiSlotCount)
            break;
        MiSlotMap[word] |= 1ULL << (s % 64);
        MiSlotHint = s + 1;
        if (++MiPager.Counters.PageFileSlotsInUse > MiPager.Counters.PageFileSlotsPeak)
            MiPager.Counters.PageFileSlotsPeak = MiPager.Counters.PageFileSlotsInUse;
        *slot = s;
        return TRUE;
    }
    MiPager.Counters.PageFileFull++;
    return FALSE;
}

void MiFreePageFileSlot(ULONG slot)
{
    MiSlotMap[slot / 64] &= ~(1ULL << (slot % 64));
    if (slot < MiSlotHint)
        MiSlotHint = slot;
    MiPager.Counters.PageFileSlotsInUse--;
}

int MiWritePageFileSlot(ULONG slot, const void *page)
{
    return OsWriteAt(MiPageFileFd, page, PAGE_SIZE, (uint64_t)slot << PAGE_SHIFT);
}

int MiReadPageFileSlot(ULONG slot, void *page)
{
    return OsReadAt(MiPageFileFd, page, PAGE_SIZE, (uint64_t)slot << PAGE_SHIFT);
}

void MiPageFileAfterFork(void)
{
    if (MiPageFileFd < 0)
        return;
    OsCloseFile(MiPageFileFd); /* the parent's file: closed here, never deleted here */
    MiPageFileFd = -1;
    free(MiSlotMap);
    MiSlotMap = NULL;
    MiSlotCount = 0;
    MiPager.Counters.PageFileSlots = MiPager.Counters.PageFileSlotsInUse = MiPager.Counters.PageFileSlotsPeak = 0;
}
