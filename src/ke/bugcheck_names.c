/* bugcheck_names.c - bug-check codes: symbolic names and one-line explanations (with P1 subtypes). */
#include "ke/ke.h"

#include <ntmem.h>

/* Shared with bugcheck.c (ke.h belongs to the whole kernel core and is kept to the shared parts). */

/*
 * Texts follow Microsoft's bug-check reference, reworded as one plain line each. Where a code's
 * Parameter 1 selects the kind of violation (0x19, 0xC2, 0xC4, 0x139) the subtype's line is used;
 * the code's own line covers subtypes not listed.
 */
typedef struct _KIP_SUBTYPE {
    ULONG_PTR First, Last; /* inclusive range of Parameter 1 values */
    PCSTR Text;
} KIP_SUBTYPE;

typedef struct _KIP_BUGCHECK {
    ULONG Code;
    PCSTR Name;
    PCSTR Text;
    const KIP_SUBTYPE *Subtypes;
    ULONG SubtypeCount;
} KIP_BUGCHECK;

#define KIP_SUBTYPES(Table) (Table), (ULONG)RTL_NUMBER_OF(Table)

static const KIP_SUBTYPE KipBadPoolHeader[] = {
    {0x02, 0x02, "the special pool pattern check failed: the owner has likely corrupted the pool block"},
    {0x03, 0x03, "the pool free list is corrupt: an entry's Flink/Blink neighbours do not point back "
                 "at it (P2 entry, P3 read-back Flink, P4 read-back Blink)"},
    {0x05, 0x05, "two adjacent pool blocks have headers that contradict each other; at least one is "
                 "corrupt (P2 and P4 are the two entries)"},
    {0x06, 0x06, "a pool block header's previous-size field is too large (P4 is the bad entry)"},
    {0x07, 0x07, "a pool block header's size is corrupt (P4 is the bad entry)"},
    {0x08, 0x08, "a pool block header's size is zero (P4 is the bad entry)"},
    {0x09, 0x09, "a pool block header's size is corrupt: it is too large (P4 is the bad entry)"},
    {0x0A, 0x0A, "a pool block header's size is corrupt: the entry that should follow was not found "
                 "(P2 expected entry, P4 its page)"},
    {0x0D, 0x0F, "the header of a freed pool block was modified after the free, usually by an overrun "
                 "of the block before it"},
    {0x20, 0x20, "a pool block header's size is corrupt: it does not lead to the next entry (P2 entry, "
                 "P3 next entry)"},
    {0x21, 0x21, "the bytes following the pool block being freed are corrupt: the owner overran the "
                 "block (P2 block, P3 bytes allocated, P4 corrupted value)"},
    {0x22, 0x22, "the address being freed has no tracking entry: it was already freed or never "
                 "allocated (P2 address)"},
    {0x23, 0x25, "the header of a freed pool block was modified after the free, usually by an overrun "
                 "of the block before it"},
};

