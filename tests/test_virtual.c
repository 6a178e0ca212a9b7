/* test_virtual.c - VirtualAlloc/Free/Protect/Query and the Nt routines: rounding, states, errors,
 * guard pages, write watch, locking, the commit charge, queries of the host's own mappings. */
#define _GNU_SOURCE
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <ntmem.h>
#include <ntddk.h>
#include <windows.h>

#include "death.h"

#define KB 1024
#define MB (1024 * 1024)

static MEMORY_BASIC_INFORMATION query(const void *p)
{
    MEMORY_BASIC_INFORMATION info;
    memset(&info, 0xCC, sizeof info);
    ck_assert_uint_eq(VirtualQuery(p, &info, sizeof info), sizeof info);
    return info;
}

/* ---- reserve, commit, rounding ------------------------------------------------------------------- */

START_TEST(reserve_rounds_to_64k_and_pages_and_reports_reserved_state)
{
    PUCHAR p = VirtualAlloc(NULL, 0xFFFC, MEM_RESERVE, PAGE_NOACCESS);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((ULONG_PTR)p & 0xFFFF, 0);
    MEMORY_BASIC_INFORMATION m = query(p + 5);
    ck_assert_ptr_eq(m.BaseAddress, p);
    ck_assert_ptr_eq(m.AllocationBase, p);
    ck_assert_uint_eq(m.AllocationProtect, PAGE_NOACCESS);
    ck_assert_uint_eq(m.RegionSize, 0x10000);
    ck_assert_uint_eq(m.State, MEM_RESERVE);
    ck_assert_uint_eq(m.Protect, 0);
    ck_assert_uint_eq(m.Type, MEM_PRIVATE);

    /* commit one page in the middle: three regions */
    ck_assert_ptr_eq(VirtualAlloc(p + 0x2345, 10, MEM_COMMIT, PAGE_READWRITE), p + 0x2000);
    m = query(p);
    ck_assert_uint_eq(m.RegionSize, 0x2000);
    ck_assert_uint_eq(m.State, MEM_RESERVE);
    m = query(p + 0x2FFF);
    ck_assert_ptr_eq(m.BaseAddress, p + 0x2000);
    ck_assert_uint_eq(m.RegionSize, 0x1000);
    ck_assert_uint_eq(m.State, MEM_COMMIT);
    ck_assert_uint_eq(m.Protect, PAGE_READWRITE);
    m = query(p + 0x3000);
    ck_assert_uint_eq(m.RegionSize, 0xD000);
    p[0x2000] = 7; /* committed memory is usable and zero-filled */
    ck_assert_int_eq(p[0x2001], 0);
    ck_assert(VirtualFree(p, 0, MEM_RELEASE));
    m = query(p);
    ck_assert_uint_eq(m.State, MEM_FREE);
}
END_TEST

START_TEST(reserve_at_an_address_rounds_down_and_conflicts_are_reported)
{
    PUCHAR p = VirtualAlloc(NULL, 0x20000, MEM_RESERVE, PAGE_NOACCESS);
    ck_assert_ptr_nonnull(p);
    ck_assert(VirtualFree(p, 0, MEM_RELEASE));
    /* the same place again, from an unaligned address inside it */
    PUCHAR q = VirtualAlloc(p + 0x1234, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    ck_assert_ptr_eq(q, p);
    MEMORY_BASIC_INFORMATION m = query(q);
    ck_assert_uint_eq(m.RegionSize, 0x3000); /* from the 64 KB base to the end of the last page */
    SetLastError(0);
    ck_assert_ptr_null(VirtualAlloc(p + 0x1000, 0x1000, MEM_RESERVE, PAGE_READWRITE));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_ADDRESS);
    PVOID base = p + 0x1000;
    SIZE_T size = 0x1000;
    ck_assert_int_eq(NtAllocateVirtualMemory(NtCurrentProcess(), &base, 0, &size, MEM_RESERVE, PAGE_READWRITE),
                     STATUS_CONFLICTING_ADDRESSES);
    ck_assert(VirtualFree(q, 0, MEM_RELEASE));
}
END_TEST

START_TEST(commit_alone_without_an_address_reserves_and_commits)
{
    PUCHAR p = VirtualAlloc(NULL, 3 * 4096 + 1, MEM_COMMIT, PAGE_READWRITE);
    ck_assert_ptr_nonnull(p);
    MEMORY_BASIC_INFORMATION m = query(p);
    ck_assert_uint_eq(m.State, MEM_COMMIT);
    ck_assert_uint_eq(m.RegionSize, 4 * 4096);
    memset(p, 1, 4 * 4096);
    ck_assert(VirtualFree(p, 0, MEM_RELEASE));
}
END_TEST

