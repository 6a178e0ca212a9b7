/* driver.c - loading a driver shared object as Windows loads a driver image: its DRIVER_OBJECT and
 * RegistryPath, DriverEntry and DriverUnload on a system thread, and the checks of what it left. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ntmem.h>
#include "ex/pool.h"
#include "ke/ke.h"
#include "mm/driver_sections.h"

#define IOP_DRIVER_TAG 'virD' /* "Driv", the tag Windows' driver objects carry */

struct _NTMEM_DRIVER {
    void *Dl;
    char Name[64];
    PUCHAR ImageBase;
    SIZE_T ImageSize;
    PVOID Pool;                  /* the pool-attribution handle */
    PDRIVER_OBJECT DriverObject; /* in nonpaged pool, with its extension and names after it */
    UNICODE_STRING RegistryPath;
    NTSTATUS EntryStatus;
    MI_DRIVER_IMAGE *Sections;   /* its PAGE and INIT sections, or NULL */
    NTMEM_DRIVER_TEST *Test;
    NTSTATUS TestStatus;
    BOOLEAN TestRan;
};

/* One call into the driver, made on a system thread as Windows' loader makes it from a worker. */
typedef struct _IOP_CALL {
    enum { IopEntry, IopTest, IopUnload } Kind;
    PVOID Routine;
    PNTMEM_DRIVER Driver;
    NTSTATUS Status;
} IOP_CALL;

static VOID NTAPI IopCallThread(PVOID context)
{
    IOP_CALL *call = context;
    PDRIVER_OBJECT object = call->Driver->DriverObject;
    switch (call->Kind) {
    case IopEntry:
        call->Status = ((PDRIVER_INITIALIZE)call->Routine)(object, &call->Driver->RegistryPath);
        break;
    case IopTest:
        call->Status = ((NTMEM_DRIVER_TEST *)call->Routine)(object);
        break;
    case IopUnload:
        ((PDRIVER_UNLOAD)call->Routine)(object);
        call->Status = STATUS_SUCCESS;
        break;
    }
    /* What a Windows worker thread checks after every work item: a raised IRQL or a spin lock still
     * held would otherwise leak into the next routine the thread runs. */
    KIRQL irql = KeGetCurrentIrql();
    if (irql != PASSIVE_LEVEL)
        KiBugCheckWithReason(WORKER_THREAD_RETURNED_AT_BAD_IRQL, (ULONG_PTR)call->Routine, irql, (ULONG_PTR)object,
                             (ULONG_PTR)call, "the driver's %s returned at IRQL %u, not PASSIVE_LEVEL (an IRQL "
                             "raised or a spin lock acquired was never given back)",
                             call->Kind == IopEntry ? "DriverEntry" : call->Kind == IopTest ? "test hook" : "DriverUnload",
                             (unsigned)irql);
}

static NTSTATUS IopCallOnSystemThread(PNTMEM_DRIVER driver, int kind, PVOID routine)
{
    IOP_CALL call = {.Kind = kind, .Routine = routine, .Driver = driver, .Status = STATUS_UNSUCCESSFUL};
    HANDLE handle;
    NTSTATUS status = PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, IopCallThread, &call);
    if (!NT_SUCCESS(status))
        return status;
    PVOID thread;
    status = ObReferenceObjectByHandle(handle, SYNCHRONIZE, *PsThreadType, KernelMode, &thread, NULL);
    if (NT_SUCCESS(status)) {
        KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
        ObDereferenceObject(thread);
    }
    ZwClose(handle);
    return NT_SUCCESS(status) ? call.Status : status;
}

/* A UNICODE_STRING over Buffer (room for Room WCHARs) holding the ASCII/UTF-8 bytes of Text. */
static void IopWiden(PUNICODE_STRING out, WCHAR *buffer, size_t room, const char *text)
{
    size_t n = 0;
    for (; text[n] != '\0' && n + 1 < room; n++)
        buffer[n] = (WCHAR)(unsigned char)text[n];
    buffer[n] = 0;
    out->Buffer = buffer;
    out->Length = (USHORT)(n * sizeof(WCHAR));
    out->MaximumLength = (USHORT)((n + 1) * sizeof(WCHAR));
}

/* The lowest and highest addresses of the loaded image, from its program headers. */
typedef struct _IOP_IMAGE_QUERY {
    ULONG_PTR Bias;
    ULONG_PTR Low, High;
} IOP_IMAGE_QUERY;

