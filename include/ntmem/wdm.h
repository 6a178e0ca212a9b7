/* wdm.h - the kernel surface: IRQL, spin locks, bug checks, lists, Rtl memory, pool (WDK names). */
#ifndef NTMEM_WDM_H
#define NTMEM_WDM_H

#include "ntdef.h"
#include "excpt.h"
#include <stdarg.h>
#include <string.h>
/* Under 16-bit wchar_t the C library's wide declarations come first, so the CRT block's macros
 * (below the Rtl string block) cannot rename them, whichever order the driver includes things in. */
#if defined(__SIZEOF_WCHAR_T__) && __SIZEOF_WCHAR_T__ == 2
#ifdef __cplusplus
#include <cwchar>
#else
#include <wchar.h>
#endif
#endif

NTMEM_BEGIN_DECLS

#ifndef DBG
#ifdef NDEBUG
#define DBG 0
#else
#define DBG 1 /* ntmem is a test bed: checked-build behaviour unless NDEBUG says otherwise */
#endif
#endif

/* ---- processor modes --------------------------------------------------------------------------- */
typedef CCHAR KPROCESSOR_MODE;
typedef enum _MODE {
    KernelMode,
    UserMode,
    MaximumMode
} MODE;

/* ---- IRQL ------------------------------------------------------------------------------------- */
typedef UCHAR KIRQL, *PKIRQL;
#define PASSIVE_LEVEL 0
#define LOW_LEVEL 0
#define APC_LEVEL 1
#define DISPATCH_LEVEL 2
#define CMCI_LEVEL 5
#define CLOCK_LEVEL 13
#define IPI_LEVEL 14
#define DRS_LEVEL 14
#define POWER_LEVEL 14
#define PROFILE_LEVEL 15
#define HIGH_LEVEL 15

NTHALAPI KIRQL NTAPI KeGetCurrentIrql(VOID);
NTHALAPI KIRQL FASTCALL KfRaiseIrql(KIRQL NewIrql);
NTHALAPI VOID NTAPI KeLowerIrql(KIRQL NewIrql);
NTHALAPI KIRQL NTAPI KeRaiseIrqlToDpcLevel(VOID);
#define KeRaiseIrql(a, b) (*(b) = KfRaiseIrql(a))

/* ---- spin locks ------------------------------------------------------------------------------- */
typedef ULONG_PTR KSPIN_LOCK, *PKSPIN_LOCK;
NTKERNELAPI VOID NTAPI KeInitializeSpinLock(PKSPIN_LOCK SpinLock);
NTKERNELAPI KIRQL NTAPI KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock);
NTKERNELAPI VOID NTAPI KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql);
NTKERNELAPI VOID NTAPI KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock);
NTKERNELAPI VOID NTAPI KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock);
NTKERNELAPI BOOLEAN FASTCALL KeTestSpinLock(PKSPIN_LOCK SpinLock);
NTKERNELAPI BOOLEAN FASTCALL KeTryToAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock);
#define KeAcquireSpinLock(SpinLock, OldIrql) (*(OldIrql) = KeAcquireSpinLockRaiseToDpc(SpinLock))

/* ---- processors ------------------------------------------------------------------------------- */
typedef ULONG_PTR KAFFINITY, *PKAFFINITY;
typedef struct _PROCESSOR_NUMBER {
    USHORT Group;
    UCHAR Number;
    UCHAR Reserved;
} PROCESSOR_NUMBER, *PPROCESSOR_NUMBER;
#define ALL_PROCESSOR_GROUPS 0xffff
NTKERNELAPI ULONG NTAPI KeGetCurrentProcessorNumber(VOID);
NTKERNELAPI ULONG NTAPI KeGetCurrentProcessorNumberEx(PPROCESSOR_NUMBER ProcNumber);
NTKERNELAPI ULONG NTAPI KeQueryActiveProcessorCount(PKAFFINITY ActiveProcessors);
NTKERNELAPI ULONG NTAPI KeQueryActiveProcessorCountEx(USHORT GroupNumber);
NTKERNELAPI ULONG NTAPI KeQueryMaximumProcessorCount(VOID);

/* ---- bug checks ------------------------------------------------------------------------------- */
#define IRQL_NOT_GREATER_OR_EQUAL 0x00000009
#define IRQL_NOT_LESS_OR_EQUAL 0x0000000A
#define SPIN_LOCK_ALREADY_OWNED 0x0000000F
#define SPIN_LOCK_NOT_OWNED 0x00000010
#define BAD_POOL_HEADER 0x00000019
#define KMODE_EXCEPTION_NOT_HANDLED 0x0000001E
#define MUST_SUCCEED_POOL_EMPTY 0x00000041
#define PAGE_FAULT_IN_NONPAGED_AREA 0x00000050
#define KERNEL_DATA_INPAGE_ERROR 0x0000007A
#define SYSTEM_THREAD_EXCEPTION_NOT_HANDLED 0x0000007E
#define INVALID_KERNEL_HANDLE 0x00000093
#define SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION 0x000000C1
#define BAD_POOL_CALLER 0x000000C2
#define DRIVER_VERIFIER_DETECTED_VIOLATION 0x000000C4
#define DRIVER_IRQL_NOT_LESS_OR_EQUAL 0x000000D1
#define DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL 0x000000D5
#define DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION 0x000000D6
#define KERNEL_SECURITY_CHECK_FAILURE 0x00000139
#define DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS 0x000000CE
#define WORKER_THREAD_RETURNED_AT_BAD_IRQL 0x000000E1
#define MANUALLY_INITIATED_CRASH 0x000000E2

NTKERNELAPI DECLSPEC_NORETURN VOID NTAPI KeBugCheck(ULONG BugCheckCode);
NTKERNELAPI DECLSPEC_NORETURN VOID NTAPI KeBugCheckEx(ULONG BugCheckCode, ULONG_PTR BugCheckParameter1,
                                                      ULONG_PTR BugCheckParameter2,
                                                      ULONG_PTR BugCheckParameter3,
                                                      ULONG_PTR BugCheckParameter4);

typedef enum _KBUGCHECK_BUFFER_DUMP_STATE {
    BufferEmpty,
    BufferInserted,
    BufferStarted,
    BufferFinished,
    BufferIncomplete
} KBUGCHECK_BUFFER_DUMP_STATE;

typedef VOID (*PKBUGCHECK_CALLBACK_ROUTINE)(PVOID Buffer, ULONG Length);
typedef VOID KBUGCHECK_CALLBACK_ROUTINE(PVOID Buffer, ULONG Length);

typedef struct _KBUGCHECK_CALLBACK_RECORD {
    LIST_ENTRY Entry;
    PKBUGCHECK_CALLBACK_ROUTINE CallbackRoutine;
    PVOID Buffer;
    ULONG Length;
    PUCHAR Component;
    ULONG_PTR Checksum;
    UCHAR State;
} KBUGCHECK_CALLBACK_RECORD, *PKBUGCHECK_CALLBACK_RECORD;

#define KeInitializeCallbackRecord(CallbackRecord) ((CallbackRecord)->State = BufferEmpty)
NTKERNELAPI BOOLEAN NTAPI KeRegisterBugCheckCallback(PKBUGCHECK_CALLBACK_RECORD CallbackRecord,
                                                     PKBUGCHECK_CALLBACK_ROUTINE CallbackRoutine,
                                                     PVOID Buffer, ULONG Length, PUCHAR Component);
NTKERNELAPI BOOLEAN NTAPI KeDeregisterBugCheckCallback(PKBUGCHECK_CALLBACK_RECORD CallbackRecord);

/* ---- fail fast and checked lists -------------------------------------------------------------- */
#define FAST_FAIL_CORRUPT_LIST_ENTRY 3
NTSYSAPI DECLSPEC_NORETURN VOID NTAPI RtlFailFast(ULONG Code);
/* Reports which entry was found corrupt, then fails fast with FAST_FAIL_CORRUPT_LIST_ENTRY (0x139). */
NTSYSAPI DECLSPEC_NORETURN VOID NTAPI FatalListEntryError(PVOID P1, PVOID P2, PVOID P3);

FORCEINLINE VOID InitializeListHead(PLIST_ENTRY ListHead)
{
    ListHead->Flink = ListHead->Blink = ListHead;
}

FORCEINLINE BOOLEAN IsListEmpty(const LIST_ENTRY *ListHead)
{
    return (BOOLEAN)(ListHead->Flink == ListHead);
}

FORCEINLINE VOID RtlpCheckListEntry(PLIST_ENTRY Entry)
{
    if (Entry->Flink->Blink != Entry || Entry->Blink->Flink != Entry)
        FatalListEntryError((PVOID)Entry, (PVOID)Entry->Flink, (PVOID)Entry->Blink);
}

FORCEINLINE BOOLEAN RemoveEntryList(PLIST_ENTRY Entry)
{
    PLIST_ENTRY Flink = Entry->Flink, Blink = Entry->Blink;
    if (Flink->Blink != Entry || Blink->Flink != Entry)
        FatalListEntryError((PVOID)Blink, (PVOID)Entry, (PVOID)Flink);
    Blink->Flink = Flink;
    Flink->Blink = Blink;
    return (BOOLEAN)(Flink == Blink);
}

FORCEINLINE PLIST_ENTRY RemoveHeadList(PLIST_ENTRY ListHead)
{
    PLIST_ENTRY Entry = ListHead->Flink, Flink = Entry->Flink;
    if (Entry->Blink != ListHead || Flink->Blink != Entry)
        FatalListEntryError((PVOID)ListHead, (PVOID)Entry, (PVOID)Flink);
    ListHead->Flink = Flink;
    Flink->Blink = ListHead;
    return Entry;
}

