/* hostmaps.h - the host's mappings as Windows regions, and searching them for free space. */
#ifndef NTMEM_MM_HOSTMAPS_H
#define NTMEM_MM_HOSTMAPS_H

#include "mm/mm.h"

/* MEMORY_BASIC_INFORMATION for an address no VAD describes, from /proc/self/maps; the region ends
 * at Limit at the latest (the next VAD). */
NTMEM_HIDDEN NTSTATUS MiQueryHostRegion(const void *Address, ULONG_PTR Limit, PMEMORY_BASIC_INFORMATION Info);
/* An Alignment-aligned free range of Size bytes within [Low, High), lowest first or highest first;
 * NULL when none. */
NTMEM_HIDDEN PVOID MiFindFreeGap(ULONG_PTR Low, ULONG_PTR High, SIZE_T Size, SIZE_T Alignment, BOOLEAN TopDown);

#endif /* NTMEM_MM_HOSTMAPS_H */
