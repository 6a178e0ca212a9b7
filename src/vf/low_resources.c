/* low_resources.c - Driver Verifier's low resources simulation: after a grace period, pool
 * allocations fail with a given probability, from a seed, so a failing run can be replayed. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "os/os.h"
#include "vf/vf.h"

static ULONG VfLowPercent = 5;       /* Windows' default rate is of this order */
static ULONG64 VfLowState = 0x2545F4914F6CDD1DULL; /* seed 0 */
static ULONG64 VfLowGrace = 1000;    /* allocations served before the first failure */
static volatile ULONG64 VfLowSeen;
static volatile ULONG64 VfLowInjected;
static pthread_mutex_t VfLowLock = PTHREAD_MUTEX_INITIALIZER;

BOOLEAN VfParseLowResources(const char *p, const char *end, ULONG *percent, ULONG64 *seed, ULONG64 *grace)
{
    *seed = 0;
    *grace = 1000;
    char *stop;
    *percent = (ULONG)strtoul(p, &stop, 10);
    if (stop == p)
        return FALSE;
    if (stop < end && *stop == ':')
        *seed = strtoull(stop + 1, &stop, 0);
    if (stop < end && *stop == ':')
        *grace = strtoull(stop + 1, &stop, 0);
    return stop == end;
}

NTMEM_API VOID ntmem_set_low_resources(ULONG Percent, ULONG64 Seed, ULONG64 Grace)
{
    pthread_mutex_lock(&VfLowLock);
    VfLowPercent = Percent > 100 ? 100 : Percent;
    VfLowState = Seed ^ 0x2545F4914F6CDD1DULL;
    VfLowGrace = Grace;
    __atomic_store_n(&VfLowSeen, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&VfLowLock);
}

BOOLEAN VfLowResourcesFail(void)
{
    if (!(__atomic_load_n(&VfFlags, __ATOMIC_RELAXED) & NTMEM_VERIFIER_LOW_RESOURCES))
        return FALSE;
    pthread_mutex_lock(&VfLowLock);
    BOOLEAN fail = FALSE;
    if (++VfLowSeen > VfLowGrace) {
        /* xorshift64*: one sequence for the process, so one seed replays one run */
        VfLowState ^= VfLowState >> 12;
        VfLowState ^= VfLowState << 25;
        VfLowState ^= VfLowState >> 27;
        fail = (VfLowState * 0x2545F4914F6CDD1DULL >> 32) % 100 < VfLowPercent;
    }
    if (fail)
        VfLowInjected++;
    pthread_mutex_unlock(&VfLowLock);
    return fail;
}

NTMEM_API VOID ntmem_query_verifier_counters(PNTMEM_VERIFIER_COUNTERS counters)
{
    NTMEM_SPECIAL_POOL_INFO special;
    ntmem_query_special_pool(&special);
    pthread_mutex_lock(&VfLowLock);
    counters->LowResourcesConsidered = VfLowSeen;
    counters->FaultsInjected = VfLowInjected;
    pthread_mutex_unlock(&VfLowLock);
    VfQueryRequestCounts(&counters->AllocationsAttempted, &counters->AllocationsSucceeded);
    counters->SpecialPoolAllocations = special.Allocations;
    counters->SpecialPoolConsidered = special.Considered;
}
