/* PagedSections.c - the seeds' paging conventions in one driver: PAGEDCODE with PAGED_CODE(),
 * LOCKEDCODE, INITCODE, PAGEDDATA, and seed 002's table of MmLockPagable* routines, watched through
 * ntmem's pager counters from the driver's test hook. */
#include <ntddk.h>
#include <ntmem.h>

/* Seed 001's definitions, ported: gcc has no #pragma code_seg/data_seg, so each marks one function or
 * variable (NTMEM_CODE_SEG/NTMEM_DATA_SEG) instead of opening a section with #pragma PAGEDCODE. */
#define PAGEDCODE NTMEM_CODE_SEG("PAGE")
#define LOCKEDCODE
#define INITCODE NTMEM_CODE_SEG("INIT")
#define PAGEDDATA NTMEM_DATA_SEG("PAGE")
#define LOCKEDDATA

PAGEDDATA static ULONG PagedTable[PAGE_SIZE / sizeof(ULONG)] = {1};
LOCKEDDATA static ULONG64 LastPageIns;

/* How many pages came back from the page file since the last call. */
LOCKEDCODE static ULONG64 PageInsSinceLastLook(VOID)
{
    NTMEM_PAGER_COUNTERS c;
    ntmem_query_pager_counters(&c);
    ULONG64 n = c.PageIns - LastPageIns;
    LastPageIns = c.PageIns;
    return n;
}

/* Seed 001: a function in paged memory checks its IRQL with PAGED_CODE(). */
PAGEDCODE static ULONG SumPagedTable(VOID)
{
    PAGED_CODE();
    ULONG sum = 0;
    for (ULONG i = 0; i < RTL_NUMBER_OF(PagedTable); i++)
        sum += PagedTable[i];
    return sum;
}

/* Pageable, but safe at DISPATCH_LEVEL while its section is locked (so no PAGED_CODE()). */
PAGEDCODE static ULONG FirstEntry(VOID)
{
    return PagedTable[0];
}

LOCKEDCODE static VOID DriverUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    KdPrint(("PagedSections: unloaded\n"));
}

INITCODE NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i < RTL_NUMBER_OF(PagedTable); i++)
        PagedTable[i] = i;
    DriverObject->DriverUnload = DriverUnload;
    return STATUS_SUCCESS;
}

__attribute__((visibility("default"))) NTSTATUS ntmem_driver_test(PDRIVER_OBJECT DriverObject)
{
    KIRQL old;
    PageInsSinceLastLook();

    /* 1. Everything pageable goes to the page file; calling paged code brings code and data back. */
    SIZE_T written = ntmem_page_out_all();
    ULONG sum = SumPagedTable();
    ULONG64 back = PageInsSinceLastLook();
    KdPrint(("PagedSections: %s pages written, sum %lu, %s pages read back for the call\n",
             written >= 2 ? "PAGE code and data" : "too few", sum, back >= 2 ? "its" : "not all of"));

    /* 2. Seed 002: MmLockPagableDataSection keeps the data resident, usable at DISPATCH_LEVEL. */
    PVOID data = MmLockPagableDataSection(PagedTable);
    PVOID code = MmLockPagableCodeSection((PVOID)FirstEntry);
    ntmem_page_out_all();
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    ULONG first = FirstEntry(); /* locked code reading locked data at DISPATCH_LEVEL */
    KeLowerIrql(old);
    KdPrint(("PagedSections: locked sections used at DISPATCH_LEVEL (entry %lu), %llu pages read back\n",
             first, (unsigned long long)PageInsSinceLastLook()));
    MmUnlockPagableImageSection(code);
    MmUnlockPagableImageSection(data);
    /* A handle locks again without the address (seed 002: MmLockPagableSectionByHandle). */
    MmLockPagableSectionByHandle(data);
    MmUnlockPagableImageSection(data);

    /* 3. MmPageEntireDriver makes even the locked code and data pageable; MmResetDriverPaging puts
     * back what the sections say. Returning from the page-out already faults this code back in. */
    NTMEM_PAGER_COUNTERS before, after;
    PVOID image = MmPageEntireDriver((PVOID)DriverUnload);
    ntmem_query_pager_counters(&before);
    ntmem_page_out_all();
    PageInsSinceLastLook();
    ntmem_query_pager_counters(&after);
    KdPrint(("PagedSections: whole driver pageable (image %s), %s\n", image == DriverObject->DriverStart ? "found" : "not found",
             after.PageIns - before.PageIns >= 2 ? "its code and data were read back as they ran" : "nothing was paged"));
    MmResetDriverPaging((PVOID)DriverUnload);
    /* STATUS_SUCCESS only if every step did what it says (ntmem's tests rely on it). */
    BOOLEAN paged = written >= 2 && back >= 2 && after.PageIns - before.PageIns >= 2;
    BOOLEAN right = sum == (PAGE_SIZE / sizeof(ULONG)) * (PAGE_SIZE / sizeof(ULONG) - 1) / 2 && first == 0;
    return paged && right && image == DriverObject->DriverStart ? STATUS_SUCCESS : STATUS_DATA_ERROR;
}
