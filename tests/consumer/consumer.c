/* consumer.c - driver-style code built against an installed ntmem (find_package and pkg-config). */
#include <ntddk.h>

int main(void)
{
    PVOID p = ExAllocatePoolWithTag(PagedPool, 100, 'nsnC');
    if (p == NULL)
        return 1;
    ExFreePoolWithTag(p, 'nsnC');
    DbgPrint("consumer ok\n");
    return 0;
}
