/* irql.c - per-thread IRQL: KeGetCurrentIrql, KfRaiseIrql, KeLowerIrql, KeRaiseIrqlToDpcLevel. */
#include "ke/ke.h"
#include "vf/vf.h"

/*
 * ntmem has no interrupts to mask: IRQL is a number each thread carries, and what it controls is
 * what the rest of ntmem checks against it (paged memory, pool calls, spin locks). The HAL's own
 * checks are reproduced exactly, with the parameters Windows passes: P1 the current IRQL, P2 the
 * requested one, P3 0, P4 9.
 */
#define KIP_IRQL_CHECK_P4 9

KIRQL NTAPI KeGetCurrentIrql(VOID)
{
    return KiThread.Irql;
}

KIRQL FASTCALL KfRaiseIrql(KIRQL NewIrql)
{
    KIRQL OldIrql = KiThread.Irql;

    if (NTMEM_UNLIKELY(NewIrql > HIGH_LEVEL))
        KiBugCheckWithReason(IRQL_NOT_GREATER_OR_EQUAL, OldIrql, NewIrql, 0, KIP_IRQL_CHECK_P4,
                             "KeRaiseIrql to %u, which is above HIGH_LEVEL (15); the requested IRQL "
                             "is invalid (uninitialised variable?)",
                             (unsigned)NewIrql);
    if (NTMEM_UNLIKELY(NewIrql < OldIrql))
        KiBugCheckWithReason(IRQL_NOT_GREATER_OR_EQUAL, OldIrql, NewIrql, 0, KIP_IRQL_CHECK_P4,
                             "KeRaiseIrql to %u while running at %u: raising may not lower the IRQL "
                             "(use KeLowerIrql)",
                             (unsigned)NewIrql, (unsigned)OldIrql);
    KiThread.Irql = NewIrql;
    if (NTMEM_UNLIKELY(OldIrql < DISPATCH_LEVEL && NewIrql >= DISPATCH_LEVEL && VfIsEnabled()))
        VfIrqlRaisedToDispatch(); /* Driver Verifier's IRQL checking hides paged pool now */
    return OldIrql;
}

VOID NTAPI KeLowerIrql(KIRQL NewIrql)
{
    KIRQL OldIrql = KiThread.Irql;

    /* A level above HIGH_LEVEL is necessarily above the current one, so it lands here too. */
    if (NTMEM_UNLIKELY(NewIrql > OldIrql))
        KiBugCheckWithReason(IRQL_NOT_LESS_OR_EQUAL, OldIrql, NewIrql, 0, KIP_IRQL_CHECK_P4,
                             "KeLowerIrql to %u while running at %u: lowering may not raise the IRQL%s",
                             (unsigned)NewIrql, (unsigned)OldIrql,
                             NewIrql > HIGH_LEVEL ? " (and the level is above HIGH_LEVEL)" : "");
    KiThread.Irql = NewIrql;
}

KIRQL NTAPI KeRaiseIrqlToDpcLevel(VOID)
{
    return KfRaiseIrql(DISPATCH_LEVEL);
}
