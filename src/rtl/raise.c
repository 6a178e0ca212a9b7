/* raise.c - RtlRaiseStatus and ExRaiseStatus: raising an exception that carries only a status. */
#include "ke/ke.h"

/*
 * Dispatches an exception raised by status. Structured exception handling arrives with the SEH
 * issue, which replaces this function with a real search for handlers; until then no frame can
 * handle anything, and an unhandled exception on a kernel thread is bug check 0x1E with P1 the
 * exception code, P2 the address it was raised at, P3 and P4 its (absent) parameters.
 */
static DECLSPEC_NORETURN void RtlpDispatchStatusException(NTSTATUS Status, PVOID RaiseAddress)
{
    KiBugCheckWithReason(KMODE_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(ULONG)Status, (ULONG_PTR)RaiseAddress,
                         0, 0,
                         "exception 0x%08X raised at %p was not handled (no __try/__except frame "
                         "caught it)",
                         (unsigned)Status, RaiseAddress);
}

VOID NTAPI RtlRaiseStatus(NTSTATUS Status)
{
    RtlpDispatchStatusException(Status, __builtin_return_address(0));
}

VOID NTAPI ExRaiseStatus(NTSTATUS Status)
{
    RtlpDispatchStatusException(Status, __builtin_return_address(0));
}
