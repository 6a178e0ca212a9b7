/* irql_checking.c - Driver Verifier's IRQL checking: raising to DISPATCH_LEVEL or above makes all
 * pageable memory inaccessible, so touching it there is a deterministic STOP 0xD1; the pager brings
 * access back one page at a time, on the first touch below DISPATCH_LEVEL. */
#include "mm/pager.h"
#include "vf/vf.h"

void VfIrqlRaisedToDispatch(void)
{
    if (VfIrqlCheckingOn())
        MiHidePageableMemory();
}

void VfPageableTouchedAtDispatch(const void *address, ULONG_PTR how, PVOID ip, KIRQL irql, PCSTR name)
{
    KiBugCheckWithReason(DRIVER_IRQL_NOT_LESS_OR_EQUAL, (ULONG_PTR)address, irql, how, (ULONG_PTR)ip,
                         "%s %s at %p at IRQL %u (Driver Verifier's IRQL checking made it inaccessible): "
                         "pageable memory may be touched only at APC_LEVEL or below",
                         how == 1 ? "write to" : how == 8 ? "execution in" : "read from", name, address,
                         (unsigned)irql);
}
