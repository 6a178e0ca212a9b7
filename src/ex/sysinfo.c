/* sysinfo.c - ZwQuerySystemInformation (basic, performance, pool tags) and the poolmon-style report at exit. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "ex/pool.h"
#include "os/os.h"

static NTSTATUS ExpQueryBasic(PVOID buffer, ULONG length, PULONG return_length)
{
    if (return_length != NULL)
        *return_length = sizeof(SYSTEM_BASIC_INFORMATION);
    if (length != sizeof(SYSTEM_BASIC_INFORMATION))
        return STATUS_INFO_LENGTH_MISMATCH;
    SYSTEM_BASIC_INFORMATION *b = buffer;
    ULONG cpus = OsProcessorCount();
    uint64_t pages = OsPhysicalMemory() >> PAGE_SHIFT;
    memset(b, 0, sizeof *b);
    b->TimerResolution = 156250; /* 15.625 ms in 100 ns units, the default Windows clock tick */
    b->PageSize = PAGE_SIZE;
    b->NumberOfPhysicalPages = pages > 0xFFFFFFFFu ? 0xFFFFFFFFu : (ULONG)pages;
    b->LowestPhysicalPageNumber = 1;
    b->HighestPhysicalPageNumber = b->NumberOfPhysicalPages;
    b->AllocationGranularity = 0x10000;
    b->MinimumUserModeAddress = 0x10000;
    b->MaximumUserModeAddress = (ULONG_PTR)MmHighestUserAddress;
    b->ActiveProcessorsAffinityMask = cpus >= 64 ? ~(ULONG_PTR)0 : (((ULONG_PTR)1 << cpus) - 1);
    b->NumberOfProcessors = (CCHAR)(cpus > 127 ? 127 : cpus);
    return STATUS_SUCCESS;
}

/* Windows 8 and later's size; the fields we fill sit where Windows has them. */
_Static_assert(sizeof(SYSTEM_PERFORMANCE_INFORMATION) == 0x158, "SYSTEM_PERFORMANCE_INFORMATION is 0x158 bytes");
_Static_assert(offsetof(SYSTEM_PERFORMANCE_INFORMATION, AvailablePages) == 0x2C, "AvailablePages at 0x2C");
_Static_assert(offsetof(SYSTEM_PERFORMANCE_INFORMATION, CcTotalDirtyPages) == 0x138, "Windows 8 fields at 0x138");

static ULONG ExpClampPages(uint64_t pages)
{
    return pages > 0xFFFFFFFFu ? 0xFFFFFFFFu : (ULONG)pages;
}

/* The host's idea of available memory: MemAvailable (free memory plus what the kernel can reclaim at
 * once, the closest match to Windows' standby + free + zeroed lists). Kernels before 3.14 lack it;
 * there the free memory is the best we have. */
static uint64_t ExpAvailablePhysicalBytes(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    unsigned long long kb = 0;
    int found = 0;
    if (f != NULL) {
        char line[128];
        while (!found && fgets(line, sizeof line, f) != NULL)
            found = sscanf(line, "MemAvailable: %llu kB", &kb) == 1;
        fclose(f);
    }
    if (found)
        return (uint64_t)kb * 1024;
    struct sysinfo si;
    return sysinfo(&si) == 0 ? (uint64_t)si.freeram * si.mem_unit : 0;
}

static ULONG64 ExpPoolRegionPages(MI_REGION_ID id)
{
    MI_REGION *r = &MiSystemSpace.Regions[id];
    pthread_mutex_lock(&r->Lock);
    SIZE_T pages = r->CommittedPages;
    pthread_mutex_unlock(&r->Lock);
    return pages;
}

