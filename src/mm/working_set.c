/* working_set.c - the working set of pageable memory: its limit, the balance set thread that trims
 * it least recently used first, explicit trims, and the pager's counters. */
#define _GNU_SOURCE
#include <stdio.h>
#include <time.h>

#include "mm/pager.h"
#include "os/os.h"

/*
 * Trimming ages pages the way Windows' working-set manager does, without a hardware accessed bit: a
 * pass first writes out the pages it moved to transition on an earlier pass and that nobody touched
 * since (a touch would have made them resident again with a soft fault), then, if the working set
 * is still over its limit, moves that many more resident pages to transition for the next pass. The
 * clock hand goes round all pageable pages, so the pages aged are those the hand reached longest ago.
 */
#define MI_BALANCE_PERIOD_MS 200
#define MI_PAGES_PER_LOCK_HOLD 32 /* the lock is given up this often during a long trim */

static pthread_cond_t MiBalanceWake = PTHREAD_COND_INITIALIZER;
static BOOLEAN MiBalanceStarted;

static inline BOOLEAN MiOverLimit(ULONG64 target)
{
    return MiPager.Counters.ResidentPageablePages > target;
}

/* The pages worth looking at, for the clock hand: none in a group of 64 pool pages with no commit. */
static BOOLEAN MiSkipUncommitted(const MI_PAGEABLE_RANGE *r, SIZE_T page)
{
    return r->Groups != NULL && (page & 63) == 0 && r->Groups[page / 64] == 0;
}

/*
 * Goes round the pageable pages once at most, from the clock hand, acting on pages whose state is in
 * States (a bit mask of MI_PTE_STATE values): writing them out (Write) or moving them to transition.
 * Stops after Count actions, or when the page file has no room. Returns the actions taken.
 */
static SIZE_T MiClockScanLocked(ULONG states, SIZE_T count, BOOLEAN write)
{
    SIZE_T total = 0, done = 0, held = 0;
    for (ULONG i = 0; i < MiPager.RangeLimit; i++)
        if (MiPager.Ranges[i].InUse)
            total += MiPager.Ranges[i].Pages + 64;
    for (SIZE_T steps = 0; steps < total && done < count;) {
        if (MiPager.HandRange >= MiPager.RangeLimit)
            MiPager.HandRange = 0, MiPager.HandPage = 0;
        MI_PAGEABLE_RANGE *r = &MiPager.Ranges[MiPager.HandRange];
        if (!r->InUse || MiPager.HandPage >= r->Pages) {
            MiPager.HandRange++;
            MiPager.HandPage = 0;
            steps += 64;
            continue;
        }
        if (MiSkipUncommitted(r, MiPager.HandPage)) {
            MiPager.HandPage += 64;
            steps += 64;
            continue;
        }
        SIZE_T page = MiPager.HandPage++;
        steps++;
        const MI_PAGER_PTE *pte = &r->Ptes[page];
        if (!((1u << pte->State) & states) || pte->LockCount != 0)
            continue;
        if (write) {
            MI_PAGEOUT_RESULT result = MiPageOutLocked(r, page);
            if (result == MiPageOutNoSpace)
                break;
            if (result != MiPageOutWritten)
                continue;
        } else {
            MiMakeTransitionLocked(r, page);
        }
        done++;
        if (++held == MI_PAGES_PER_LOCK_HOLD) {
            /* Let faulting threads in; the hand and the states stay consistent across the gap. */
            held = 0;
            pthread_mutex_unlock(&MiPager.Lock);
            pthread_mutex_lock(&MiPager.Lock);
        }
    }
    return done;
}

/* One pass of the balance set thread over a working set above its limit. */
static void MiBalancePassLocked(ULONG64 limit)
{
    MiPager.Counters.BalancePasses++;
    MiClockScanLocked(1u << MiPteTransition, (SIZE_T)(MiPager.Counters.ResidentPageablePages - limit), TRUE);
    ULONG64 resident = MiPager.Counters.ResidentPageablePages, transition = MiPager.Counters.TransitionPages;
    if (resident > limit && resident - limit > transition)
        MiClockScanLocked(1u << MiPteResident, (SIZE_T)(resident - limit - transition), FALSE);
}

