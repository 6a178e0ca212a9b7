/* os.c - host primitives for ntmem (Linux): address-space reservation, commit, processor facts. */
#define _GNU_SOURCE
#include "os/os.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

int OsReserve(void *hint, size_t size, void **base)
{
    void *p = mmap(hint, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return errno;
    *base = p;
    return 0;
}

int OsReserveFixed(void *address, size_t size)
{
    void *p = mmap(address, size, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED)
        return errno;
    if (p != address) { /* kernels before 4.17 treat the flag as a hint */
        munmap(p, size);
        return EEXIST;
    }
    return 0;
}

int OsRelease(void *base, size_t size)
{
    return munmap(base, size) == 0 ? 0 : errno;
}

int OsCommit(void *address, size_t size)
{
    return mprotect(address, size, PROT_READ | PROT_WRITE) == 0 ? 0 : errno;
}

int OsDecommit(void *address, size_t size)
{
    /* One call both drops the pages and makes the range inaccessible again; the new mapping has the
     * reservation's flags, so the kernel merges it back into the neighbouring reserved range. */
    void *p = mmap(address, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
                   -1, 0);
    return p == MAP_FAILED ? errno : 0;
}

int OsProtect(void *address, size_t size, int prot)
{
    return mprotect(address, size, prot) == 0 ? 0 : errno;
}

size_t OsPageSize(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

uint64_t OsPhysicalMemory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES);
    return pages > 0 ? (uint64_t)pages * OsPageSize() : (uint64_t)1 << 30;
}

uint64_t OsSwapSize(void)
{
    struct sysinfo si;
    return sysinfo(&si) == 0 ? (uint64_t)si.totalswap * si.mem_unit : 0;
}

unsigned OsProcessorCount(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

unsigned OsCurrentProcessor(void)
{
    int cpu = sched_getcpu();
    return cpu >= 0 ? (unsigned)cpu : 0;
}

int OsFindHighGap(uintptr_t *gap_low, uintptr_t *gap_high)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (f == NULL)
        return errno;
    char line[512];
    uintptr_t stack_start = 0, below = 0;
    /* First pass: where the main thread's stack starts. */
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && strstr(line, "[stack]"))
            stack_start = lo;
    }
    if (stack_start == 0) {
        fclose(f);
        return ENOENT;
    }
    rewind(f);
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && hi <= stack_start && hi > below)
            below = hi;
    }
    fclose(f);
    *gap_low = below;
    *gap_high = stack_start;
    return 0;
}

int OsQueryProtection(const void *base, size_t pages, unsigned char *prot)
{
    memset(prot, 0, pages);
    FILE *f = fopen("/proc/self/maps", "re");
    if (f == NULL)
        return errno;
    uintptr_t start = (uintptr_t)base, end = start + pages * OsPageSize();
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || hi <= start || lo >= end)
            continue;
        unsigned char p = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
                          (perms[2] == 'x' ? PROT_EXEC : 0);
        for (uintptr_t a = lo > start ? lo : start; a < hi && a < end; a += OsPageSize())
            prot[(a - start) / OsPageSize()] = p;
    }
    fclose(f);
    return 0;
}

int OsParseSize(const char *text, uint64_t *value)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno || end == text)
        return EINVAL;
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: break;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end != '\0')
        return EINVAL;
    *value = v;
    return 0;
}

const char *OsGetEnv(const char *name)
{
    const char *v = getenv(name);
    return (v != NULL && *v != '\0') ? v : NULL;
}

static void (*OsAbortHook)(void);

void OsSetAbortHook(void (*hook)(void))
{
    __atomic_store_n(&OsAbortHook, hook, __ATOMIC_RELEASE);
}

int OsLockMemory(void *address, size_t size)
{
    return mlock(address, size) == 0 ? 0 : errno;
}

void OsAbort(void)
{
    void (*hook)(void) = __atomic_exchange_n(&OsAbortHook, NULL, __ATOMIC_ACQ_REL);
    if (hook != NULL)
        hook();
    sigset_t set;
    signal(SIGABRT, SIG_DFL);
    sigemptyset(&set);
    sigaddset(&set, SIGABRT);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    abort();
}

void OsWriteStderr(const char *text, size_t length)
{
    while (length > 0) {
        ssize_t written = write(2, text, length);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            return;
        text += written;
        length -= (size_t)written;
    }
}
