/* windows.h - the Win32 surface: base types, last-error, and (as issues land) memory APIs. */
#ifndef NTMEM_WINDOWS_H
#define NTMEM_WINDOWS_H

#include "ntdef.h"
#include "winerror.h"
#include "excpt.h"

NTMEM_BEGIN_DECLS

typedef int BOOL, *PBOOL, *LPBOOL;
typedef void *LPVOID;
typedef const void *LPCVOID;
typedef DWORD *LPDWORD;
typedef BYTE *LPBYTE;
typedef ULONGLONG DWORDLONG, *PDWORDLONG;
typedef WORD *PWORD, *LPWORD;
#define WINBASEAPI NTMEM_API
#define CALLBACK
#define APIENTRY

WINBASEAPI DWORD WINAPI GetLastError(VOID);
WINBASEAPI VOID WINAPI SetLastError(DWORD dwErrCode);

/* ---- exceptions ----------------------------------------------------------------------------- */
#define EXCEPTION_ACCESS_VIOLATION ((DWORD)STATUS_ACCESS_VIOLATION)
#define EXCEPTION_DATATYPE_MISALIGNMENT ((DWORD)STATUS_DATATYPE_MISALIGNMENT)
#define EXCEPTION_BREAKPOINT ((DWORD)STATUS_BREAKPOINT)
#define EXCEPTION_SINGLE_STEP ((DWORD)STATUS_SINGLE_STEP)
#define EXCEPTION_ARRAY_BOUNDS_EXCEEDED ((DWORD)STATUS_ARRAY_BOUNDS_EXCEEDED)
#define EXCEPTION_FLT_DENORMAL_OPERAND ((DWORD)STATUS_FLOAT_DENORMAL_OPERAND)
#define EXCEPTION_FLT_DIVIDE_BY_ZERO ((DWORD)STATUS_FLOAT_DIVIDE_BY_ZERO)
#define EXCEPTION_FLT_INEXACT_RESULT ((DWORD)STATUS_FLOAT_INEXACT_RESULT)
#define EXCEPTION_FLT_INVALID_OPERATION ((DWORD)STATUS_FLOAT_INVALID_OPERATION)
#define EXCEPTION_FLT_OVERFLOW ((DWORD)STATUS_FLOAT_OVERFLOW)
#define EXCEPTION_FLT_STACK_CHECK ((DWORD)STATUS_FLOAT_STACK_CHECK)
#define EXCEPTION_FLT_UNDERFLOW ((DWORD)STATUS_FLOAT_UNDERFLOW)
#define EXCEPTION_INT_DIVIDE_BY_ZERO ((DWORD)STATUS_INTEGER_DIVIDE_BY_ZERO)
#define EXCEPTION_INT_OVERFLOW ((DWORD)STATUS_INTEGER_OVERFLOW)
#define EXCEPTION_PRIV_INSTRUCTION ((DWORD)STATUS_PRIVILEGED_INSTRUCTION)
#define EXCEPTION_IN_PAGE_ERROR ((DWORD)STATUS_IN_PAGE_ERROR)
#define EXCEPTION_ILLEGAL_INSTRUCTION ((DWORD)STATUS_ILLEGAL_INSTRUCTION)
#define EXCEPTION_NONCONTINUABLE_EXCEPTION ((DWORD)STATUS_NONCONTINUABLE_EXCEPTION)
#define EXCEPTION_STACK_OVERFLOW ((DWORD)STATUS_STACK_OVERFLOW)
#define EXCEPTION_INVALID_DISPOSITION ((DWORD)STATUS_INVALID_DISPOSITION)
#define EXCEPTION_GUARD_PAGE ((DWORD)STATUS_GUARD_PAGE_VIOLATION)
#define EXCEPTION_INVALID_HANDLE ((DWORD)STATUS_INVALID_HANDLE)

typedef LONG (WINAPI *PVECTORED_EXCEPTION_HANDLER)(PEXCEPTION_POINTERS ExceptionInfo);
typedef LONG (WINAPI *PTOP_LEVEL_EXCEPTION_FILTER)(PEXCEPTION_POINTERS ExceptionInfo);
typedef PTOP_LEVEL_EXCEPTION_FILTER LPTOP_LEVEL_EXCEPTION_FILTER;

/* Raises a software exception; returns if a handler continues execution (not for noncontinuable
 * exceptions). More than EXCEPTION_MAXIMUM_PARAMETERS arguments are cut to that many. */
