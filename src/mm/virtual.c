/* virtual.c - NtAllocateVirtualMemory, NtFreeVirtualMemory, NtProtectVirtualMemory, NtQueryVirtualMemory. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "mm/hostmaps.h"
#include "mm/vad.h"
#include "os/os.h"

#define MI_ALLOCATION_GRANULARITY 0x10000
#define MI_LOWEST_USER_ADDRESS 0x10000
#define MI_LARGE_PAGE_SIZE (2 * 1024 * 1024)
#define MI_ALLOCATION_TYPES (MEM_COMMIT | MEM_RESERVE | MEM_RESET | MEM_RESET_UNDO | MEM_TOP_DOWN | MEM_WRITE_WATCH | \
                             MEM_LARGE_PAGES)

/* ---- argument checks ----------------------------------------------------------------------------- */

/* The protections private memory takes: one base value, and at most one of the cache modifiers or
 * guard (never on PAGE_NOACCESS). Copy-on-write needs a file view, so private memory refuses it. */
BOOLEAN MiValidPrivateProtection(ULONG protect)
{
    ULONG base = protect & 0xFF, extra = protect & ~0xFFu;
    if (base == 0 || (base & (base - 1)) != 0 || base == PAGE_WRITECOPY || base == PAGE_EXECUTE_WRITECOPY)
        return FALSE;
    if (extra & ~(ULONG)(PAGE_GUARD | PAGE_NOCACHE | PAGE_WRITECOMBINE))
        return FALSE;
    if ((extra & PAGE_NOCACHE) && (extra & (PAGE_WRITECOMBINE | PAGE_GUARD)))
        return FALSE;
    if ((extra & PAGE_WRITECOMBINE) && (extra & PAGE_GUARD))
        return FALSE;
    return !(base == PAGE_NOACCESS && extra != 0);
}

static BOOLEAN MiIsCurrentProcess(HANDLE process)
{
    return process == NtCurrentProcess();
}

ULONG_PTR MiHighestUser(void)
{
    MiEnsureInitialized();
    return (ULONG_PTR)MmHighestUserAddress;
}

/* User ranges are everything outside the system range below the 47-bit limit: when Linux's layout
 * left no room at the top, the system range sits lower and user memory also lies above it. */
static BOOLEAN MiIsUserRange(const void *start, SIZE_T bytes)
{
    ULONG_PTR a = (ULONG_PTR)start, end = a + bytes;
    MiEnsureInitialized();
    ULONG_PTR sys = (ULONG_PTR)MiSystemSpace.Start, sys_end = (ULONG_PTR)MiSystemSpace.End;
    return a >= MI_LOWEST_USER_ADDRESS && end >= a && end <= ((ULONG_PTR)1 << 47) && (end <= sys || a >= sys_end);
}

MI_VAD *MiVadForRange(PUCHAR start, SIZE_T bytes)
{
    MI_VAD *v = MiFindVad(start);
    if (v == NULL || start + bytes > v->Start + (v->Pages << PAGE_SHIFT) || start + bytes < start)
        return NULL;
    return v;
}

SIZE_T MiCommittedIn(const MI_VAD *v, SIZE_T first, SIZE_T count)
{
    SIZE_T committed = 0, page = first, end = first + count;
    while (page < end) {
        ULONG i = MiRunIndex(v, page);
        SIZE_T stop = v->Runs[i].First + MiRunPages(v, i);
        if (stop > end)
            stop = end;
        if (v->Runs[i].Committed)
            committed += stop - page;
        page = stop;
    }
    return committed;
}

/* ---- reserve and commit --------------------------------------------------------------------------- */

/* Where the next reservation without an address is tried first: Linux fills address space top down,
 * so the 64 KB unit below the last reservation (or the one just released) is usually free, and one
 * mmap lands there aligned. Guarded by the VAD lock. */
static PUCHAR MiNextHint;

static int MiTryMap(PUCHAR at, SIZE_T bytes, int prot)
{
    void *p = mmap(at, bytes, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED)
        return errno;
    if ((PUCHAR)p != at) { /* kernels before 4.17 take the flag as a hint */
        munmap(p, bytes);
        return EEXIST;
    }
    return 0;
}

/* Maps a reservation with host protection Prot: at Base exactly, or (Base NULL) where there is room,
 * 64 KB aligned. Lock held. */