static const KIP_SUBTYPE KipBadPoolCaller[] = {
    {0x00, 0x00, "the current thread requested a zero-byte pool allocation (P3 pool type, P4 tag)"},
    {0x01, 0x02, "the pool header has been corrupted (P2 header, P3 its first part)"},
    {0x04, 0x04, "the pool header has been corrupted (P2 header, P3 its first part)"},
    {0x06, 0x07, "the current thread tried to free pool that was already freed: a double free (P4 is "
                 "the block being freed)"},
    {0x08, 0x08, "the current thread tried to allocate pool at an invalid IRQL (P2 IRQL, P3 pool type, "
                 "P4 size)"},
    {0x09, 0x09, "the current thread tried to free pool at an invalid IRQL (P2 IRQL, P3 pool type, P4 "
                 "address)"},
    {0x0A, 0x0A, "the current thread freed pool with the wrong tag; the memory may belong to another "
                 "component (P2 address, P3 allocator's tag, P4 tag used)"},
    {0x0B, 0x0D, "the current thread released quota on a corrupted pool allocation (P2 address, P3 "
                 "tag, P4 bad quota process pointer)"},
    {0x40, 0x40, "the current thread tried to free kernel pool at a user-mode address (P2 address, P3 "
                 "start of system space)"},
    {0x41, 0x41, "the current thread tried to free a nonpaged pool address that is not allocated"},
    {0x42, 0x43, "the current thread tried to free a virtual address that was never in any pool (P2 "
                 "address)"},
    {0x44, 0x44, "the current thread tried to free a nonpaged pool address that is not allocated"},
    {0x46, 0x46, "the current thread tried to free an invalid pool address (P2 address)"},
    {0x47, 0x47, "the current thread tried to free a nonpaged pool address that is not allocated"},
    {0x48, 0x48, "the current thread tried to free a paged pool address that is not allocated"},
    {0x50, 0x50, "the current thread tried to free a paged pool address that is not allocated (P3 page "
                 "offset into paged pool, P4 paged pool size)"},
    {0x60, 0x60, "the current thread tried to free an invalid contiguous memory address "
                 "(MmFreeContiguousMemory was passed a bad pointer)"},
    {0x99, 0x99, "the current thread tried to free pool with an invalid address, or the pool header "
                 "is corrupt (P2 address)"},
    {0x9A, 0x9A, "the current thread asked for MUST_SUCCEED pool, which is no longer supported"},
    {0x9B, 0x9B, "the current thread tried to allocate pool with a tag of 0, which cannot be tracked "
                 "(P2 pool type, P3 size, P4 caller)"},
    {0x9C, 0x9C, "the current thread tried to allocate pool with the reserved tag \"BIG\" (P2 pool "
                 "type, P3 size, P4 caller)"},
    {0x9D, 0x9D, "the current thread tried to allocate pool with a tag that has no letters or digits "
                 "(P2 tag, P3 pool type, P4 caller)"},
    {0x41286, 0x41286, "the current thread tried to free a paged pool address in the middle of an "
                       "allocation"},
};

