/* virtual_win32.c - the Win32 virtual-memory API (VirtualAlloc and friends) over the Nt routines. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <windows.h>

#include "mm/hostmaps.h"
#include "mm/vad.h"
#include "os/os.h"

/* Failing Win32 calls report the NTSTATUS's Win32 error. */
static BOOL MiFail(NTSTATUS status)
{
    SetLastError(RtlNtStatusToDosError(status));
    return FALSE;
}

static BOOL MiIsCurrent(HANDLE process)
{
    return process == GetCurrentProcess();
}

WINBASEAPI LPVOID WINAPI VirtualAllocEx(HANDLE process, LPVOID address, SIZE_T size, DWORD type, DWORD protect)
{
    if (!MiIsCurrent(process)) {
        SetLastError(ERROR_INVALID_HANDLE);
        return NULL;
    }
    PVOID base = address;
    NTSTATUS status = NtAllocateVirtualMemory(NtCurrentProcess(), &base, 0, &size, type, protect);
    if (!NT_SUCCESS(status)) {
        MiFail(status);
        return NULL;
    }
    return base;
}

WINBASEAPI LPVOID WINAPI VirtualAlloc(LPVOID address, SIZE_T size, DWORD type, DWORD protect)
{
    return VirtualAllocEx(GetCurrentProcess(), address, size, type, protect);
}

/* VirtualAlloc2's address requirements: a free stretch inside [lowest, highest] at the alignment,
 * found in the host's address map and then reserved exactly there (retried if someone took it). */
WINBASEAPI PVOID WINAPI VirtualAlloc2(HANDLE process, PVOID address, SIZE_T size, ULONG type, ULONG protect,
                                      MEM_EXTENDED_PARAMETER *params, ULONG count)
{
    if (process != NULL && !MiIsCurrent(process)) {
        SetLastError(ERROR_INVALID_HANDLE);
        return NULL;
    }
    const MEM_ADDRESS_REQUIREMENTS *req = NULL;
    for (ULONG i = 0; i < count; i++) {
        if (params == NULL)
            break;
        switch (params[i].Type) {
        case MemExtendedParameterAddressRequirements:
            req = params[i].Pointer;
            break;
        case MemExtendedParameterNumaNode:
            if (params[i].ULong != 0) { /* one node */
                SetLastError(ERROR_INVALID_PARAMETER);
                return NULL;
            }
            break;
        default:
            SetLastError(ERROR_INVALID_PARAMETER);
            return NULL;
        }
    }
    if (req == NULL)
        return VirtualAlloc(address, size, type, protect);
    ULONG_PTR low = (ULONG_PTR)req->LowestStartingAddress, high = (ULONG_PTR)req->HighestEndingAddress;
    SIZE_T alignment = req->Alignment != 0 ? req->Alignment : 0x10000;
    /* The documented rules: no fixed address with requirements, a power-of-two alignment of at least
     * 64 KB, a 64 KB aligned lowest address and a highest address ending a 64 KB unit. */
    if (address != NULL || !(type & MEM_RESERVE) || (alignment & (alignment - 1)) != 0 || alignment < 0x10000 ||
        (low & 0xFFFF) != 0 || (high != 0 && (high & 0xFFFF) != 0xFFFF) || (high != 0 && high < low)) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    if (low < 0x10000)
        low = 0x10000;
    if (high == 0 || high > MiHighestUser())
        high = MiHighestUser();
    SIZE_T bytes = ALIGN_UP_BY(size, PAGE_SIZE);
    for (int attempt = 0; attempt < 16; attempt++) {
        PVOID at = MiFindFreeGap(low, high + 1, bytes, alignment, (type & MEM_TOP_DOWN) != 0);
        if (at == NULL)
            break;
        PVOID base = at;
        SIZE_T sz = bytes;
        NTSTATUS status = NtAllocateVirtualMemory(NtCurrentProcess(), &base, 0, &sz, type & ~(ULONG)MEM_TOP_DOWN, protect);
        if (NT_SUCCESS(status))
            return base;
        if (status != STATUS_CONFLICTING_ADDRESSES) {
            MiFail(status);
            return NULL;
        }
    }
    SetLastError(ERROR_NOT_ENOUGH_MEMORY);
    return NULL;
}

WINBASEAPI BOOL WINAPI VirtualFreeEx(HANDLE process, LPVOID address, SIZE_T size, DWORD type)
{
    if (!MiIsCurrent(process)) {
        SetLastError(ERROR_INVALID_HANDLE);
        return FALSE;
    }
    /* Releasing takes the whole allocation, so VirtualFree insists on a size of 0. */
    if (type == MEM_RELEASE && size != 0) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    PVOID base = address;
    NTSTATUS status = NtFreeVirtualMemory(NtCurrentProcess(), &base, &size, type);
    return NT_SUCCESS(status) ? TRUE : MiFail(status);
}

