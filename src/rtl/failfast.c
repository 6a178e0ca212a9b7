/* failfast.c - RtlFailFast and FatalListEntryError: unrecoverable corruption ends in STOP 0x139. */
#include "ke/ke.h"

/* __fastfail on Windows traps straight into bug check 0x139; P2/P3 (trap frame, exception record)
 * have no equivalent here and are 0. */
VOID NTAPI RtlFailFast(ULONG Code)
{
    KeBugCheckEx(KERNEL_SECURITY_CHECK_FAILURE, Code, 0, 0, 0);
}

/* Called by the checked list routines in wdm.h with the three entries whose links disagree. */
VOID NTAPI FatalListEntryError(PVOID P1, PVOID P2, PVOID P3)
{
    KiBugCheckWithReason(KERNEL_SECURITY_CHECK_FAILURE, FAST_FAIL_CORRUPT_LIST_ENTRY, 0, 0, 0,
                         "corrupt LIST_ENTRY: neighbouring links do not point back at each other "
                         "(double remove, or an entry freed while on a list): %p %p %p",
                         P1, P2, P3);
}
