/* allocation_snippets.c - seed 000's pool examples (sections 2.1-2.3), run from one driver's DriverEntry. */
#include <ntddk.h>

/* 2.1 allocation and release. 'MyTag' is five characters: gcc keeps the last four (with a warning),
 * MSVC rejects it; the seed's code is kept as written. */
static void Section21(void)
{
    // 代码示例:内存分配
    void* pMemory = ExAllocatePoolWithTag(NonPagedPool, 1024, 'MyTag');
    if (pMemory != NULL) {
        // 内存分配成功
        // ...
        ExFreePoolWithTag(pMemory, 'MyTag'); // 释放内存
    } else {
        // 内存分配失败
    }
}

/* 2.2 paged and nonpaged pool. */
static void Section22(void)
{
    // 代码示例:不同类型内存分配
    void* pNonPagedMemory = ExAllocatePoolWithTag(NonPagedPool, 1024, 'Mynp');
    void* pPagedMemory = ExAllocatePoolWithTag(PagedPool, 1024, 'Mypg');
    // 使用内存
    // ...
    ExFreePoolWithTag(pNonPagedMemory, 'Mynp'); // 释放非分页内存
    ExFreePoolWithTag(pPagedMemory, 'Mypg'); // 释放分页内存
}

/* 2.3 freeing with care. */
static void Section23(void)
{
    // 代码示例:内存释放的注意事项
    void* pMemory = ExAllocatePoolWithTag(NonPagedPool, 1024, 'MyTag');
    if (pMemory != NULL) {
        // 内存分配成功
        // ...
        // 不要重复释放已释放的内存
        ExFreePoolWithTag(pMemory, 'MyTag'); // 释放内存
    }
}

static VOID DriverUnload(PDRIVER_OBJECT pDriverObject)
{
    UNREFERENCED_PARAMETER(pDriverObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT pDriverObject, PUNICODE_STRING pRegistryPath)
{
    UNREFERENCED_PARAMETER(pRegistryPath);
    pDriverObject->DriverUnload = DriverUnload;
    Section21();
    Section22();
    Section23();
    DbgPrint("allocation_snippets: every block allocated was freed with its tag\n");
    return STATUS_SUCCESS;
}
