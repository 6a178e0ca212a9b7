/* meminfo.c - system and process memory information: GetSystemInfo, GlobalMemoryStatus(Ex), GetProcessMemoryInfo. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <ntddk.h>
#include <ntmem.h>
#include <windows.h>

#include "mm/mm.h"
#include "os/os.h"

#define MI_LOWEST_USER_ADDRESS ((ULONG_PTR)0x10000) /* Windows keeps the first 64 KB unmapped */
#define MI_ALLOCATION_GRANULARITY 0x10000

/* ---- GetSystemInfo ----------------------------------------------------------------------------- */

static WORD MiProcessorLevel = 6, MiProcessorRevision; /* Windows' answer when nothing better is known */
static pthread_once_t MiCpuInfoOnce = PTHREAD_ONCE_INIT;

/* Windows reports the CPUID family as wProcessorLevel and model << 8 | stepping as wProcessorRevision;
 * /proc/cpuinfo has the same (display) values for the first processor, and all processors match. */
static void MiReadCpuInfo(void)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    if (f == NULL)
        return;
    unsigned family = 0, model = 0, stepping = 0, seen = 0;
    char line[256];
    while (seen != 7 && fgets(line, sizeof line, f) != NULL && line[0] != '\n') {
        /* A blank in a format skips any white space, so "model name" fails at ':' and never counts. */
        if (sscanf(line, "cpu family\t: %u", &family) == 1)
            seen |= 1;
        else if (sscanf(line, "model\t: %u", &model) == 1)
            seen |= 2;
        else if (sscanf(line, "stepping\t: %u", &stepping) == 1)
            seen |= 4;
    }
    fclose(f);
    if (seen == 7) {
        MiProcessorLevel = (WORD)family;
        MiProcessorRevision = (WORD)((model & 0xFF) << 8 | (stepping & 0xFF));
    }
}

WINBASEAPI VOID WINAPI GetSystemInfo(LPSYSTEM_INFO lpSystemInfo)
{
    MiEnsureInitialized(); /* MmHighestUserAddress is set with the system range */
    pthread_once(&MiCpuInfoOnce, MiReadCpuInfo);
    unsigned cpus = OsProcessorCount();
    memset(lpSystemInfo, 0, sizeof *lpSystemInfo);
    lpSystemInfo->wProcessorArchitecture = PROCESSOR_ARCHITECTURE_AMD64;
    lpSystemInfo->dwPageSize = PAGE_SIZE;
    lpSystemInfo->lpMinimumApplicationAddress = (LPVOID)MI_LOWEST_USER_ADDRESS;
    lpSystemInfo->lpMaximumApplicationAddress = MmHighestUserAddress;
    /* One processor group: at most 64 processors fit the mask, as on Windows. */
    lpSystemInfo->dwActiveProcessorMask = cpus >= 64 ? ~(DWORD_PTR)0 : ((DWORD_PTR)1 << cpus) - 1;
    lpSystemInfo->dwNumberOfProcessors = cpus >= 64 ? 64 : cpus;
    lpSystemInfo->dwProcessorType = PROCESSOR_AMD_X8664;
    lpSystemInfo->dwAllocationGranularity = MI_ALLOCATION_GRANULARITY;
    lpSystemInfo->wProcessorLevel = MiProcessorLevel;
    lpSystemInfo->wProcessorRevision = MiProcessorRevision;
}

/* There is no WOW64 here: the native view is the same. */
WINBASEAPI VOID WINAPI GetNativeSystemInfo(LPSYSTEM_INFO lpSystemInfo)
{
    GetSystemInfo(lpSystemInfo);
}

/* ---- GlobalMemoryStatus(Ex) -------------------------------------------------------------------- */

/* Bytes of host mappings inside [low, high] (inclusive): libraries, heaps, stacks and our own regions
 * all take user address space, whether or not they are committed. Returns 0 if maps is unreadable. */
static ULONG64 MiMappedUserBytes(ULONG_PTR low, ULONG_PTR high)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (f == NULL)
        return 0;
    ULONG64 bytes = 0;
    char line[256];
    int at_line_start = 1;
    while (fgets(line, sizeof line, f) != NULL) {
        /* A long path can split a line over several reads; only the first piece holds the range. */
        unsigned long start, end;
        if (at_line_start && sscanf(line, "%lx-%lx", &start, &end) == 2) {
            ULONG_PTR from = start > low ? start : low;
            ULONG_PTR to = end - 1 < high ? end - 1 : high;
            if (end > start && from <= to)
                bytes += to - from + 1;
        }
        at_line_start = strchr(line, '\n') != NULL;
    }
    fclose(f);
    return bytes;
}

/* Fills every field but dwLength. kernel32 builds this from the native queries; so do we, with the
 * commit charge read directly so that limits beyond 16 TB (ULONG pages) stay exact. */
