/* HostProbe.c - a test driver: records what the host hands DriverEntry, runs a test hook, and
 * allocates by tag so tests can check the per-driver pool counts. */
#include <ntddk.h>
#include <ntmem.h>

/* What DriverEntry saw, read by test_driver_host through dlsym. */
__attribute__((visibility("default"))) PDRIVER_OBJECT HostProbeObject;
__attribute__((visibility("default"))) WCHAR HostProbeRegistry[256];
__attribute__((visibility("default"))) USHORT HostProbeRegistryLength;
__attribute__((visibility("default"))) KIRQL HostProbeIrql = 0xFF;
__attribute__((visibility("default"))) PEPROCESS HostProbeProcess;
__attribute__((visibility("default"))) int HostProbeUnloads;
__attribute__((visibility("default"))) int HostProbeTests;

static PVOID Kept[3];

static VOID DriverUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    HostProbeUnloads++;
    for (int i = 0; i < 3; i++)
        if (Kept[i] != NULL)
            ExFreePoolWithTag(Kept[i], i == 2 ? 'bPsH' : 'aPsH');
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    HostProbeObject = DriverObject;
    HostProbeRegistryLength = RegistryPath->Length;
    for (USHORT i = 0; i < RegistryPath->Length / sizeof(WCHAR) && i < 255; i++)
        HostProbeRegistry[i] = RegistryPath->Buffer[i];
    HostProbeIrql = KeGetCurrentIrql();
    HostProbeProcess = PsGetCurrentProcess();
    DriverObject->DriverUnload = DriverUnload;
    /* Two of tag 'HsPa' (one freed at once), one of 'HsPb' in paged pool. */
    Kept[0] = ExAllocatePoolWithTag(NonPagedPool, 100, 'aPsH');
    PVOID brief = ExAllocatePoolWithTag(NonPagedPool, 300, 'aPsH');
    if (brief != NULL)
        ExFreePoolWithTag(brief, 'aPsH');
    Kept[2] = ExAllocatePoolWithTag(PagedPool, 50, 'bPsH');
    return Kept[0] != NULL && Kept[2] != NULL ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

__attribute__((visibility("default"))) NTSTATUS ntmem_driver_test(PDRIVER_OBJECT DriverObject)
{
    HostProbeTests += DriverObject == HostProbeObject;
    return STATUS_ALERTED;
}
