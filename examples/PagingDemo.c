/* PagingDemo.c - paged pool that really pages: fill a buffer, page it out, read it back, see what
 * the same touch does at DISPATCH_LEVEL, and let the balance set thread keep a working-set limit. */
#include <setjmp.h>
#include <stdio.h>
#include <time.h>
#include <ntddk.h>
#include <ntmem.h>

#define PAGES 64

static void Show(const char *when)
{
    NTMEM_PAGER_COUNTERS c;
    ntmem_query_pager_counters(&c);
    printf("%-30s resident %3llu, paged out %3llu, page-outs %3llu, page-ins %3llu\n", when,
           (unsigned long long)c.ResidentPagedPoolPages, (unsigned long long)c.PagedOutPages,
           (unsigned long long)c.PageOuts, (unsigned long long)c.PageIns);
}

/* For the demonstration only: the bug check comes back here instead of ending the process. */
static jmp_buf g_stop;
static VOID CatchStop(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4)
{
    printf("STOP 0x%08X %s: address %p, IRQL %llu, %s, at %p\n", (unsigned)Code, ntmem_bugcheck_name(Code),
           (void *)P1, (unsigned long long)P2, P3 & 1 ? "write" : "read", (void *)P4);
    longjmp(g_stop, 1);
}

int main(void)
{
    PUCHAR buffer = ExAllocatePoolWithTag(PagedPool, PAGES * PAGE_SIZE, 'omeD');
    if (buffer == NULL)
        return 1;
    for (ULONG i = 0; i < PAGES * PAGE_SIZE; i++)
        buffer[i] = (UCHAR)(i * 7);
    Show("after filling 64 pages:");

    printf("ntmem_page_out_all wrote %zu pages to the page file\n", (size_t)ntmem_page_out_all());
    Show("after paging out:");

    /* Each first touch of a page faults; the pager reads it back and the read goes on. */
    ULONG bad = 0;
    for (ULONG i = 0; i < PAGES * PAGE_SIZE; i++)
        bad += buffer[i] != (UCHAR)(i * 7);
    printf("read back at PASSIVE_LEVEL: %s\n", bad == 0 ? "intact" : "CORRUPT");
    Show("after reading it all:");

    /* At DISPATCH_LEVEL the pager may not run: the same touch is a bug check. */
    ntmem_page_out_all();
    ntmem_set_bugcheck_hook(CatchStop);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    if (setjmp(g_stop) == 0)
        printf("touched at DISPATCH_LEVEL: %u (not reached)\n", *(volatile UCHAR *)buffer);
    KeLowerIrql(PASSIVE_LEVEL);
    ntmem_set_bugcheck_hook(NULL);

    /* A working-set limit: the balance set thread trims the least recently used pages to it. */
    for (ULONG i = 0; i < PAGES * PAGE_SIZE; i += PAGE_SIZE)
        buffer[i]++;
    ntmem_set_paged_pool_working_set(16 * PAGE_SIZE);
    struct timespec second = {1, 0};
    nanosleep(&second, NULL);
    NTMEM_PAGER_COUNTERS c;
    ntmem_query_pager_counters(&c);
    printf("working-set limit 16 pages: %s after a second\n",
           c.ResidentPageablePages <= 16 ? "kept" : "not reached");
    Show("with the limit:");

    ExFreePoolWithTag(buffer, 'omeD');
    return 0;
}
