/* ProbeTest.c - seed 001's sections 6.3-6.5 and 6.7 as a program: probe a buffer inside try-except,
 * force cleanup with try-finally, and catch a failed ASSERT. (The article describes these without
 * code; this is its description written out with the WDK's routines.) */
#include <ntddk.h>

static UCHAR UserBuffer[64];

/* 6.3 + 6.4: is this buffer safe to read? Probe it inside __try and handle the exception. */
static NTSTATUS CheckBuffer(PVOID Buffer, SIZE_T Length)
{
    volatile NTSTATUS status = STATUS_SUCCESS; /* set in the handler: volatile, as setjmp-style SEH needs */
    __try {
        ProbeForRead(Buffer, Length, sizeof(UCHAR));
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        status = GetExceptionCode();
    }
    return status;
}

/* 6.5: try-finally forces the cleanup to run whatever happens in the body. */
static VOID UseScratchBuffer(BOOLEAN fail)
{
    PVOID scratch = ExAllocatePoolWithTag(PagedPool, 128, 'brcS');
    __try {
        if (fail)
            ExRaiseStatus(STATUS_INSUFFICIENT_RESOURCES);
        KdPrint(("scratch buffer used\n"));
    } __finally {
        ExFreePoolWithTag(scratch, 'brcS');
        KdPrint(("scratch buffer freed (abnormal termination: %d)\n", AbnormalTermination()));
    }
}

int main(void)
{
    KdPrint(("user buffer: status 0x%08X\n", (unsigned)CheckBuffer(UserBuffer, sizeof UserBuffer)));
    PVOID pool = ExAllocatePoolWithTag(NonPagedPool, 64, 'borP');
    KdPrint(("pool buffer: status 0x%08X\n", (unsigned)CheckBuffer(pool, 64)));
    ExFreePoolWithTag(pool, 'borP');

    UseScratchBuffer(FALSE);
    __try {
        UseScratchBuffer(TRUE);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        KdPrint(("caught 0x%08X from the failing use\n", (unsigned)GetExceptionCode()));
    }

    /* 6.7: a failed assertion raises an exception. */
    __try {
        ASSERT(sizeof UserBuffer == 0);
    } __except (GetExceptionCode() == STATUS_ASSERTION_FAILURE ? EXCEPTION_EXECUTE_HANDLER
                                                                : EXCEPTION_CONTINUE_SEARCH) {
        KdPrint(("caught the failed assertion\n"));
    }
    return 0;
}