static const KIP_SUBTYPE KipVerifierViolation[] = {
    {0x00, 0x00, "Driver Verifier: the driver requested a zero-byte pool allocation (P2 IRQL, P3 pool "
                 "type, P4 bytes)"},
    {0x01, 0x01, "Driver Verifier: the driver allocated paged pool above APC_LEVEL (P2 IRQL, P3 pool "
                 "type, P4 size)"},
    {0x02, 0x02, "Driver Verifier: the driver allocated nonpaged pool above DISPATCH_LEVEL (P2 IRQL, "
                 "P3 pool type, P4 size)"},
    {0x03, 0x03, "Driver Verifier: the driver asked for more than one page of must-succeed pool (P2 IRQL, "
                 "P3 pool type, P4 bytes)"},
    {0x10, 0x10, "Driver Verifier: the driver freed an address no allocation returned (P2 address)"},
    {0x11, 0x11, "Driver Verifier: the driver freed paged pool above APC_LEVEL (P2 IRQL, P3 pool type, "
                 "P4 address)"},
    {0x12, 0x12, "Driver Verifier: the driver freed nonpaged pool above DISPATCH_LEVEL (P2 IRQL, P3 "
                 "pool type, P4 address)"},
    {0x13, 0x14, "Driver Verifier: the driver freed pool that was already freed (P3 header, P4 header "
                 "contents)"},
    {0x16, 0x16, "Driver Verifier: the driver freed pool at a bad address or passed invalid parameters "
                 "to a memory routine (P3 address)"},
    {0x30, 0x30, "Driver Verifier: KeRaiseIrql was given a level below the current IRQL or above "
                 "HIGH_LEVEL (P2 IRQL, P3 requested)"},
    {0x31, 0x31, "Driver Verifier: KeLowerIrql was given a level above the current IRQL or above "
                 "HIGH_LEVEL (P2 IRQL, P3 requested)"},
    {0x32, 0x32, "Driver Verifier: KeReleaseSpinLock was called at an IRQL other than DISPATCH_LEVEL, "
                 "perhaps a double release (P2 IRQL, P3 lock)"},
    {0x35, 0x35, "Driver Verifier: a spin lock was released with IRQL not equal to DISPATCH_LEVEL (P2 "
                 "IRQL, P3 lock, P4 old IRQL)"},
    {0x40, 0x40, "Driver Verifier: KeAcquireSpinLockAtDpcLevel was called below DISPATCH_LEVEL (P2 "
                 "IRQL, P3 lock)"},
    {0x41, 0x41, "Driver Verifier: KeReleaseSpinLockFromDpcLevel was called below DISPATCH_LEVEL (P2 "
                 "IRQL, P3 lock)"},
    {0x42, 0x42, "Driver Verifier: KeAcquireSpinLock was called above DISPATCH_LEVEL (P2 IRQL, P3 "
                 "lock)"},
    {0x51, 0x54, "Driver Verifier: the driver freed memory after writing past the end of the "
                 "allocation (P2 base of the allocation)"},
    {0x59, 0x59, "Driver Verifier: the driver freed memory after writing past the end of the "
                 "allocation (P2 base of the allocation)"},
    {0x60, 0x61, "Driver Verifier: the driver is unloading without freeing its pool allocations (P2 "
                 "paged bytes, P3 nonpaged bytes, P4 allocations)"},
    {0x62, 0x62, "Driver Verifier: the driver is unloading without freeing its pool allocations (P2 "
                 "driver name, P4 allocations not freed)"},
    {0xCA, 0xCA, "Driver Verifier: the driver re-initialised a lookaside list that is in use (P2 "
                 "list)"},
    {0xCB, 0xCB, "Driver Verifier: the driver deleted a lookaside list that was never initialised (P2 "
                 "list)"},
    {0xCC, 0xCC, "Driver Verifier: the driver freed a pool block that contains an active lookaside "
                 "list (P2 list, P3 block, P4 size)"},
    {0xCD, 0xCD, "Driver Verifier: the driver created a lookaside list with a block size that is too "
                 "small (P2 list, P3 size, P4 minimum)"},
    {0xF0, 0xF0, "Driver Verifier: the driver called memcpy with overlapping source and destination "
                 "(P2 destination, P3 source, P4 bytes)"},
};

static const KIP_SUBTYPE KipSecurityCheckFailure[] = {
    {0x00, 0x00, "a stack-based buffer has been overrun (legacy /GS violation)"},
    {0x02, 0x02, "stack cookie instrumentation detected a stack-based buffer overrun"},
    {0x03, 0x03, "a LIST_ENTRY was corrupted: its neighbours do not point back at it (for example a "
                 "double remove, or an entry freed while still on a list)"},
    {0x05, 0x05, "an invalid parameter was passed to a function that treats invalid parameters as "
                 "fatal"},
    {0x07, 0x07, "a fatal program exit was requested"},
    {0x08, 0x08, "an array bounds check detected an illegal index"},
    {0x0E, 0x0E, "the reference count of an object is invalid"},
    {0x1C, 0x1C, "an out-of-bounds buffer access was detected"},
};

