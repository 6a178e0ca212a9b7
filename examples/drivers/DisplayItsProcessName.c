/* DisplayItsProcessName.c - seed 001's process-context sample, as a driver (64-bit pointer arithmetic). */
#include <ntddk.h>

VOID DisplayItsProcessName()

{

//得到当前进程

PEPROCESS pEProcess = PsGetCurrentProcess();

//得到当前进程名称
/* ntmem port: (ULONG) truncates a 64-bit pointer, so the cast is (ULONG_PTR); the name sits at the
 * offset 32-bit Windows XP used, 0x174, in ntmem's EPROCESS. */
PTSTR ProcessName = (PTSTR)((ULONG_PTR)pEProcess+0x174);

KdPrint(("%s\n",ProcessName));

}

static VOID DriverUnload(PDRIVER_OBJECT pDriverObject)
{
	UNREFERENCED_PARAMETER(pDriverObject);
}

/* The seed: DriverEntry runs in the System process, so that is the name it prints. */
NTSTATUS DriverEntry(IN PDRIVER_OBJECT pDriverObject, IN PUNICODE_STRING pRegistryPath)
{
	UNREFERENCED_PARAMETER(pRegistryPath);
	pDriverObject->DriverUnload = DriverUnload;
	DisplayItsProcessName();
	return STATUS_SUCCESS;
}