static int IopFindImage(struct dl_phdr_info *info, size_t size, void *context)
{
    (void)size;
    IOP_IMAGE_QUERY *q = context;
    if (info->dlpi_addr != q->Bias)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        ULONG_PTR lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (q->Low == 0 || lo < q->Low)
            q->Low = lo;
        if (hi > q->High)
            q->High = hi;
    }
    return q->High != 0;
}

static PDRIVER_OBJECT IopCreateDriverObject(PNTMEM_DRIVER driver)
{
    SIZE_T bytes = sizeof(DRIVER_OBJECT) + sizeof(DRIVER_EXTENSION) + 2 * 80 * sizeof(WCHAR);
    PDRIVER_OBJECT object = ExAllocatePoolWithTag(NonPagedPool, bytes, IOP_DRIVER_TAG);
    if (object == NULL)
        return NULL;
    memset(object, 0, bytes);
    PDRIVER_EXTENSION extension = (PDRIVER_EXTENSION)(object + 1);
    WCHAR *names = (WCHAR *)(extension + 1);
    object->Type = IO_TYPE_DRIVER;
    object->Size = sizeof(DRIVER_OBJECT);
    object->DriverStart = driver->ImageBase;
    object->DriverSize = (ULONG)driver->ImageSize;
    object->DriverExtension = extension;
    extension->DriverObject = object;
    char text[80];
    snprintf(text, sizeof text, "\\Driver\\%s", driver->Name);
    IopWiden(&object->DriverName, names, 80, text);
    IopWiden(&extension->ServiceKeyName, names + 80, 80, driver->Name);
    return object;
}

