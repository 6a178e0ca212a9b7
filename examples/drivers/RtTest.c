/* RtTest.c - seed 001's runtime-routine sample, as a driver: fill, copy and compare pool buffers. */
#include <ntddk.h>

/* ntmem port: gcc has no #pragma code_seg, so INITCODE marks each function with its section instead
 * of opening a section with #pragma INITCODE. */
#define INITCODE NTMEM_CODE_SEG("INIT")

#define BUFFER_SIZE 1024
INITCODE
VOID RtTest()
{
	PUCHAR pBuffer = (PUCHAR)ExAllocatePool(PagedPool,BUFFER_SIZE);
	//用零填充内存
	RtlZeroMemory(pBuffer,BUFFER_SIZE);

	PUCHAR pBuffer2 = (PUCHAR)ExAllocatePool(PagedPool,BUFFER_SIZE);
	//用固定字节填充内存
	RtlFillMemory(pBuffer,BUFFER_SIZE,0xAA);

	//内存拷贝
	RtlCopyMemory(pBuffer,pBuffer2,BUFFER_SIZE);

	//判断内存是否一致
	ULONG ulRet = RtlCompareMemory(pBuffer,pBuffer2,BUFFER_SIZE);
	if (ulRet == BUFFER_SIZE)
	{
		KdPrint(("The two blocks are same\n"));
	}
}


static VOID DriverUnload(PDRIVER_OBJECT pDriverObject)
{
	UNREFERENCED_PARAMETER(pDriverObject);
	KdPrint(("DriverUnload\n"));
}

/* ntmem: the sample never frees its two buffers, so they are still the driver's at unload: ntmem-run
 * lists them under the tag ExAllocatePool uses ('None'), the seeds' point about freeing before unload. */
/* ntmem: the seed calls the sample from its DriverEntry, as here. */
INITCODE
NTSTATUS DriverEntry(IN PDRIVER_OBJECT pDriverObject, IN PUNICODE_STRING pRegistryPath)
{
	UNREFERENCED_PARAMETER(pRegistryPath);
	pDriverObject->DriverUnload = DriverUnload;
	RtTest();
	return STATUS_SUCCESS;
}
