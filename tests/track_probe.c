/* track_probe.c - misuses pool memory in one chosen way so Valgrind or ASan can be seen catching it. */
#include <ntddk.h>
#include <windows.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "clean";
    volatile char *p = ExAllocatePoolWithTag(NonPagedPool, 40, 'borP');
    volatile char *leak = ExAllocatePoolWithTag(PagedPool, 24, 'kaeL');
    int sum = 0;
    memset((void *)p, 1, 40);
    if (strcmp(mode, "overrun") == 0)
        sum += p[44]; /* inside the block's 48 bytes, past the 40 asked for */
    ExFreePoolWithTag((PVOID)p, 'borP');
    if (strcmp(mode, "uaf") == 0)
        sum += p[3];
    volatile char *big = ExAllocatePoolWithTag(PagedPool, 10000, 'giBP');
    big[9999] = 1;
    ExFreePoolWithTag((PVOID)big, 'giBP');
    if (strcmp(mode, "leak") != 0)
        ExFreePoolWithTag((PVOID)leak, 'kaeL');
    /* heap blocks are watched the same way */
    HANDLE heap = HeapCreate(0, 0, 0);
    volatile char *h = HeapAlloc(heap, 0, 40);
    memset((void *)h, 2, 40);
    if (strcmp(mode, "heap_overrun") == 0)
        sum += h[44];
    HeapFree(heap, 0, (PVOID)h);
    if (strcmp(mode, "heap_uaf") == 0)
        sum += h[20];
    HeapDestroy(heap);
    printf("probe %s done %d\n", mode, sum);
    return 0;
}
