/* Faulty.c - a driver that breaks one rule of the seeds on purpose, so each Driver Verifier report
 * can be seen. The rule is chosen by the last element of its registry path, e.g.
 *   ntmem-run --verifier=special_pool build/drivers/Faulty.so '\Registry\...\Services\Faulty\overrun'
 * With no known element it breaks nothing. */
#include <ntddk.h>

#define FAULTY_TAG 'ytlF' /* "Flty" */

/* ntmem port: gcc has no #pragma code_seg; these mark single functions instead. */
#define INITCODE NTMEM_CODE_SEG("INIT")
#define PAGEDCODE NTMEM_CODE_SEG("PAGE")

static char Mode[32];
static KSPIN_LOCK Lock;
static NPAGED_LOOKASIDE_LIST Lookaside;

static BOOLEAN Is(const char *mode)
{
    for (int i = 0;; i++) {
        if (Mode[i] != mode[i])
            return FALSE;
        if (mode[i] == '\0')
            return TRUE;
    }
}

/* The last element of the registry path, lower-cased, as the mode. */
INITCODE static VOID ReadMode(PCUNICODE_STRING path)
{
    USHORT n = path->Length / sizeof(WCHAR), start = n;
    while (start > 0 && path->Buffer[start - 1] != L'\\')
        start--;
    USHORT i = 0;
    for (; start + i < n && i + 1u < sizeof Mode; i++) {
        WCHAR c = path->Buffer[start + i];
        Mode[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    Mode[i] = '\0';
}

INITCODE static int InitOnlyHelper(int x)
{
    return x * 2;
}

/* A sweep target: the second allocation's failure path forgets the first block. */
INITCODE static NTSTATUS AllocateTables(PVOID *first, PVOID *second)
{
    *first = ExAllocatePoolWithTag(NonPagedPool, 64, FAULTY_TAG);
    if (*first == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    *second = ExAllocatePoolWithTag(PagedPool, 128, FAULTY_TAG);
    if (*second == NULL)
        return STATUS_INSUFFICIENT_RESOURCES; /* the bug: *first is never freed */
    return STATUS_SUCCESS;
}

static PVOID Tables[2];

PAGEDCODE static int PagedHelper(int x)
{
    return x + 1;
}

static VOID DriverUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    if (Is("init-after-discard"))
        DbgPrint("Faulty: %d\n", InitOnlyHelper(21)); /* INIT was discarded when DriverEntry returned */
    if (Tables[0] != NULL) {
        ExFreePoolWithTag(Tables[0], FAULTY_TAG);
        ExFreePoolWithTag(Tables[1], FAULTY_TAG);
    }
}

PAGEDCODE static VOID TouchPagedAtDispatch(VOID)
{
    PAGED_CODE();
    PUCHAR paged = ExAllocatePoolWithTag(PagedPool, 64, FAULTY_TAG);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    paged[0] = 1; /* paged pool at DISPATCH_LEVEL */
    KeLowerIrql(old);
    ExFreePoolWithTag(paged, FAULTY_TAG);
}

INITCODE NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    ReadMode(RegistryPath);
    DriverObject->DriverUnload = DriverUnload;
    if (Is("leak")) {
        ExAllocatePoolWithTag(NonPagedPool, 100, FAULTY_TAG);
        ExAllocatePoolWithTag(PagedPool, 200, FAULTY_TAG);
    } else if (Is("overrun")) {
        PUCHAR p = ExAllocatePoolWithTag(NonPagedPool, 32, FAULTY_TAG);
        p[32] = 0; /* one byte past the end */
        ExFreePoolWithTag(p, FAULTY_TAG);
    } else if (Is("corrupt")) {
        PUCHAR p = ExAllocatePoolWithTag(NonPagedPool, 20, FAULTY_TAG);
        p[21] = 0; /* past the end, inside the block's alignment slack: found at free */
        ExFreePoolWithTag(p, FAULTY_TAG);
    } else if (Is("use-after-free")) {
        volatile PUCHAR p = ExAllocatePoolWithTag(NonPagedPool, 32, FAULTY_TAG);
        ExFreePoolWithTag(p, FAULTY_TAG);
        DbgPrint("Faulty: %d\n", p[0]);
    } else if (Is("paged-at-dispatch")) {
        TouchPagedAtDispatch();
    } else if (Is("paged-code-at-dispatch")) {
        KIRQL old;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        DbgPrint("Faulty: %d\n", PagedHelper(1)); /* code in the PAGE section, at DISPATCH_LEVEL */
        KeLowerIrql(old);
    } else if (Is("zero-byte")) {
        ExAllocatePoolWithTag(NonPagedPool, 0, FAULTY_TAG);
    } else if (Is("double-free")) {
        PVOID p = ExAllocatePoolWithTag(NonPagedPool, 48, FAULTY_TAG);
        ExFreePoolWithTag(p, FAULTY_TAG);
        ExFreePoolWithTag(p, FAULTY_TAG);
    } else if (Is("wrong-tag")) {
        PVOID p = ExAllocatePoolWithTag(NonPagedPool, 48, FAULTY_TAG);
        ExFreePoolWithTag(p, 'gnrW');
    } else if (Is("lookaside")) {
        ExInitializeNPagedLookasideList(&Lookaside, NULL, NULL, 0, 64, FAULTY_TAG, 0); /* never deleted */
    } else if (Is("spinlock")) {
        KIRQL old;
        KeInitializeSpinLock(&Lock);
        KeAcquireSpinLock(&Lock, &old); /* never released: DriverEntry returns at DISPATCH_LEVEL */
    } else if (Is("sweep")) {
        NTSTATUS status = AllocateTables(&Tables[0], &Tables[1]);
        if (!NT_SUCCESS(status))
            return status;
    }
    return STATUS_SUCCESS;
}
