/* test_meminfo.c - GetSystemInfo, GlobalMemoryStatus(Ex), GetProcessMemoryInfo, SystemPerformanceInformation. */
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <ntddk.h>
#include <ntmem.h>
#include <windows.h>

#define TAG 'ifnM'
#define MB ((SIZE_T)1 << 20)

static const POOL_TYPE Pools[2] = {NonPagedPoolNx, PagedPool};

/* The commit limit in bytes, read through the only public door: set it and put it back at once. */
static SIZE_T commit_limit(void)
{
    SIZE_T limit = ntmem_set_commit_limit(64 * MB);
    ntmem_set_commit_limit(limit);
    return limit;
}

static MEMORYSTATUSEX memory_status(void)
{
    MEMORYSTATUSEX m;
    memset(&m, 0, sizeof m);
    m.dwLength = sizeof m;
    ck_assert(GlobalMemoryStatusEx(&m));
    return m;
}

static PROCESS_MEMORY_COUNTERS_EX process_counters(void)
{
    PROCESS_MEMORY_COUNTERS_EX c;
    memset(&c, 0, sizeof c);
    ck_assert(GetProcessMemoryInfo(GetCurrentProcess(), (PPROCESS_MEMORY_COUNTERS)&c, sizeof c));
    ck_assert_uint_eq(c.cb, sizeof c);
    return c;
}

static SYSTEM_PERFORMANCE_INFORMATION performance(void)
{
    SYSTEM_PERFORMANCE_INFORMATION p;
    ULONG len = 0;
    ck_assert_uint_eq((ULONG)ZwQuerySystemInformation(SystemPerformanceInformation, &p, sizeof p, &len),
                      (ULONG)STATUS_SUCCESS);
    ck_assert_uint_eq(len, sizeof p);
    return p;
}

/* ---- GetSystemInfo ----------------------------------------------------------------------------- */

/* The first processor's "cpu family" from /proc/cpuinfo, or 0 when the host does not say. */
static unsigned cpu_family(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    unsigned family = 0;
    char line[256];
    while (f != NULL && family == 0 && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "cpu family : %u", &family) != 1)
            family = 0;
    if (f != NULL)
        fclose(f);
    return family;
}

START_TEST(system_info_describes_this_x64_host)
{
    SYSTEM_INFO si;
    memset(&si, 0xCC, sizeof si);
    GetSystemInfo(&si);
    ck_assert_uint_eq(si.wProcessorArchitecture, PROCESSOR_ARCHITECTURE_AMD64);
    ck_assert_uint_eq(si.wReserved, 0);
    ck_assert_uint_eq(si.dwPageSize, 4096);
    ck_assert_ptr_eq(si.lpMinimumApplicationAddress, (LPVOID)0x10000);
    ck_assert_ptr_eq(si.lpMaximumApplicationAddress, MmHighestUserAddress);
    ck_assert_uint_eq(si.dwProcessorType, PROCESSOR_AMD_X8664);
    ck_assert_uint_eq(si.dwAllocationGranularity, 65536);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    ck_assert_uint_eq(si.dwNumberOfProcessors, online > 64 ? 64 : (DWORD)online);
    ck_assert_int_eq(__builtin_popcountll(si.dwActiveProcessorMask), (int)si.dwNumberOfProcessors);
    ck_assert_uint_eq(si.dwActiveProcessorMask & 1, 1); /* processors are numbered from 0 */
    unsigned family = cpu_family();
    ck_assert_uint_eq(si.wProcessorLevel, family != 0 ? family : 6);

    SYSTEM_INFO native;
    memset(&native, 0x55, sizeof native);
    GetNativeSystemInfo(&native);
    ck_assert_mem_eq(&native, &si, sizeof si);
}
END_TEST

/* ---- GlobalMemoryStatus(Ex) -------------------------------------------------------------------- */

START_TEST(memory_status_ex_refuses_a_wrong_length)
{
    static const DWORD lengths[] = {0, sizeof(MEMORYSTATUSEX) - 1, sizeof(MEMORYSTATUSEX) + 1, sizeof(MEMORYSTATUS)};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        MEMORYSTATUSEX m;
        memset(&m, 0xCC, sizeof m);
        m.dwLength = lengths[i];
        SetLastError(0);
        ck_assert_int_eq(GlobalMemoryStatusEx(&m), FALSE);
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
        ck_assert_uint_eq(m.ullTotalPhys, 0xCCCCCCCCCCCCCCCCull); /* nothing was written */
    }
}
END_TEST