WINBASEAPI VOID WINAPI RaiseException(DWORD dwExceptionCode, DWORD dwExceptionFlags, DWORD nNumberOfArguments,
                                      const ULONG_PTR *lpArguments);
/* Vectored handlers run first, before any frame-based handler, in the order they were added (First
 * nonzero puts a handler in front). Continue handlers run when execution is about to continue. */
WINBASEAPI PVOID WINAPI AddVectoredExceptionHandler(ULONG First, PVECTORED_EXCEPTION_HANDLER Handler);
WINBASEAPI ULONG WINAPI RemoveVectoredExceptionHandler(PVOID Handle);
WINBASEAPI PVOID WINAPI AddVectoredContinueHandler(ULONG First, PVECTORED_EXCEPTION_HANDLER Handler);
WINBASEAPI ULONG WINAPI RemoveVectoredContinueHandler(PVOID Handle);
WINBASEAPI LPTOP_LEVEL_EXCEPTION_FILTER WINAPI SetUnhandledExceptionFilter(
    LPTOP_LEVEL_EXCEPTION_FILTER lpTopLevelExceptionFilter);
WINBASEAPI LONG WINAPI UnhandledExceptionFilter(PEXCEPTION_POINTERS ExceptionInfo);

/* ---- virtual memory (memoryapi.h) ---------------------------------------------------------------
 * Regions are reserved on 64 KB boundaries and committed, protected, reset, decommitted and released
 * page by page, with Windows' rules and error codes (GetLastError). Every commit is charged against
 * the commit limit (ntmem_set_commit_limit, NTMEM_COMMIT_LIMIT). Only the current process exists:
 * the *Ex forms take GetCurrentProcess(). */
typedef MEMORY_BASIC_INFORMATION *LPMEMORY_BASIC_INFORMATION;
#define WRITE_WATCH_FLAG_RESET 0x01
#define GetCurrentProcess() ((HANDLE)(LONG_PTR)-1)

typedef enum MEM_EXTENDED_PARAMETER_TYPE {
    MemExtendedParameterInvalidType = 0,
    MemExtendedParameterAddressRequirements,
    MemExtendedParameterNumaNode,
    MemExtendedParameterPartitionHandle,
    MemExtendedParameterUserPhysicalHandle,
    MemExtendedParameterAttributeFlags,
    MemExtendedParameterImageMachine,
    MemExtendedParameterMax
} MEM_EXTENDED_PARAMETER_TYPE;

typedef struct _MEM_ADDRESS_REQUIREMENTS {
    PVOID LowestStartingAddress;
    PVOID HighestEndingAddress;
    SIZE_T Alignment;
} MEM_ADDRESS_REQUIREMENTS, *PMEM_ADDRESS_REQUIREMENTS;

typedef struct DECLSPEC_ALIGN(8) MEM_EXTENDED_PARAMETER {
    __extension__ struct { /* 64-bit bit-fields, as the SDK declares them */
        DWORD64 Type : 8;
        DWORD64 Reserved : 56;
    };
    union {
        DWORD64 ULong64;
        PVOID Pointer;
        SIZE_T Size;
        HANDLE Handle;
        DWORD ULong;
    };
} MEM_EXTENDED_PARAMETER, *PMEM_EXTENDED_PARAMETER;

WINBASEAPI LPVOID WINAPI VirtualAlloc(LPVOID lpAddress, SIZE_T dwSize, DWORD flAllocationType, DWORD flProtect);
WINBASEAPI LPVOID WINAPI VirtualAllocEx(HANDLE hProcess, LPVOID lpAddress, SIZE_T dwSize, DWORD flAllocationType,
                                        DWORD flProtect);
WINBASEAPI PVOID WINAPI VirtualAlloc2(HANDLE Process, PVOID BaseAddress, SIZE_T Size, ULONG AllocationType,
                                      ULONG PageProtection, MEM_EXTENDED_PARAMETER *ExtendedParameters,
                                      ULONG ParameterCount);
