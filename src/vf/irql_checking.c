/* irql_checking.c - Driver Verifier's IRQL checking: raising to DISPATCH_LEVEL or above makes all of
 * paged pool inaccessible, so touching it there is a deterministic STOP 0xD1; access comes back one
 * page at a time, on the first touch below DISPATCH_LEVEL. */
#include <sys/mman.h>

#include "mm/mm.h"
#include "os/os.h"
#include "vf/vf.h"

/* Set once paged pool has been made inaccessible; cleared never (pages come back lazily). */
static volatile UCHAR VfPageableProtected;

void VfIrqlRaisedToDispatch(void)
{
    if (!(__atomic_load_n(&VfFlags, __ATOMIC_RELAXED) & NTMEM_VERIFIER_IRQL_CHECKING))
        return;
    const MI_REGION *r = &MiSystemSpace.Regions[MiPagedPoolRegion];
    if (r->Base == NULL)
        return;
    /* One call for the whole region: its uncommitted pages are inaccessible already. */
    OsProtect(r->Base, r->Pages << PAGE_SHIFT, PROT_NONE);
    __atomic_store_n(&VfPageableProtected, 1, __ATOMIC_RELEASE);
}

BOOLEAN VfPageableFault(const void *address, ULONG_PTR how, PVOID ip)
{
    if (!__atomic_load_n(&VfPageableProtected, __ATOMIC_ACQUIRE))
        return FALSE;
    const MI_REGION *r = &MiSystemSpace.Regions[MiPagedPoolRegion];
    const UCHAR *a = address;
    if (a < r->Base || a >= r->Base + (r->Pages << PAGE_SHIFT))
        return FALSE;
    SIZE_T page = (SIZE_T)(a - r->Base) >> PAGE_SHIFT;
    if (!((__atomic_load_n(&r->Bitmap[page / 64], __ATOMIC_RELAXED) >> (page % 64)) & 1))
        return FALSE; /* not committed: an ordinary bad access */
    KIRQL irql = KiThread.Irql;
    if (irql >= DISPATCH_LEVEL)
        KiBugCheckWithReason(DRIVER_IRQL_NOT_LESS_OR_EQUAL, (ULONG_PTR)address, irql, how, (ULONG_PTR)ip,
                             "%s paged pool at %p at IRQL %u (Driver Verifier's IRQL checking made it "
                             "inaccessible): paged memory may be touched only at APC_LEVEL or below",
                             how == 1 ? "write to" : how == 8 ? "execution in" : "read from", address,
                             (unsigned)irql);
    OsProtect((PVOID)PAGE_ALIGN(address), PAGE_SIZE, PROT_READ | PROT_WRITE);
    return TRUE;
}
