/* LinkListTest.c - seed 001's linked-list sample: pool nodes in a LIST_ENTRY list. */
#include <ntddk.h>

#define INITCODE code_seg("INIT")

typedef struct _MYDATASTRUCT
{
	ULONG number;
	LIST_ENTRY ListEntry;
}MYDATASTRUCT,*PMYDATASTRCUT;

#pragma INITCODE
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

/* ntmem: the driver host arrives in a later issue; until then the sample runs from main. */
int main(void)
{
	LinkListTest();
	return 0;
}