WINBASEAPI BOOL WINAPI VirtualFree(LPVOID lpAddress, SIZE_T dwSize, DWORD dwFreeType);
WINBASEAPI BOOL WINAPI VirtualFreeEx(HANDLE hProcess, LPVOID lpAddress, SIZE_T dwSize, DWORD dwFreeType);
WINBASEAPI BOOL WINAPI VirtualProtect(LPVOID lpAddress, SIZE_T dwSize, DWORD flNewProtect, PDWORD lpflOldProtect);
WINBASEAPI BOOL WINAPI VirtualProtectEx(HANDLE hProcess, LPVOID lpAddress, SIZE_T dwSize, DWORD flNewProtect,
                                        PDWORD lpflOldProtect);
WINBASEAPI SIZE_T WINAPI VirtualQuery(LPCVOID lpAddress, PMEMORY_BASIC_INFORMATION lpBuffer, SIZE_T dwLength);
WINBASEAPI SIZE_T WINAPI VirtualQueryEx(HANDLE hProcess, LPCVOID lpAddress, PMEMORY_BASIC_INFORMATION lpBuffer,
                                        SIZE_T dwLength);
WINBASEAPI BOOL WINAPI VirtualLock(LPVOID lpAddress, SIZE_T dwSize);
WINBASEAPI BOOL WINAPI VirtualUnlock(LPVOID lpAddress, SIZE_T dwSize);
WINBASEAPI UINT WINAPI GetWriteWatch(DWORD dwFlags, PVOID lpBaseAddress, SIZE_T dwRegionSize, PVOID *lpAddresses,
                                     ULONG_PTR *lpdwCount, LPDWORD lpdwGranularity);
WINBASEAPI UINT WINAPI ResetWriteWatch(LPVOID lpBaseAddress, SIZE_T dwRegionSize);
WINBASEAPI BOOL WINAPI FlushInstructionCache(HANDLE hProcess, LPCVOID lpBaseAddress, SIZE_T dwSize);
WINBASEAPI SIZE_T WINAPI GetLargePageMinimum(VOID);

/* ---- system and process memory information (sysinfoapi.h, psapi.h) ----------------------------- */
#define PROCESSOR_ARCHITECTURE_AMD64 9
#define PROCESSOR_AMD_X8664 8664

typedef struct _SYSTEM_INFO {
    union {
        DWORD dwOemId;
        __extension__ struct {
            WORD wProcessorArchitecture;
            WORD wReserved;
        };
    };
    DWORD dwPageSize;
    LPVOID lpMinimumApplicationAddress;
    LPVOID lpMaximumApplicationAddress;
    DWORD_PTR dwActiveProcessorMask;
    DWORD dwNumberOfProcessors;
    DWORD dwProcessorType;
    DWORD dwAllocationGranularity;
    WORD wProcessorLevel;
    WORD wProcessorRevision;
} SYSTEM_INFO, *LPSYSTEM_INFO;

typedef struct _MEMORYSTATUS {
    DWORD dwLength;
    DWORD dwMemoryLoad;
    SIZE_T dwTotalPhys;
    SIZE_T dwAvailPhys;
    SIZE_T dwTotalPageFile;
    SIZE_T dwAvailPageFile;
    SIZE_T dwTotalVirtual;
    SIZE_T dwAvailVirtual;
} MEMORYSTATUS, *LPMEMORYSTATUS;

typedef struct _MEMORYSTATUSEX {
    DWORD dwLength;
    DWORD dwMemoryLoad;
    DWORDLONG ullTotalPhys;
    DWORDLONG ullAvailPhys;
    DWORDLONG ullTotalPageFile;
    DWORDLONG ullAvailPageFile;
    DWORDLONG ullTotalVirtual;
    DWORDLONG ullAvailVirtual;
    DWORDLONG ullAvailExtendedVirtual;
} MEMORYSTATUSEX, *LPMEMORYSTATUSEX;

typedef struct _PROCESS_MEMORY_COUNTERS {
    DWORD cb;
    DWORD PageFaultCount;
    SIZE_T PeakWorkingSetSize;
    SIZE_T WorkingSetSize;
    SIZE_T QuotaPeakPagedPoolUsage;
    SIZE_T QuotaPagedPoolUsage;
    SIZE_T QuotaPeakNonPagedPoolUsage;
    SIZE_T QuotaNonPagedPoolUsage;
    SIZE_T PagefileUsage;
    SIZE_T PeakPagefileUsage;
} PROCESS_MEMORY_COUNTERS, *PPROCESS_MEMORY_COUNTERS;