WINBASEAPI BOOL WINAPI VirtualFree(LPVOID address, SIZE_T size, DWORD type)
{
    return VirtualFreeEx(GetCurrentProcess(), address, size, type);
}

WINBASEAPI BOOL WINAPI VirtualProtectEx(HANDLE process, LPVOID address, SIZE_T size, DWORD protect, PDWORD old)
{
    if (!MiIsCurrent(process)) {
        SetLastError(ERROR_INVALID_HANDLE);
        return FALSE;
    }
    /* The old protection is not optional here, as documented. */
    if (old == NULL) {
        SetLastError(ERROR_NOACCESS);
        return FALSE;
    }
    PVOID base = address;
    ULONG previous = 0;
    NTSTATUS status = NtProtectVirtualMemory(NtCurrentProcess(), &base, &size, protect, &previous);
    if (!NT_SUCCESS(status))
        return MiFail(status);
    *old = previous;
    return TRUE;
}

WINBASEAPI BOOL WINAPI VirtualProtect(LPVOID address, SIZE_T size, DWORD protect, PDWORD old)
{
    return VirtualProtectEx(GetCurrentProcess(), address, size, protect, old);
}

WINBASEAPI SIZE_T WINAPI VirtualQueryEx(HANDLE process, LPCVOID address, PMEMORY_BASIC_INFORMATION info, SIZE_T length)
{
    if (!MiIsCurrent(process)) {
        SetLastError(ERROR_INVALID_HANDLE);
        return 0;
    }
    SIZE_T written = 0;
    NTSTATUS status = NtQueryVirtualMemory(NtCurrentProcess(), (PVOID)address, MemoryBasicInformation, info, length,
                                           &written);
    if (!NT_SUCCESS(status)) {
        MiFail(status);
        return 0;
    }
    return written;
}

WINBASEAPI SIZE_T WINAPI VirtualQuery(LPCVOID address, PMEMORY_BASIC_INFORMATION info, SIZE_T length)
{
    return VirtualQueryEx(GetCurrentProcess(), address, info, length);
}

/* ---- locking ----------------------------------------------------------------------------------------- */

/* VirtualLock/VirtualUnlock's common part: the range must be committed pages of one allocation. */
static MI_VAD *MiLockRange(LPVOID address, SIZE_T size, PUCHAR *start, PUCHAR *end)
{
    *start = (PUCHAR)ALIGN_DOWN_BY(address, PAGE_SIZE);
    *end = (PUCHAR)ALIGN_UP_BY((PUCHAR)address + size, PAGE_SIZE);
    MI_VAD *v = size != 0 ? MiVadForRange(*start, (SIZE_T)(*end - *start)) : NULL;
    if (v != NULL) {
        SIZE_T first = (SIZE_T)(*start - v->Start) >> PAGE_SHIFT, count = (SIZE_T)(*end - *start) >> PAGE_SHIFT;
        if (MiCommittedIn(v, first, count) != count)
            v = NULL;
    }
    return v;
}

WINBASEAPI BOOL WINAPI VirtualLock(LPVOID address, SIZE_T size)
{
    PUCHAR start, end;
    MiLockVads();
    MI_VAD *v = MiLockRange(address, size, &start, &end);
    if (v == NULL) {
        MiUnlockVads();
        SetLastError(ERROR_NOACCESS);
        return FALSE;
    }
    if (v->Locked == NULL)
        v->Locked = calloc((v->Pages + 63) / 64, sizeof(ULONG64));
    /* The host may refuse (RLIMIT_MEMLOCK): Windows' answer is the working-set quota. */
    if (v->Locked == NULL || mlock(start, (SIZE_T)(end - start)) != 0) {
        MiUnlockVads();
        SetLastError(ERROR_WORKING_SET_QUOTA);
        return FALSE;
    }
    for (SIZE_T p = (SIZE_T)(start - v->Start) >> PAGE_SHIFT; p < (SIZE_T)(end - v->Start) >> PAGE_SHIFT; p++)
        v->Locked[p / 64] |= 1ULL << (p % 64);
    MiUnlockVads();
    return TRUE;
}

WINBASEAPI BOOL WINAPI VirtualUnlock(LPVOID address, SIZE_T size)
{
    PUCHAR start, end;
    MiLockVads();
    MI_VAD *v = MiLockRange(address, size, &start, &end);
    if (v == NULL) {
        MiUnlockVads();
        SetLastError(ERROR_NOACCESS);
        return FALSE;
    }
    /* Every page is unlocked, but a page that was not locked makes the call fail. */
    BOOL all_locked = v->Locked != NULL;
    for (SIZE_T p = (SIZE_T)(start - v->Start) >> PAGE_SHIFT; p < (SIZE_T)(end - v->Start) >> PAGE_SHIFT; p++) {
        if (v->Locked == NULL || !((v->Locked[p / 64] >> (p % 64)) & 1))
            all_locked = FALSE;
        else
            v->Locked[p / 64] &= ~(1ULL << (p % 64));
    }
    munlock(start, (SIZE_T)(end - start));
    MiUnlockVads();
    if (!all_locked) {
        SetLastError(ERROR_NOT_LOCKED);
        return FALSE;
    }
    return TRUE;
}