FORCEINLINE PLIST_ENTRY RemoveTailList(PLIST_ENTRY ListHead)
{
    PLIST_ENTRY Entry = ListHead->Blink, Blink = Entry->Blink;
    if (Entry->Flink != ListHead || Blink->Flink != Entry)
        FatalListEntryError((PVOID)Blink, (PVOID)Entry, (PVOID)ListHead);
    ListHead->Blink = Blink;
    Blink->Flink = ListHead;
    return Entry;
}

FORCEINLINE VOID InsertTailList(PLIST_ENTRY ListHead, PLIST_ENTRY Entry)
{
    PLIST_ENTRY Blink = ListHead->Blink;
    if (Blink->Flink != ListHead)
        FatalListEntryError((PVOID)Blink, (PVOID)ListHead, (PVOID)Blink->Flink);
    Entry->Flink = ListHead;
    Entry->Blink = Blink;
    Blink->Flink = Entry;
    ListHead->Blink = Entry;
}

FORCEINLINE VOID InsertHeadList(PLIST_ENTRY ListHead, PLIST_ENTRY Entry)
{
    PLIST_ENTRY Flink = ListHead->Flink;
    if (Flink->Blink != ListHead)
        FatalListEntryError((PVOID)ListHead, (PVOID)Flink, (PVOID)Flink->Blink);
    Entry->Flink = Flink;
    Entry->Blink = ListHead;
    Flink->Blink = Entry;
    ListHead->Flink = Entry;
}

/* Appends the headless circular list whose first entry is ListToAppend to the tail of ListHead. */
FORCEINLINE VOID AppendTailList(PLIST_ENTRY ListHead, PLIST_ENTRY ListToAppend)
{
    PLIST_ENTRY ListEnd = ListHead->Blink;
    RtlpCheckListEntry(ListHead);
    RtlpCheckListEntry(ListToAppend);
    ListHead->Blink->Flink = ListToAppend;
    ListHead->Blink = ListToAppend->Blink;
    ListToAppend->Blink->Flink = ListHead;
    ListToAppend->Blink = ListEnd;
}

FORCEINLINE PSINGLE_LIST_ENTRY PopEntryList(PSINGLE_LIST_ENTRY ListHead)
{
    PSINGLE_LIST_ENTRY FirstEntry = ListHead->Next;
    if (FirstEntry != NULL)
        ListHead->Next = FirstEntry->Next;
    return FirstEntry;
}

FORCEINLINE VOID PushEntryList(PSINGLE_LIST_ENTRY ListHead, PSINGLE_LIST_ENTRY Entry)
{
    Entry->Next = ListHead->Next;
    ListHead->Next = Entry;
}

/* ---- interlocked singly linked lists (x64 layout) --------------------------------------------- */
/* Entries must be 16-byte aligned: the header keeps the next entry's address shifted right by 4. */
typedef struct DECLSPEC_ALIGN(16) _SLIST_ENTRY {
    struct _SLIST_ENTRY *Next;
} SLIST_ENTRY, *PSLIST_ENTRY;

typedef union DECLSPEC_ALIGN(16) _SLIST_HEADER {
    __extension__ struct {
        ULONGLONG Alignment;
        ULONGLONG Region;
    };
    __extension__ struct {
        ULONGLONG Depth : 16;
        ULONGLONG Sequence : 48;
        ULONGLONG Reserved : 4;
        ULONGLONG NextEntry : 60; /* address of the first entry >> 4 */
    } HeaderX64;
} SLIST_HEADER, *PSLIST_HEADER;

NTSYSAPI VOID NTAPI InitializeSListHead(PSLIST_HEADER SListHead);
NTSYSAPI PSLIST_ENTRY NTAPI FirstEntrySList(const SLIST_HEADER *SListHead);
NTSYSAPI PSLIST_ENTRY NTAPI InterlockedPushEntrySList(PSLIST_HEADER ListHead, PSLIST_ENTRY ListEntry);
NTSYSAPI PSLIST_ENTRY NTAPI InterlockedPopEntrySList(PSLIST_HEADER ListHead);
NTSYSAPI PSLIST_ENTRY NTAPI InterlockedFlushSList(PSLIST_HEADER ListHead);
NTSYSAPI PSLIST_ENTRY NTAPI InterlockedPushListSListEx(PSLIST_HEADER ListHead, PSLIST_ENTRY List,
                                                       PSLIST_ENTRY ListEnd, ULONG Count);
NTSYSAPI PSLIST_ENTRY NTAPI InterlockedPushListSList(PSLIST_HEADER ListHead, PSLIST_ENTRY List,
                                                     PSLIST_ENTRY ListEnd, ULONG Count);
NTSYSAPI USHORT NTAPI QueryDepthSList(PSLIST_HEADER ListHead);
/* On x64 the executive forms ignore the lock, exactly as the WDK's macros do. */
#define ExInterlockedPopEntrySList(ListHead, Lock) InterlockedPopEntrySList(ListHead)
#define ExInterlockedPushEntrySList(ListHead, ListEntry, Lock) InterlockedPushEntrySList(ListHead, ListEntry)
#define ExInterlockedFlushSList(ListHead) InterlockedFlushSList(ListHead)
#define ExQueryDepthSList(ListHead) QueryDepthSList(ListHead)

/* ---- spin-lock-protected lists (any IRQL; Lock is held at HIGH_LEVEL, as if interrupts were off) - */
NTKERNELAPI PLIST_ENTRY FASTCALL ExInterlockedInsertHeadList(PLIST_ENTRY ListHead, PLIST_ENTRY ListEntry,
                                                             PKSPIN_LOCK Lock);
NTKERNELAPI PLIST_ENTRY FASTCALL ExInterlockedInsertTailList(PLIST_ENTRY ListHead, PLIST_ENTRY ListEntry,
                                                             PKSPIN_LOCK Lock);
NTKERNELAPI PLIST_ENTRY FASTCALL ExInterlockedRemoveHeadList(PLIST_ENTRY ListHead, PKSPIN_LOCK Lock);
NTKERNELAPI PSINGLE_LIST_ENTRY FASTCALL ExInterlockedPushEntryList(PSINGLE_LIST_ENTRY ListHead,
                                                                   PSINGLE_LIST_ENTRY ListEntry, PKSPIN_LOCK Lock);
NTKERNELAPI PSINGLE_LIST_ENTRY FASTCALL ExInterlockedPopEntryList(PSINGLE_LIST_ENTRY ListHead, PKSPIN_LOCK Lock);

/* ---- pages ------------------------------------------------------------------------------------ */
#define PAGE_SIZE 0x1000
#define PAGE_SHIFT 12L
#define BYTE_OFFSET(Va) ((ULONG)((LONG_PTR)(Va) & (PAGE_SIZE - 1)))
#define PAGE_ALIGN(Va) ((PVOID)((ULONG_PTR)(Va) & ~(PAGE_SIZE - 1)))
#define ROUND_TO_PAGES(Size) (((ULONG_PTR)(Size) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
#define BYTES_TO_PAGES(Size) \
    ((ULONG)((ULONG_PTR)(Size) >> PAGE_SHIFT) + (((ULONG)(Size) & (PAGE_SIZE - 1)) != 0))
#define ADDRESS_AND_SIZE_TO_SPAN_PAGES(Va, Size) \
    ((ULONG)((((ULONG_PTR)(Size)) >> PAGE_SHIFT) + \
             ((BYTE_OFFSET(Va) + ((ULONG_PTR)(Size) & (PAGE_SIZE - 1)) + (PAGE_SIZE - 1)) >> PAGE_SHIFT)))
#define SYSTEM_CACHE_ALIGNMENT_SIZE 64

/* ---- Rtl memory ------------------------------------------------------------------------------- */
#define RtlEqualMemory(Destination, Source, Length) (!memcmp((Destination), (Source), (Length)))
#define RtlMoveMemory(Destination, Source, Length) memmove((Destination), (Source), (Length))
#define RtlCopyMemory(Destination, Source, Length) memcpy((Destination), (Source), (Length))
#define RtlFillMemory(Destination, Length, Fill) memset((Destination), (Fill), (Length))
#define RtlZeroMemory(Destination, Length) memset((Destination), 0, (Length))
#define RtlCopyMemoryNonTemporal RtlCopyMemory
NTSYSAPI VOID NTAPI RtlCopyBytes(PVOID Destination, CONST VOID *Source, SIZE_T Length);
NTSYSAPI VOID NTAPI RtlFillBytes(PVOID Destination, SIZE_T Length, UCHAR Fill);
NTSYSAPI VOID NTAPI RtlZeroBytes(PVOID Destination, SIZE_T Length);
NTSYSAPI SIZE_T NTAPI RtlCompareMemory(const VOID *Source1, const VOID *Source2, SIZE_T Length);
NTSYSAPI SIZE_T NTAPI RtlCompareMemoryUlong(PVOID Source, SIZE_T Length, ULONG Pattern);

FORCEINLINE PVOID RtlSecureZeroMemory(PVOID ptr, SIZE_T cnt)
{
    volatile char *vptr = (volatile char *)ptr;
    while (cnt) {
        *vptr = 0;
        vptr++;
        cnt--;
    }
    return ptr;
}

/* ==== Rtl counted strings (issue 8) ===========================================================
 * One block, kept together: init, copy/append, compare/hash, case, ANSI/OEM/UTF-8 conversion,
 * integers, allocation. The ANSI code page is Windows-1252 and the OEM code page 437; strings the
 * routines allocate come from paged pool with tag 'Strg' and go back with the Rtl*Free*String
 * routines. The safe-string routines are in ntstrsafe.h. */