typedef struct _PROCESS_MEMORY_COUNTERS_EX {
    DWORD cb;
    DWORD PageFaultCount;
    SIZE_T PeakWorkingSetSize;
    SIZE_T WorkingSetSize;
    SIZE_T QuotaPeakPagedPoolUsage;
    SIZE_T QuotaPagedPoolUsage;
    SIZE_T QuotaPeakNonPagedPoolUsage;
    SIZE_T QuotaNonPagedPoolUsage;
    SIZE_T PagefileUsage;
    SIZE_T PeakPagefileUsage;
    SIZE_T PrivateUsage;
} PROCESS_MEMORY_COUNTERS_EX, *PPROCESS_MEMORY_COUNTERS_EX;

WINBASEAPI VOID WINAPI GetSystemInfo(LPSYSTEM_INFO lpSystemInfo);
WINBASEAPI VOID WINAPI GetNativeSystemInfo(LPSYSTEM_INFO lpSystemInfo);
WINBASEAPI VOID WINAPI GlobalMemoryStatus(LPMEMORYSTATUS lpBuffer);
WINBASEAPI BOOL WINAPI GlobalMemoryStatusEx(LPMEMORYSTATUSEX lpBuffer);
WINBASEAPI BOOL WINAPI K32GetProcessMemoryInfo(HANDLE Process, PPROCESS_MEMORY_COUNTERS ppsmemCounters, DWORD cb);
#define GetProcessMemoryInfo K32GetProcessMemoryInfo

/* ---- heaps (heapapi.h) --------------------------------------------------------------------------
 * The process heap and private heaps, on top of the virtual memory above (segments are reserved and
 * committed with VirtualAlloc, so VirtualQuery and the commit charge see them). Small blocks come
 * from a per-thread front end that takes no lock; HEAP_NO_SERIALIZE heaps never lock. Corruption
 * found in a heap ends the process with STATUS_HEAP_CORRUPTION (0xC0000374), as Windows' fail-fast
 * does; HeapValidate reports it without ending anything. */
#define HEAP_NO_SERIALIZE 0x00000001
#define HEAP_GROWABLE 0x00000002
#define HEAP_GENERATE_EXCEPTIONS 0x00000004
#define HEAP_ZERO_MEMORY 0x00000008
#define HEAP_REALLOC_IN_PLACE_ONLY 0x00000010
#define HEAP_TAIL_CHECKING_ENABLED 0x00000020
#define HEAP_FREE_CHECKING_ENABLED 0x00000040
#define HEAP_DISABLE_COALESCE_ON_FREE 0x00000080
#define HEAP_CREATE_ALIGN_16 0x00010000
#define HEAP_CREATE_ENABLE_TRACING 0x00020000
#define HEAP_CREATE_ENABLE_EXECUTE 0x00040000

#define PROCESS_HEAP_REGION 0x0001
#define PROCESS_HEAP_UNCOMMITTED_RANGE 0x0002
#define PROCESS_HEAP_ENTRY_BUSY 0x0004
#define PROCESS_HEAP_SEG_ALLOC 0x0008
#define PROCESS_HEAP_ENTRY_MOVEABLE 0x0010
#define PROCESS_HEAP_ENTRY_DDESHARE 0x0020

typedef struct _PROCESS_HEAP_ENTRY {
    PVOID lpData;
    DWORD cbData;
    BYTE cbOverhead;
    BYTE iRegionIndex;
    WORD wFlags;
    union {
        struct {
            HANDLE hMem;
            DWORD dwReserved[3];
        } Block;
        struct {
            DWORD dwCommittedSize;
            DWORD dwUnCommittedSize;
            LPVOID lpFirstBlock;
            LPVOID lpLastBlock;
        } Region;
    };
} PROCESS_HEAP_ENTRY, *LPPROCESS_HEAP_ENTRY, *PPROCESS_HEAP_ENTRY;

typedef enum _HEAP_INFORMATION_CLASS {
    HeapCompatibilityInformation = 0,
    HeapEnableTerminationOnCorruption = 1
} HEAP_INFORMATION_CLASS;

typedef struct _HEAP_SUMMARY {
    DWORD cb;
    SIZE_T cbAllocated;
    SIZE_T cbCommitted;
    SIZE_T cbReserved;
    SIZE_T cbMaxReserve;
} HEAP_SUMMARY, *PHEAP_SUMMARY, *LPHEAP_SUMMARY;