/* ---- write watch --------------------------------------------------------------------------------- */

/* The write-watched VAD holding the range, or NULL. Lock held. */
static MI_VAD *MiWatchRange(PVOID address, SIZE_T size, SIZE_T *first, SIZE_T *count)
{
    PUCHAR start = (PUCHAR)ALIGN_DOWN_BY(address, PAGE_SIZE);
    PUCHAR end = (PUCHAR)ALIGN_UP_BY((PUCHAR)address + size, PAGE_SIZE);
    MI_VAD *v = size != 0 ? MiVadForRange(start, (SIZE_T)(end - start)) : NULL;
    if (v == NULL || !(v->Flags & MI_VAD_WRITE_WATCH))
        return NULL;
    *first = (SIZE_T)(start - v->Start) >> PAGE_SHIFT;
    *count = (SIZE_T)(end - start) >> PAGE_SHIFT;
    return v;
}

/* Clears a page's written bit and takes write access away again, so the next write is seen. */
static void MiRearmWatch(MI_VAD *v, SIZE_T page)
{
    v->Dirty[page / 64] &= ~(1ULL << (page % 64));
    MiApplyProtection(v, page, 1);
}

WINBASEAPI UINT WINAPI GetWriteWatch(DWORD flags, PVOID address, SIZE_T size, PVOID *addresses, ULONG_PTR *count,
                                     LPDWORD granularity)
{
    if ((flags & ~(DWORD)WRITE_WATCH_FLAG_RESET) != 0 || addresses == NULL || count == NULL || granularity == NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return (UINT)-1;
    }
    /* The addresses are gathered under the VAD lock into memory of our own and copied out after it:
     * the caller's array may itself be write-watched or guarded, and its fault needs the lock. */
    ULONG_PTR room = *count;
    SIZE_T first, pages;
    MiLockVads();
    MI_VAD *v = MiWatchRange(address, size, &first, &pages);
    if (v == NULL) {
        MiUnlockVads();
        SetLastError(ERROR_INVALID_PARAMETER);
        return (UINT)-1;
    }
    if (room > pages)
        room = pages;
    PVOID *found_pages = malloc((room != 0 ? room : 1) * sizeof *found_pages);
    if (found_pages == NULL) {
        MiUnlockVads();
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return (UINT)-1;
    }
    ULONG_PTR found = 0;
    for (SIZE_T p = first; p < first + pages && found < room; p++) {
        if (!MiPageDirty(v, p))
            continue;
        found_pages[found++] = v->Start + (p << PAGE_SHIFT);
        if (flags & WRITE_WATCH_FLAG_RESET)
            MiRearmWatch(v, p);
    }
    MiUnlockVads();
    memcpy(addresses, found_pages, found * sizeof *found_pages);
    free(found_pages);
    *count = found;
    *granularity = PAGE_SIZE;
    return 0;
}

WINBASEAPI UINT WINAPI ResetWriteWatch(LPVOID address, SIZE_T size)
{
    SIZE_T first, pages;
    MiLockVads();
    MI_VAD *v = MiWatchRange(address, size, &first, &pages);
    if (v == NULL) {
        MiUnlockVads();
        SetLastError(ERROR_INVALID_PARAMETER);
        return (UINT)-1;
    }
    for (SIZE_T p = first; p < first + pages; p++)
        if (MiPageDirty(v, p))
            MiRearmWatch(v, p);
    MiUnlockVads();
    return 0;
}

/* ---- the rest ------------------------------------------------------------------------------------- */

WINBASEAPI BOOL WINAPI FlushInstructionCache(HANDLE process, LPCVOID address, SIZE_T size)
{
    if (!MiIsCurrent(process)) {
        SetLastError(ERROR_INVALID_HANDLE);
        return FALSE;
    }
    /* x86 keeps instruction caches coherent; the builtin is what other hosts need. */
    __builtin___clear_cache((char *)address, (char *)address + size);
    return TRUE;
}

WINBASEAPI SIZE_T WINAPI GetLargePageMinimum(VOID)
{
    FILE *f = fopen("/proc/meminfo", "re");
    if (f == NULL)
        return 0;
    char line[128];
    SIZE_T kb = 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "Hugepagesize: %zu kB", &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}