static NTSTATUS MiMapReservation(PUCHAR *base, SIZE_T bytes, ULONG type, ULONG zero_bits, int prot)
{
    if (type & MEM_LARGE_PAGES) {
        void *p = mmap(*base, bytes, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (*base ? MAP_FIXED_NOREPLACE : 0),
                       -1, 0);
        if (p == MAP_FAILED)
            return errno == EEXIST ? STATUS_CONFLICTING_ADDRESSES : STATUS_INSUFFICIENT_RESOURCES;
        *base = p;
        return STATUS_SUCCESS;
    }
    if (*base != NULL)
        return MiTryMap(*base, bytes, prot) == 0 ? STATUS_SUCCESS : STATUS_CONFLICTING_ADDRESSES;
    if ((type & MEM_TOP_DOWN) || zero_bits != 0) {
        /* Placement Linux will not choose by itself: search the address space. */
        ULONG_PTR high = MiHighestUser() + 1;
        if (zero_bits != 0 && ((ULONG_PTR)1 << (47 - zero_bits)) < high)
            high = (ULONG_PTR)1 << (47 - zero_bits);
        for (int attempt = 0; attempt < 8; attempt++) {
            PUCHAR at = MiFindFreeGap(MI_LOWEST_USER_ADDRESS, high, bytes, MI_ALLOCATION_GRANULARITY,
                                      (type & MEM_TOP_DOWN) != 0);
            if (at == NULL)
                return STATUS_NO_MEMORY;
            if (MiTryMap(at, bytes, prot) == 0) {
                *base = at;
                return STATUS_SUCCESS;
            }
        }
        return STATUS_NO_MEMORY;
    }
    SIZE_T span = ALIGN_UP_BY(bytes, MI_ALLOCATION_GRANULARITY);
    if (MiNextHint != NULL && (ULONG_PTR)MiNextHint >= MI_LOWEST_USER_ADDRESS + span &&
        (ULONG_PTR)MiNextHint + span - 1 <= MiHighestUser() && MiTryMap(MiNextHint, bytes, prot) == 0) {
        *base = MiNextHint;
        MiNextHint -= span;
        return STATUS_SUCCESS;
    }
    /* Otherwise over-reserve by the granularity and trim to a 64 KB boundary. */
    PUCHAR p = mmap(NULL, bytes + MI_ALLOCATION_GRANULARITY, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return STATUS_NO_MEMORY;
    PUCHAR aligned = (PUCHAR)ALIGN_UP_BY(p, MI_ALLOCATION_GRANULARITY);
    if (aligned > p)
        OsRelease(p, (SIZE_T)(aligned - p));
    PUCHAR tail = aligned + bytes, end = p + bytes + MI_ALLOCATION_GRANULARITY;
    if (end > tail)
        OsRelease(tail, (SIZE_T)(end - tail));
    *base = aligned;
    MiNextHint = aligned - span;
    return STATUS_SUCCESS;
}

/* Commits pages of a VAD (charging only those not yet committed) with Protect. Lock held. */
static NTSTATUS MiCommitPages(MI_VAD *v, SIZE_T first, SIZE_T count, ULONG protect)
{
    SIZE_T newly = count - MiCommittedIn(v, first, count);
    NTSTATUS status = newly != 0 ? MiChargeCommit(newly) : STATUS_SUCCESS;
    if (!NT_SUCCESS(status))
        return status;
    if (!MiSetRunState(v, first, count, 1, protect)) {
        MiReturnCommit(newly);
        return STATUS_NO_MEMORY;
    }
    v->CommittedPages += newly;
    if (MiApplyProtection(v, first, count) != 0)
        return STATUS_NO_MEMORY; /* the state is recorded; the host refused the protection */
    return STATUS_SUCCESS;
}

static NTSTATUS MiReserve(PVOID *base_io, PSIZE_T size_io, ULONG type, ULONG protect, ULONG zero_bits)
{
    PUCHAR given = *base_io;
    SIZE_T size = *size_io;
    PUCHAR base = (PUCHAR)ALIGN_DOWN_BY(given, MI_ALLOCATION_GRANULARITY);
    SIZE_T bytes = given != NULL ? ALIGN_UP_BY(given + size, PAGE_SIZE) - (ULONG_PTR)base : ALIGN_UP_BY(size, PAGE_SIZE);
    if (given != NULL && (given + size < given || !MiIsUserRange(base, bytes)))
        return STATUS_INVALID_PARAMETER_2;
    if (bytes == 0 || bytes >= ((SIZE_T)1 << 47))
        return STATUS_INVALID_PARAMETER_4;
    if (type & MEM_LARGE_PAGES) {
        if ((type & (MEM_RESERVE | MEM_COMMIT)) != (MEM_RESERVE | MEM_COMMIT) || (bytes % MI_LARGE_PAGE_SIZE) != 0 ||
            ((ULONG_PTR)base % MI_LARGE_PAGE_SIZE) != 0)
            return STATUS_INVALID_PARAMETER;
    }
    ULONG flags = ((type & MEM_WRITE_WATCH) ? MI_VAD_WRITE_WATCH : 0) | ((type & MEM_LARGE_PAGES) ? MI_VAD_LARGE_PAGES : 0);
    SIZE_T pages = bytes >> PAGE_SHIFT;
    /* Charge first: a reservation that cannot be committed is not made at all. */
    if ((type & MEM_COMMIT) && !NT_SUCCESS(MiChargeCommit(pages)))
        return STATUS_COMMITMENT_LIMIT;
    /* Committed pages are mapped with their protection at once (write-watched ones without write). */
    int prot = PROT_NONE;
    if (type & MEM_COMMIT) {
        MI_VAD probe = {.Flags = flags};
        prot = MiHostProtection(&probe, 0, 1, protect);
    }
    MiLockVads();
    NTSTATUS status = STATUS_SUCCESS;
    if (given != NULL && MiRangeOverlapsVad(base, bytes))
        status = STATUS_CONFLICTING_ADDRESSES;
    else
        status = MiMapReservation(&base, bytes, type, zero_bits, prot); /* base is NULL when none was given */
    MI_VAD *v = NULL;
    if (NT_SUCCESS(status)) {
        v = MiCreateVad(base, pages, protect, flags);
        if (v == NULL) {
            OsRelease(base, bytes);
            status = STATUS_NO_MEMORY;
        }
    }
    if (NT_SUCCESS(status) && (type & MEM_COMMIT)) {
        v->CommittedPages = pages;
        if (!MiSetRunState(v, 0, pages, 1, protect)) {
            MiDeleteVad(v);
            OsRelease(base, bytes);
            status = STATUS_NO_MEMORY;
        }
    }
    MiUnlockVads();
    if (!NT_SUCCESS(status)) {
        if (type & MEM_COMMIT)
            MiReturnCommit(pages);
        return status;
    }
    *base_io = base;
    *size_io = bytes;
    return STATUS_SUCCESS;
}

static NTSTATUS MiCommit(PVOID *base_io, PSIZE_T size_io, ULONG protect)
{
    PUCHAR start = (PUCHAR)ALIGN_DOWN_BY(*base_io, PAGE_SIZE);
    PUCHAR end = (PUCHAR)ALIGN_UP_BY((PUCHAR)*base_io + *size_io, PAGE_SIZE);
    if (end < start || !MiIsUserRange(start, (SIZE_T)(end - start)))
        return STATUS_INVALID_PARAMETER_2;
    MiLockVads();
    MI_VAD *v = MiVadForRange(start, (SIZE_T)(end - start));
    NTSTATUS status = STATUS_CONFLICTING_ADDRESSES; /* not all of it reserved by one allocation */
    if (v != NULL)
        status = MiCommitPages(v, (SIZE_T)(start - v->Start) >> PAGE_SHIFT, (SIZE_T)(end - start) >> PAGE_SHIFT, protect);
    MiUnlockVads();
    if (NT_SUCCESS(status)) {
        *base_io = start;
        *size_io = (SIZE_T)(end - start);
    }
    return status;
}

/* ---- reset ---------------------------------------------------------------------------------------- */

static NTSTATUS MiReset(PVOID *base_io, PSIZE_T size_io, BOOLEAN undo)
{
    PUCHAR start = (PUCHAR)ALIGN_DOWN_BY(*base_io, PAGE_SIZE);
    PUCHAR end = (PUCHAR)ALIGN_UP_BY((PUCHAR)*base_io + *size_io, PAGE_SIZE);
    MiLockVads();
    MI_VAD *v = MiVadForRange(start, (SIZE_T)(end - start));
    if (v == NULL || end <= start) {
        MiUnlockVads();
        return STATUS_CONFLICTING_ADDRESSES;
    }
    /* Only committed pages the program can write are reset; the kernel drops them lazily (MADV_FREE)
     * unless they are written again first. */
    NTSTATUS status = STATUS_SUCCESS;
    for (SIZE_T page = (SIZE_T)(start - v->Start) >> PAGE_SHIFT, last = (SIZE_T)(end - v->Start) >> PAGE_SHIFT;
         page < last;) {
        ULONG i = MiRunIndex(v, page);
        SIZE_T stop = v->Runs[i].First + MiRunPages(v, i);
        if (stop > last)
            stop = last;
        int prot = MiHostProtection(v, page, v->Runs[i].Committed, v->Runs[i].Protect);
        if (v->Runs[i].Committed && (prot & PROT_WRITE) && !(v->Flags & MI_VAD_LARGE_PAGES)) {
            PUCHAR at = v->Start + (page << PAGE_SHIFT);
            SIZE_T bytes = (stop - page) << PAGE_SHIFT;
            if (!undo) {
                madvise(at, bytes, MADV_FREE);
            } else {
                /* Still resident means the data is intact; a write cancels the pending free. */
                unsigned char resident[64];
                for (SIZE_T off = 0; off < bytes && NT_SUCCESS(status); off += sizeof resident * PAGE_SIZE) {
                    SIZE_T chunk = bytes - off < sizeof resident * PAGE_SIZE ? bytes - off : sizeof resident * PAGE_SIZE;
                    if (mincore(at + off, chunk, resident) != 0)
                        status = STATUS_CONFLICTING_ADDRESSES;
                    for (SIZE_T k = 0; k < chunk / PAGE_SIZE && NT_SUCCESS(status); k++)
                        if (!(resident[k] & 1))
                            status = STATUS_CONFLICTING_ADDRESSES;
                }
                for (SIZE_T off = 0; off < bytes && NT_SUCCESS(status); off += PAGE_SIZE)
                    __atomic_fetch_or((volatile UCHAR *)(at + off), 0, __ATOMIC_RELAXED);
            }
        }
        page = stop;
    }
    MiUnlockVads();
    if (NT_SUCCESS(status)) {
        *base_io = start;
        *size_io = (SIZE_T)(end - start);
    }
    return status;
}

/* ---- the Nt routines ------------------------------------------------------------------------------ */

NTSTATUS NTAPI NtAllocateVirtualMemory(HANDLE process, PVOID *base, ULONG_PTR zero_bits, PSIZE_T size, ULONG type,
                                       ULONG protect)
{
    if (!MiIsCurrentProcess(process))
        return STATUS_INVALID_HANDLE;
    if (zero_bits > 21)
        return STATUS_INVALID_PARAMETER_3;
    if (base == NULL || size == NULL)
        return STATUS_ACCESS_VIOLATION;
    if (*size == 0)
        return STATUS_INVALID_PARAMETER_4;
    if ((type & ~(ULONG)MI_ALLOCATION_TYPES) != 0 || (type & (MEM_COMMIT | MEM_RESERVE | MEM_RESET | MEM_RESET_UNDO)) == 0)
        return STATUS_INVALID_PARAMETER_5;
    if (type & (MEM_RESET | MEM_RESET_UNDO)) {
        /* Reset and its undo stand alone. */
        if ((type & ~(ULONG)(MEM_RESET | MEM_RESET_UNDO)) != 0 || type == (MEM_RESET | MEM_RESET_UNDO) || *base == NULL)
            return STATUS_INVALID_PARAMETER_5;
        if (!MiValidPrivateProtection(protect))
            return STATUS_INVALID_PAGE_PROTECTION;
        return MiReset(base, size, (type & MEM_RESET_UNDO) != 0);
    }
    if (((type & MEM_WRITE_WATCH) && !(type & MEM_RESERVE)) ||
        ((type & MEM_LARGE_PAGES) && (type & MEM_WRITE_WATCH)))
        return STATUS_INVALID_PARAMETER_5;
    if (!MiValidPrivateProtection(protect))
        return STATUS_INVALID_PAGE_PROTECTION;
    if ((type & MEM_RESERVE) || *base == NULL) /* MEM_COMMIT without an address reserves as well */
        return MiReserve(base, size, type | ((type & MEM_COMMIT) ? MEM_RESERVE : 0), protect, (ULONG)zero_bits);
    return MiCommit(base, size, protect);
}

NTSTATUS NTAPI NtFreeVirtualMemory(HANDLE process, PVOID *base_io, PSIZE_T size_io, ULONG type)
{
    if (!MiIsCurrentProcess(process))
        return STATUS_INVALID_HANDLE;
    if (type != MEM_DECOMMIT && type != MEM_RELEASE)
        return STATUS_INVALID_PARAMETER_4;
    PUCHAR given = *base_io; /* read before the lock, like every caller variable */
    SIZE_T size = *size_io;
    if (!MiIsUserRange(PAGE_ALIGN(given), PAGE_SIZE))
        return STATUS_INVALID_PARAMETER_2;
    MiLockVads();
    MI_VAD *v = MiFindVad(given);
    if (v == NULL) {
        MiUnlockVads();
        return STATUS_MEMORY_NOT_ALLOCATED;
    }
    PUCHAR vad_end = v->Start + (v->Pages << PAGE_SHIFT);
    PUCHAR start, end;
    if (size == 0) {
        /* Zero means the whole allocation, named by its base. */
        if ((PUCHAR)ALIGN_DOWN_BY(given, PAGE_SIZE) != v->Start) {
            MiUnlockVads();
            return STATUS_FREE_VM_NOT_AT_BASE;
        }
        start = v->Start;
        end = vad_end;
    } else {
        start = (PUCHAR)ALIGN_DOWN_BY(given, PAGE_SIZE);
        end = (PUCHAR)ALIGN_UP_BY(given + size, PAGE_SIZE);
        if (end > vad_end || end < start) {
            MiUnlockVads();
            return type == MEM_RELEASE ? STATUS_UNABLE_TO_FREE_VM : STATUS_UNABLE_TO_DECOMMIT_VM;
        }
    }
    if (type == MEM_RELEASE) {
        if (start != v->Start) {
            MiUnlockVads();
            return STATUS_FREE_VM_NOT_AT_BASE;
        }
        if (end != vad_end) { /* releasing is all or nothing */
            MiUnlockVads();
            return STATUS_UNABLE_TO_FREE_VM;
        }
        SIZE_T committed = v->CommittedPages;
        OsRelease(v->Start, v->Pages << PAGE_SHIFT);
        if (!(v->Flags & MI_VAD_LARGE_PAGES))
            MiNextHint = v->Start; /* free again, aligned: the next reservation's first try */
        MiDeleteVad(v);
        MiUnlockVads();
        MiReturnCommit(committed);
    } else {
        SIZE_T first = (SIZE_T)(start - v->Start) >> PAGE_SHIFT, count = (SIZE_T)(end - start) >> PAGE_SHIFT;
        SIZE_T committed = MiCommittedIn(v, first, count);
        if (!MiSetRunState(v, first, count, 0, 0)) {
            MiUnlockVads();
            return STATUS_NO_MEMORY;
        }
        for (SIZE_T p = first; p < first + count; p++) { /* decommitted pages are neither written nor locked */
            if (v->Dirty != NULL)
                v->Dirty[p / 64] &= ~(1ULL << (p % 64));
            if (v->Locked != NULL)
                v->Locked[p / 64] &= ~(1ULL << (p % 64));
        }
        if (v->Flags & MI_VAD_LARGE_PAGES)
            OsProtect(start, (SIZE_T)(end - start), PROT_NONE); /* huge pages cannot be dropped one by one */
        else
            OsDecommit(start, (SIZE_T)(end - start));
        v->CommittedPages -= committed;
        MiUnlockVads();
        MiReturnCommit(committed);
    }
    *base_io = start;
    *size_io = (SIZE_T)(end - start);
    return STATUS_SUCCESS;
}

NTSTATUS NTAPI NtProtectVirtualMemory(HANDLE process, PVOID *base_io, PSIZE_T size_io, ULONG protect, PULONG old)
{
    if (!MiIsCurrentProcess(process))
        return STATUS_INVALID_HANDLE;
    if (!MiValidPrivateProtection(protect))
        return STATUS_INVALID_PAGE_PROTECTION;
    PUCHAR start = (PUCHAR)ALIGN_DOWN_BY(*base_io, PAGE_SIZE);
    PUCHAR end = (PUCHAR)ALIGN_UP_BY((PUCHAR)*base_io + *size_io, PAGE_SIZE);
    if (*size_io == 0 || end <= start)
        return STATUS_INVALID_PARAMETER_3;
    if (!MiIsUserRange(start, (SIZE_T)(end - start)))
        return STATUS_INVALID_PARAMETER_2;
    ULONG previous = 0;
    MiLockVads();
    MI_VAD *v = MiVadForRange(start, (SIZE_T)(end - start));
    NTSTATUS status = STATUS_CONFLICTING_ADDRESSES;
    if (v != NULL) {
        SIZE_T first = (SIZE_T)(start - v->Start) >> PAGE_SHIFT, count = (SIZE_T)(end - start) >> PAGE_SHIFT;
        if (MiCommittedIn(v, first, count) != count) {
            status = STATUS_NOT_COMMITTED;
        } else {
            previous = v->Runs[MiRunIndex(v, first)].Protect;
            status = MiSetRunState(v, first, count, 1, protect) ? STATUS_SUCCESS : STATUS_NO_MEMORY;
            if (NT_SUCCESS(status) && MiApplyProtection(v, first, count) != 0)
                status = STATUS_NO_MEMORY;
        }
    }
    MiUnlockVads();
    /* The caller's variables are written after the lock: they may live in guarded pages. */
    if (NT_SUCCESS(status) && old != NULL)
        *old = previous;
    if (NT_SUCCESS(status)) {
        *base_io = start;
        *size_io = (SIZE_T)(end - start);
    }
    return status;
}

NTSTATUS NTAPI NtQueryVirtualMemory(HANDLE process, PVOID address, MEMORY_INFORMATION_CLASS info_class, PVOID buffer,
                                    SIZE_T length, PSIZE_T result_length)
{
    if (!MiIsCurrentProcess(process))
        return STATUS_INVALID_HANDLE;
    if (info_class != MemoryBasicInformation)
        return STATUS_INVALID_INFO_CLASS;
    if (length < sizeof(MEMORY_BASIC_INFORMATION))
        return STATUS_INFO_LENGTH_MISMATCH;
    MiEnsureInitialized();
    /* The whole user range answers, the main thread's stack above the system range included. */
    if (MiIsSystemAddress(address) || (ULONG_PTR)address >= ((ULONG_PTR)1 << 47))
        return STATUS_INVALID_PARAMETER;
    MEMORY_BASIC_INFORMATION info;
    memset(&info, 0, sizeof info);
    MiLockVads();
    MI_VAD *v = MiFindVad(address);
    ULONG_PTR next_vad = 0;
    if (v != NULL) {
        SIZE_T page = (SIZE_T)((PUCHAR)address - v->Start) >> PAGE_SHIFT;
        ULONG i = MiRunIndex(v, page);
        info.BaseAddress = v->Start + (page << PAGE_SHIFT);
        info.AllocationBase = v->Start;
        info.AllocationProtect = v->AllocationProtect;
        info.RegionSize = (v->Runs[i].First + MiRunPages(v, i) - page) << PAGE_SHIFT;
        info.State = v->Runs[i].Committed ? MEM_COMMIT : MEM_RESERVE;
        info.Protect = v->Runs[i].Committed ? v->Runs[i].Protect : 0;
        info.Type = MEM_PRIVATE;
    } else {
        MI_VAD *after = MiFindVadAtOrAfter(address);
        next_vad = after != NULL ? (ULONG_PTR)after->Start : ((ULONG_PTR)1 << 47);
    }
    MiUnlockVads();
    if (v == NULL) {
        NTSTATUS status = MiQueryHostRegion(address, next_vad, &info);
        if (!NT_SUCCESS(status))
            return status;
    }
    memcpy(buffer, &info, sizeof info);
    if (result_length != NULL)
        *result_length = sizeof info;
    return STATUS_SUCCESS;
}

NTSTATUS NTAPI ZwAllocateVirtualMemory(HANDLE process, PVOID *base, ULONG_PTR zero_bits, PSIZE_T size, ULONG type,
                                       ULONG protect)
{
    return NtAllocateVirtualMemory(process, base, zero_bits, size, type, protect);
}

NTSTATUS NTAPI ZwFreeVirtualMemory(HANDLE process, PVOID *base, PSIZE_T size, ULONG type)
{
    return NtFreeVirtualMemory(process, base, size, type);
}

NTSTATUS NTAPI ZwProtectVirtualMemory(HANDLE process, PVOID *base, PSIZE_T size, ULONG protect, PULONG old)
{
    return NtProtectVirtualMemory(process, base, size, protect, old);
}

NTSTATUS NTAPI ZwQueryVirtualMemory(HANDLE process, PVOID address, MEMORY_INFORMATION_CLASS info_class, PVOID buffer,
                                    SIZE_T length, PSIZE_T result_length)
{
    return NtQueryVirtualMemory(process, address, info_class, buffer, length, result_length);
}
