/* LookasideTest.c - seed 001's lookaside sample, as a driver: 50 blocks from a paged lookaside list. */
#include <ntddk.h>

/* ntmem port: gcc has no #pragma code_seg, so INITCODE marks each function with its section instead
 * of opening a section with #pragma INITCODE. */
#define INITCODE NTMEM_CODE_SEG("INIT")

typedef struct _MYDATASTRUCT
{
	ULONG number;
	LIST_ENTRY ListEntry;
}MYDATASTRUCT,*PMYDATASTRUCT;

INITCODE
VOID LookasideTest()
{
	//初始化Lookaside对象
	PAGED_LOOKASIDE_LIST pageList;
	ExInitializePagedLookasideList(&pageList,
		                         NULL,NULL,0,
								 sizeof(MYDATASTRUCT),
								 '1234',
								 0);
#define ARRAY_NUMBER 50
	PMYDATASTRUCT MyObjectArray[ARRAY_NUMBER];
	/* ntmem port: the seed reuses the first loop's `int i` in the second loop, which only old MSVC
	 * scoping allows; C declares it once. */
	int i;
	//模拟频繁申请内存
	for (i = 0 ; i < ARRAY_NUMBER ; i++)
	{
		MyObjectArray[i] = 
			(PMYDATASTRUCT)ExAllocateFromPagedLookasideList(&pageList);
	}
	//模拟频繁回收内存
	for (i = 0 ; i < ARRAY_NUMBER ; i++)
	{
		ExFreeToPagedLookasideList(&pageList,MyObjectArray[i]);
		MyObjectArray[i] = NULL;
	}
	//删除Lookaside对象
	ExDeletePagedLookasideList(&pageList);
}


static VOID DriverUnload(PDRIVER_OBJECT pDriverObject)
{
	UNREFERENCED_PARAMETER(pDriverObject);
	KdPrint(("DriverUnload\n"));
}

/* ntmem: the seed calls the sample from its DriverEntry, as here. */
INITCODE
NTSTATUS DriverEntry(IN PDRIVER_OBJECT pDriverObject, IN PUNICODE_STRING pRegistryPath)
{
	UNREFERENCED_PARAMETER(pRegistryPath);
	pDriverObject->DriverUnload = DriverUnload;
	LookasideTest();
	return STATUS_SUCCESS;
}
