/* process.c - the process object for the running process, and its pool quotas. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ex/pool.h"
#include "ke/ke.h"

/* EPROCESS as ntmem keeps it. ImageFileName sits where 32-bit NT kept it (0x174), so samples that read
 * the name at that offset still find it once ported to pointer-sized arithmetic. */
struct _KPROCESS {
    ULONG_PTR UniqueProcessId;
    SIZE_T QuotaLimit[EXP_POOL_COUNT];   /* [0] nonpaged, [1] paged */
    SIZE_T QuotaUsage[EXP_POOL_COUNT];
    SIZE_T QuotaPeak[EXP_POOL_COUNT];
    UCHAR Reserved[0x174 - sizeof(ULONG_PTR) - 6 * sizeof(SIZE_T)];
    CHAR ImageFileName[16];
};
_Static_assert(offsetof(struct _KPROCESS, ImageFileName) == 0x174, "ImageFileName offset");

static struct _KPROCESS PspCurrentProcess = {
    .QuotaLimit = {(SIZE_T)-1, (SIZE_T)-1},
};
/* System threads run in the System process (process id 4), as on Windows: what DriverEntry sees as
 * its current process. It has no quota limits. */
static struct _KPROCESS PspSystemProcess = {
    .UniqueProcessId = 4,
    .QuotaLimit = {(SIZE_T)-1, (SIZE_T)-1},
    .ImageFileName = "System",
};
NTKERNELAPI PEPROCESS PsInitialSystemProcess = &PspSystemProcess;
static pthread_once_t PspOnce = PTHREAD_ONCE_INIT;

static void PspInitialize(void)
{
    PspCurrentProcess.UniqueProcessId = (ULONG_PTR)getpid();
    FILE *f = fopen("/proc/self/comm", "re");
    if (f != NULL) {
        if (fgets(PspCurrentProcess.ImageFileName, sizeof PspCurrentProcess.ImageFileName, f) != NULL)
            PspCurrentProcess.ImageFileName[strcspn(PspCurrentProcess.ImageFileName, "\n")] = '\0';
        fclose(f);
    }
}

NTKERNELAPI PEPROCESS NTAPI PsGetCurrentProcess(VOID)
{
    pthread_once(&PspOnce, PspInitialize);
    return KiThread.SystemThread ? &PspSystemProcess : &PspCurrentProcess;
}

NTKERNELAPI HANDLE NTAPI PsGetProcessId(PEPROCESS process)
{
    pthread_once(&PspOnce, PspInitialize);
    return (HANDLE)process->UniqueProcessId;
}

NTKERNELAPI HANDLE NTAPI PsGetCurrentProcessId(VOID)
{
    return PsGetProcessId(PsGetCurrentProcess());
}

BOOLEAN PspIsProcess(PEPROCESS process)
{
    return process == &PspCurrentProcess || process == &PspSystemProcess;
}

NTSTATUS PspChargePoolQuota(PEPROCESS process, ULONG pool, SIZE_T bytes)
{
    SIZE_T limit = __atomic_load_n(&process->QuotaLimit[pool], __ATOMIC_RELAXED);
    SIZE_T used = __atomic_load_n(&process->QuotaUsage[pool], __ATOMIC_RELAXED);
    do {
        if (used + bytes < used || used + bytes > limit)
            return STATUS_QUOTA_EXCEEDED;
    } while (!__atomic_compare_exchange_n(&process->QuotaUsage[pool], &used, used + bytes, TRUE,
                                          __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    SIZE_T peak = __atomic_load_n(&process->QuotaPeak[pool], __ATOMIC_RELAXED);
    while (used + bytes > peak &&
           !__atomic_compare_exchange_n(&process->QuotaPeak[pool], &peak, used + bytes, TRUE, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
        ;
    return STATUS_SUCCESS;
}

void PspReturnPoolQuota(PEPROCESS process, ULONG pool, SIZE_T bytes)
{
    __atomic_sub_fetch(&process->QuotaUsage[pool], bytes, __ATOMIC_RELAXED);
}

NTMEM_API NTSTATUS ntmem_set_process_quota_limits(PEPROCESS process, SIZE_T paged, SIZE_T nonpaged)
{
    if (!PspIsProcess(process))
        return STATUS_INVALID_PARAMETER;
    __atomic_store_n(&process->QuotaLimit[1], paged, __ATOMIC_RELAXED);
    __atomic_store_n(&process->QuotaLimit[0], nonpaged, __ATOMIC_RELAXED);
    return STATUS_SUCCESS;
}

NTMEM_API NTSTATUS ntmem_query_process_quota(PEPROCESS process, PNTMEM_QUOTA_USAGE usage)
{
    if (!PspIsProcess(process) || usage == NULL)
        return STATUS_INVALID_PARAMETER;
    usage->PagedPoolLimit = __atomic_load_n(&process->QuotaLimit[1], __ATOMIC_RELAXED);
    usage->NonPagedPoolLimit = __atomic_load_n(&process->QuotaLimit[0], __ATOMIC_RELAXED);
    usage->QuotaPagedPoolUsage = __atomic_load_n(&process->QuotaUsage[1], __ATOMIC_RELAXED);
    usage->QuotaPeakPagedPoolUsage = __atomic_load_n(&process->QuotaPeak[1], __ATOMIC_RELAXED);
    usage->QuotaNonPagedPoolUsage = __atomic_load_n(&process->QuotaUsage[0], __ATOMIC_RELAXED);
    usage->QuotaPeakNonPagedPoolUsage = __atomic_load_n(&process->QuotaPeak[0], __ATOMIC_RELAXED);
    return STATUS_SUCCESS;
}