START_TEST(bad_arguments_give_the_documented_errors)
{
    SetLastError(0);
    ck_assert_ptr_null(VirtualAlloc(NULL, 0, MEM_RESERVE, PAGE_NOACCESS));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
    ck_assert_ptr_null(VirtualAlloc(NULL, 4096, MEM_RESERVE, 0));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
    ck_assert_ptr_null(VirtualAlloc(NULL, 4096, MEM_COMMIT, PAGE_READONLY | PAGE_EXECUTE));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
    ck_assert_ptr_null(VirtualAlloc(NULL, 4096, MEM_COMMIT, PAGE_NOACCESS | PAGE_GUARD));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
    ck_assert_ptr_null(VirtualAlloc(NULL, 4096, MEM_COMMIT, PAGE_WRITECOPY));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
    ck_assert_ptr_null(VirtualAlloc(NULL, 4096, 0, PAGE_READWRITE));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);

    PUCHAR p = VirtualAlloc(NULL, 0x10000, MEM_RESERVE, PAGE_NOACCESS);
    ck_assert_ptr_nonnull(p);
    DWORD old;
    ck_assert(!VirtualProtect(p, 0x1000, PAGE_READONLY, &old)); /* not committed */
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_ADDRESS);
    ck_assert(!VirtualFree(p, 0x10000, 0));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
    ck_assert(!VirtualFree(p, 0, MEM_FREE));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
    ck_assert(!VirtualFree(p, 1, MEM_RELEASE)); /* release takes size 0 */
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
    ck_assert(!VirtualFree(p + 0x1000, 0, MEM_RELEASE)); /* not the base */
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_ADDRESS);
    ck_assert(VirtualFree(p, 0x10000, MEM_DECOMMIT)); /* decommitting reserved pages is fine */
    ck_assert(!VirtualFree(p + 0xF000, 0x2000, MEM_DECOMMIT)); /* runs past the allocation */
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_ADDRESS);
    ck_assert(VirtualFree(p, 0, MEM_RELEASE));
    ck_assert(!VirtualFree(p, 0, MEM_RELEASE)); /* already gone */
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_ADDRESS);
    ck_assert_ptr_null(VirtualAlloc(p, 4096, MEM_COMMIT, PAGE_READWRITE)); /* commit in free space */
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_ADDRESS);

    /* Nt statuses */
    PVOID base = NULL;
    SIZE_T size = 4096;
    ck_assert_int_eq(NtAllocateVirtualMemory((HANDLE)(ULONG_PTR)0x1234, &base, 0, &size, MEM_COMMIT, PAGE_READWRITE),
                     STATUS_INVALID_HANDLE);
    ck_assert_int_eq(NtAllocateVirtualMemory(NtCurrentProcess(), &base, 22, &size, MEM_COMMIT, PAGE_READWRITE),
                     STATUS_INVALID_PARAMETER_3);
    ck_assert_int_eq(NtAllocateVirtualMemory(NtCurrentProcess(), &base, 0, &size, MEM_COMMIT, 0x1234),
                     STATUS_INVALID_PAGE_PROTECTION);
    MEMORY_BASIC_INFORMATION m;
    ck_assert_int_eq(NtQueryVirtualMemory(NtCurrentProcess(), &m, 7, &m, sizeof m, NULL), STATUS_INVALID_INFO_CLASS);
    ck_assert_int_eq(NtQueryVirtualMemory(NtCurrentProcess(), &m, MemoryBasicInformation, &m, sizeof m - 1, NULL),
                     STATUS_INFO_LENGTH_MISMATCH);
    ck_assert_uint_eq(VirtualQuery(&m, &m, sizeof m - 1), 0);
    ck_assert_uint_eq(GetLastError(), ERROR_BAD_LENGTH);
    /* a system-range address is not the user's */
    PVOID pool = ExAllocatePoolWithTag(NonPagedPoolNx, 64, 'tVmT');
    ck_assert_uint_eq(VirtualQuery(pool, &m, sizeof m), 0);
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
    ExFreePoolWithTag(pool, 'tVmT');
    ck_assert_uint_eq(RtlNtStatusToDosError(STATUS_COMMITMENT_LIMIT), ERROR_COMMITMENT_LIMIT);
    ck_assert_uint_eq(RtlNtStatusToDosError(STATUS_NOT_COMMITTED), ERROR_INVALID_ADDRESS);
}
END_TEST

START_TEST(write_watch_needs_a_reservation)
{
    SetLastError(0);
    ck_assert_ptr_null(VirtualAlloc(NULL, 4096, MEM_COMMIT | MEM_WRITE_WATCH, PAGE_READWRITE));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
}
END_TEST

/* ---- protection ----------------------------------------------------------------------------------- */

static volatile int last_exception; /* set by filters */
static volatile ULONG_PTR last_info0, last_info1;

static LONG record_filter(PEXCEPTION_POINTERS e)
{
    last_exception = e->ExceptionRecord->ExceptionCode;
    last_info0 = e->ExceptionRecord->ExceptionInformation[0];
    last_info1 = e->ExceptionRecord->ExceptionInformation[1];
    return EXCEPTION_EXECUTE_HANDLER;
}

static int touch(volatile UCHAR *p, int write)
{
    last_exception = 0;
    __try {
        if (write)
            *p = 1;
        else
            (void)*p;
    } __except (record_filter(GetExceptionInformation())) {
    }
    return last_exception;
}