START_TEST(memory_status_totals_are_plausible)
{
    MEMORYSTATUSEX m = memory_status();
    ck_assert_uint_eq(m.dwLength, sizeof m);
    ck_assert_uint_eq(m.ullTotalPhys, (DWORDLONG)sysconf(_SC_PHYS_PAGES) * (DWORDLONG)sysconf(_SC_PAGESIZE));
    ck_assert_uint_gt(m.ullAvailPhys, 0);
    ck_assert_uint_le(m.ullAvailPhys, m.ullTotalPhys);
    ck_assert_uint_le(m.dwMemoryLoad, 100);
    ck_assert_uint_eq(m.dwMemoryLoad, (DWORD)((m.ullTotalPhys - m.ullAvailPhys) * 100 / m.ullTotalPhys));
    /* the "page file" figures are the commit limit and what is left of it */
    ck_assert_uint_eq(m.ullTotalPageFile, commit_limit());
    ck_assert_uint_le(m.ullAvailPageFile, m.ullTotalPageFile);
    /* the user range: from 64 KB to MmHighestUserAddress; the program's own mappings take some of it */
    ck_assert_uint_eq(m.ullTotalVirtual, (ULONG_PTR)MmHighestUserAddress + 1 - 0x10000);
    ck_assert_uint_gt(m.ullAvailVirtual, 0);
    ck_assert_uint_lt(m.ullAvailVirtual, m.ullTotalVirtual);
    ck_assert_uint_eq(m.ullAvailExtendedVirtual, 0);
}
END_TEST

START_TEST(memory_status_old_form_sets_its_length_and_agrees)
{
    MEMORYSTATUS m;
    memset(&m, 0xCC, sizeof m); /* dwLength is garbage: the old form does not read it */
    GlobalMemoryStatus(&m);
    MEMORYSTATUSEX ex = memory_status();
    ck_assert_uint_eq(m.dwLength, sizeof(MEMORYSTATUS));
    ck_assert_uint_le(m.dwMemoryLoad, 100);
    ck_assert_uint_eq(m.dwTotalPhys, ex.ullTotalPhys);
    ck_assert_uint_le(m.dwAvailPhys, m.dwTotalPhys);
    ck_assert_uint_eq(m.dwTotalPageFile, ex.ullTotalPageFile);
    ck_assert_uint_le(m.dwAvailPageFile, m.dwTotalPageFile);
    ck_assert_uint_eq(m.dwTotalVirtual, ex.ullTotalVirtual);
    ck_assert_uint_gt(m.dwAvailVirtual, 0);
    ck_assert_uint_lt(m.dwAvailVirtual, m.dwTotalVirtual);
}
END_TEST