NTSYSAPI VOID NTAPI RtlInitString(PSTRING DestinationString, PCSZ SourceString);
NTSYSAPI VOID NTAPI RtlInitAnsiString(PANSI_STRING DestinationString, PCSZ SourceString);
NTSYSAPI VOID NTAPI RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString);
NTSYSAPI NTSTATUS NTAPI RtlInitStringEx(PSTRING DestinationString, PCSZ SourceString);
NTSYSAPI NTSTATUS NTAPI RtlInitAnsiStringEx(PANSI_STRING DestinationString, PCSZ SourceString);
NTSYSAPI NTSTATUS NTAPI RtlInitUnicodeStringEx(PUNICODE_STRING DestinationString, PCWSTR SourceString);
NTSYSAPI NTSTATUS NTAPI RtlValidateUnicodeString(ULONG Flags, PCUNICODE_STRING String);
/* An empty string over a caller's buffer of BufferSize bytes (the WDK's inline helpers). */
FORCEINLINE VOID RtlInitEmptyUnicodeString(PUNICODE_STRING UnicodeString, PWCHAR Buffer, USHORT BufferSize)
{
    UnicodeString->Length = 0;
    UnicodeString->MaximumLength = BufferSize;
    UnicodeString->Buffer = Buffer;
}
FORCEINLINE VOID RtlInitEmptyAnsiString(PANSI_STRING AnsiString, PCHAR Buffer, USHORT BufferSize)
{
    AnsiString->Length = 0;
    AnsiString->MaximumLength = BufferSize;
    AnsiString->Buffer = Buffer;
}

NTSYSAPI VOID NTAPI RtlCopyString(PSTRING DestinationString, const STRING *SourceString);
NTSYSAPI VOID NTAPI RtlCopyUnicodeString(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString);
NTSYSAPI NTSTATUS NTAPI RtlAppendStringToString(PSTRING Destination, const STRING *Source);
NTSYSAPI NTSTATUS NTAPI RtlAppendUnicodeStringToString(PUNICODE_STRING Destination, PCUNICODE_STRING Source);
NTSYSAPI NTSTATUS NTAPI RtlAppendUnicodeToString(PUNICODE_STRING Destination, PCWSTR Source);

NTSYSAPI LONG NTAPI RtlCompareString(const STRING *String1, const STRING *String2, BOOLEAN CaseInSensitive);
NTSYSAPI LONG NTAPI RtlCompareUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2,
                                            BOOLEAN CaseInSensitive);
NTSYSAPI BOOLEAN NTAPI RtlEqualString(const STRING *String1, const STRING *String2, BOOLEAN CaseInSensitive);
NTSYSAPI BOOLEAN NTAPI RtlEqualUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2,
                                             BOOLEAN CaseInSensitive);
NTSYSAPI BOOLEAN NTAPI RtlPrefixString(const STRING *String1, const STRING *String2, BOOLEAN CaseInSensitive);
NTSYSAPI BOOLEAN NTAPI RtlPrefixUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2,
                                              BOOLEAN CaseInSensitive);
#define HASH_STRING_ALGORITHM_DEFAULT 0
#define HASH_STRING_ALGORITHM_X65599 1
#define HASH_STRING_ALGORITHM_INVALID 0xffffffff
NTSYSAPI NTSTATUS NTAPI RtlHashUnicodeString(PCUNICODE_STRING String, BOOLEAN CaseInSensitive, ULONG HashAlgorithm,
                                             PULONG HashValue);
#define RTL_FIND_CHAR_IN_UNICODE_STRING_START_AT_END 0x00000001
#define RTL_FIND_CHAR_IN_UNICODE_STRING_COMPLEMENT_CHAR_SET 0x00000002
#define RTL_FIND_CHAR_IN_UNICODE_STRING_CASE_INSENSITIVE 0x00000004
NTSYSAPI NTSTATUS NTAPI RtlFindCharInUnicodeString(ULONG Flags, PCUNICODE_STRING StringToSearch,
                                                   PCUNICODE_STRING CharSet, PUSHORT NonInclusivePrefixLength);

NTSYSAPI CHAR NTAPI RtlUpperChar(CHAR Character);
NTSYSAPI VOID NTAPI RtlUpperString(PSTRING DestinationString, const STRING *SourceString);
NTSYSAPI WCHAR NTAPI RtlUpcaseUnicodeChar(WCHAR SourceCharacter);
NTSYSAPI WCHAR NTAPI RtlDowncaseUnicodeChar(WCHAR SourceCharacter);
NTSYSAPI NTSTATUS NTAPI RtlUpcaseUnicodeString(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString,
                                               BOOLEAN AllocateDestinationString);
NTSYSAPI NTSTATUS NTAPI RtlDowncaseUnicodeString(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString,
                                                 BOOLEAN AllocateDestinationString);

NTSYSAPI NTSTATUS NTAPI RtlAnsiStringToUnicodeString(PUNICODE_STRING DestinationString, PCANSI_STRING SourceString,
                                                     BOOLEAN AllocateDestinationString);
NTSYSAPI NTSTATUS NTAPI RtlUnicodeStringToAnsiString(PANSI_STRING DestinationString, PCUNICODE_STRING SourceString,
                                                     BOOLEAN AllocateDestinationString);
NTSYSAPI NTSTATUS NTAPI RtlOemStringToUnicodeString(PUNICODE_STRING DestinationString, PCOEM_STRING SourceString,
                                                    BOOLEAN AllocateDestinationString);
NTSYSAPI NTSTATUS NTAPI RtlUnicodeStringToOemString(POEM_STRING DestinationString, PCUNICODE_STRING SourceString,
                                                    BOOLEAN AllocateDestinationString);
NTSYSAPI ULONG NTAPI RtlxAnsiStringToUnicodeSize(PCANSI_STRING AnsiString);
NTSYSAPI ULONG NTAPI RtlxUnicodeStringToAnsiSize(PCUNICODE_STRING UnicodeString);
NTSYSAPI ULONG NTAPI RtlxOemStringToUnicodeSize(PCOEM_STRING OemString);
NTSYSAPI ULONG NTAPI RtlxUnicodeStringToOemSize(PCUNICODE_STRING UnicodeString);
/* The sizes count the terminating NUL. The code pages are single-byte, so the WDK's macros reduce
 * to the Rtlx functions. */
#define RtlAnsiStringToUnicodeSize(STRING) RtlxAnsiStringToUnicodeSize(STRING)
#define RtlUnicodeStringToAnsiSize(STRING) RtlxUnicodeStringToAnsiSize(STRING)
#define RtlOemStringToUnicodeSize(STRING) RtlxOemStringToUnicodeSize(STRING)
#define RtlUnicodeStringToOemSize(STRING) RtlxUnicodeStringToOemSize(STRING)
NTSYSAPI NTSTATUS NTAPI RtlMultiByteToUnicodeN(PWCH UnicodeString, ULONG MaxBytesInUnicodeString,
                                               PULONG BytesInUnicodeString, const CHAR *MultiByteString,
                                               ULONG BytesInMultiByteString);
NTSYSAPI NTSTATUS NTAPI RtlMultiByteToUnicodeSize(PULONG BytesInUnicodeString, const CHAR *MultiByteString,
                                                  ULONG BytesInMultiByteString);
NTSYSAPI NTSTATUS NTAPI RtlUnicodeToMultiByteN(PCHAR MultiByteString, ULONG MaxBytesInMultiByteString,
                                               PULONG BytesInMultiByteString, PCWCH UnicodeString,
                                               ULONG BytesInUnicodeString);
NTSYSAPI NTSTATUS NTAPI RtlUnicodeToMultiByteSize(PULONG BytesInMultiByteString, PCWCH UnicodeString,
                                                  ULONG BytesInUnicodeString);
NTSYSAPI NTSTATUS NTAPI RtlOemToUnicodeN(PWCH UnicodeString, ULONG MaxBytesInUnicodeString,
                                         PULONG BytesInUnicodeString, PCCH OemString, ULONG BytesInOemString);
NTSYSAPI NTSTATUS NTAPI RtlUnicodeToOemN(PCHAR OemString, ULONG MaxBytesInOemString, PULONG BytesInOemString,
                                         PCWCH UnicodeString, ULONG BytesInUnicodeString);
NTSYSAPI NTSTATUS NTAPI RtlUTF8ToUnicodeN(PWSTR UnicodeStringDestination, ULONG UnicodeStringMaxByteCount,
                                          PULONG UnicodeStringActualByteCount, PCCH UTF8StringSource,
                                          ULONG UTF8StringByteCount);
NTSYSAPI NTSTATUS NTAPI RtlUnicodeToUTF8N(PCHAR UTF8StringDestination, ULONG UTF8StringMaxByteCount,
                                          PULONG UTF8StringActualByteCount, PCWCH UnicodeStringSource,
                                          ULONG UnicodeStringByteCount);

NTSYSAPI NTSTATUS NTAPI RtlIntegerToUnicodeString(ULONG Value, ULONG Base, PUNICODE_STRING String);
NTSYSAPI NTSTATUS NTAPI RtlInt64ToUnicodeString(ULONGLONG Value, ULONG Base, PUNICODE_STRING String);
#define RtlIntPtrToUnicodeString(Value, Base, String) RtlInt64ToUnicodeString((ULONGLONG)(Value), Base, String)
NTSYSAPI NTSTATUS NTAPI RtlUnicodeStringToInteger(PCUNICODE_STRING String, ULONG Base, PULONG Value);
NTSYSAPI NTSTATUS NTAPI RtlCharToInteger(PCSZ String, ULONG Base, PULONG Value);
NTSYSAPI NTSTATUS NTAPI RtlIntegerToChar(ULONG Value, ULONG Base, LONG OutputLength, PSZ String);

