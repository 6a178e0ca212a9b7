/* toolhelp.c - CloseHandle, GetCurrentProcessId and the ToolHelp heap walk (Heap32ListFirst/Next,
 * Heap32First/Next) over snapshots of this process's heap list. */
#include <string.h>
#include <unistd.h>

#include "ob/ob.h"
#include "rtl/heap.h"

#define TH_MAX_HEAPS 256

/* A snapshot: the heaps that existed when it was taken, and where Heap32ListNext is. */
typedef struct _TH_SNAPSHOT {
    ULONG Count;
    ULONG Cursor;
    HANDLE Heaps[TH_MAX_HEAPS];
} TH_SNAPSHOT;

static struct _OBJECT_TYPE ThSnapshotType = {"ToolhelpSnapshot", 0x706C6854 /* 'Thlp' */, NULL};

WINBASEAPI BOOL WINAPI CloseHandle(HANDLE handle)
{
    NTSTATUS status = NtClose(handle);
    if (!NT_SUCCESS(status)) {
        SetLastError(RtlNtStatusToDosError(status));
        return FALSE;
    }
    return TRUE;
}

WINBASEAPI DWORD WINAPI GetCurrentProcessId(VOID)
{
    return (DWORD)getpid();
}

static BOOL ThThisProcess(DWORD pid)
{
    return pid == 0 || pid == GetCurrentProcessId();
}

WINBASEAPI HANDLE WINAPI CreateToolhelp32Snapshot(DWORD flags, DWORD pid)
{
    if (flags != TH32CS_SNAPHEAPLIST || !ThThisProcess(pid)) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return INVALID_HANDLE_VALUE;
    }
    TH_SNAPSHOT *s = ObpCreateObject(&ThSnapshotType, sizeof *s);
    if (s == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return INVALID_HANDLE_VALUE;
    }
    s->Count = GetProcessHeaps(TH_MAX_HEAPS, s->Heaps);
    if (s->Count > TH_MAX_HEAPS)
        s->Count = TH_MAX_HEAPS;
    HANDLE handle;
    NTSTATUS status = ObpInsertHandle(s, 0, 0, &handle);
    ObfDereferenceObject(s); /* the handle keeps it */
    if (!NT_SUCCESS(status)) {
        SetLastError(RtlNtStatusToDosError(status));
        return INVALID_HANDLE_VALUE;
    }
    return handle;
}

static BOOL ThListEntry(HANDLE snapshot, LPHEAPLIST32 entry, BOOL first)
{
    if (entry == NULL || entry->dwSize != sizeof(HEAPLIST32)) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    PVOID object;
    if (!NT_SUCCESS(ObReferenceObjectByHandle(snapshot, 0, &ThSnapshotType, KernelMode, &object, NULL))) {
        SetLastError(ERROR_INVALID_HANDLE);
        return FALSE;
    }
    TH_SNAPSHOT *s = object;
    if (first)
        s->Cursor = 0;
    BOOL found = s->Cursor < s->Count;
    if (found) {
        entry->th32ProcessID = GetCurrentProcessId();
        entry->th32HeapID = (ULONG_PTR)s->Heaps[s->Cursor];
        entry->dwFlags = s->Heaps[s->Cursor] == GetProcessHeap() ? HF32_DEFAULT : 0;
        s->Cursor++;
    }
    ObfDereferenceObject(s);
    if (!found)
        SetLastError(ERROR_NO_MORE_ITEMS);
    return found;
}

WINBASEAPI BOOL WINAPI Heap32ListFirst(HANDLE snapshot, LPHEAPLIST32 entry)
{
    return ThListEntry(snapshot, entry, TRUE);
}

WINBASEAPI BOOL WINAPI Heap32ListNext(HANDLE snapshot, LPHEAPLIST32 entry)
{
    return ThListEntry(snapshot, entry, FALSE);
}

/* Walks the heap to the first block entry after Address (0: the first block), as ToolHelp does:
 * every call starts over, which is why Heap32Next is slow on Windows too. */
static BOOL ThBlockAfter(LPHEAPENTRY32 entry, ULONG_PTR heap, ULONG_PTR address)
{
    if (HpLookup((HANDLE)heap) == NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    PROCESS_HEAP_ENTRY walk;
    memset(&walk, 0, sizeof walk);
    BOOL passed = address == 0;
    while (HeapWalk((HANDLE)heap, &walk)) {
        if (walk.wFlags & (PROCESS_HEAP_REGION | PROCESS_HEAP_UNCOMMITTED_RANGE))
            continue;
        if (!passed) {
            passed = (ULONG_PTR)walk.lpData == address;
            continue;
        }
        entry->hHandle = walk.lpData;
        entry->dwAddress = (ULONG_PTR)walk.lpData;
        entry->dwBlockSize = walk.cbData;
        entry->dwFlags = (walk.wFlags & PROCESS_HEAP_ENTRY_BUSY) ? LF32_FIXED : LF32_FREE;
        entry->dwLockCount = 0;
        entry->dwResvd = 0;
        entry->th32ProcessID = GetCurrentProcessId();
        entry->th32HeapID = heap;
        return TRUE;
    }
    SetLastError(ERROR_NO_MORE_ITEMS);
    return FALSE;
}

WINBASEAPI BOOL WINAPI Heap32First(LPHEAPENTRY32 entry, DWORD pid, ULONG_PTR heap)
{
    if (entry == NULL || entry->dwSize != sizeof(HEAPENTRY32) || !ThThisProcess(pid)) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    return ThBlockAfter(entry, heap, 0);
}

WINBASEAPI BOOL WINAPI Heap32Next(LPHEAPENTRY32 entry)
{
    if (entry == NULL || entry->dwSize != sizeof(HEAPENTRY32)) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    return ThBlockAfter(entry, entry->th32HeapID, entry->dwAddress);
}
