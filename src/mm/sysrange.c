/* sysrange.c - reserves the system range high in the address space and lays out its regions. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "mm/mm.h"
#include "os/os.h"

NTKERNELAPI PVOID MmSystemRangeStart;
NTKERNELAPI PVOID MmHighestUserAddress;
NTKERNELAPI ULONG_PTR MmUserProbeAddress;

MI_SYSTEM_SPACE MiSystemSpace;

static pthread_once_t MiInitOnce = PTHREAD_ONCE_INIT;

#define MI_GIB ((SIZE_T)1 << 30)
#define MI_MIB ((SIZE_T)1 << 20)
#define MI_USER_GUARD 0x10000           /* no-access gap below the system range, as on Windows */
#define MI_SYSTEM_PTE_REGION (4 * MI_GIB)
#define MI_ALIGN (2 * MI_MIB)

static SIZE_T MiClamp(SIZE_T v, SIZE_T lo, SIZE_T hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Pool maxima: the environment wins; otherwise sized to the machine the way x64 Windows scales them
 * (nonpaged a quarter of RAM, paged half), clamped to sensible bounds. */
static SIZE_T MiPoolMaximum(const char *env, SIZE_T dflt)
{
    uint64_t v;
    const char *text = OsGetEnv(env);
    if (text != NULL) {
        if (OsParseSize(text, &v) == 0 && v >= PAGE_SIZE)
            return (SIZE_T)ROUND_TO_PAGES(v);
        fprintf(stderr, "ntmem: ignoring %s=%s (expected bytes with optional K/M/G)\n", env, text);
    }
    return dflt;
}

/* Where to put the range: as high as possible, just below the main thread's stack (and the room it
 * may grow into), so every later user mapping lands below it. */
static void *MiChooseBase(SIZE_T total)
{
    uintptr_t low, high;
    if (OsFindHighGap(&low, &high) != 0)
        return NULL;
    struct rlimit rl;
    SIZE_T stack_room = 256 * MI_MIB;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > stack_room)
        stack_room = (SIZE_T)rl.rlim_cur;
    if (high < stack_room + total || high - stack_room - total < low + MI_ALIGN)
        return NULL;
    return (void *)ALIGN_DOWN_BY(high - stack_room - total, MI_ALIGN);
}

static void MiInitializeRegion(MI_REGION *r, PUCHAR base, SIZE_T bytes)
{
    r->Base = base;
    r->Pages = bytes >> PAGE_SHIFT;
    r->LimitPages = r->Pages;
    r->Bitmap = calloc((r->Pages + 63) / 64, sizeof(ULONG64));
    if (r->Bitmap == NULL) {
        fprintf(stderr, "ntmem: cannot allocate the page bitmap for the system range\n");
        abort();
    }
    pthread_mutex_init(&r->Lock, NULL);
}

static void MiInitializeOnce(void)
{
    if (OsPageSize() != PAGE_SIZE) {
        fprintf(stderr, "ntmem: host page size %zu is not PAGE_SIZE (%d)\n", OsPageSize(), PAGE_SIZE);
        abort();
    }
    SIZE_T ram = (SIZE_T)OsPhysicalMemory();
    SIZE_T nonpaged = MiPoolMaximum("NTMEM_NONPAGED_POOL_MAX", MiClamp(ram / 4, 64 * MI_MIB, 16 * MI_GIB));
    SIZE_T paged = MiPoolMaximum("NTMEM_PAGED_POOL_MAX", MiClamp(ram / 2, 128 * MI_MIB, 32 * MI_GIB));
    nonpaged = ALIGN_UP_BY(nonpaged, MI_ALIGN);
    paged = ALIGN_UP_BY(paged, MI_ALIGN);
    SIZE_T regions = nonpaged + paged + MI_SYSTEM_PTE_REGION;
    SIZE_T pfn_bytes = ALIGN_UP_BY((regions >> PAGE_SHIFT) * sizeof(MI_PFN), MI_ALIGN);
    SIZE_T total = pfn_bytes + regions;

    void *base = MiChooseBase(total);
    if (base == NULL || OsReserveFixed(base, total) != 0) {
        /* Too little room above the libraries: take any range; it still never overlaps user memory. */
        if (OsReserve(NULL, total, &base) != 0) {
            fprintf(stderr, "ntmem: cannot reserve %zu bytes for the system range\n", total);
            abort();
        }
    }
    PUCHAR start = base;
    /* The PFN database is readable and writable from the start; untouched entries cost nothing. */
    if (OsCommit(start, pfn_bytes) != 0) {
        fprintf(stderr, "ntmem: cannot commit the PFN database\n");
        abort();
    }
    MiSystemSpace.Start = start;
    MiSystemSpace.PfnDatabase = (MI_PFN *)start;
    MiSystemSpace.PfnBase = start + pfn_bytes;
    MiSystemSpace.PagedPoolStart = start + pfn_bytes + nonpaged;
    MiSystemSpace.PoolEnd = start + pfn_bytes + nonpaged + paged;
    MiSystemSpace.PoolBytes = nonpaged + paged;
    MiSystemSpace.PagedPoolOffset = nonpaged;
    void *map;
    SIZE_T map_bytes = ALIGN_UP_BY((nonpaged + paged) >> PAGE_SHIFT, PAGE_SIZE);
    if (OsReserve(NULL, map_bytes, &map) != 0 || OsCommit(map, map_bytes) != 0) {
        fprintf(stderr, "ntmem: cannot map the small-pool page map\n");
        abort();
    }
    MiSystemSpace.SmallPoolPages = map; /* untouched pages of it cost nothing */
    MiInitializeRegion(&MiSystemSpace.Regions[MiNonPagedPoolRegion], start + pfn_bytes, nonpaged);
    MiInitializeRegion(&MiSystemSpace.Regions[MiPagedPoolRegion], start + pfn_bytes + nonpaged, paged);
    MiInitializeRegion(&MiSystemSpace.Regions[MiSystemPteRegion], start + pfn_bytes + nonpaged + paged,
                       MI_SYSTEM_PTE_REGION);

    MmHighestUserAddress = (PVOID)(start - MI_USER_GUARD - 1);
    MmUserProbeAddress = (ULONG_PTR)(start - MI_USER_GUARD);
    MmSystemRangeStart = start;
    __atomic_store_n(&MiSystemSpace.End, start + total, __ATOMIC_RELEASE); /* published last */
}

void MiInitializeSystemSpace(void)
{
    pthread_once(&MiInitOnce, MiInitializeOnce);
}

/* Runs before main for programs that read MmSystemRangeStart directly; every entry point that needs
 * the range also calls MiInitializeSystemSpace, so constructor order never matters. */
__attribute__((constructor)) static void MiInitializeAtLoad(void)
{
    MiInitializeSystemSpace();
}