#define RTL_DUPLICATE_UNICODE_STRING_NULL_TERMINATE 1
#define RTL_DUPLICATE_UNICODE_STRING_ALLOCATE_NULL_STRING 2
NTSYSAPI NTSTATUS NTAPI RtlDuplicateUnicodeString(ULONG Flags, PCUNICODE_STRING StringIn, PUNICODE_STRING StringOut);
NTSYSAPI BOOLEAN NTAPI RtlCreateUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString);
NTSYSAPI VOID NTAPI RtlFreeAnsiString(PANSI_STRING AnsiString);
NTSYSAPI VOID NTAPI RtlFreeUnicodeString(PUNICODE_STRING UnicodeString);
NTSYSAPI VOID NTAPI RtlFreeOemString(POEM_STRING OemString);
NTSYSAPI VOID NTAPI RtlFreeUTF8String(PUTF8_STRING Utf8String);
/* ==== end of Rtl counted strings ============================================================== */

/* ==== C runtime string routines (the kernel CRT that ntoskrnl exports) =========================
 * The CRT half of the seeds' table of string services, with the Windows kernel CRT's semantics.
 * - The standard narrow routines (strlen, strcpy, strncpy, strcat, strncat, strcmp, strncmp,
 *   strchr, strrchr, strspn, strstr) are glibc's, from <string.h>: the same contract.
 *   sprintf/vsprintf are glibc's too and format the C way (%S, %Z, %wZ unknown, %ld 64 bits):
 *   replacing them would change the whole host process. For Windows formats use _snprintf or
 *   RtlStringCbPrintfA.
 * - Microsoft's own names are exported under those names. Case is the "C" locale's: only
 *   'A'-'Z'/'a'-'z' change, in the narrow and in the wide routines alike (the NT CRT's towlower
 *   is ASCII-only; RtlUpcaseUnicodeString and RtlCompareUnicodeString are the Unicode-aware ones).
 * - _snprintf and its kin: at most Count characters; a NUL only when the output is shorter than
 *   Count; the length written, or -1 when the output did not fit. A NULL Buffer with Count 0
 *   returns the length the output needs. Formats are Windows' (see ntstrsafe.h).
 * - The standard wide routines work on 16-bit WCHARs, so they cannot be glibc's (32-bit wchar_t)
 *   and must not be exported under glibc's names either. They are ntmem_wcs*; when the driver is
 *   built with 16-bit wchar_t (-fshort-wchar, the way L"..." means WCHAR), the Windows names are
 *   macros for them. Other glibc wide routines (wcscspn, wcstol, wmemcpy, ...) keep 32-bit units
 *   and are wrong for such strings. */
NTSYSAPI PCHAR _strrev(PCHAR String);
NTSYSAPI int _stricmp(PCSTR String1, PCSTR String2);
NTSYSAPI int _strnicmp(PCSTR String1, PCSTR String2, size_t Count);
NTSYSAPI PCHAR _strset(PCHAR String, int Char);
NTSYSAPI PCHAR _strnset(PCHAR String, int Char, size_t Count);
NTSYSAPI PCHAR _strlwr(PCHAR String);
NTSYSAPI PCHAR _strupr(PCHAR String);
NTSYSAPI int _snprintf(PCHAR Buffer, size_t Count, PCSTR Format, ...);
NTSYSAPI int _vsnprintf(PCHAR Buffer, size_t Count, PCSTR Format, va_list ArgList);
NTSYSAPI PCHAR _itoa(int Value, PCHAR Buffer, int Radix);

NTSYSAPI PWCHAR _wcsrev(PWCHAR String);
NTSYSAPI int _wcsicmp(PCWSTR String1, PCWSTR String2);
NTSYSAPI int _wcsnicmp(PCWSTR String1, PCWSTR String2, size_t Count);
NTSYSAPI PWCHAR _wcsset(PWCHAR String, WCHAR Char);
NTSYSAPI PWCHAR _wcsnset(PWCHAR String, WCHAR Char, size_t Count);
NTSYSAPI PWCHAR _wcslwr(PWCHAR String);
NTSYSAPI PWCHAR _wcsupr(PWCHAR String);
NTSYSAPI int _snwprintf(PWCHAR Buffer, size_t Count, PCWSTR Format, ...);
NTSYSAPI int _vsnwprintf(PWCHAR Buffer, size_t Count, PCWSTR Format, va_list ArgList);
NTSYSAPI PWCHAR _itow(int Value, PWCHAR Buffer, int Radix);

NTSYSAPI size_t ntmem_wcslen(PCWSTR String);
NTSYSAPI PWCHAR ntmem_wcscpy(PWCHAR Destination, PCWSTR Source);
NTSYSAPI PWCHAR ntmem_wcsncpy(PWCHAR Destination, PCWSTR Source, size_t Count);
NTSYSAPI PWCHAR ntmem_wcscat(PWCHAR Destination, PCWSTR Source);
NTSYSAPI PWCHAR ntmem_wcsncat(PWCHAR Destination, PCWSTR Source, size_t Count);
NTSYSAPI int ntmem_wcscmp(PCWSTR String1, PCWSTR String2);
NTSYSAPI int ntmem_wcsncmp(PCWSTR String1, PCWSTR String2, size_t Count);
NTSYSAPI PWCHAR ntmem_wcschr(PCWSTR String, WCHAR Char);
NTSYSAPI PWCHAR ntmem_wcsrchr(PCWSTR String, WCHAR Char);
NTSYSAPI size_t ntmem_wcsspn(PCWSTR String, PCWSTR Accept);
NTSYSAPI PWCHAR ntmem_wcsstr(PCWSTR String, PCWSTR Search);
/* The kernel's legacy swprintf: no count (the ISO form with one is glibc's). */
NTSYSAPI int ntmem_swprintf(PWCHAR Buffer, PCWSTR Format, ...);

#if defined(__SIZEOF_WCHAR_T__) && __SIZEOF_WCHAR_T__ == 2
/* glibc's fortified <wchar.h> may have made swprintf a macro. */
#undef swprintf
#define wcslen ntmem_wcslen
#define wcscpy ntmem_wcscpy
#define wcsncpy ntmem_wcsncpy
#define wcscat ntmem_wcscat
#define wcsncat ntmem_wcsncat
#define wcscmp ntmem_wcscmp
#define wcsncmp ntmem_wcsncmp
#define wcschr ntmem_wcschr
#define wcsrchr ntmem_wcsrchr
#define wcsspn ntmem_wcsspn
#define wcsstr ntmem_wcsstr
#define swprintf ntmem_swprintf
#ifdef __cplusplus
/* So std::wcslen and the rest (and libstdc++'s own uses) reach the same functions. */
namespace std {
using ::ntmem_wcslen;
using ::ntmem_wcscpy;
using ::ntmem_wcsncpy;
using ::ntmem_wcscat;
using ::ntmem_wcsncat;
using ::ntmem_wcscmp;
using ::ntmem_wcsncmp;
using ::ntmem_wcschr;
using ::ntmem_wcsrchr;
using ::ntmem_wcsspn;
using ::ntmem_wcsstr;
using ::ntmem_swprintf;
}
#endif
#endif
/* ==== end of C runtime string routines ========================================================= */

/* ---- debug output and assertions -------------------------------------------------------------- */
#define DPFLTR_ERROR_LEVEL 0
#define DPFLTR_WARNING_LEVEL 1
#define DPFLTR_TRACE_LEVEL 2
#define DPFLTR_INFO_LEVEL 3
#define DPFLTR_IHVDRIVER_ID 77
#define DPFLTR_DEFAULT_ID 101
/* Windows' format conventions (%wZ, %Z, %ws, %I64d, l = 32 bits; see ntstrsafe.h), which gcc's
 * printf checking would flag, so the declarations carry no format attribute. */
NTSYSAPI ULONG DbgPrint(PCSTR Format, ...);
NTSYSAPI ULONG DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...);
NTSYSAPI VOID NTAPI RtlAssert(PVOID VoidFailedAssertion, PVOID VoidFileName, ULONG LineNumber,
                              PSTR MutableMessage);