static const KIP_BUGCHECK KipBugChecks[] = {
    {0x01, "APC_INDEX_MISMATCH", "a thread left a kernel call with its APC disable count unbalanced", NULL, 0},
    {0x09, "IRQL_NOT_GREATER_OR_EQUAL",
     "KeRaiseIrql was asked for a level below the current IRQL or above HIGH_LEVEL (P1 current IRQL, P2 "
     "requested)", NULL, 0},
    {0x0A, "IRQL_NOT_LESS_OR_EQUAL",
     "pageable or invalid memory was touched at DISPATCH_LEVEL or above, or KeLowerIrql was asked for a "
     "level above the current IRQL", NULL, 0},
    {0x0F, "SPIN_LOCK_ALREADY_OWNED",
     "a thread tried to acquire a spin lock it already holds (P1 lock); the acquisition would never end",
     NULL, 0},
    {0x10, "SPIN_LOCK_NOT_OWNED", "a thread released a spin lock it does not hold (P1 lock)", NULL, 0},
    {0x19, "BAD_POOL_HEADER", "a pool header is corrupt", KIP_SUBTYPES(KipBadPoolHeader)},
    {0x1A, "MEMORY_MANAGEMENT", "the memory manager found its own data structures inconsistent", NULL, 0},
    {0x1E, "KMODE_EXCEPTION_NOT_HANDLED",
     "a kernel-mode exception was not handled (P1 exception code, P2 address where it was raised)",
     NULL, 0},
    {0x3B, "SYSTEM_SERVICE_EXCEPTION", "an exception happened while running a system service", NULL, 0},
    {0x3F, "NO_MORE_SYSTEM_PTES", "the system ran out of page table entries for system space", NULL, 0},
    {0x41, "MUST_SUCCEED_POOL_EMPTY",
     "a must-succeed pool allocation could not be satisfied (P1 size requested, P4 pages available)",
     NULL, 0},
    {0x4A, "IRQL_GT_ZERO_AT_SYSTEM_SERVICE", "a thread returned to user mode above PASSIVE_LEVEL", NULL, 0},
    {0x4E, "PFN_LIST_CORRUPT", "the page frame number list is corrupt", NULL, 0},
    {0x50, "PAGE_FAULT_IN_NONPAGED_AREA",
     "invalid system memory was referenced: freed or never-allocated system space (P1 address, P2 "
     "write flag, P3 instruction)", NULL, 0},
    {0x77, "KERNEL_STACK_INPAGE_ERROR", "a page of kernel stack could not be read back from the paging "
     "file", NULL, 0},
    {0x7A, "KERNEL_DATA_INPAGE_ERROR", "a page of kernel data could not be read back from the paging "
     "file", NULL, 0},
    {0x7E, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED",
     "a system thread raised an exception that no handler caught (P1 exception code, P2 address, P3 "
     "exception record, P4 context record)", NULL, 0},
    {0x7F, "UNEXPECTED_KERNEL_MODE_TRAP", "the processor raised a trap that the kernel cannot handle",
     NULL, 0},
    {0x8E, "KERNEL_MODE_EXCEPTION_NOT_HANDLED", "a kernel-mode exception was not handled", NULL, 0},
    {0x93, "INVALID_KERNEL_HANDLE",
     "kernel code closed a handle that is not valid (P1 handle, P2 1 for an invalid handle, 0 for a "
     "protected one)", NULL, 0},
    {0xBE, "ATTEMPTED_WRITE_TO_READONLY_MEMORY", "a driver wrote to read-only memory (P1 address)",
     NULL, 0},
    {0xC1, "SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION",
     "special pool found the bytes around an allocation overwritten when it was freed (P4 says how)",
     NULL, 0},
    {0xC2, "BAD_POOL_CALLER", "the current thread made a bad pool request",
     KIP_SUBTYPES(KipBadPoolCaller)},
    {0xC4, "DRIVER_VERIFIER_DETECTED_VIOLATION", "Driver Verifier caught a driver breaking a rule",
     KIP_SUBTYPES(KipVerifierViolation)},
    {0xC5, "DRIVER_CORRUPTED_EXPOOL", "a driver touched pool at a bad IRQL or corrupted the pool",
     NULL, 0},
    {0xC6, "DRIVER_CAUGHT_MODIFYING_FREED_POOL", "a driver wrote to pool after freeing it", NULL, 0},
    {0xC7, "TIMER_OR_DPC_INVALID", "a kernel timer or DPC was found in memory being freed", NULL, 0},
    {0xCB, "DRIVER_LEFT_LOCKED_PAGES_IN_PROCESS", "a driver did not unlock pages it locked", NULL, 0},
    {0xCC, "PAGE_FAULT_IN_FREED_SPECIAL_POOL", "memory in special pool was referenced after it was "
     "freed", NULL, 0},
    {0xCD, "PAGE_FAULT_BEYOND_END_OF_ALLOCATION", "memory past the end of a special pool allocation "
     "was referenced", NULL, 0},
    {0xCE, "DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS", "a driver unloaded without "
     "cancelling its pending operations", NULL, 0},
    {0xD0, "DRIVER_CORRUPTED_MMPOOL", "a driver touched pool at a bad IRQL or freed memory twice", NULL, 0},
    {0xD1, "DRIVER_IRQL_NOT_LESS_OR_EQUAL",
     "a driver touched pageable (or invalid) memory at DISPATCH_LEVEL or above (P1 address, P2 IRQL, P3 "
     "write flag, P4 instruction)", NULL, 0},
    {0xD3, "DRIVER_PORTION_MUST_BE_NONPAGED", "pageable driver code or data was used at DISPATCH_LEVEL "
     "or above", NULL, 0},
    {0xD5, "DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL",
     "a driver referenced special pool memory after freeing it (P1 address, P2 write flag, P3 "
     "instruction)", NULL, 0},
    {0xD6, "DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION",
     "a driver referenced memory past the end of its special pool allocation (P1 address, P2 write "
     "flag, P3 instruction)", NULL, 0},
    {0xD8, "DRIVER_USED_EXCESSIVE_PTES", "a driver used up the system's page table entries", NULL, 0},
    {0xDA, "SYSTEM_PTE_MISUSE", "a page table entry routine was used in an unauthorised way", NULL, 0},
    {0xDE, "POOL_CORRUPTION_IN_FILE_AREA", "a driver corrupted pool memory used for file data", NULL, 0},
    {0xE1, "WORKER_THREAD_RETURNED_AT_BAD_IRQL",
     "a routine run on a system worker thread returned above PASSIVE_LEVEL (P1 routine, P2 IRQL, P3 "
     "its parameter): an IRQL raised or a lock taken was never given back", NULL, 0},
    {0xE2, "MANUALLY_INITIATED_CRASH", "the user deliberately initiated a crash", NULL, 0},
    {0xF7, "DRIVER_OVERRAN_STACK_BUFFER", "a driver overran a stack-based buffer", NULL, 0},
    {0x139, "KERNEL_SECURITY_CHECK_FAILURE", "the kernel found a critical data structure corrupted",
     KIP_SUBTYPES(KipSecurityCheckFailure)},
    {0x13A, "KERNEL_MODE_HEAP_CORRUPTION", "the kernel-mode heap manager found corruption in a heap",
     NULL, 0},
};

static const KIP_BUGCHECK *KipFindBugCheck(ULONG Code)
{
    for (ULONG i = 0; i < RTL_NUMBER_OF(KipBugChecks); i++) {
        if (KipBugChecks[i].Code == Code)
            return &KipBugChecks[i];
    }
    return NULL;
}

PCSTR ntmem_bugcheck_name(ULONG BugCheckCode)
{
    const KIP_BUGCHECK *Entry = KipFindBugCheck(BugCheckCode);
    return Entry != NULL ? Entry->Name : "UNKNOWN_BUGCHECK";
}

PCSTR KiBugCheckExplanation(ULONG Code, ULONG_PTR P1)
{
    const KIP_BUGCHECK *Entry = KipFindBugCheck(Code);

    if (Entry == NULL)
        return "a bug check code ntmem has no description for";
    for (ULONG i = 0; i < Entry->SubtypeCount; i++) {
        if (P1 >= Entry->Subtypes[i].First && P1 <= Entry->Subtypes[i].Last)
            return Entry->Subtypes[i].Text;
    }
    return Entry->Text;
}