/* Memory counters only: there is no I/O, cache manager or scheduler here, so those fields stay 0. */
static NTSTATUS ExpQueryPerformance(PVOID buffer, ULONG length, PULONG return_length)
{
    if (return_length != NULL)
        *return_length = sizeof(SYSTEM_PERFORMANCE_INFORMATION);
    if (length < sizeof(SYSTEM_PERFORMANCE_INFORMATION))
        return STATUS_INFO_LENGTH_MISMATCH;
    SYSTEM_PERFORMANCE_INFORMATION *p = buffer;
    memset(p, 0, sizeof *p);
    p->AvailablePages = ExpClampPages(ExpAvailablePhysicalBytes() >> PAGE_SHIFT);
    MI_COMMIT_INFO commit;
    MiQueryCommit(&commit);
    p->CommittedPages = ExpClampPages(commit.CommittedPages);
    p->CommitLimit = ExpClampPages(commit.LimitPages);
    p->PeakCommitment = ExpClampPages(commit.PeakPages);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        p->PageFaultCount = (ULONG)(ru.ru_minflt + ru.ru_majflt);
    p->NonPagedPoolPages = ExpClampPages(ExpPoolRegionPages(MiNonPagedPoolRegion));
    p->PagedPoolPages = ExpClampPages(ExpPoolRegionPages(MiPagedPoolRegion));
    /* Allocation counts live per tag (per thread, without locks); their sums are the pool's. */
    EXP_TAG_COUNTS *tags;
    ULONG count = ExpSnapshotTags(&tags);
    ULONG64 allocs[EXP_POOL_COUNT] = {0}, frees[EXP_POOL_COUNT] = {0};
    for (ULONG i = 0; i < count; i++) {
        for (ULONG pool = 0; pool < EXP_POOL_COUNT; pool++) {
            allocs[pool] += tags[i].Allocs[pool];
            frees[pool] += tags[i].Frees[pool];
        }
    }
    free(tags);
    /* Windows' counters are ULONGs that wrap; so do these. */
    p->NonPagedPoolAllocs = (ULONG)allocs[0];
    p->NonPagedPoolFrees = (ULONG)frees[0];
    p->PagedPoolAllocs = (ULONG)allocs[1];
    p->PagedPoolFrees = (ULONG)frees[1];
    return STATUS_SUCCESS;
}

static NTSTATUS ExpQueryPoolTags(PVOID buffer, ULONG length, PULONG return_length)
{
    EXP_TAG_COUNTS *tags;
    ULONG count = ExpSnapshotTags(&tags);
    SIZE_T needed = offsetof(SYSTEM_POOLTAG_INFORMATION, TagInfo) + (SIZE_T)count * sizeof(SYSTEM_POOLTAG);
    if (return_length != NULL)
        *return_length = (ULONG)needed;
    if (length < needed) {
        free(tags);
        return STATUS_INFO_LENGTH_MISMATCH;
    }
    SYSTEM_POOLTAG_INFORMATION *info = buffer;
    info->Count = count;
    for (ULONG i = 0; i < count; i++) {
        SYSTEM_POOLTAG *t = &info->TagInfo[i];
        const EXP_TAG_COUNTS *c = &tags[i];
        memset(t, 0, sizeof *t); /* no stale padding bytes in the caller's buffer */
        t->TagUlong = c->Tag;
        t->NonPagedAllocs = (ULONG)c->Allocs[0];
        t->NonPagedFrees = (ULONG)c->Frees[0];
        t->NonPagedUsed = (SIZE_T)(c->BytesAllocated[0] - c->BytesFreed[0]);
        t->PagedAllocs = (ULONG)c->Allocs[1];
        t->PagedFrees = (ULONG)c->Frees[1];
        t->PagedUsed = (SIZE_T)(c->BytesAllocated[1] - c->BytesFreed[1]);
    }
    free(tags);
    return STATUS_SUCCESS;
}

NTSYSAPI NTSTATUS NTAPI ZwQuerySystemInformation(SYSTEM_INFORMATION_CLASS cls, PVOID buffer, ULONG length,
                                                 PULONG return_length)
{
    MiEnsureInitialized();
    if (buffer == NULL && length != 0)
        return STATUS_ACCESS_VIOLATION;
    switch (cls) {
    case SystemBasicInformation:
        return ExpQueryBasic(buffer, length, return_length);
    case SystemPerformanceInformation:
        return ExpQueryPerformance(buffer, length, return_length);
    case SystemPoolTagInformation:
        return ExpQueryPoolTags(buffer, length, return_length);
    default:
        return STATUS_INVALID_INFO_CLASS;
    }
}

