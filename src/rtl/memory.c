/* memory.c - the exported Rtl memory routines (the Rtl*Memory macros in wdm.h need no code). */
#include <wdm.h>

#include <string.h>

/*
 * RtlCopyBytes, RtlFillBytes and RtlZeroBytes exist for callers that must not have their byte
 * accesses widened (device memory in the original); ordinary memory gives no such guarantee to keep,
 * so the C library's routines serve.
 */
VOID NTAPI RtlCopyBytes(PVOID Destination, CONST VOID *Source, SIZE_T Length)
{
    if (Length != 0)
        memcpy(Destination, Source, Length);
}

VOID NTAPI RtlFillBytes(PVOID Destination, SIZE_T Length, UCHAR Fill)
{
    if (Length != 0)
        memset(Destination, Fill, Length);
}

VOID NTAPI RtlZeroBytes(PVOID Destination, SIZE_T Length)
{
    if (Length != 0)
        memset(Destination, 0, Length);
}

/* Returns how many leading bytes are equal: Length when the blocks match. */
SIZE_T NTAPI RtlCompareMemory(const VOID *Source1, const VOID *Source2, SIZE_T Length)
{
    const UCHAR *Left = Source1, *Right = Source2;
    SIZE_T Equal = 0;

    /* memcmp finds equal stretches fast; only the chunk holding the first difference is walked. */
    enum { Chunk = 64 };
    while (Length - Equal >= Chunk && memcmp(Left + Equal, Right + Equal, Chunk) == 0)
        Equal += Chunk;
    while (Equal < Length && Left[Equal] == Right[Equal])
        Equal++;
    return Equal;
}

/*
 * Returns how many bytes from Source match the repeated ULONG Pattern. The comparison goes a ULONG
 * at a time, so the count is a multiple of 4 and stops before the first ULONG that differs. As
 * documented, a Source not aligned on a ULONG boundary or a Length not a multiple of sizeof(ULONG)
 * gives 0.
 */
SIZE_T NTAPI RtlCompareMemoryUlong(PVOID Source, SIZE_T Length, ULONG Pattern)
{
    const ULONG *Words = Source;
    SIZE_T Count = Length / sizeof(ULONG), Index = 0;

    if (((ULONG_PTR)Source & (sizeof(ULONG) - 1)) != 0 || (Length & (sizeof(ULONG) - 1)) != 0)
        return 0;
    while (Index < Count && Words[Index] == Pattern)
        Index++;
    return Index * sizeof(ULONG);
}