#if DBG
#define KdPrint(_x_) DbgPrint _x_
#define KdPrintEx(_x_) DbgPrintEx _x_
/* VOID, as documented (so gcc has no unused value to warn about). */
#define ASSERT(exp) ((void)((!(exp)) ? (RtlAssert((PVOID) #exp, (PVOID)__FILE__, __LINE__, NULL), 0) : 1))
#define ASSERTMSG(msg, exp) \
    ((void)((!(exp)) ? (RtlAssert((PVOID) #exp, (PVOID)__FILE__, __LINE__, (PSTR)(msg)), 0) : 1))
#define NT_ASSERT(exp) ASSERT(exp)
#define NT_ASSERTMSG(msg, exp) ASSERTMSG(msg, exp)
#define PAGED_CODE() NT_ASSERT(KeGetCurrentIrql() <= APC_LEVEL)
#else
#define KdPrint(_x_)
#define KdPrintEx(_x_)
#define ASSERT(exp) ((void)0)
#define ASSERTMSG(msg, exp) ((void)0)
#define NT_ASSERT(exp) ((void)0)
#define NT_ASSERTMSG(msg, exp) ((void)0)
#define PAGED_CODE()
#endif

/* ---- exceptions raised by status -------------------------------------------------------------- */
/* Raised by status, these exceptions are noncontinuable, as on Windows. */
NTSYSAPI DECLSPEC_NORETURN VOID NTAPI RtlRaiseStatus(NTSTATUS Status);
NTKERNELAPI DECLSPEC_NORETURN VOID NTAPI ExRaiseStatus(NTSTATUS Status);
NTKERNELAPI DECLSPEC_NORETURN VOID NTAPI ExRaiseAccessViolation(VOID);
NTKERNELAPI DECLSPEC_NORETURN VOID NTAPI ExRaiseDatatypeMisalignment(VOID);
/* Raises the exception the record describes; returns only if a handler continues execution. */
NTSYSAPI VOID NTAPI RtlRaiseException(PEXCEPTION_RECORD ExceptionRecord);

/* ---- processes -------------------------------------------------------------------------------- */
typedef struct _KPROCESS *PEPROCESS, *PKPROCESS;
NTKERNELAPI PEPROCESS NTAPI PsGetCurrentProcess(VOID);
NTKERNELAPI HANDLE NTAPI PsGetProcessId(PEPROCESS Process);
NTKERNELAPI HANDLE NTAPI PsGetCurrentProcessId(VOID);
#define IoGetCurrentProcess PsGetCurrentProcess
/* The System process: the current process of every system thread (DriverEntry runs in it). */
extern NTKERNELAPI PEPROCESS PsInitialSystemProcess;
#define NtCurrentProcess() ((HANDLE)(LONG_PTR)-1)
#define ZwCurrentProcess() NtCurrentProcess()

/* ---- virtual memory of the current process (the Nt and Zw forms are the same routines) ---------- */
/* The Win32 error code for an NTSTATUS, as the Win32 routines report failures through GetLastError. */
NTSYSAPI ULONG NTAPI RtlNtStatusToDosError(NTSTATUS Status);

typedef enum _MEMORY_INFORMATION_CLASS {
    MemoryBasicInformation = 0
} MEMORY_INFORMATION_CLASS;

NTSYSAPI NTSTATUS NTAPI NtAllocateVirtualMemory(HANDLE ProcessHandle, PVOID *BaseAddress, ULONG_PTR ZeroBits,
                                                PSIZE_T RegionSize, ULONG AllocationType, ULONG Protect);
NTSYSAPI NTSTATUS NTAPI NtFreeVirtualMemory(HANDLE ProcessHandle, PVOID *BaseAddress, PSIZE_T RegionSize,
                                            ULONG FreeType);
NTSYSAPI NTSTATUS NTAPI NtProtectVirtualMemory(HANDLE ProcessHandle, PVOID *BaseAddress, PSIZE_T RegionSize,
                                               ULONG NewProtect, PULONG OldProtect);
NTSYSAPI NTSTATUS NTAPI NtQueryVirtualMemory(HANDLE ProcessHandle, PVOID BaseAddress,
                                             MEMORY_INFORMATION_CLASS MemoryInformationClass, PVOID MemoryInformation,
                                             SIZE_T MemoryInformationLength, PSIZE_T ReturnLength);
NTSYSAPI NTSTATUS NTAPI ZwAllocateVirtualMemory(HANDLE ProcessHandle, PVOID *BaseAddress, ULONG_PTR ZeroBits,
                                                PSIZE_T RegionSize, ULONG AllocationType, ULONG Protect);
NTSYSAPI NTSTATUS NTAPI ZwFreeVirtualMemory(HANDLE ProcessHandle, PVOID *BaseAddress, PSIZE_T RegionSize,
                                            ULONG FreeType);
NTSYSAPI NTSTATUS NTAPI ZwProtectVirtualMemory(HANDLE ProcessHandle, PVOID *BaseAddress, PSIZE_T RegionSize,
                                               ULONG NewProtect, PULONG OldProtect);
NTSYSAPI NTSTATUS NTAPI ZwQueryVirtualMemory(HANDLE ProcessHandle, PVOID BaseAddress,
                                             MEMORY_INFORMATION_CLASS MemoryInformationClass, PVOID MemoryInformation,
                                             SIZE_T MemoryInformationLength, PSIZE_T ReturnLength);

/* ---- heaps for kernel code (the Rtl forms of the Win32 heap) --------------------------------------
 * Flags are the HEAP_* values of windows.h (HEAP_NO_SERIALIZE 0x1, HEAP_GROWABLE 0x2,
 * HEAP_GENERATE_EXCEPTIONS 0x4, HEAP_ZERO_MEMORY 0x8). HeapBase, Lock and Parameters must be NULL. */
typedef struct _RTL_HEAP_PARAMETERS *PRTL_HEAP_PARAMETERS;
NTSYSAPI PVOID NTAPI RtlCreateHeap(ULONG Flags, PVOID HeapBase, SIZE_T ReserveSize, SIZE_T CommitSize, PVOID Lock,
                                   PRTL_HEAP_PARAMETERS Parameters);
NTSYSAPI PVOID NTAPI RtlDestroyHeap(PVOID HeapHandle); /* NULL when destroyed */
NTSYSAPI PVOID NTAPI RtlAllocateHeap(PVOID HeapHandle, ULONG Flags, SIZE_T Size);
NTSYSAPI BOOLEAN NTAPI RtlFreeHeap(PVOID HeapHandle, ULONG Flags, PVOID BaseAddress);
NTSYSAPI SIZE_T NTAPI RtlSizeHeap(PVOID HeapHandle, ULONG Flags, PVOID BaseAddress);

/* ---- dispatcher objects and waits ---------------------------------------------------------------
 * Events and threads are the dispatcher objects ntmem has; KeWaitForSingleObject waits on either. */
typedef LONG KPRIORITY;
#define IO_NO_INCREMENT 0

typedef struct _DISPATCHER_HEADER {
    UCHAR Type;              /* NotificationEvent/SynchronizationEvent for events; 6 for threads */
    UCHAR Signalling;
    UCHAR Size;              /* in ULONGs */
    UCHAR Reserved1;
    volatile LONG SignalState;
    LIST_ENTRY WaitListHead; /* waiting threads, guarded by the dispatcher lock */
} DISPATCHER_HEADER;

typedef enum _EVENT_TYPE { NotificationEvent, SynchronizationEvent } EVENT_TYPE;

typedef struct _KEVENT {
    DISPATCHER_HEADER Header;
} KEVENT, *PKEVENT, *PRKEVENT;

typedef enum _KWAIT_REASON {
    Executive,
    FreePage,
    PageIn,
    PoolAllocation,
    DelayExecution,
    Suspended,
    UserRequest,
    WrExecutive
} KWAIT_REASON;

NTKERNELAPI VOID NTAPI KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State);
NTKERNELAPI LONG NTAPI KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait);
NTKERNELAPI LONG NTAPI KeResetEvent(PRKEVENT Event);
NTKERNELAPI VOID NTAPI KeClearEvent(PRKEVENT Event);
NTKERNELAPI LONG NTAPI KeReadStateEvent(PRKEVENT Event);
/* Timeout: NULL waits for ever, negative is relative and positive absolute (100 ns units, system
 * time); 0 only tests. Anything but a test needs IRQL <= APC_LEVEL (else STOP 0x0A); a test needs
 * <= DISPATCH_LEVEL. STATUS_SUCCESS or STATUS_TIMEOUT; ntmem queues no APCs, so never STATUS_ALERTED
 * or STATUS_USER_APC. */
NTKERNELAPI NTSTATUS NTAPI KeWaitForSingleObject(PVOID Object, KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode,
                                                 BOOLEAN Alertable, PLARGE_INTEGER Timeout);
NTKERNELAPI NTSTATUS NTAPI KeDelayExecutionThread(KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,
                                                  PLARGE_INTEGER Interval);
NTKERNELAPI VOID NTAPI KeQuerySystemTime(PLARGE_INTEGER CurrentTime);

/* ---- threads, objects and handles ----------------------------------------------------------- */
typedef ULONG ACCESS_MASK, *PACCESS_MASK;
#define DELETE 0x00010000L
#define SYNCHRONIZE 0x00100000L
#define STANDARD_RIGHTS_REQUIRED 0x000F0000L
#define THREAD_ALL_ACCESS (STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0xFFFF)

#define OBJ_INHERIT 0x00000002L
#define OBJ_CASE_INSENSITIVE 0x00000040L
#define OBJ_KERNEL_HANDLE 0x00000200L

typedef struct _OBJECT_ATTRIBUTES {
    ULONG Length;
    HANDLE RootDirectory;
    PUNICODE_STRING ObjectName;
    ULONG Attributes;
    PVOID SecurityDescriptor;
    PVOID SecurityQualityOfService;
} OBJECT_ATTRIBUTES, *POBJECT_ATTRIBUTES;

#define InitializeObjectAttributes(p, n, a, r, s)                                                  \
    do {                                                                                            \
        (p)->Length = sizeof(OBJECT_ATTRIBUTES);                                                    \
        (p)->RootDirectory = (r);                                                                   \
        (p)->Attributes = (a);                                                                      \
        (p)->ObjectName = (n);                                                                      \
        (p)->SecurityDescriptor = (s);                                                              \
        (p)->SecurityQualityOfService = NULL;                                                       \
    } while (0)

typedef struct _CLIENT_ID {
    HANDLE UniqueProcess;
    HANDLE UniqueThread;
} CLIENT_ID, *PCLIENT_ID;

typedef struct _OBJECT_HANDLE_INFORMATION {
    ULONG HandleAttributes;
    ACCESS_MASK GrantedAccess;
} OBJECT_HANDLE_INFORMATION, *POBJECT_HANDLE_INFORMATION;

typedef struct _KTHREAD *PKTHREAD, *PRKTHREAD, *PETHREAD;
typedef struct _OBJECT_TYPE *POBJECT_TYPE;
extern NTKERNELAPI POBJECT_TYPE *PsThreadType;

typedef VOID NTAPI KSTART_ROUTINE(PVOID StartContext);
typedef KSTART_ROUTINE *PKSTART_ROUTINE;

/* A system thread runs StartRoutine at PASSIVE_LEVEL in kernel mode; an exception it does not handle
 * is STOP 0x7E. Its thread object is signalled when it ends (by returning or PsTerminateSystemThread).
 * ProcessHandle must be NULL or NtCurrentProcess(): ntmem has one process. */
NTKERNELAPI NTSTATUS NTAPI PsCreateSystemThread(PHANDLE ThreadHandle, ULONG DesiredAccess,
                                                POBJECT_ATTRIBUTES ObjectAttributes, HANDLE ProcessHandle,
                                                PCLIENT_ID ClientId, PKSTART_ROUTINE StartRoutine, PVOID StartContext);
/* Ends the calling system thread; STATUS_INVALID_PARAMETER when the caller is not one. */
NTKERNELAPI NTSTATUS NTAPI PsTerminateSystemThread(NTSTATUS ExitStatus);
NTKERNELAPI PETHREAD NTAPI PsGetCurrentThread(VOID);
NTKERNELAPI PKTHREAD NTAPI KeGetCurrentThread(VOID);
NTKERNELAPI HANDLE NTAPI PsGetCurrentThreadId(VOID);
NTKERNELAPI HANDLE NTAPI PsGetThreadId(PETHREAD Thread);
NTKERNELAPI BOOLEAN NTAPI PsIsSystemThread(PETHREAD Thread);

/* Handles name thread objects (the only objects with handles here). */
NTKERNELAPI NTSTATUS NTAPI ObReferenceObjectByHandle(HANDLE Handle, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType,
                                                     KPROCESSOR_MODE AccessMode, PVOID *Object,
                                                     POBJECT_HANDLE_INFORMATION HandleInformation);
NTKERNELAPI LONG_PTR FASTCALL ObfReferenceObject(PVOID Object);
NTKERNELAPI LONG_PTR FASTCALL ObfDereferenceObject(PVOID Object);
#define ObReferenceObject(o) ObfReferenceObject(o)
#define ObDereferenceObject(o) ObfDereferenceObject(o)
NTSYSAPI NTSTATUS NTAPI ZwClose(HANDLE Handle);
NTSYSAPI NTSTATUS NTAPI NtClose(HANDLE Handle);

/* ---- system address space --------------------------------------------------------------------- */
extern NTKERNELAPI PVOID MmSystemRangeStart;
extern NTKERNELAPI PVOID MmHighestUserAddress;
extern NTKERNELAPI ULONG_PTR MmUserProbeAddress;
#define MM_SYSTEM_RANGE_START MmSystemRangeStart
#define MM_HIGHEST_USER_ADDRESS MmHighestUserAddress
#define MM_USER_PROBE_ADDRESS MmUserProbeAddress
#define MM_LOWEST_USER_ADDRESS ((PVOID)(LONG_PTR)0x10000)
NTKERNELAPI BOOLEAN NTAPI MmIsAddressValid(PVOID VirtualAddress);

/* Check that a user buffer lies in user space and is aligned (raising STATUS_ACCESS_VIOLATION or
 * STATUS_DATATYPE_MISALIGNMENT); ProbeForWrite also touches every page for write. Length 0 does
 * nothing. Call them inside __try/__except, as documented. */
NTKERNELAPI VOID NTAPI ProbeForRead(const volatile VOID *Address, SIZE_T Length, ULONG Alignment);
NTKERNELAPI VOID NTAPI ProbeForWrite(volatile VOID *Address, SIZE_T Length, ULONG Alignment);

/* ---- driver objects and entry points ----------------------------------------------------------- */
/* The parts of the I/O manager a driver's DriverEntry and DriverUnload see. Devices and IRPs are not
 * simulated: their types exist only so that DRIVER_OBJECT has its documented layout. */
#define IO_TYPE_DRIVER 4
#define IRP_MJ_MAXIMUM_FUNCTION 0x1b
typedef struct _DEVICE_OBJECT DEVICE_OBJECT, *PDEVICE_OBJECT;
typedef struct _IRP IRP, *PIRP;
typedef struct _DRIVER_OBJECT DRIVER_OBJECT, *PDRIVER_OBJECT;
typedef NTSTATUS NTAPI DRIVER_INITIALIZE(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath);
typedef DRIVER_INITIALIZE *PDRIVER_INITIALIZE;
typedef VOID NTAPI DRIVER_UNLOAD(PDRIVER_OBJECT DriverObject);
typedef DRIVER_UNLOAD *PDRIVER_UNLOAD;
typedef NTSTATUS NTAPI DRIVER_ADD_DEVICE(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject);
typedef DRIVER_ADD_DEVICE *PDRIVER_ADD_DEVICE;
typedef VOID NTAPI DRIVER_STARTIO(PDEVICE_OBJECT DeviceObject, PIRP Irp);
typedef DRIVER_STARTIO *PDRIVER_STARTIO;
typedef NTSTATUS NTAPI DRIVER_DISPATCH(PDEVICE_OBJECT DeviceObject, PIRP Irp);
typedef DRIVER_DISPATCH *PDRIVER_DISPATCH;

typedef struct _DRIVER_EXTENSION {
    PDRIVER_OBJECT DriverObject;
    PDRIVER_ADD_DEVICE AddDevice;
    ULONG Count;
    UNICODE_STRING ServiceKeyName;
} DRIVER_EXTENSION, *PDRIVER_EXTENSION;

struct _DRIVER_OBJECT {
    CSHORT Type;
    CSHORT Size;
    PDEVICE_OBJECT DeviceObject;
    ULONG Flags;
    PVOID DriverStart;
    ULONG DriverSize;
    PVOID DriverSection;
    PDRIVER_EXTENSION DriverExtension;
    UNICODE_STRING DriverName;
    PUNICODE_STRING HardwareDatabase;
    PVOID FastIoDispatch;
    PDRIVER_INITIALIZE DriverInit;
    PDRIVER_STARTIO DriverStartIo;
    PDRIVER_UNLOAD DriverUnload;
    PDRIVER_DISPATCH MajorFunction[IRP_MJ_MAXIMUM_FUNCTION + 1];
};

/* ---- pageable and discardable driver sections ------------------------------------------------------
 * MSVC places code and data with #pragma code_seg/data_seg/alloc_text; gcc has no such pragmas, so a
 * port marks each function or variable instead: NTMEM_CODE_SEG("PAGE") where the source says
 * code_seg("PAGE") or alloc_text(PAGE, f), NTMEM_DATA_SEG("PAGE") for data_seg("PAGE"), and likewise
 * "INIT". As on Windows, sections whose names begin with PAGE are pageable and INIT sections are
 * discarded once DriverEntry returns. Code and data get distinct ELF sections ("PAGE" and
 * "PAGE.data"), since ELF cannot mix them in one. Link drivers with ntmem's driver.ld so that each
 * section starts and ends on a page; without it only the whole pages inside a section are paged. */
#define NTMEM_CODE_SEG(name) __attribute__((section(name), noinline, used))
#define NTMEM_DATA_SEG(name) __attribute__((section(name ".data")))

/* Lock a pageable section in memory (resident, usable at DISPATCH_LEVEL) until unlocked; the handle
 * names the section. MmPageEntireDriver makes every section of the driver pageable;
 * MmResetDriverPaging puts back what the sections' names say. */
NTKERNELAPI PVOID NTAPI MmLockPagableCodeSection(PVOID AddressWithinSection);
NTKERNELAPI PVOID NTAPI MmLockPagableDataSection(PVOID AddressWithinSection);
NTKERNELAPI VOID NTAPI MmLockPagableSectionByHandle(PVOID ImageSectionHandle);
NTKERNELAPI VOID NTAPI MmUnlockPagableImageSection(PVOID ImageSectionHandle);
NTKERNELAPI PVOID NTAPI MmPageEntireDriver(PVOID AddressWithinSection);
NTKERNELAPI VOID NTAPI MmResetDriverPaging(PVOID AddressWithinSection);

/* ---- pool ------------------------------------------------------------------------------------- */
typedef enum _POOL_TYPE {
    NonPagedPool,
    NonPagedPoolExecute = NonPagedPool,
    PagedPool,
    NonPagedPoolMustSucceed = NonPagedPool + 2,
    DontUseThisType,
    NonPagedPoolCacheAligned = NonPagedPool + 4,
    PagedPoolCacheAligned,
    NonPagedPoolCacheAlignedMustS = NonPagedPool + 6,
    MaxPoolType,
    NonPagedPoolBase = 0,
    NonPagedPoolBaseMustSucceed = NonPagedPoolBase + 2,
    NonPagedPoolBaseCacheAligned = NonPagedPoolBase + 4,
    NonPagedPoolBaseCacheAlignedMustS = NonPagedPoolBase + 6,
    NonPagedPoolSession = 32,
    PagedPoolSession = NonPagedPoolSession + 1,
    NonPagedPoolMustSucceedSession = PagedPoolSession + 1,
    DontUseThisTypeSession = NonPagedPoolMustSucceedSession + 1,
    NonPagedPoolCacheAlignedSession = DontUseThisTypeSession + 1,
    PagedPoolCacheAlignedSession = NonPagedPoolCacheAlignedSession + 1,
    NonPagedPoolCacheAlignedMustSSession = PagedPoolCacheAlignedSession + 1,
    NonPagedPoolNx = 512,
    NonPagedPoolNxCacheAligned = NonPagedPoolNx + 4,
    NonPagedPoolSessionNx = NonPagedPoolNx + 32
} POOL_TYPE;

#define POOL_QUOTA_FAIL_INSTEAD_OF_RAISE 8
#define POOL_RAISE_IF_ALLOCATION_FAILURE 16
#define POOL_COLD_ALLOCATION 256
#define POOL_NX_ALLOCATION 512
#define POOL_ZERO_ALLOCATION 1024
#define PROTECTED_POOL 0x80000000

typedef enum _EX_POOL_PRIORITY {
    LowPoolPriority,
    LowPoolPrioritySpecialPoolOverrun = 8,
    LowPoolPrioritySpecialPoolUnderrun = 9,
    NormalPoolPriority = 16,
    NormalPoolPrioritySpecialPoolOverrun = 24,
    NormalPoolPrioritySpecialPoolUnderrun = 25,
    HighPoolPriority = 32,
    HighPoolPrioritySpecialPoolOverrun = 40,
    HighPoolPrioritySpecialPoolUnderrun = 41
} EX_POOL_PRIORITY;

typedef ULONG64 POOL_FLAGS;
#define POOL_FLAG_REQUIRED_START 0x0000000000000001ULL
#define POOL_FLAG_USE_QUOTA 0x0000000000000001ULL
#define POOL_FLAG_UNINITIALIZED 0x0000000000000002ULL
#define POOL_FLAG_SESSION 0x0000000000000004ULL
#define POOL_FLAG_CACHE_ALIGNED 0x0000000000000008ULL
#define POOL_FLAG_RESERVED1 0x0000000000000010ULL
#define POOL_FLAG_RAISE_ON_FAILURE 0x0000000000000020ULL
#define POOL_FLAG_NON_PAGED 0x0000000000000040ULL
#define POOL_FLAG_NON_PAGED_EXECUTE 0x0000000000000080ULL
#define POOL_FLAG_PAGED 0x0000000000000100ULL
#define POOL_FLAG_RESERVED2 0x0000000000000200ULL
#define POOL_FLAG_RESERVED3 0x0000000000000400ULL
#define POOL_FLAG_REQUIRED_END 0x0000000080000000ULL
#define POOL_FLAG_OPTIONAL_START 0x0000000100000000ULL
#define POOL_FLAG_SPECIAL_POOL 0x0000000100000000ULL
#define POOL_FLAG_OPTIONAL_END 0x8000000000000000ULL

typedef enum POOL_EXTENDED_PARAMETER_TYPE {
    PoolExtendedParameterInvalidType = 0,
    PoolExtendedParameterPriority,
    PoolExtendedParameterSecurePool,
    PoolExtendedParameterNumaNode,
    PoolExtendedParameterMax
} POOL_EXTENDED_PARAMETER_TYPE, *PPOOL_EXTENDED_PARAMETER_TYPE;

#define POOL_EXTENDED_PARAMETER_TYPE_BITS 8
#define POOL_EXTENDED_PARAMETER_REQUIRED_FIELD_BITS 1
#define POOL_EXTENDED_PARAMETER_RESERVED_BITS (64 - POOL_EXTENDED_PARAMETER_TYPE_BITS - POOL_EXTENDED_PARAMETER_REQUIRED_FIELD_BITS)
#define SECURE_POOL_FLAGS_NONE 0x0
#define SECURE_POOL_FLAGS_FREEABLE 0x1
#define SECURE_POOL_FLAGS_MODIFIABLE 0x2
#define MM_ANY_NODE_OK 0x80000000

typedef struct _POOL_EXTENDED_PARAMS_SECURE_POOL {
    HANDLE SecurePoolHandle;
    PVOID Buffer;
    ULONG_PTR Cookie;
    ULONG SecurePoolFlags;
} POOL_EXTENDED_PARAMS_SECURE_POOL;

typedef ULONG POOL_NODE_REQUIREMENT;

typedef struct _POOL_EXTENDED_PARAMETER {
    __extension__ struct {
        ULONG64 Type : POOL_EXTENDED_PARAMETER_TYPE_BITS;
        ULONG64 Optional : POOL_EXTENDED_PARAMETER_REQUIRED_FIELD_BITS;
        ULONG64 Reserved : POOL_EXTENDED_PARAMETER_RESERVED_BITS;
    };
    union {
        ULONG64 Reserved2;
        PVOID Reserved3;
        EX_POOL_PRIORITY Priority;
        POOL_EXTENDED_PARAMS_SECURE_POOL *SecurePoolParams;
        POOL_NODE_REQUIREMENT PreferredNode;
    };
} POOL_EXTENDED_PARAMETER, *PPOOL_EXTENDED_PARAMETER;
typedef const POOL_EXTENDED_PARAMETER *PCPOOL_EXTENDED_PARAMETER;

NTKERNELAPI PVOID NTAPI ExAllocatePool(POOL_TYPE PoolType, SIZE_T NumberOfBytes);
NTKERNELAPI PVOID NTAPI ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
NTKERNELAPI PVOID NTAPI ExAllocatePoolWithQuota(POOL_TYPE PoolType, SIZE_T NumberOfBytes);
NTKERNELAPI PVOID NTAPI ExAllocatePoolWithQuotaTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
NTKERNELAPI PVOID NTAPI ExAllocatePoolWithTagPriority(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
                                                      EX_POOL_PRIORITY Priority);
NTKERNELAPI PVOID NTAPI ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag);
NTKERNELAPI PVOID NTAPI ExAllocatePool3(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag,
                                        PCPOOL_EXTENDED_PARAMETER ExtendedParameters,
                                        ULONG ExtendedParametersCount);
NTKERNELAPI VOID NTAPI ExFreePool(PVOID P);
NTKERNELAPI VOID NTAPI ExFreePoolWithTag(PVOID P, ULONG Tag);
NTKERNELAPI VOID NTAPI ExFreePool2(PVOID P, ULONG Tag, PCPOOL_EXTENDED_PARAMETER ExtendedParameters,
                                   ULONG ExtendedParametersCount);
NTKERNELAPI SIZE_T NTAPI ExQueryPoolBlockSize(PVOID PoolBlock, PBOOLEAN QuotaCharged);

FORCEINLINE PVOID ExAllocatePoolZero(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return ExAllocatePoolWithTag((POOL_TYPE)(PoolType | POOL_ZERO_ALLOCATION), NumberOfBytes, Tag);
}

FORCEINLINE PVOID ExAllocatePoolUninitialized(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return ExAllocatePoolWithTag(PoolType, NumberOfBytes, Tag);
}

FORCEINLINE PVOID ExAllocatePoolQuotaZero(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return ExAllocatePoolWithQuotaTag((POOL_TYPE)(PoolType | POOL_ZERO_ALLOCATION), NumberOfBytes, Tag);
}

FORCEINLINE PVOID ExAllocatePoolQuotaUninitialized(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return ExAllocatePoolWithQuotaTag(PoolType, NumberOfBytes, Tag);
}

/* ---- ntmem's per-thread state ------------------------------------------------------------------
 * The WDK makes the lookaside routines inline, and so does ntmem: their fast paths read this state
 * directly. Its layout is ntmem's own and may change between versions; use the routines, not it. */
typedef struct _NTMEM_LOOKASIDE_CACHE {
    PVOID List;             /* the GENERAL_LOOKASIDE this slot serves; NULL when unused */
    PVOID Head;             /* blocks this thread freed, linked through their first word */
    ULONG Count;
    ULONG FlushEpoch;
    ULONG64 Allocates;
    ULONG64 Frees;
    ULONG64 Padding[3];     /* one cache line each */
} NTMEM_LOOKASIDE_CACHE;

typedef struct _NTMEM_THREAD_STATE {
    KIRQL Irql;             /* current IRQL */
    UCHAR InBugCheck;
    UCHAR Mode;             /* 1 + KPROCESSOR_MODE once set; 0 = the process default */
    UCHAR ExceptionDepth;   /* exceptions being dispatched on this thread (nested ones count) */
    ULONG LastError;
    PVOID Pool;             /* pool caches and tag counters */
    PVOID PoolFast;         /* the same for the pool fast paths; NULL while ASan/Valgrind watch */
    PVOID Lookaside;        /* lookaside bookkeeping */
    NTMEM_LOOKASIDE_CACHE *LookasideCaches; /* indexed by a list's slot (its Future[0]) */
    ULONG LookasideCapacity;
    PVOID SehFrames;        /* innermost __try frame */
    PVOID SehReturn;        /* where a filter or an unwinding __finally returns to the dispatcher */
    PVOID DispatchStack;    /* where exceptions are dispatched, outside the thread's stack */
    PVOID ThreadObject;     /* this thread's KTHREAD, made when first asked for */
    UCHAR SystemThread;     /* made by PsCreateSystemThread */
} NTMEM_THREAD_STATE;

#ifdef __cplusplus
extern "C" NTMEM_API thread_local NTMEM_THREAD_STATE ntmem_thread_state __attribute__((tls_model("initial-exec")));
#else
extern NTMEM_API __thread NTMEM_THREAD_STATE ntmem_thread_state __attribute__((tls_model("initial-exec")));
#endif

/* ---- lookaside lists ------------------------------------------------------------------------- */
#define LOOKASIDE_MINIMUM_BLOCK_SIZE (RTL_SIZEOF_THROUGH_FIELD(SLIST_ENTRY, Next))
#define EX_MAXIMUM_LOOKASIDE_DEPTH_BASE 256
#define EX_MAXIMUM_LOOKASIDE_DEPTH_LIMIT 1024
#define EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL 0x00000001UL
#define EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE 0x00000002UL

struct _LOOKASIDE_LIST_EX;
typedef PVOID ALLOCATE_FUNCTION(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
typedef ALLOCATE_FUNCTION *PALLOCATE_FUNCTION;
typedef VOID FREE_FUNCTION(PVOID Buffer);
typedef FREE_FUNCTION *PFREE_FUNCTION;
typedef PVOID ALLOCATE_FUNCTION_EX(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
                                   struct _LOOKASIDE_LIST_EX *Lookaside);
typedef ALLOCATE_FUNCTION_EX *PALLOCATE_FUNCTION_EX;
typedef VOID FREE_FUNCTION_EX(PVOID Buffer, struct _LOOKASIDE_LIST_EX *Lookaside);
typedef FREE_FUNCTION_EX *PFREE_FUNCTION_EX;

/* The fields every lookaside list shares, in the x64 WDK's order. Depth is the current depth (the
 * system adapts it; the Depth argument of the initialisers is ignored, as documented). The counters
 * are brought up to date once a second by the balance set thread and by ntmem_query_lookaside_lists.
 * Future[] belongs to ntmem (the list's registration). */
#define NTMEM_GENERAL_LOOKASIDE_LAYOUT            \
    union {                                       \
        SLIST_HEADER ListHead;                    \
        SINGLE_LIST_ENTRY SingleListHead;         \
    };                                            \
    USHORT Depth;                                 \
    USHORT MaximumDepth;                          \
    ULONG TotalAllocates;                         \
    union {                                       \
        ULONG AllocateMisses;                     \
        ULONG AllocateHits;                       \
    };                                            \
    ULONG TotalFrees;                             \
    union {                                       \
        ULONG FreeMisses;                         \
        ULONG FreeHits;                           \
    };                                            \
    POOL_TYPE Type;                               \
    ULONG Tag;                                    \
    ULONG Size;                                   \
    union {                                       \
        PALLOCATE_FUNCTION_EX AllocateEx;         \
        PALLOCATE_FUNCTION Allocate;              \
    };                                            \
    union {                                       \
        PFREE_FUNCTION_EX FreeEx;                 \
        PFREE_FUNCTION Free;                      \
    };                                            \
    LIST_ENTRY ListEntry;                         \
    ULONG LastTotalAllocates;                     \
    union {                                       \
        ULONG LastAllocateMisses;                 \
        ULONG LastAllocateHits;                   \
    };                                            \
    ULONG Future[2];

typedef struct DECLSPEC_ALIGN(64) _GENERAL_LOOKASIDE {
    NTMEM_GENERAL_LOOKASIDE_LAYOUT
} GENERAL_LOOKASIDE, *PGENERAL_LOOKASIDE;

typedef struct _GENERAL_LOOKASIDE_POOL {
    NTMEM_GENERAL_LOOKASIDE_LAYOUT
} GENERAL_LOOKASIDE_POOL, *PGENERAL_LOOKASIDE_POOL;

typedef struct DECLSPEC_ALIGN(64) _NPAGED_LOOKASIDE_LIST {
    GENERAL_LOOKASIDE L;
} NPAGED_LOOKASIDE_LIST, *PNPAGED_LOOKASIDE_LIST;

typedef struct DECLSPEC_ALIGN(64) _PAGED_LOOKASIDE_LIST {
    GENERAL_LOOKASIDE L;
} PAGED_LOOKASIDE_LIST, *PPAGED_LOOKASIDE_LIST;

typedef struct _LOOKASIDE_LIST_EX {
    GENERAL_LOOKASIDE_POOL L;
} LOOKASIDE_LIST_EX, *PLOOKASIDE_LIST_EX;

NTKERNELAPI VOID NTAPI ExInitializeNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside, PALLOCATE_FUNCTION Allocate,
                                                       PFREE_FUNCTION Free, ULONG Flags, SIZE_T Size, ULONG Tag,
                                                       USHORT Depth);
NTKERNELAPI VOID NTAPI ExInitializePagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside, PALLOCATE_FUNCTION Allocate,
                                                      PFREE_FUNCTION Free, ULONG Flags, SIZE_T Size, ULONG Tag,
                                                      USHORT Depth);
