/* vf.h - Driver Verifier internals: which switches are on. */
#ifndef NTMEM_VF_H
#define NTMEM_VF_H

#include <ntmem.h>
#include "ke/ke.h"

extern NTMEM_HIDDEN ULONG VfFlags;

/* True when any verifier switch is on: the checks Windows only makes under the verifier. */
static inline BOOLEAN VfIsEnabled(void)
{
    return __atomic_load_n(&VfFlags, __ATOMIC_RELAXED) != 0;
}

#endif /* NTMEM_VF_H */
