/* processor.c - processor numbers and counts: one processor group holding the host's online CPUs. */
#include "ke/ke.h"
#include "os/os.h"

/*
 * ntmem models a single processor group (group 0). Windows numbers the processors of a group
 * densely from 0 and callers size per-processor arrays by the counts below, so the count is taken
 * once and the current CPU number is folded into [0, count) even if the host numbers its online CPUs
 * sparsely. A group holds at most 64 processors (one KAFFINITY bit each); larger hosts report 64.
 */
#define KIP_MAXIMUM_PROCESSORS_PER_GROUP (sizeof(KAFFINITY) * 8)

static ULONG KipProcessorCount(VOID)
{
    static ULONG Cached; /* 0 until first use; every thread computes the same value */
    ULONG Count = __atomic_load_n(&Cached, __ATOMIC_RELAXED);

    if (Count == 0) {
        Count = OsProcessorCount();
        if (Count > KIP_MAXIMUM_PROCESSORS_PER_GROUP)
            Count = KIP_MAXIMUM_PROCESSORS_PER_GROUP;
        if (Count == 0)
            Count = 1;
        __atomic_store_n(&Cached, Count, __ATOMIC_RELAXED);
    }
    return Count;
}

ULONG NTAPI KeGetCurrentProcessorNumber(VOID)
{
    return OsCurrentProcessor() % KipProcessorCount();
}

ULONG NTAPI KeGetCurrentProcessorNumberEx(PPROCESSOR_NUMBER ProcNumber)
{
    ULONG Number = KeGetCurrentProcessorNumber();

    if (ProcNumber != NULL) { /* optional per the WDK */
        ProcNumber->Group = 0;
        ProcNumber->Number = (UCHAR)Number;
        ProcNumber->Reserved = 0;
    }
    return Number;
}

ULONG NTAPI KeQueryActiveProcessorCount(PKAFFINITY ActiveProcessors)
{
    ULONG Count = KipProcessorCount();

    if (ActiveProcessors != NULL)
        *ActiveProcessors = Count >= KIP_MAXIMUM_PROCESSORS_PER_GROUP ? ~(KAFFINITY)0
                                                                      : ((KAFFINITY)1 << Count) - 1;
    return Count;
}

ULONG NTAPI KeQueryActiveProcessorCountEx(USHORT GroupNumber)
{
    if (GroupNumber == 0 || GroupNumber == ALL_PROCESSOR_GROUPS)
        return KipProcessorCount();
    return 0; /* no such group */
}

ULONG NTAPI KeQueryMaximumProcessorCount(VOID)
{
    /* No processor hot-add: the most there can ever be is what is active now. */
    return KipProcessorCount();
}