NTMEM_API NTSTATUS ntmem_load_driver(PCSTR path, PCSTR service, PCSTR registry, PNTMEM_DRIVER *out,
                                     NTSTATUS *entry_status)
{
    if (path == NULL || out == NULL)
        return STATUS_INVALID_PARAMETER;
    *out = NULL;
    if (access(path, R_OK) != 0)
        return STATUS_OBJECT_NAME_NOT_FOUND;
    PNTMEM_DRIVER driver = calloc(1, sizeof *driver);
    if (driver == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    const char *base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
    snprintf(driver->Name, sizeof driver->Name, "%.*s", (int)strcspn(base, "."), base);
    if (service != NULL)
        snprintf(driver->Name, sizeof driver->Name, "%s", service);

    /* RTLD_LOCAL: each driver resolves only against ntmem and itself, as a driver links only to the
     * kernel's exports; RTLD_NOW: an import ntmem lacks fails the load, not a later call. */
    driver->Dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (driver->Dl == NULL) {
        fprintf(stderr, "ntmem: cannot load %s: %s\n", path, dlerror());
        free(driver);
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    PDRIVER_INITIALIZE entry = (PDRIVER_INITIALIZE)dlsym(driver->Dl, "DriverEntry");
    struct link_map *map = NULL;
    if (entry == NULL || dlinfo(driver->Dl, RTLD_DI_LINKMAP, &map) != 0) {
        fprintf(stderr, "ntmem: %s exports no DriverEntry\n", path);
        dlclose(driver->Dl);
        free(driver);
        return STATUS_PROCEDURE_NOT_FOUND;
    }
    IOP_IMAGE_QUERY image = {map->l_addr, 0, 0};
    dl_iterate_phdr(IopFindImage, &image);
    driver->ImageBase = (PUCHAR)image.Low;
    driver->ImageSize = image.High - image.Low;
    driver->Test = (NTMEM_DRIVER_TEST *)dlsym(driver->Dl, NTMEM_DRIVER_TEST_EXPORT);
    driver->Pool = ntmem_verifier_register_driver(driver->Name, driver->ImageBase, driver->ImageSize);
    driver->DriverObject = IopCreateDriverObject(driver);
    if (driver->Pool == NULL || driver->DriverObject == NULL) {
        if (driver->DriverObject != NULL)
            ExFreePoolWithTag(driver->DriverObject, IOP_DRIVER_TAG);
        ntmem_verifier_unload_driver(driver->Pool);
        dlclose(driver->Dl);
        free(driver);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    driver->DriverObject->DriverInit = entry;
    driver->Sections = MiLoadDriverSections(path, driver->ImageBase, driver->ImageSize, map->l_addr);
    char key[160];
    if (registry == NULL) {
        snprintf(key, sizeof key, "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\%s", driver->Name);
        registry = key;
    }
    WCHAR *buffer = calloc(strlen(registry) + 1, sizeof(WCHAR));
    if (buffer == NULL) {
        ntmem_unload_driver(driver, NULL);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    IopWiden(&driver->RegistryPath, buffer, strlen(registry) + 1, registry);

    driver->EntryStatus = IopCallOnSystemThread(driver, IopEntry, (PVOID)entry);
    if (driver->Sections != NULL)
        MiDiscardInitSections(driver->Sections); /* as Windows does once DriverEntry has returned */
    if (entry_status != NULL)
        *entry_status = driver->EntryStatus;
    *out = driver;
    return STATUS_SUCCESS;
}

NTMEM_API PDRIVER_OBJECT ntmem_driver_object(PNTMEM_DRIVER driver)
{
    return driver != NULL ? driver->DriverObject : NULL;
}

NTMEM_API PVOID ntmem_driver_pool_handle(PNTMEM_DRIVER driver)
{
    return driver != NULL ? driver->Pool : NULL;
}

NTMEM_API NTSTATUS ntmem_run_driver_test(PNTMEM_DRIVER driver)
{
    if (driver == NULL || driver->Test == NULL || !NT_SUCCESS(driver->EntryStatus))
        return STATUS_NOT_SUPPORTED;
    driver->TestStatus = IopCallOnSystemThread(driver, IopTest, (PVOID)driver->Test);
    driver->TestRan = TRUE;
    return driver->TestStatus;
}

/* A lookaside list the driver initialised and never deleted stays on the system's lists; Windows'
 * balance set walks them, and so touches the unloaded driver's memory: STOP 0xCE. ntmem reports it at
 * the unload itself, where the cause is plain, with the list as the memory referenced. */
static void IopCheckLookasideLists(PNTMEM_DRIVER driver)
{
    PVOID list = ExpLookasideCreatedBy((ULONG_PTR)driver->ImageBase, (ULONG_PTR)driver->ImageBase + driver->ImageSize);
    if (list != NULL)
        KiBugCheckWithReason(DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS, (ULONG_PTR)list, 0,
                             (ULONG_PTR)driver->ImageBase, 0,
                             "driver %s unloaded with lookaside list %p still initialised (never deleted with "
                             "ExDelete*LookasideList*); the system would walk it in freed memory",
                             driver->Name, list);
}

NTMEM_API VOID ntmem_unload_driver(PNTMEM_DRIVER driver, PNTMEM_DRIVER_REPORT report)
{
    if (driver == NULL)
        return;
    NTMEM_DRIVER_REPORT local;
    if (report == NULL)
        report = &local;
    memset(report, 0, sizeof *report);
    report->EntryStatus = driver->EntryStatus;
    report->TestRan = driver->TestRan;
    report->TestStatus = driver->TestStatus;
    PDRIVER_UNLOAD unload = driver->DriverObject != NULL ? driver->DriverObject->DriverUnload : NULL;
    /* As on Windows, DriverUnload runs only for a driver whose DriverEntry succeeded. */
    if (NT_SUCCESS(driver->EntryStatus) && unload != NULL) {
        IopCallOnSystemThread(driver, IopUnload, (PVOID)unload);
        report->UnloadCalled = TRUE;
    } else if (NT_SUCCESS(driver->EntryStatus) && driver->RegistryPath.Buffer != NULL) {
        report->NoUnloadRoutine = TRUE; /* Windows could never unload it; ntmem checks it anyway */
    }
    IopCheckLookasideLists(driver);
    if (driver->Sections != NULL)
        MiUnloadDriverSections(driver->Sections, &report->LockedSections);
    ntmem_query_driver_pool(driver->Pool, &report->Pool);
    report->LeakedAllocations = ntmem_verifier_unload_driver(driver->Pool);
    if (driver->DriverObject != NULL)
        ExFreePoolWithTag(driver->DriverObject, IOP_DRIVER_TAG);
    free(driver->RegistryPath.Buffer);
    /* The image goes, as on Windows (unless someone else holds it open): a later load of the same
     * file starts from fresh data. The leak report above was symbolised while it was still there. */
    dlclose(driver->Dl);
    free(driver);
}