NTSYSAPI NTSTATUS NTAPI NtQuerySystemInformation(SYSTEM_INFORMATION_CLASS cls, PVOID buffer, ULONG length,
                                                 PULONG return_length)
{
    return ZwQuerySystemInformation(cls, buffer, length, return_length);
}

/* ---- the report -------------------------------------------------------------------------------- */

static void ExpTagText(ULONG tag, char out[5])
{
    for (int i = 0; i < 4; i++) {
        unsigned char ch = (unsigned char)(tag >> (8 * i));
        out[i] = (ch >= 0x20 && ch < 0x7F) ? (char)ch : '.';
    }
    out[4] = '\0';
}

NTMEM_API VOID ntmem_print_pool_report(int fd)
{
    EXP_TAG_COUNTS *tags;
    ULONG count = ExpSnapshotTags(&tags);
    FILE *out = fdopen(dup(fd), "w");
    if (out == NULL) {
        free(tags);
        return;
    }
    fprintf(out, " Tag  Type        Allocs       Frees        Diff       Bytes  Per Alloc\n");
    ULONG holding = 0;
    for (ULONG i = 0; i < count; i++) {
        for (ULONG p = 0; p < EXP_POOL_COUNT; p++) {
            const EXP_TAG_COUNTS *c = &tags[i];
            if (c->Allocs[p] == 0 && c->Frees[p] == 0)
                continue;
            char name[5];
            ExpTagText(c->Tag, name);
            ULONG64 diff = c->Allocs[p] - c->Frees[p], bytes = c->BytesAllocated[p] - c->BytesFreed[p];
            fprintf(out, " %-4s %-5s %11llu %11llu %11llu %11llu %10llu\n", name, p ? "Paged" : "Nonp",
                    (unsigned long long)c->Allocs[p], (unsigned long long)c->Frees[p], (unsigned long long)diff,
                    (unsigned long long)bytes, (unsigned long long)(diff ? bytes / diff : 0));
            if (diff != 0)
                holding++;
        }
    }
    if (holding == 0) {
        fprintf(out, "All pool allocations were freed.\n");
    } else {
        fprintf(out, "Tags still holding memory:\n");
        for (ULONG i = 0; i < count; i++) {
            for (ULONG p = 0; p < EXP_POOL_COUNT; p++) {
                const EXP_TAG_COUNTS *c = &tags[i];
                ULONG64 diff = c->Allocs[p] - c->Frees[p];
                if (diff == 0)
                    continue;
                char name[5];
                ExpTagText(c->Tag, name);
                fprintf(out, "  '%s' %s: %llu allocation(s), %llu bytes\n", name, p ? "paged" : "nonpaged",
                        (unsigned long long)diff, (unsigned long long)(c->BytesAllocated[p] - c->BytesFreed[p]));
            }
        }
    }
    /* The pager's line, once paging has happened (programs that never page see no change). */
    NTMEM_PAGER_COUNTERS pager;
    ntmem_query_pager_counters(&pager);
    if (pager.PageOuts != 0)
        fprintf(out, "Paging: %llu page-outs, %llu page-ins, %llu soft faults; %llu pages paged out now, page file "
                     "%llu of %llu slots used (peak %llu), %llu full, %llu failed writes\n",
                (unsigned long long)pager.PageOuts, (unsigned long long)pager.PageIns,
                (unsigned long long)pager.SoftFaults, (unsigned long long)pager.PagedOutPages,
                (unsigned long long)pager.PageFileSlotsInUse, (unsigned long long)pager.PageFileSlots,
                (unsigned long long)pager.PageFileSlotsPeak, (unsigned long long)pager.PageFileFull,
                (unsigned long long)pager.FailedWrites);
    fclose(out);
    free(tags);
}

static void ExpReportAtExit(void)
{
    ntmem_print_pool_report(2);
}

__attribute__((constructor)) static void ExpRegisterReport(void)
{
    const char *report = OsGetEnv("NTMEM_POOL_REPORT");
    if (report != NULL && report[0] != '0')
        atexit(ExpReportAtExit);
}