START_TEST(protect_splits_and_merges_regions_and_returns_the_old_protection)
{
    PUCHAR p = VirtualAlloc(NULL, 16 * 4096, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    ck_assert_ptr_nonnull(p);
    DWORD old = 0;
    ck_assert(VirtualProtect(p + 4 * 4096, 2 * 4096, PAGE_READONLY, &old));
    ck_assert_uint_eq(old, PAGE_READWRITE);
    MEMORY_BASIC_INFORMATION m = query(p);
    ck_assert_uint_eq(m.RegionSize, 4 * 4096);
    m = query(p + 4 * 4096);
    ck_assert_uint_eq(m.RegionSize, 2 * 4096);
    ck_assert_uint_eq(m.Protect, PAGE_READONLY);
    ck_assert_int_eq(touch(p + 4 * 4096, 0), 0);
    ck_assert_int_eq(touch(p + 4 * 4096, 1), (int)STATUS_ACCESS_VIOLATION);
    ck_assert_uint_eq(last_info0, 1);
    ck_assert_uint_eq(last_info1, (ULONG_PTR)(p + 4 * 4096));
    ck_assert(VirtualProtect(p + 4 * 4096, 2 * 4096, PAGE_READWRITE, &old));
    ck_assert_uint_eq(old, PAGE_READONLY);
    m = query(p);
    ck_assert_uint_eq(m.RegionSize, 16 * 4096); /* merged again */
    ck_assert(VirtualProtect(p, 4096, PAGE_NOACCESS, &old));
    ck_assert_int_eq(touch(p, 0), (int)STATUS_ACCESS_VIOLATION);
    ck_assert_uint_eq(last_info0, 0);
    ck_assert(VirtualProtect(p, 4096, PAGE_EXECUTE_READ, &old));
    ck_assert_uint_eq(old, PAGE_NOACCESS);
    ck_assert_uint_eq(query(p).Protect, PAGE_EXECUTE_READ);
    /* partial decommit */
    ck_assert(VirtualFree(p + 8 * 4096, 4096, MEM_DECOMMIT));
    m = query(p + 8 * 4096);
    ck_assert_uint_eq(m.State, MEM_RESERVE);
    ck_assert_uint_eq(m.RegionSize, 4096);
    ck_assert_int_eq(touch(p + 8 * 4096, 0), (int)STATUS_ACCESS_VIOLATION);
    ck_assert(!VirtualProtect(p + 7 * 4096, 2 * 4096, PAGE_READONLY, &old)); /* spans a decommitted page */
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_ADDRESS);
    ck_assert(!VirtualProtect(p, 4096, PAGE_READWRITE, NULL)); /* the old protection is not optional */
    ck_assert(VirtualFree(p, 0, MEM_RELEASE));
}
END_TEST