NTKERNELAPI VOID NTAPI ExDeleteNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside);
NTKERNELAPI VOID NTAPI ExDeletePagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside);

NTKERNELAPI NTSTATUS NTAPI ExInitializeLookasideListEx(PLOOKASIDE_LIST_EX Lookaside, PALLOCATE_FUNCTION_EX Allocate,
                                                       PFREE_FUNCTION_EX Free, POOL_TYPE PoolType, ULONG Flags,
                                                       SIZE_T Size, ULONG Tag, USHORT Depth);

/* ntmem's slow paths behind the inline routines: registration checks, IRQL rules, the shared list,
 * the list's Allocate/Free routines. Limit is the highest IRQL the list may be used at. */
NTMEM_API PVOID ntmem_lookaside_allocate(PGENERAL_LOOKASIDE_POOL List, KIRQL Limit);
NTMEM_API VOID ntmem_lookaside_free(PGENERAL_LOOKASIDE_POOL List, PVOID Entry, KIRQL Limit);

/* The fast paths: this thread's cache for the list, no lock and no locked instruction. The counters
 * are written with plain (relaxed atomic) stores so that statistics queries may read them. */
FORCEINLINE PVOID ntmem_lookaside_fast_allocate(PGENERAL_LOOKASIDE_POOL List, KIRQL Limit)
{
    NTMEM_THREAD_STATE *t = &ntmem_thread_state;
    ULONG slot = List->Future[0];
    if (__builtin_expect(slot < t->LookasideCapacity && t->Irql <= Limit, 1)) {
        NTMEM_LOOKASIDE_CACHE *c = &t->LookasideCaches[slot];
        PVOID block = c->Head;
        if (__builtin_expect(block != NULL && c->List == (PVOID)List, 1)) {
            c->Head = *(PVOID *)block;
            __atomic_store_n(&c->Count, c->Count - 1, __ATOMIC_RELAXED);
            __atomic_store_n(&c->Allocates, c->Allocates + 1, __ATOMIC_RELAXED);
            return block;
        }
    }
    return ntmem_lookaside_allocate(List, Limit);
}