/* Reserved address space is used address space, committed or not: a PROT_NONE mapping counts. */
START_TEST(avail_virtual_follows_host_mappings)
{
    const SIZE_T n = 64 * MB;
    MEMORYSTATUSEX before = memory_status();
    PUCHAR p = mmap(NULL, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    ck_assert_uint_ge((ULONG_PTR)p, 0x10000);
    ck_assert_uint_le((ULONG_PTR)p + n - 1, (ULONG_PTR)MmHighestUserAddress);
    MEMORYSTATUSEX mapped = memory_status();
    ck_assert_uint_ge(before.ullAvailVirtual - mapped.ullAvailVirtual, n);
    ck_assert_int_eq(munmap(p, n), 0);
    MEMORYSTATUSEX after = memory_status();
    ck_assert_uint_ge(after.ullAvailVirtual - mapped.ullAvailVirtual, n);
}
END_TEST

/* ---- GetProcessMemoryInfo ---------------------------------------------------------------------- */

START_TEST(process_memory_info_refuses_other_handles)
{
    HANDLE handles[] = {NULL, (HANDLE)(ULONG_PTR)getpid(), (HANDLE)(LONG_PTR)-2 /* the current thread */,
                        (HANDLE)(ULONG_PTR)4};
    for (size_t i = 0; i < sizeof handles / sizeof handles[0]; i++) {
        PROCESS_MEMORY_COUNTERS c;
        memset(&c, 0xCC, sizeof c);
        SetLastError(0);
        ck_assert_int_eq(GetProcessMemoryInfo(handles[i], &c, sizeof c), FALSE);
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
        ck_assert_uint_eq(c.cb, 0xCCCCCCCCu);
    }
}
END_TEST

START_TEST(process_memory_info_refuses_a_small_buffer)
{
    static const DWORD sizes[] = {0, 4, sizeof(PROCESS_MEMORY_COUNTERS) - 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        PROCESS_MEMORY_COUNTERS c;
        memset(&c, 0xCC, sizeof c);
        SetLastError(0);
        ck_assert_int_eq(K32GetProcessMemoryInfo(GetCurrentProcess(), &c, sizes[i]), FALSE);
        ck_assert_uint_eq(GetLastError(), ERROR_INSUFFICIENT_BUFFER);
        ck_assert_uint_eq(c.cb, 0xCCCCCCCCu);
    }
}
END_TEST

START_TEST(process_memory_info_fills_the_structure_cb_names)
{
    /* the basic structure: PrivateUsage, past its end, stays untouched */
    PROCESS_MEMORY_COUNTERS_EX c;
    memset(&c, 0xCC, sizeof c);
    ck_assert(GetProcessMemoryInfo(GetCurrentProcess(), (PPROCESS_MEMORY_COUNTERS)&c, sizeof(PROCESS_MEMORY_COUNTERS)));
    ck_assert_uint_eq(c.cb, sizeof(PROCESS_MEMORY_COUNTERS));
    ck_assert_uint_eq(c.PrivateUsage, (SIZE_T)0xCCCCCCCCCCCCCCCCull);
    ck_assert_uint_gt(c.PageFaultCount, 0);
    ck_assert_uint_gt(c.WorkingSetSize, 0);
    ck_assert_uint_ge(c.PeakWorkingSetSize, c.WorkingSetSize);
    ck_assert_uint_ge(c.PeakPagefileUsage, c.PagefileUsage);
    ck_assert_uint_ge(c.QuotaPeakPagedPoolUsage, c.QuotaPagedPoolUsage);
    ck_assert_uint_ge(c.QuotaPeakNonPagedPoolUsage, c.QuotaNonPagedPoolUsage);

    /* the extended one: PrivateUsage is the commit charge, as PagefileUsage is */
    c = process_counters();
    ck_assert_uint_eq(c.PrivateUsage, c.PagefileUsage);
    ck_assert_uint_ge(c.PeakPagefileUsage, c.PagefileUsage);

    /* a larger buffer (a newer structure) gets the extended one and is told so */
    struct {
        PROCESS_MEMORY_COUNTERS_EX ex;
        UCHAR more[32];
    } big;
    memset(&big, 0xCC, sizeof big);
    ck_assert(GetProcessMemoryInfo(GetCurrentProcess(), (PPROCESS_MEMORY_COUNTERS)&big, sizeof big));
    ck_assert_uint_eq(big.ex.cb, sizeof(PROCESS_MEMORY_COUNTERS_EX));
    for (size_t i = 0; i < sizeof big.more; i++)
        ck_assert_uint_eq(big.more[i], 0xCC);
}
END_TEST

START_TEST(working_set_grows_when_pages_are_touched)
{
    const SIZE_T n = 32 * MB;
    PUCHAR p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    PROCESS_MEMORY_COUNTERS_EX before = process_counters();
    for (SIZE_T i = 0; i < n; i += PAGE_SIZE)
        p[i] = 1;
    PROCESS_MEMORY_COUNTERS_EX after = process_counters();
    /* every page is resident now (a little slack in case the host reclaimed some other page) */
    ck_assert_uint_ge(after.WorkingSetSize, before.WorkingSetSize + n - n / 16);
    ck_assert_uint_ge(after.PeakWorkingSetSize, after.WorkingSetSize);
    ck_assert_uint_gt(after.PageFaultCount, before.PageFaultCount);
    ck_assert_int_eq(munmap(p, n), 0);
    PROCESS_MEMORY_COUNTERS_EX unmapped = process_counters();
    ck_assert_uint_le(unmapped.WorkingSetSize, after.WorkingSetSize - n / 2);
    /* the peak remembers (Linux's resident counters are approximate by a few pages: the same slack) */
    ck_assert_uint_ge(unmapped.PeakWorkingSetSize, before.WorkingSetSize + n - n / 16);
}
END_TEST

static SIZE_T quota_used(const PROCESS_MEMORY_COUNTERS_EX *c, int pool)
{
    return pool ? c->QuotaPagedPoolUsage : c->QuotaNonPagedPoolUsage;
}

static SIZE_T quota_peak(const PROCESS_MEMORY_COUNTERS_EX *c, int pool)
{
    return pool ? c->QuotaPeakPagedPoolUsage : c->QuotaPeakNonPagedPoolUsage;
}

START_TEST(quota_pool_usage_follows_quota_allocations)
{
    int pool = _i;
    PROCESS_MEMORY_COUNTERS_EX before = process_counters();
    PVOID block = ExAllocatePoolWithQuotaTag(Pools[pool], 3 * PAGE_SIZE, TAG);
    ck_assert_ptr_nonnull(block);
    PROCESS_MEMORY_COUNTERS_EX charged = process_counters();
    /* a page-sized block is charged its pages, exactly */
    ck_assert_uint_eq(quota_used(&charged, pool), quota_used(&before, pool) + 3 * PAGE_SIZE);
    ck_assert_uint_eq(quota_used(&charged, !pool), quota_used(&before, !pool));
    ck_assert_uint_ge(quota_peak(&charged, pool), quota_used(&charged, pool));
    /* and agrees with ntmem's own query */
    NTMEM_QUOTA_USAGE q;
    ck_assert_uint_eq((ULONG)ntmem_query_process_quota(PsGetCurrentProcess(), &q), (ULONG)STATUS_SUCCESS);
    ck_assert_uint_eq(charged.QuotaPagedPoolUsage, q.QuotaPagedPoolUsage);
    ck_assert_uint_eq(charged.QuotaNonPagedPoolUsage, q.QuotaNonPagedPoolUsage);
    ck_assert_uint_eq(charged.QuotaPeakPagedPoolUsage, q.QuotaPeakPagedPoolUsage);
    ck_assert_uint_eq(charged.QuotaPeakNonPagedPoolUsage, q.QuotaPeakNonPagedPoolUsage);

    ExFreePoolWithTag(block, TAG);
    PROCESS_MEMORY_COUNTERS_EX freed = process_counters();
    ck_assert_uint_eq(quota_used(&freed, pool), quota_used(&before, pool));
    ck_assert_uint_eq(quota_peak(&freed, pool), quota_peak(&charged, pool));
}
END_TEST

/* ---- SystemPerformanceInformation -------------------------------------------------------------- */

START_TEST(performance_information_length_and_layout)
{
    /* Windows 8 and later's x64 layout */
    ck_assert_uint_eq(sizeof(SYSTEM_PERFORMANCE_INFORMATION), 0x158);
    ck_assert_uint_eq(offsetof(SYSTEM_PERFORMANCE_INFORMATION, AvailablePages), 0x2C);
    ck_assert_uint_eq(offsetof(SYSTEM_PERFORMANCE_INFORMATION, PagedPoolPages), 0x70);
    ck_assert_uint_eq(offsetof(SYSTEM_PERFORMANCE_INFORMATION, SystemCalls), 0x134);
    ck_assert_uint_eq(offsetof(SYSTEM_PERFORMANCE_INFORMATION, SharedCommittedPages), 0x150);

    UCHAR buf[sizeof(SYSTEM_PERFORMANCE_INFORMATION) + 16];
    ULONG len = 0;
    ck_assert_uint_eq((ULONG)ZwQuerySystemInformation(SystemPerformanceInformation, buf, 0x138, &len),
                      (ULONG)STATUS_INFO_LENGTH_MISMATCH);
    ck_assert_uint_eq(len, sizeof(SYSTEM_PERFORMANCE_INFORMATION));
    len = 0;
    ck_assert_uint_eq((ULONG)NtQuerySystemInformation(SystemPerformanceInformation, NULL, 0, &len),
                      (ULONG)STATUS_INFO_LENGTH_MISMATCH);
    ck_assert_uint_eq(len, sizeof(SYSTEM_PERFORMANCE_INFORMATION));
    /* a larger buffer is fine: the structure is written, the rest left alone */
    memset(buf, 0xCC, sizeof buf);
    ck_assert_uint_eq((ULONG)ZwQuerySystemInformation(SystemPerformanceInformation, buf, sizeof buf, &len),
                      (ULONG)STATUS_SUCCESS);
    ck_assert_uint_eq(buf[sizeof(SYSTEM_PERFORMANCE_INFORMATION)], 0xCC);
}
END_TEST

START_TEST(performance_information_memory_counters)
{
    SYSTEM_PERFORMANCE_INFORMATION p;
    memset(&p, 0xCC, sizeof p);
    ULONG len;
    ck_assert_uint_eq((ULONG)ZwQuerySystemInformation(SystemPerformanceInformation, &p, sizeof p, &len),
                      (ULONG)STATUS_SUCCESS);
    ck_assert_uint_gt(p.AvailablePages, 0);
    ck_assert_uint_le(p.AvailablePages, (ULONG)sysconf(_SC_PHYS_PAGES));
    ck_assert_uint_eq((SIZE_T)p.CommitLimit * PAGE_SIZE, commit_limit());
    ck_assert_uint_le(p.CommittedPages, p.CommitLimit);
    ck_assert_uint_ge(p.PeakCommitment, p.CommittedPages);
    ck_assert_uint_gt(p.PageFaultCount, 0);
    ck_assert_uint_ge(p.NonPagedPoolAllocs, p.NonPagedPoolFrees);
    ck_assert_uint_ge(p.PagedPoolAllocs, p.PagedPoolFrees);
    /* there is no I/O, cache manager or scheduler to count: those fields are zero, not stale */
    ck_assert_uint_eq(p.IdleProcessTime.QuadPart, 0);
    ck_assert_uint_eq(p.IoReadOperationCount, 0);
    ck_assert_uint_eq(p.CcDataPages, 0);
    ck_assert_uint_eq(p.ContextSwitches, 0);
    ck_assert_uint_eq(p.SystemCalls, 0);
    ck_assert_uint_eq(p.SharedCommittedPages, 0);
}
END_TEST

static ULONG pool_pages(const SYSTEM_PERFORMANCE_INFORMATION *p, int pool)
{
    return pool ? p->PagedPoolPages : p->NonPagedPoolPages;
}

static ULONG pool_allocs(const SYSTEM_PERFORMANCE_INFORMATION *p, int pool)
{
    return pool ? p->PagedPoolAllocs : p->NonPagedPoolAllocs;
}

static ULONG pool_frees(const SYSTEM_PERFORMANCE_INFORMATION *p, int pool)
{
    return pool ? p->PagedPoolFrees : p->NonPagedPoolFrees;
}

/* Four 96 KB blocks commit at least 96 pages of their pool and count four allocations, then frees. */
START_TEST(performance_information_follows_the_pool)
{
    int pool = _i;
    enum { BLOCKS = 4 };
    const SIZE_T size = 96 * 1024;
    SYSTEM_PERFORMANCE_INFORMATION before = performance();
    PVOID blocks[BLOCKS];
    for (int i = 0; i < BLOCKS; i++) {
        blocks[i] = ExAllocatePoolWithTag(Pools[pool], size, TAG);
        ck_assert_ptr_nonnull(blocks[i]);
    }
    SYSTEM_PERFORMANCE_INFORMATION held = performance();
    ULONG pages = (ULONG)(BLOCKS * size / PAGE_SIZE);
    ck_assert_uint_ge(pool_pages(&held, pool), pool_pages(&before, pool) + pages);
    ck_assert_uint_ge(pool_allocs(&held, pool) - pool_allocs(&before, pool), BLOCKS);
    for (int i = 0; i < BLOCKS; i++)
        ExFreePoolWithTag(blocks[i], TAG);
    SYSTEM_PERFORMANCE_INFORMATION freed = performance();
    ck_assert_uint_ge(pool_frees(&freed, pool) - pool_frees(&held, pool), BLOCKS);
    ck_assert_uint_le(pool_pages(&freed, pool), pool_pages(&held, pool) - pages); /* big blocks give pages back */
}
END_TEST

static Suite *meminfo_suite(void)
{
    Suite *s = suite_create("meminfo");
    TCase *t = tcase_create("system_info");
    tcase_add_test(t, system_info_describes_this_x64_host);
    suite_add_tcase(s, t);

    t = tcase_create("memory_status");
    tcase_add_test(t, memory_status_ex_refuses_a_wrong_length);
    tcase_add_test(t, memory_status_totals_are_plausible);
    tcase_add_test(t, memory_status_old_form_sets_its_length_and_agrees);
    tcase_add_test(t, avail_virtual_follows_host_mappings);
    suite_add_tcase(s, t);

    t = tcase_create("process_memory_info");
    tcase_add_test(t, process_memory_info_refuses_other_handles);
    tcase_add_test(t, process_memory_info_refuses_a_small_buffer);
    tcase_add_test(t, process_memory_info_fills_the_structure_cb_names);
    tcase_add_test(t, working_set_grows_when_pages_are_touched);
    tcase_add_loop_test(t, quota_pool_usage_follows_quota_allocations, 0, 2);
    suite_add_tcase(s, t);

    t = tcase_create("performance_information");
    tcase_add_test(t, performance_information_length_and_layout);
    tcase_add_test(t, performance_information_memory_counters);
    tcase_add_loop_test(t, performance_information_follows_the_pool, 0, 2);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(meminfo_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