static void *MiBalanceSetThread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&MiPager.Lock);
    for (;;) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += MI_BALANCE_PERIOD_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&MiBalanceWake, &MiPager.Lock, &until);
        ULONG64 limit = MiPager.Counters.WorkingSetLimitPages;
        if (MiOverLimit(limit))
            MiBalancePassLocked(limit);
    }
    return NULL;
}

/* Lock held. The thread exists only once a limit has been set: unlimited programs pay nothing. */
static void MiStartBalanceSetLocked(void)
{
    if (MiBalanceStarted || MiPager.Counters.WorkingSetLimitPages == (ULONG64)-1)
        return;
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&thread, &attr, MiBalanceSetThread, NULL) == 0)
        MiBalanceStarted = TRUE;
    pthread_attr_destroy(&attr);
}

void MiWorkingSetGrew(void)
{
    MiStartBalanceSetLocked();
    if (MiBalanceStarted && MiOverLimit(MiPager.Counters.WorkingSetLimitPages))
        pthread_cond_signal(&MiBalanceWake);
}

void MiWorkingSetAfterFork(void)
{
    MiBalanceStarted = FALSE; /* threads do not survive fork; the next commit starts one again */
}

NTMEM_API SIZE_T ntmem_set_paged_pool_working_set(SIZE_T bytes)
{
    MiInitializePager();
    pthread_mutex_lock(&MiPager.Lock);
    ULONG64 old = MiPager.Counters.WorkingSetLimitPages;
    MiPager.Counters.WorkingSetLimitPages = bytes == (SIZE_T)-1 ? (ULONG64)-1 : bytes >> PAGE_SHIFT;
    MiWorkingSetGrew();
    pthread_mutex_unlock(&MiPager.Lock);
    return old == (ULONG64)-1 ? (SIZE_T)-1 : (SIZE_T)(old << PAGE_SHIFT);
}

__attribute__((constructor)) static void MiReadWorkingSetEnvironment(void)
{
    const char *text = OsGetEnv("NTMEM_PAGED_POOL_WS");
    uint64_t bytes;
    if (text == NULL)
        return;
    if (OsParseSize(text, &bytes) != 0) {
        fprintf(stderr, "ntmem: ignoring NTMEM_PAGED_POOL_WS=%s (expected bytes with optional K/M/G)\n", text);
        return;
    }
    ntmem_set_paged_pool_working_set((SIZE_T)bytes);
}

NTMEM_API SIZE_T ntmem_trim_working_set(SIZE_T target_bytes)
{
    MiInitializePager();
    ULONG64 target = target_bytes >> PAGE_SHIFT;
    SIZE_T written = 0;
    pthread_mutex_lock(&MiPager.Lock);
    /* Pages already aged go first, then the rest in clock order. */
    if (MiOverLimit(target))
        written += MiClockScanLocked(1u << MiPteTransition, (SIZE_T)(MiPager.Counters.ResidentPageablePages - target), TRUE);
    if (MiOverLimit(target))
        written += MiClockScanLocked(1u << MiPteResident, (SIZE_T)(MiPager.Counters.ResidentPageablePages - target), TRUE);
    pthread_mutex_unlock(&MiPager.Lock);
    return written;
}

NTMEM_API SIZE_T ntmem_page_out_all(VOID)
{
    return ntmem_trim_working_set(0);
}

NTMEM_API VOID ntmem_query_pager_counters(PNTMEM_PAGER_COUNTERS counters)
{
    MiInitializePager();
    pthread_mutex_lock(&MiPager.Lock);
    *counters = MiPager.Counters;
    pthread_mutex_unlock(&MiPager.Lock);
    counters->NonPagedLockedPages = __atomic_load_n(&MiNonPagedLockedPages, __ATOMIC_RELAXED);
    counters->NonPagedLockFailures = __atomic_load_n(&MiNonPagedLockFailures, __ATOMIC_RELAXED);
}