FORCEINLINE VOID ntmem_lookaside_fast_free(PGENERAL_LOOKASIDE_POOL List, PVOID Entry, KIRQL Limit)
{
    NTMEM_THREAD_STATE *t = &ntmem_thread_state;
    ULONG slot = List->Future[0];
    if (__builtin_expect(slot < t->LookasideCapacity && t->Irql <= Limit, 1)) {
        NTMEM_LOOKASIDE_CACHE *c = &t->LookasideCaches[slot];
        if (__builtin_expect(c->List == (PVOID)List && c->Count < (ULONG)(__atomic_load_n(&List->Depth, __ATOMIC_RELAXED) / 2u), 1)) {
            *(PVOID *)Entry = c->Head;
            c->Head = Entry;
            __atomic_store_n(&c->Count, c->Count + 1, __ATOMIC_RELAXED);
            __atomic_store_n(&c->Frees, c->Frees + 1, __ATOMIC_RELAXED);
            return;
        }
    }
    ntmem_lookaside_free(List, Entry, Limit);
}

/* Paged lists may be used up to APC_LEVEL, nonpaged ones up to DISPATCH_LEVEL; an Ex list by its
 * pool type. */
FORCEINLINE PVOID ExAllocateFromNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside)
{
    return ntmem_lookaside_fast_allocate((PGENERAL_LOOKASIDE_POOL)(PVOID)&Lookaside->L, DISPATCH_LEVEL);
}

