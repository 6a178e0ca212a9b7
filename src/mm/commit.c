/* commit.c - the commit charge: every committed user page is charged against the commit limit. */
#include "mm/mm.h"
#include "os/os.h"

/* Pages charged now and at most; one process, so the process's charge is the system's. */
static volatile SIZE_T MiCommittedPages;
static volatile SIZE_T MiPeakCommittedPages;
static volatile SIZE_T MiCommitLimitPages;
static pthread_once_t MiCommitOnce = PTHREAD_ONCE_INIT;

/* The default limit is what Windows' would be: physical memory plus the page file (the host's swap);
 * NTMEM_COMMIT_LIMIT (bytes, K/M/G suffixes) overrides it. */
static void MiInitializeCommitLimit(void)
{
    SIZE_T bytes = (SIZE_T)(OsPhysicalMemory() + OsSwapSize());
    const char *text = OsGetEnv("NTMEM_COMMIT_LIMIT");
    uint64_t value;
    if (text != NULL && OsParseSize(text, &value) == 0 && value != 0)
        bytes = (SIZE_T)value;
    if (__atomic_load_n(&MiCommitLimitPages, __ATOMIC_RELAXED) == 0)
        __atomic_store_n(&MiCommitLimitPages, bytes >> PAGE_SHIFT, __ATOMIC_RELAXED);
}

SIZE_T MiCommitLimit(void)
{
    pthread_once(&MiCommitOnce, MiInitializeCommitLimit);
    return __atomic_load_n(&MiCommitLimitPages, __ATOMIC_RELAXED);
}

NTSTATUS MiChargeCommit(SIZE_T pages)
{
    SIZE_T limit = MiCommitLimit();
    SIZE_T now = __atomic_load_n(&MiCommittedPages, __ATOMIC_RELAXED);
    do {
        if (pages > limit || now > limit - pages)
            return STATUS_COMMITMENT_LIMIT;
    } while (!__atomic_compare_exchange_n(&MiCommittedPages, &now, now + pages, TRUE, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    SIZE_T peak = __atomic_load_n(&MiPeakCommittedPages, __ATOMIC_RELAXED);
    while (now + pages > peak &&
           !__atomic_compare_exchange_n(&MiPeakCommittedPages, &peak, now + pages, TRUE, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
        ;
    return STATUS_SUCCESS;
}

void MiReturnCommit(SIZE_T pages)
{
    __atomic_sub_fetch(&MiCommittedPages, pages, __ATOMIC_RELAXED);
}

void MiQueryCommit(PMI_COMMIT_INFO info)
{
    info->LimitPages = MiCommitLimit();
    info->CommittedPages = __atomic_load_n(&MiCommittedPages, __ATOMIC_RELAXED);
    info->PeakPages = __atomic_load_n(&MiPeakCommittedPages, __ATOMIC_RELAXED);
}

NTMEM_API SIZE_T ntmem_set_commit_limit(SIZE_T bytes)
{
    SIZE_T previous = MiCommitLimit();
    __atomic_store_n(&MiCommitLimitPages, bytes >> PAGE_SHIFT, __ATOMIC_RELAXED);
    return previous << PAGE_SHIFT;
}