static void MiQueryMemoryStatus(LPMEMORYSTATUSEX status)
{
    MiEnsureInitialized();
    SYSTEM_PERFORMANCE_INFORMATION perf;
    ULONG64 total = OsPhysicalMemory(), avail = 0;
    if (NT_SUCCESS(ZwQuerySystemInformation(SystemPerformanceInformation, &perf, sizeof perf, NULL)))
        avail = (ULONG64)perf.AvailablePages << PAGE_SHIFT;
    if (avail > total)
        avail = total;
    status->dwMemoryLoad = total != 0 ? (DWORD)((total - avail) * 100 / total) : 0;
    status->ullTotalPhys = total;
    status->ullAvailPhys = avail;

    MI_COMMIT_INFO commit;
    MiQueryCommit(&commit);
    status->ullTotalPageFile = (ULONG64)commit.LimitPages << PAGE_SHIFT;
    status->ullAvailPageFile =
        commit.LimitPages > commit.CommittedPages ? (ULONG64)(commit.LimitPages - commit.CommittedPages) << PAGE_SHIFT : 0;

    ULONG_PTR highest = (ULONG_PTR)MmHighestUserAddress;
    ULONG64 total_virtual = (ULONG64)(highest + 1 - MI_LOWEST_USER_ADDRESS);
    ULONG64 mapped = MiMappedUserBytes(MI_LOWEST_USER_ADDRESS, highest);
    status->ullTotalVirtual = total_virtual;
    status->ullAvailVirtual = mapped < total_virtual ? total_virtual - mapped : 0;
    status->ullAvailExtendedVirtual = 0; /* always 0 on Windows too */
}

WINBASEAPI BOOL WINAPI GlobalMemoryStatusEx(LPMEMORYSTATUSEX lpBuffer)
{
    /* dwLength is how Windows tells versions of the structure apart; a wrong one is refused. */
    if (lpBuffer->dwLength != sizeof(MEMORYSTATUSEX)) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    MiQueryMemoryStatus(lpBuffer);
    return TRUE;
}

/* The old form trusts no dwLength; on 64-bit Windows its SIZE_T fields hold the same values. */
WINBASEAPI VOID WINAPI GlobalMemoryStatus(LPMEMORYSTATUS lpBuffer)
{
    MEMORYSTATUSEX ex;
    MiQueryMemoryStatus(&ex);
    lpBuffer->dwLength = sizeof(MEMORYSTATUS);
    lpBuffer->dwMemoryLoad = ex.dwMemoryLoad;
    lpBuffer->dwTotalPhys = (SIZE_T)ex.ullTotalPhys;
    lpBuffer->dwAvailPhys = (SIZE_T)ex.ullAvailPhys;
    lpBuffer->dwTotalPageFile = (SIZE_T)ex.ullTotalPageFile;
    lpBuffer->dwAvailPageFile = (SIZE_T)ex.ullAvailPageFile;
    lpBuffer->dwTotalVirtual = (SIZE_T)ex.ullTotalVirtual;
    lpBuffer->dwAvailVirtual = (SIZE_T)ex.ullAvailVirtual;
}

/* ---- GetProcessMemoryInfo ---------------------------------------------------------------------- */

/* The working set is what Linux calls the resident set: VmRSS now and VmHWM at most, in kB. */
static void MiReadResidentSet(SIZE_T *current, SIZE_T *peak)
{
    *current = *peak = 0;
    FILE *f = fopen("/proc/self/status", "re");
    if (f == NULL)
        return;
    char line[256];
    unsigned long long kb;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
            *current = (SIZE_T)kb * 1024;
        else if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
            *peak = (SIZE_T)kb * 1024;
    }
    fclose(f);
    if (*peak < *current) /* the two are read at slightly different times */
        *peak = *current;
}

WINBASEAPI BOOL WINAPI K32GetProcessMemoryInfo(HANDLE Process, PPROCESS_MEMORY_COUNTERS ppsmemCounters, DWORD cb)
{
    /* There is one process, and no handle table for processes: only the pseudo-handle names it. */
    if (Process != GetCurrentProcess()) {
        SetLastError(ERROR_INVALID_HANDLE);
        return FALSE;
    }
    if (cb < sizeof(PROCESS_MEMORY_COUNTERS)) {
        SetLastError(ERROR_INSUFFICIENT_BUFFER);
        return FALSE;
    }
    PROCESS_MEMORY_COUNTERS_EX c;
    memset(&c, 0, sizeof c);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        c.PageFaultCount = (DWORD)(ru.ru_minflt + ru.ru_majflt);
    MiReadResidentSet(&c.WorkingSetSize, &c.PeakWorkingSetSize);
    NTMEM_QUOTA_USAGE quota;
    if (NT_SUCCESS(ntmem_query_process_quota(PsGetCurrentProcess(), &quota))) {
        c.QuotaPagedPoolUsage = quota.QuotaPagedPoolUsage;
        c.QuotaPeakPagedPoolUsage = quota.QuotaPeakPagedPoolUsage;
        c.QuotaNonPagedPoolUsage = quota.QuotaNonPagedPoolUsage;
        c.QuotaPeakNonPagedPoolUsage = quota.QuotaPeakNonPagedPoolUsage;
    }
    /* Private committed memory is what the page file backs: the commit charge. */
    MI_COMMIT_INFO commit;
    MiQueryCommit(&commit);
    c.PagefileUsage = c.PrivateUsage = commit.CommittedPages << PAGE_SHIFT;
    c.PeakPagefileUsage = commit.PeakPages << PAGE_SHIFT;
    /* Callers pass either structure; fill what fits and say which one it was. */
    DWORD filled = cb >= sizeof(PROCESS_MEMORY_COUNTERS_EX) ? sizeof(PROCESS_MEMORY_COUNTERS_EX)
                                                            : sizeof(PROCESS_MEMORY_COUNTERS);
    c.cb = filled;
    memcpy(ppsmemCounters, &c, filled);
    return TRUE;
}
