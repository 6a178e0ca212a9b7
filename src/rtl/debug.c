/* debug.c - debugger output (DbgPrint, DbgPrintEx) and checked-build assertions (RtlAssert). */
#include "ke/ke.h"
#include "os/os.h"
#include "rtl/strsafe_format.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

/*
 * Windows transmits at most 512 bytes per DbgPrint call. ntmem keeps that limit, which also lets
 * each message be formatted on the stack and reach stderr in one write, so lines from different
 * threads do not interleave.
 */
#define RTLP_DEBUG_MESSAGE_MAX 512

/*
 * The format is Windows' (the same engine as ntstrsafe.h), so drivers' %wZ, %Z, %ws and %S print
 * the strings they mean rather than what glibc would make of them.
 */
static void RtlpDebugPrint(PCSTR Format, va_list Args)
{
    char Message[RTLP_DEBUG_MESSAGE_MAX];
    RTLP_FORMAT_OUTPUT Out = {Message, FALSE, FALSE, sizeof Message - 1, 0};
    va_list Copy;

    va_copy(Copy, Args);
    RtlpFormat(&Out, Format, &Copy);
    va_end(Copy);
    if (Out.Used > 0)
        OsWriteStderr(Message, Out.Used);
}

ULONG DbgPrint(PCSTR Format, ...)
{
    va_list Args;

    va_start(Args, Format);
    RtlpDebugPrint(Format, Args);
    va_end(Args);
    return STATUS_SUCCESS;
}

/*
 * Level is either a level number (0-31, meaning the mask bit 1 << Level) or, above 31, a mask
 * itself, as on Windows. There is no debugger to configure per-component filters, so every component
 * gets one fixed filter, mask 0xF: the error, warning, trace and info levels (DPFLTR_ERROR_LEVEL ..
 * DPFLTR_INFO_LEVEL) are printed, higher levels are not, and a mask is printed when it includes any
 * of those four. That is more than Windows shows by default (errors only), because a test bed is
 * where one wants to see a driver's trace output.
 */
#define RTLP_PRINTED_LEVELS 0xFu

ULONG DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...)
{
    ULONG Mask = Level <= 31 ? 1u << Level : Level;
    va_list Args;

    UNREFERENCED_PARAMETER(ComponentId);
    if ((Mask & RTLP_PRINTED_LEVELS) == 0)
        return STATUS_SUCCESS;
    va_start(Args, Format);
    RtlpDebugPrint(Format, Args);
    va_end(Args);
    return STATUS_SUCCESS;
}

/*
 * A failed ASSERT on a checked build stops in the kernel debugger. ntmem behaves as if a debugger
 * stopped there and the developer let the exception go unhandled: the message, then
 * STATUS_ASSERTION_FAILURE raised (and, with no handler, bug check 0x1E).
 */
VOID NTAPI RtlAssert(PVOID VoidFailedAssertion, PVOID VoidFileName, ULONG LineNumber, PSTR MutableMessage)
{
    DbgPrint("*** Assertion failed: %s\n***   Source File: %s, line %lu\n", (const char *)VoidFailedAssertion,
             (const char *)VoidFileName, LineNumber); /* %lu is a ULONG here, as on Windows */
    if (MutableMessage != NULL)
        DbgPrint("***   Message: %s\n", MutableMessage);
    RtlRaiseStatus(STATUS_ASSERTION_FAILURE);
}
