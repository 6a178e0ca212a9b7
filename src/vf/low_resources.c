/* low_resources.c - Driver Verifier's low resources simulation: after a grace period, pool
 * allocations fail with a given probability, from a seed, so a failing run can be replayed. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "os/os.h"
#include "vf/vf.h"

static pthread_once_t VfLowOnce = PTHREAD_ONCE_INIT;
static ULONG VfLowPercent = 5;       /* Windows' default rate is of this order */
static ULONG64 VfLowState = 0x2545F4914F6CDD1DULL;
static ULONG64 VfLowGrace = 1000;    /* allocations served before the first failure */
static volatile ULONG64 VfLowSeen;
static volatile ULONG64 VfLowInjected;
static pthread_mutex_t VfLowLock = PTHREAD_MUTEX_INITIALIZER;

/* NTMEM_VERIFIER=low_resources[=percent[:seed[:grace]]] */
static void VfReadLowSettings(void)
{
    const char *text = OsGetEnv("NTMEM_VERIFIER");
    const char *at = text != NULL ? strstr(text, "low_resources=") : NULL;
    if (at == NULL)
        return;
    char *end;
    VfLowPercent = (ULONG)strtoul(at + strlen("low_resources="), &end, 10);
    if (*end == ':')
        VfLowState = strtoull(end + 1, &end, 0) ^ 0x2545F4914F6CDD1DULL;
    if (*end == ':')
        VfLowGrace = strtoull(end + 1, &end, 0);
}

NTMEM_API VOID ntmem_set_low_resources(ULONG Percent, ULONG64 Seed, ULONG64 Grace)
{
    pthread_once(&VfLowOnce, VfReadLowSettings);
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
    pthread_once(&VfLowOnce, VfReadLowSettings);
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