START_TEST(a_guard_page_raises_once_and_loses_its_guard)
{
    PUCHAR p = VirtualAlloc(NULL, 2 * 4096, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(query(p).Protect, PAGE_READWRITE | PAGE_GUARD);
    ck_assert_int_eq(touch(p + 4096 + 8, 1), (int)STATUS_GUARD_PAGE_VIOLATION);
    ck_assert_uint_eq(last_info0, 1);
    ck_assert_uint_eq(last_info1, (ULONG_PTR)(p + 4096 + 8));
    MEMORY_BASIC_INFORMATION m = query(p + 4096);
    ck_assert_uint_eq(m.Protect, PAGE_READWRITE); /* the guard is gone from that page only */
    ck_assert_uint_eq(m.RegionSize, 4096);
    ck_assert_uint_eq(query(p).Protect, PAGE_READWRITE | PAGE_GUARD);
    ck_assert_int_eq(touch(p + 4096, 1), 0);
    ck_assert_int_eq(touch(p, 0), (int)STATUS_GUARD_PAGE_VIOLATION);
    ck_assert_uint_eq(last_info0, 0);
    ck_assert_int_eq(touch(p, 0), 0);
    /* re-armed by VirtualProtect */
    DWORD old;
    ck_assert(VirtualProtect(p, 4096, PAGE_READONLY | PAGE_GUARD, &old));
    ck_assert_uint_eq(old, PAGE_READWRITE);
    ck_assert_int_eq(touch(p, 0), (int)STATUS_GUARD_PAGE_VIOLATION);
    ck_assert_int_eq(touch(p, 1), (int)STATUS_ACCESS_VIOLATION); /* read-only once the guard went */
    ck_assert(VirtualFree(p, 0, MEM_RELEASE));
}
END_TEST

static LONG WINAPI guard_continue(PEXCEPTION_POINTERS e)
{
    return e->ExceptionRecord->ExceptionCode == STATUS_GUARD_PAGE_VIOLATION ? EXCEPTION_CONTINUE_EXECUTION
                                                                           : EXCEPTION_CONTINUE_SEARCH;
}

START_TEST(a_continued_guard_page_access_completes)
{
    volatile PUCHAR p = VirtualAlloc(NULL, 4096, MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
    PVOID h = AddVectoredExceptionHandler(1, guard_continue);
    p[10] = 42; /* faults once, the handler continues, the store completes */
    RemoveVectoredExceptionHandler(h);
    ck_assert_int_eq(p[10], 42);
    ck_assert(VirtualFree(p, 0, MEM_RELEASE));
}
END_TEST

/* ---- write watch ------------------------------------------------------------------------------------ */

START_TEST(write_watch_reports_written_pages_and_resets)
{
    PUCHAR p = VirtualAlloc(NULL, 16 * 4096, MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH, PAGE_READWRITE);
    ck_assert_ptr_nonnull(p);
    PVOID addresses[16];
    ULONG_PTR count = 16;
    DWORD granularity = 0;
    ck_assert_uint_eq(GetWriteWatch(0, p, 16 * 4096, addresses, &count, &granularity), 0);
    ck_assert_uint_eq(count, 0);
    ck_assert_uint_eq(granularity, 4096);
    p[3 * 4096] = 1;
    p[3 * 4096 + 100] = 2;
    p[9 * 4096 + 5] = 3;
    (void)*(volatile UCHAR *)(p + 5 * 4096); /* reads do not count */
    count = 16;
    ck_assert_uint_eq(GetWriteWatch(WRITE_WATCH_FLAG_RESET, p, 16 * 4096, addresses, &count, &granularity), 0);
    ck_assert_uint_eq(count, 2);
    ck_assert_ptr_eq(addresses[0], p + 3 * 4096);
    ck_assert_ptr_eq(addresses[1], p + 9 * 4096);
    count = 16;
    ck_assert_uint_eq(GetWriteWatch(0, p, 16 * 4096, addresses, &count, &granularity), 0);
    ck_assert_uint_eq(count, 0); /* reset by the previous call */
    p[9 * 4096] = 4;
    ck_assert_int_eq(p[9 * 4096 + 5], 3); /* data survives */
    count = 1;
    ck_assert_uint_eq(GetWriteWatch(0, p, 16 * 4096, addresses, &count, &granularity), 0);
    ck_assert_uint_eq(count, 1);
    ck_assert_uint_eq(ResetWriteWatch(p, 16 * 4096), 0);
    count = 16;
    ck_assert_uint_eq(GetWriteWatch(0, p, 16 * 4096, addresses, &count, &granularity), 0);
    ck_assert_uint_eq(count, 0);
    /* not a write-watch region */
    PUCHAR q = VirtualAlloc(NULL, 4096, MEM_COMMIT, PAGE_READWRITE);
    count = 16;
    ck_assert_uint_ne(GetWriteWatch(0, q, 4096, addresses, &count, &granularity), 0);
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
    ck_assert(VirtualFree(q, 0, MEM_RELEASE));
    ck_assert(VirtualFree(p, 0, MEM_RELEASE));
}
END_TEST

/* ---- reset, lock, sizes, placement ------------------------------------------------------------------- */

START_TEST(reset_keeps_pages_committed_and_reset_undo_reports_intact_data)
{
    PUCHAR p = VirtualAlloc(NULL, 0x10000, MEM_RESERVE, PAGE_NOACCESS);
    ck_assert_ptr_eq(VirtualAlloc(p, 4096, MEM_COMMIT, PAGE_READWRITE), p);
    memset(p, 0x55, 20);
    ck_assert_ptr_eq(VirtualAlloc(p, 4096, MEM_RESET, PAGE_NOACCESS), p);
    ck_assert(p[0] == 0x55 || p[0] == 0);
    MEMORY_BASIC_INFORMATION m = query(p);
    ck_assert_uint_eq(m.State, MEM_COMMIT);
    ck_assert_uint_eq(m.Protect, PAGE_READWRITE);
    ck_assert_ptr_eq(VirtualAlloc(p + 4096, 4096, MEM_RESET, PAGE_NOACCESS), p + 4096); /* reserved: nothing to do */
    SetLastError(0);
    ck_assert_ptr_null(VirtualAlloc(p + 0xF000, 0x2000, MEM_RESET, PAGE_NOACCESS)); /* past the allocation */
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_ADDRESS);
    memset(p, 0x66, 4096);
    ck_assert_ptr_eq(VirtualAlloc(p, 4096, MEM_RESET, PAGE_NOACCESS), p);
    if (VirtualAlloc(p, 4096, MEM_RESET_UNDO, PAGE_NOACCESS) == p)
        ck_assert_int_eq(p[100], 0x66); /* undo succeeded: the data is intact */
    ck_assert_ptr_null(VirtualAlloc(p, 4096, MEM_RESET | MEM_COMMIT, PAGE_READWRITE));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
    ck_assert(VirtualFree(p, 0, MEM_RELEASE));
}
END_TEST

START_TEST(lock_and_unlock_committed_pages)
{
    PUCHAR p = VirtualAlloc(NULL, 4 * 4096, MEM_RESERVE, PAGE_NOACCESS);
    ck_assert(!VirtualLock(p, 4096)); /* not committed */
    ck_assert_uint_eq(GetLastError(), ERROR_NOACCESS);
    ck_assert_ptr_nonnull(VirtualAlloc(p, 2 * 4096, MEM_COMMIT, PAGE_READWRITE));
    ck_assert(!VirtualUnlock(p, 4096)); /* not locked */
    ck_assert_uint_eq(GetLastError(), ERROR_NOT_LOCKED);
    if (VirtualLock(p, 2 * 4096)) {
        ck_assert(VirtualUnlock(p, 4096));
        ck_assert(!VirtualUnlock(p, 2 * 4096)); /* the first page is no longer locked */
        ck_assert_uint_eq(GetLastError(), ERROR_NOT_LOCKED);
    } else {
        ck_assert_uint_eq(GetLastError(), ERROR_WORKING_SET_QUOTA); /* RLIMIT_MEMLOCK too small */
    }
    ck_assert(VirtualFree(p, 0, MEM_RELEASE));
}
END_TEST

START_TEST(top_down_and_address_requirements_place_the_region)
{
    PUCHAR low = VirtualAlloc(NULL, 0x10000, MEM_RESERVE, PAGE_NOACCESS);
    PUCHAR high = VirtualAlloc(NULL, 0x10000, MEM_RESERVE | MEM_TOP_DOWN, PAGE_NOACCESS);
    ck_assert_ptr_nonnull(low);
    ck_assert_ptr_nonnull(high);
    ck_assert_uint_eq((ULONG_PTR)high & 0xFFFF, 0);
    ck_assert_uint_ge((ULONG_PTR)high, (ULONG_PTR)low);
    ck_assert(VirtualFree(high, 0, MEM_RELEASE));

    MEM_ADDRESS_REQUIREMENTS req = {(PVOID)0x10000000, (PVOID)0x7FFFFFFF, 0x100000};
    MEM_EXTENDED_PARAMETER param;
    memset(&param, 0, sizeof param);
    param.Type = MemExtendedParameterAddressRequirements;
    param.Pointer = &req;
    PUCHAR p = VirtualAlloc2(NULL, NULL, 0x30000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, &param, 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_ge((ULONG_PTR)p, 0x10000000);
    ck_assert_uint_le((ULONG_PTR)p + 0x30000 - 1, 0x7FFFFFFF);
    ck_assert_uint_eq((ULONG_PTR)p & 0xFFFFF, 0);
    p[0x2FFFF] = 1;
    ck_assert(VirtualFree(p, 0, MEM_RELEASE));
    req.Alignment = 0x3000; /* not a power of two */
    ck_assert_ptr_null(VirtualAlloc2(NULL, NULL, 0x10000, MEM_RESERVE, PAGE_READWRITE, &param, 1));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
    ck_assert(VirtualFree(low, 0, MEM_RELEASE));
}
END_TEST

START_TEST(large_pages_work_or_fail_as_documented)
{
    SIZE_T large = GetLargePageMinimum();
    if (large == 0)
        return;
    ck_assert_ptr_null(VirtualAlloc(NULL, large + 4096, MEM_RESERVE | MEM_COMMIT | MEM_LARGE_PAGES, PAGE_READWRITE));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
    PUCHAR p = VirtualAlloc(NULL, large, MEM_RESERVE | MEM_COMMIT | MEM_LARGE_PAGES, PAGE_READWRITE);
    if (p == NULL) {
        ck_assert_uint_eq(GetLastError(), ERROR_NO_SYSTEM_RESOURCES); /* no huge pages on the host */
        return;
    }
    p[large - 1] = 1;
    ck_assert(VirtualFree(p, 0, MEM_RELEASE));
}
END_TEST

/* ---- commit charge ---------------------------------------------------------------------------------- */

START_TEST(commits_are_charged_against_the_commit_limit)
{
    MEMORYSTATUSEX before = {.dwLength = sizeof before};
    ck_assert(GlobalMemoryStatusEx(&before));
    PUCHAR p = VirtualAlloc(NULL, 64 * MB, MEM_RESERVE, PAGE_NOACCESS);
    ck_assert_ptr_nonnull(p);
    MEMORYSTATUSEX after = {.dwLength = sizeof after};
    ck_assert(GlobalMemoryStatusEx(&after));
    ck_assert_uint_eq(before.ullAvailPageFile - after.ullAvailPageFile, 0); /* reserving is free */
    ck_assert_ptr_nonnull(VirtualAlloc(p, 8 * MB, MEM_COMMIT, PAGE_READWRITE));
    ck_assert_ptr_nonnull(VirtualAlloc(p, 4 * MB, MEM_COMMIT, PAGE_READONLY)); /* already charged */
    ck_assert(GlobalMemoryStatusEx(&after));
    ck_assert_uint_eq(before.ullAvailPageFile - after.ullAvailPageFile, 8 * MB);
    /* A limit just above what is charged now: the next big commit fails and changes nothing. */
    SIZE_T limit = (SIZE_T)(after.ullTotalPageFile - after.ullAvailPageFile) + 4 * MB;
    SIZE_T previous = ntmem_set_commit_limit(limit);
    SetLastError(0);
    ck_assert_ptr_null(VirtualAlloc(p + 8 * MB, 8 * MB, MEM_COMMIT, PAGE_READWRITE));
    ck_assert_uint_eq(GetLastError(), ERROR_COMMITMENT_LIMIT);
    ck_assert_uint_eq(query(p + 8 * MB).State, MEM_RESERVE);
    ck_assert_ptr_null(VirtualAlloc(NULL, 8 * MB, MEM_COMMIT, PAGE_READWRITE));
    ck_assert_uint_eq(GetLastError(), ERROR_COMMITMENT_LIMIT);
    PVOID base = p + 8 * MB;
    SIZE_T size = 8 * MB;
    ck_assert_int_eq(NtAllocateVirtualMemory(NtCurrentProcess(), &base, 0, &size, MEM_COMMIT, PAGE_READWRITE),
                     STATUS_COMMITMENT_LIMIT);
    ck_assert_ptr_nonnull(VirtualAlloc(p + 8 * MB, 2 * MB, MEM_COMMIT, PAGE_READWRITE)); /* still fits */
    ntmem_set_commit_limit(previous);
    ck_assert(VirtualFree(p, 4 * MB, MEM_DECOMMIT));
    MEMORYSTATUSEX partial = {.dwLength = sizeof partial};
    ck_assert(GlobalMemoryStatusEx(&partial));
    ck_assert_uint_eq(before.ullAvailPageFile - partial.ullAvailPageFile, 6 * MB);
    ck_assert(VirtualFree(p, 0, MEM_RELEASE));
    ck_assert(GlobalMemoryStatusEx(&after));
    ck_assert_uint_eq(after.ullAvailPageFile, before.ullAvailPageFile);
}
END_TEST

/* ---- what VirtualQuery sees outside our regions ----------------------------------------------------- */

static int a_global = 1;

START_TEST(query_describes_the_hosts_own_memory)
{
    MEMORY_BASIC_INFORMATION m = query((const void *)(ULONG_PTR)&query);
    ck_assert_uint_eq(m.State, MEM_COMMIT);
    ck_assert_uint_eq(m.Type, MEM_IMAGE);
    ck_assert_uint_eq(m.Protect, PAGE_EXECUTE_READ);
    m = query(&a_global);
    ck_assert_uint_eq(m.Type, MEM_IMAGE);
    ck_assert(m.Protect == PAGE_READWRITE || m.Protect == PAGE_WRITECOPY);
    void *heap = malloc(100);
    m = query(heap);
    ck_assert_uint_eq(m.State, MEM_COMMIT);
    ck_assert_uint_eq(m.Type, MEM_PRIVATE);
    ck_assert_uint_eq(m.Protect, PAGE_READWRITE);
    free(heap);
    int local = 0;
    m = query(&local); /* the main thread's stack, above the system range */
    ck_assert_uint_eq(m.State, MEM_COMMIT);
    ck_assert_uint_eq(m.Protect, PAGE_READWRITE);
    /* a file mapping */
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(ftruncate(fileno(f), 8192), 0);
    void *view = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fileno(f), 0);
    ck_assert_ptr_ne(view, MAP_FAILED);
    m = query(view);
    ck_assert_uint_eq(m.Type, MEM_MAPPED);
    ck_assert_uint_eq(m.Protect, PAGE_READONLY);
    ck_assert_ptr_eq(m.AllocationBase, view);
    munmap(view, 8192);
    fclose(f);
    /* free space: a released region */
    PUCHAR p = VirtualAlloc(NULL, 0x10000, MEM_RESERVE, PAGE_NOACCESS);
    ck_assert(VirtualFree(p, 0, MEM_RELEASE));
    m = query(p + 100);
    ck_assert_uint_eq(m.State, MEM_FREE);
    ck_assert_ptr_eq(m.BaseAddress, p);
    ck_assert_ptr_null(m.AllocationBase);
    ck_assert_uint_ge(m.RegionSize, 4096);
}
END_TEST

START_TEST(walking_the_address_space_visits_every_region_in_order)
{
    PUCHAR mine = VirtualAlloc(NULL, 8 * 4096, MEM_RESERVE, PAGE_NOACCESS);
    VirtualAlloc(mine + 4096, 4096, MEM_COMMIT, PAGE_READONLY);
    ULONG_PTR at = 0x10000, last_end = 0x10000;
    int regions = 0, saw_mine = 0;
    MEMORY_BASIC_INFORMATION m;
    while (VirtualQuery((PVOID)at, &m, sizeof m) == sizeof m && regions < 100000) {
        ck_assert_uint_eq((ULONG_PTR)m.BaseAddress, at & ~(ULONG_PTR)4095);
        ck_assert_uint_ge((ULONG_PTR)m.BaseAddress, last_end);
        ck_assert_uint_gt(m.RegionSize, 0);
        if (m.BaseAddress == mine + 4096 && m.State == MEM_COMMIT && m.Protect == PAGE_READONLY)
            saw_mine = 1;
        last_end = (ULONG_PTR)m.BaseAddress + m.RegionSize;
        at = last_end;
        regions++;
    }
    ck_assert_int_gt(regions, 5);
    ck_assert_int_eq(saw_mine, 1);
    VirtualFree(mine, 0, MEM_RELEASE);
}
END_TEST

/* ---- the seeds' commit-on-demand pattern --------------------------------------------------------------- */

#define DEMAND_PAGES 64
static PUCHAR demand_base;
static volatile int demand_commits; /* changed by handlers the compiler cannot see called */

static LONG commit_filter(PEXCEPTION_POINTERS e)
{
    PEXCEPTION_RECORD r = e->ExceptionRecord;
    if (r->ExceptionCode != STATUS_ACCESS_VIOLATION)
        return EXCEPTION_CONTINUE_SEARCH;
    PUCHAR a = (PUCHAR)r->ExceptionInformation[1];
    if (a < demand_base || a >= demand_base + DEMAND_PAGES * 4096)
        return EXCEPTION_EXECUTE_HANDLER;
    if (VirtualAlloc(PAGE_ALIGN(a), 4096, MEM_COMMIT, PAGE_READWRITE) == NULL)
        return EXCEPTION_EXECUTE_HANDLER;
    demand_commits++;
    return EXCEPTION_CONTINUE_EXECUTION;
}

static LONG WINAPI commit_vectored(PEXCEPTION_POINTERS e)
{
    return commit_filter(e) == EXCEPTION_CONTINUE_EXECUTION ? EXCEPTION_CONTINUE_EXECUTION : EXCEPTION_CONTINUE_SEARCH;
}

START_TEST(commit_on_demand_from_a_filter_and_from_a_vectored_handler)
{
    demand_base = VirtualAlloc(NULL, DEMAND_PAGES * 4096, MEM_RESERVE, PAGE_NOACCESS);
    demand_commits = 0;
    volatile int ok = 1;
    __try {
        for (int i = 0; i < DEMAND_PAGES * 4096; i += 1024)
            demand_base[i] = (UCHAR)i;
    } __except (commit_filter(GetExceptionInformation())) {
        ok = 0;
    }
    ck_assert_int_eq(ok, 1);
    ck_assert_int_eq(demand_commits, DEMAND_PAGES);
    for (int i = 0; i < DEMAND_PAGES * 4096; i += 1024)
        ck_assert_int_eq(demand_base[i], (UCHAR)i);
    ck_assert(VirtualFree(demand_base, DEMAND_PAGES * 4096, MEM_DECOMMIT));
    demand_commits = 0;
    PVOID h = AddVectoredExceptionHandler(1, commit_vectored);
    for (int i = 0; i < DEMAND_PAGES * 4096; i += 4096)
        demand_base[i + 1] = 9;
    RemoveVectoredExceptionHandler(h);
    ck_assert_int_eq(demand_commits, DEMAND_PAGES);
    ck_assert(VirtualFree(demand_base, 0, MEM_RELEASE));
}
END_TEST

/* ---- a model of page states ------------------------------------------------------------------------ */

#define MODEL_REGIONS 6
#define MODEL_PAGES 48

typedef struct model_page {
    int committed;
    ULONG protect;
} model_page;

static const ULONG model_protections[] = {PAGE_NOACCESS, PAGE_READONLY, PAGE_READWRITE, PAGE_EXECUTE_READ,
                                          PAGE_EXECUTE_READWRITE, PAGE_READWRITE | PAGE_GUARD};

START_TEST(random_operations_match_a_reference_model)
{
    srand(12345);
    PUCHAR base[MODEL_REGIONS] = {0};
    model_page pages[MODEL_REGIONS][MODEL_PAGES];
    for (int op = 0; op < 4000; op++) {
        int r = rand() % MODEL_REGIONS;
        int first = rand() % MODEL_PAGES, count = 1 + rand() % (MODEL_PAGES - first);
        ULONG prot = model_protections[rand() % 6];
        int kind = rand() % 6;
        if (base[r] == NULL) {
            base[r] = VirtualAlloc(NULL, MODEL_PAGES * 4096, MEM_RESERVE, PAGE_NOACCESS);
            ck_assert_ptr_nonnull(base[r]);
            memset(pages[r], 0, sizeof pages[r]);
            continue;
        }
        PUCHAR at = base[r] + first * 4096;
        BOOL all_committed = TRUE;
        for (int i = first; i < first + count; i++)
            all_committed &= pages[r][i].committed;
        switch (kind) {
        case 0:
        case 1:
        {
            PVOID got = VirtualAlloc(at, count * 4096, MEM_COMMIT, prot);
            ck_assert_msg(got == at, "op %d: commit of %d pages at %p (protection 0x%x) gave %p, error %lu", op, count,
                          (void *)at, (unsigned)prot, got, (unsigned long)GetLastError());
            for (int i = first; i < first + count; i++)
                pages[r][i] = (model_page){1, prot};
        }
            break;
        case 2: {
            DWORD old;
            BOOL ok = VirtualProtect(at, count * 4096, prot, &old);
            ck_assert_int_eq(ok, all_committed);
            if (ok) {
                ck_assert_uint_eq(old, pages[r][first].protect);
                for (int i = first; i < first + count; i++)
                    pages[r][i].protect = prot;
            } else {
                ck_assert_uint_eq(GetLastError(), ERROR_INVALID_ADDRESS);
            }
            break;
        }
        case 3:
            ck_assert(VirtualFree(at, count * 4096, MEM_DECOMMIT));
            for (int i = first; i < first + count; i++)
                pages[r][i] = (model_page){0, 0};
            break;
        case 4:
            if (rand() % 8 == 0) {
                ck_assert(VirtualFree(base[r], 0, MEM_RELEASE));
                base[r] = NULL;
            }
            break;
        default: {
            /* query a page: the region must be the maximal run of equal pages from there */
            MEMORY_BASIC_INFORMATION m = query(at);
            model_page pg = pages[r][first];
            int end = first;
            while (end < MODEL_PAGES && pages[r][end].committed == pg.committed &&
                   pages[r][end].protect == pg.protect)
                end++;
            ck_assert_ptr_eq(m.BaseAddress, at);
            ck_assert_ptr_eq(m.AllocationBase, base[r]);
            ck_assert_uint_eq(m.State, pg.committed ? MEM_COMMIT : MEM_RESERVE);
            ck_assert_uint_eq(m.Protect, pg.committed ? pg.protect : 0);
            ck_assert_uint_eq(m.RegionSize, (SIZE_T)(end - first) * 4096);
            /* and the hardware agrees: readable pages read, others fault */
            int readable = pg.committed && !(pg.protect & PAGE_GUARD) && pg.protect != PAGE_NOACCESS;
            if (pg.committed && (pg.protect & PAGE_GUARD)) {
                ck_assert_int_eq(touch(at, 0), (int)STATUS_GUARD_PAGE_VIOLATION);
                pages[r][first].protect &= ~(ULONG)PAGE_GUARD;
            } else {
                ck_assert_int_eq(touch(at, 0), readable ? 0 : (int)STATUS_ACCESS_VIOLATION);
            }
            break;
        }
        }
    }
    for (int r = 0; r < MODEL_REGIONS; r++)
        if (base[r] != NULL)
            ck_assert(VirtualFree(base[r], 0, MEM_RELEASE));
}
END_TEST

START_TEST(nt_routines_report_their_statuses)
{
    PVOID base = NULL;
    SIZE_T size = 0x20000;
    ck_assert_int_eq(ZwAllocateVirtualMemory(NtCurrentProcess(), &base, 0, &size, MEM_RESERVE, PAGE_READWRITE),
                     STATUS_SUCCESS);
    ck_assert_uint_eq(size, 0x20000);
    PUCHAR p = base;
    PVOID b = p + 0x1000;
    SIZE_T s = 0;
    ck_assert_int_eq(NtFreeVirtualMemory(NtCurrentProcess(), &b, &s, MEM_RELEASE), STATUS_FREE_VM_NOT_AT_BASE);
    b = p;
    s = 0x1000;
    ck_assert_int_eq(NtFreeVirtualMemory(NtCurrentProcess(), &b, &s, MEM_RELEASE), STATUS_UNABLE_TO_FREE_VM);
    b = p + 0x1F000;
    s = 0x2000;
    ck_assert_int_eq(NtFreeVirtualMemory(NtCurrentProcess(), &b, &s, MEM_DECOMMIT), STATUS_UNABLE_TO_DECOMMIT_VM);
    b = p;
    s = 0x1000;
    ULONG old;
    ck_assert_int_eq(ZwProtectVirtualMemory(NtCurrentProcess(), &b, &s, PAGE_READONLY, &old), STATUS_NOT_COMMITTED);
    b = p + 0x1800;
    s = 0x10;
    ck_assert_int_eq(NtAllocateVirtualMemory(NtCurrentProcess(), &b, 0, &s, MEM_COMMIT, PAGE_READWRITE), STATUS_SUCCESS);
    ck_assert_ptr_eq(b, p + 0x1000); /* rounded to the page */
    ck_assert_uint_eq(s, 0x1000);
    MEMORY_BASIC_INFORMATION m;
    SIZE_T got = 0;
    ck_assert_int_eq(ZwQueryVirtualMemory(NtCurrentProcess(), p + 0x1000, MemoryBasicInformation, &m, sizeof m, &got),
                     STATUS_SUCCESS);
    ck_assert_uint_eq(got, sizeof m);
    ck_assert_uint_eq(m.State, MEM_COMMIT);
    b = p;
    s = 0;
    ck_assert_int_eq(ZwFreeVirtualMemory(NtCurrentProcess(), &b, &s, MEM_RELEASE), STATUS_SUCCESS);
    ck_assert_uint_eq(s, 0x20000);
    b = p;
    s = 0;
    ck_assert_int_eq(NtFreeVirtualMemory(NtCurrentProcess(), &b, &s, MEM_RELEASE), STATUS_MEMORY_NOT_ALLOCATED);
    ck_assert_int_eq(NtFreeVirtualMemory(NtCurrentProcess(), &b, &s, MEM_FREE), STATUS_INVALID_PARAMETER_4);
}
END_TEST

START_TEST(the_ex_forms_take_only_the_current_process)
{
    HANDLE other = (HANDLE)(ULONG_PTR)0x44;
    SetLastError(0);
    ck_assert_ptr_null(VirtualAllocEx(other, NULL, 4096, MEM_COMMIT, PAGE_READWRITE));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
    PUCHAR p = VirtualAllocEx(GetCurrentProcess(), NULL, 4096, MEM_COMMIT, PAGE_READWRITE);
    ck_assert_ptr_nonnull(p);
    DWORD old;
    ck_assert(!VirtualProtectEx(other, p, 4096, PAGE_READONLY, &old));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
    ck_assert(VirtualProtectEx(GetCurrentProcess(), p, 4096, PAGE_READONLY, &old));
    MEMORY_BASIC_INFORMATION m;
    ck_assert_uint_eq(VirtualQueryEx(other, p, &m, sizeof m), 0);
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
    ck_assert_uint_eq(VirtualQueryEx(GetCurrentProcess(), p, &m, sizeof m), sizeof m);
    ck_assert_uint_eq(m.Protect, PAGE_READONLY);
    ck_assert(FlushInstructionCache(GetCurrentProcess(), p, 4096));
    ck_assert(!FlushInstructionCache(other, p, 4096));
    ck_assert(!VirtualFreeEx(other, p, 0, MEM_RELEASE));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
    ck_assert(VirtualFreeEx(GetCurrentProcess(), p, 0, MEM_RELEASE));
}
END_TEST


static void guard_nobody_takes(void *with_frame)
{
    volatile PUCHAR p = VirtualAlloc(NULL, 4096, MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
    if (with_frame != NULL) {
        __try {
            p[16] = 1;
        } __except (GetExceptionCode() == STATUS_ACCESS_VIOLATION) {
        }
    } else {
        p[16] = 1;
    }
    fprintf(stderr, "the store went through\n");
}

START_TEST(an_unhandled_guard_page_violation_is_stop_1e_with_its_code)
{
    SKIP_HARDWARE_DEATH_UNDER_TSAN();
    static death_result r;
    for (int with_frame = 0; with_frame < 2; with_frame++) {
        death_run(guard_nobody_takes, with_frame ? (void *)1 : NULL, &r);
        ck_assert_msg(r.parsed, "%s", r.output);
        ck_assert_uint_eq(r.code, KMODE_EXCEPTION_NOT_HANDLED);
        ck_assert_uint_eq(r.p[0], 0x80000001u);
        ck_assert_uint_eq(r.p[2], 1); /* a write */
        ck_assert(r.aborted);
        ck_assert_ptr_null(strstr(r.output, "the store went through"));
    }
}
END_TEST

static Suite *virtual_suite(void)
{
    Suite *s = suite_create("virtual");
    TCase *t = tcase_create("reserve and commit");
    tcase_add_test(t, reserve_rounds_to_64k_and_pages_and_reports_reserved_state);
    tcase_add_test(t, reserve_at_an_address_rounds_down_and_conflicts_are_reported);
    tcase_add_test(t, commit_alone_without_an_address_reserves_and_commits);
    tcase_add_test(t, bad_arguments_give_the_documented_errors);
    tcase_add_test(t, write_watch_needs_a_reservation);
    tcase_add_test(t, nt_routines_report_their_statuses);
    tcase_add_test(t, the_ex_forms_take_only_the_current_process);
    suite_add_tcase(s, t);

    t = tcase_create("protection");
    tcase_add_test(t, protect_splits_and_merges_regions_and_returns_the_old_protection);
    tcase_add_test(t, a_guard_page_raises_once_and_loses_its_guard);
    tcase_add_test(t, a_continued_guard_page_access_completes);
    tcase_add_test(t, an_unhandled_guard_page_violation_is_stop_1e_with_its_code);
    tcase_add_test(t, write_watch_reports_written_pages_and_resets);
    suite_add_tcase(s, t);

    t = tcase_create("more");
    tcase_add_test(t, reset_keeps_pages_committed_and_reset_undo_reports_intact_data);
    tcase_add_test(t, lock_and_unlock_committed_pages);
    tcase_add_test(t, top_down_and_address_requirements_place_the_region);
    tcase_add_test(t, large_pages_work_or_fail_as_documented);
    tcase_add_test(t, commits_are_charged_against_the_commit_limit);
    tcase_add_test(t, query_describes_the_hosts_own_memory);
    tcase_add_test(t, walking_the_address_space_visits_every_region_in_order);
    tcase_add_test(t, commit_on_demand_from_a_filter_and_from_a_vectored_handler);
    tcase_add_test(t, random_operations_match_a_reference_model);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(virtual_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