FORCEINLINE PVOID ExAllocateFromPagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside)
{
    return ntmem_lookaside_fast_allocate((PGENERAL_LOOKASIDE_POOL)(PVOID)&Lookaside->L, APC_LEVEL);
}

FORCEINLINE VOID ExFreeToNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside, PVOID Entry)
{
    ntmem_lookaside_fast_free((PGENERAL_LOOKASIDE_POOL)(PVOID)&Lookaside->L, Entry, DISPATCH_LEVEL);
}

FORCEINLINE VOID ExFreeToPagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside, PVOID Entry)
{
    ntmem_lookaside_fast_free((PGENERAL_LOOKASIDE_POOL)(PVOID)&Lookaside->L, Entry, APC_LEVEL);
}

FORCEINLINE PVOID ExAllocateFromLookasideListEx(PLOOKASIDE_LIST_EX Lookaside)
{
    return ntmem_lookaside_fast_allocate(&Lookaside->L, (KIRQL)(DISPATCH_LEVEL - ((ULONG)Lookaside->L.Type & 1)));
}

FORCEINLINE VOID ExFreeToLookasideListEx(PLOOKASIDE_LIST_EX Lookaside, PVOID Entry)
{
    ntmem_lookaside_fast_free(&Lookaside->L, Entry, (KIRQL)(DISPATCH_LEVEL - ((ULONG)Lookaside->L.Type & 1)));
}
NTKERNELAPI VOID NTAPI ExDeleteLookasideListEx(PLOOKASIDE_LIST_EX Lookaside);
NTKERNELAPI VOID NTAPI ExFlushLookasideListEx(PLOOKASIDE_LIST_EX Lookaside);

NTMEM_END_DECLS

#endif /* NTMEM_WDM_H */
