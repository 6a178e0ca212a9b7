/* RtTest.c - seed 001's runtime-routine sample: fill, copy and compare pool buffers. */
#include <ntddk.h>

#define INITCODE code_seg("INIT")

#define BUFFER_SIZE 1024
#pragma INITCODE
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

/* ntmem: the sample never frees its two buffers; the pool report at exit shows the leak under the
 * tag ExAllocatePool uses ('None'), which is the seeds' point about freeing before unload. */
int main(void)
{
	RtTest();
	return 0;
}
