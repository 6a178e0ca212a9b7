/* probe.c - ProbeForRead and ProbeForWrite: is this buffer user memory the caller may use? */
#include "mm/mm.h"

/*
 * A buffer is user memory when it does not wrap and does not overlap the system range. (Windows
 * compares with MmUserProbeAddress; here the main thread's stack lies above the system range, so
 * overlap is the test that lets every thread's stack pass - see DESIGN.md.)
 */
static void MiProbe(const volatile VOID *address, SIZE_T length, ULONG alignment)
{
    ULONG_PTR start = (ULONG_PTR)address, end = start + length;
    if ((start & (alignment - 1)) != 0)
        ExRaiseDatatypeMisalignment();
    MiEnsureInitialized();
    if (end < start || (start < (ULONG_PTR)MiSystemSpace.End && end > (ULONG_PTR)MiSystemSpace.Start))
        ExRaiseAccessViolation();
}

NTKERNELAPI VOID NTAPI ProbeForRead(const volatile VOID *address, SIZE_T length, ULONG alignment)
{
    if (length == 0)
        return;
    MiProbe(address, length, alignment);
}

NTKERNELAPI VOID NTAPI ProbeForWrite(volatile VOID *address, SIZE_T length, ULONG alignment)
{
    if (length == 0)
        return;
    MiProbe(address, length, alignment);
    /* Touch each page for write, keeping its contents: a page that cannot be written faults here,
     * inside the caller's __try, rather than later. */
    volatile UCHAR *p = (volatile UCHAR *)address, *last = p + length - 1;
    for (;;) {
        *p = *p;
        if ((ULONG_PTR)last - (ULONG_PTR)p < PAGE_SIZE - BYTE_OFFSET(p))
            break;
        p = (volatile UCHAR *)PAGE_ALIGN(p) + PAGE_SIZE;
    }
    *last = *last;
}
