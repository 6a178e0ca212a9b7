/* LookasideTest.c - seed 001's lookaside sample: 50 blocks from a paged lookaside list and back. */
#include <ntddk.h>

#define INITCODE code_seg("INIT")

typedef struct _MYDATASTRUCT
{
	ULONG number;
	LIST_ENTRY ListEntry;
}MYDATASTRUCT,*PMYDATASTRUCT;

#pragma INITCODE
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

/* ntmem: the driver host arrives in a later issue; until then the sample runs from main. */
int main(void)
{
	LookasideTest();
	return 0;
}