WINBASEAPI HANDLE WINAPI GetProcessHeap(VOID);
WINBASEAPI DWORD WINAPI GetProcessHeaps(DWORD NumberOfHeaps, PHANDLE ProcessHeaps);
WINBASEAPI HANDLE WINAPI HeapCreate(DWORD flOptions, SIZE_T dwInitialSize, SIZE_T dwMaximumSize);
WINBASEAPI BOOL WINAPI HeapDestroy(HANDLE hHeap);
WINBASEAPI LPVOID WINAPI HeapAlloc(HANDLE hHeap, DWORD dwFlags, SIZE_T dwBytes);
WINBASEAPI LPVOID WINAPI HeapReAlloc(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem, SIZE_T dwBytes);
WINBASEAPI BOOL WINAPI HeapFree(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem);
WINBASEAPI SIZE_T WINAPI HeapSize(HANDLE hHeap, DWORD dwFlags, LPCVOID lpMem);
WINBASEAPI BOOL WINAPI HeapValidate(HANDLE hHeap, DWORD dwFlags, LPCVOID lpMem);
WINBASEAPI SIZE_T WINAPI HeapCompact(HANDLE hHeap, DWORD dwFlags);
WINBASEAPI BOOL WINAPI HeapLock(HANDLE hHeap);
WINBASEAPI BOOL WINAPI HeapUnlock(HANDLE hHeap);
WINBASEAPI BOOL WINAPI HeapWalk(HANDLE hHeap, LPPROCESS_HEAP_ENTRY lpEntry);
WINBASEAPI BOOL WINAPI HeapSummary(HANDLE hHeap, DWORD dwFlags, LPHEAP_SUMMARY lpSummary);
WINBASEAPI BOOL WINAPI HeapSetInformation(HANDLE HeapHandle, HEAP_INFORMATION_CLASS HeapInformationClass,
                                          PVOID HeapInformation, SIZE_T HeapInformationLength);
WINBASEAPI BOOL WINAPI HeapQueryInformation(HANDLE HeapHandle, HEAP_INFORMATION_CLASS HeapInformationClass,
                                            PVOID HeapInformation, SIZE_T HeapInformationLength, PSIZE_T ReturnLength);

/* ---- handles and the ToolHelp heap walk (tlhelp32.h) --------------------------------------------
 * Snapshots of this process's heap list (TH32CS_SNAPHEAPLIST); other snapshot kinds and other
 * processes are not available (ERROR_INVALID_PARAMETER). */
#define INVALID_HANDLE_VALUE ((HANDLE)(LONG_PTR)-1)
#define TH32CS_SNAPHEAPLIST 0x00000001
#define HF32_DEFAULT 1
#define HF32_SHARED 2
#define LF32_FIXED 0x00000001
#define LF32_FREE 0x00000002
#define LF32_MOVEABLE 0x00000004

typedef struct tagHEAPLIST32 {
    SIZE_T dwSize;
    DWORD th32ProcessID;
    ULONG_PTR th32HeapID;
    DWORD dwFlags;
} HEAPLIST32, *PHEAPLIST32, *LPHEAPLIST32;

typedef struct tagHEAPENTRY32 {
    SIZE_T dwSize;
    HANDLE hHandle;
    ULONG_PTR dwAddress;
    SIZE_T dwBlockSize;
    DWORD dwFlags;
    DWORD dwLockCount;
    DWORD dwResvd;
    DWORD th32ProcessID;
    ULONG_PTR th32HeapID;
} HEAPENTRY32, *PHEAPENTRY32, *LPHEAPENTRY32;

WINBASEAPI BOOL WINAPI CloseHandle(HANDLE hObject);
WINBASEAPI DWORD WINAPI GetCurrentProcessId(VOID);
WINBASEAPI HANDLE WINAPI CreateToolhelp32Snapshot(DWORD dwFlags, DWORD th32ProcessID);
WINBASEAPI BOOL WINAPI Heap32ListFirst(HANDLE hSnapshot, LPHEAPLIST32 lphl);
WINBASEAPI BOOL WINAPI Heap32ListNext(HANDLE hSnapshot, LPHEAPLIST32 lphl);
WINBASEAPI BOOL WINAPI Heap32First(LPHEAPENTRY32 lphe, DWORD th32ProcessID, ULONG_PTR th32HeapID);
WINBASEAPI BOOL WINAPI Heap32Next(LPHEAPENTRY32 lphe);

NTMEM_END_DECLS

#endif /* NTMEM_WINDOWS_H */
