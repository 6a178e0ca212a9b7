/* address.c - MmIsAddressValid: would touching this address fault? */
#define _GNU_SOURCE
#include <sys/uio.h>
#include <unistd.h>

#include "mm/mm.h"

NTKERNELAPI BOOLEAN NTAPI MmIsAddressValid(PVOID va)
{
    MiEnsureInitialized();
    if (MiIsSystemAddress(va)) {
        MI_REGION_ID region = MiRegionOf(va);
        if (region == MiRegionCount)
            return (PUCHAR)va < MiSystemSpace.PfnBase; /* the PFN database itself is resident */
        MI_PAGE_STATE state = MiPageState(MiPfnOf(va));
        return state != MiPageFree && state != MiPageBigPoolFreed;
    }
    /* User space: ask the kernel to copy one byte from ourselves; it fails on unmapped or PROT_NONE. */
    char byte;
    struct iovec local = {&byte, 1}, remote = {va, 1};
    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == 1;
}
