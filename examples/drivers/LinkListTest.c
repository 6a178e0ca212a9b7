/* LinkListTest.c - seed 001's linked-list sample, as a driver: pool nodes in a LIST_ENTRY list. */
#include <ntddk.h>

/* ntmem port: gcc has no #pragma code_seg, so INITCODE marks each function with its section instead
 * of opening a section with #pragma INITCODE. */
#define INITCODE NTMEM_CODE_SEG("INIT")

typedef struct _MYDATASTRUCT
{
	ULONG number;
	LIST_ENTRY ListEntry;
}MYDATASTRUCT,*PMYDATASTRCUT;

INITCODE
VOID LinkListTest()
{
	LIST_ENTRY linkListHead;
	//初始化链表
	InitializeListHead(&linkListHead);
    
	PMYDATASTRCUT pData;
	ULONG i = 0;
	//在链表中插入10个元素

    KdPrint(("Begain insert to link list"));
	for (i = 0 ; i < 10 ; i++)
	{
		pData = (PMYDATASTRCUT)
			     ExAllocatePool(PagedPool,sizeof(MYDATASTRUCT));
		pData->number = i;
		InsertHeadList(&linkListHead,&pData->ListEntry);
	}
	//从链表中取出,并显示
    KdPrint(("Begain remove from link list\n"));
	while (!IsListEmpty(&linkListHead))
	{
		PLIST_ENTRY pEntry = RemoveTailList(&linkListHead);
		pData = CONTAINING_RECORD(pEntry,
			              MYDATASTRUCT,
						  ListEntry);
		KdPrint(("%d\n",pData->number));
		ExFreePool(pData);
	}
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
	LinkListTest();
	return STATUS_SUCCESS;
}
