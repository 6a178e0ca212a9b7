/* wait.c - dispatcher objects (events, thread objects) and waiting on them. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "ke/ke.h"

#define KI_THREAD_OBJECT 6 /* DISPATCHER_HEADER.Type of a thread */

/* One lock for every dispatcher object's state and wait list, as NT's dispatcher lock. */
static pthread_mutex_t KiDispatcherLock = PTHREAD_MUTEX_INITIALIZER;

/* A waiting thread, on the object's wait list while it sleeps. */
typedef struct _KI_WAIT_BLOCK {
    LIST_ENTRY Link;
    pthread_cond_t Wake;
    BOOLEAN Satisfied; /* set by the signaller, under the lock, when it hands the object over */
} KI_WAIT_BLOCK;

/* Windows' system time: 100 ns units since 1601-01-01. */
#define KI_EPOCH_1601_TO_1970 116444736000000000LL

VOID NTAPI KeQuerySystemTime(PLARGE_INTEGER now)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    now->QuadPart = KI_EPOCH_1601_TO_1970 + (LONGLONG)ts.tv_sec * 10000000LL + ts.tv_nsec / 100;
}

/* A Windows timeout as a relative interval in 100 ns units (never negative). */
static LONGLONG KiRelativeTimeout(const LARGE_INTEGER *timeout)
{
    if (timeout->QuadPart < 0)
        return -timeout->QuadPart;
    LARGE_INTEGER now;
    KeQuerySystemTime(&now);
    return timeout->QuadPart > now.QuadPart ? timeout->QuadPart - now.QuadPart : 0;
}

static struct timespec KiDeadline(LONGLONG interval)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(interval / 10000000LL);
    ts.tv_nsec += (long)(interval % 10000000LL) * 100;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Blocking above APC_LEVEL would switch threads where NT cannot: IRQL_NOT_LESS_OR_EQUAL. */
static void KiCheckWaitIrql(PVOID object, const LARGE_INTEGER *timeout, PVOID caller)
{
    KIRQL irql = KiThread.Irql;
    BOOLEAN test_only = timeout != NULL && timeout->QuadPart == 0;
    if (irql <= APC_LEVEL || (test_only && irql <= DISPATCH_LEVEL))
        return;
    KiBugCheckWithReason(IRQL_NOT_LESS_OR_EQUAL, (ULONG_PTR)object, irql, 0, (ULONG_PTR)caller,
                         "a wait at IRQL %u: only a zero timeout is allowed at DISPATCH_LEVEL, and "
                         "nothing above it",
                         (unsigned)irql);
}

VOID NTAPI KeInitializeEvent(PRKEVENT event, EVENT_TYPE type, BOOLEAN state)
{
    event->Header.Type = (UCHAR)type;
    event->Header.Signalling = 0;
    event->Header.Size = (UCHAR)(sizeof(KEVENT) / sizeof(ULONG));
    event->Header.Reserved1 = 0;
    event->Header.SignalState = state ? 1 : 0;
    InitializeListHead(&event->Header.WaitListHead);
}

/* Signals a header: a notification object (notification event, thread) releases every waiter and
 * stays signalled; a synchronization event releases one waiter and is consumed by it. */
static LONG KiSignal(DISPATCHER_HEADER *header)
{
    LONG previous = header->SignalState;
    header->SignalState = 1;
    while (header->SignalState > 0 && !IsListEmpty(&header->WaitListHead)) {
        KI_WAIT_BLOCK *w = CONTAINING_RECORD(RemoveHeadList(&header->WaitListHead), KI_WAIT_BLOCK, Link);
        w->Satisfied = TRUE;
        if (header->Type == SynchronizationEvent)
            header->SignalState = 0;
        pthread_cond_signal(&w->Wake);
    }
    return previous;
}

LONG NTAPI KeSetEvent(PRKEVENT event, KPRIORITY increment, BOOLEAN wait)
{
    (void)increment;
    (void)wait; /* a hint that a wait follows; nothing to hold here */
    pthread_mutex_lock(&KiDispatcherLock);
    LONG previous = KiSignal(&event->Header);
    pthread_mutex_unlock(&KiDispatcherLock);
    return previous;
}

LONG NTAPI KeResetEvent(PRKEVENT event)
{
    pthread_mutex_lock(&KiDispatcherLock);
    LONG previous = event->Header.SignalState;
    event->Header.SignalState = 0;
    pthread_mutex_unlock(&KiDispatcherLock);
    return previous;
}

VOID NTAPI KeClearEvent(PRKEVENT event)
{
    __atomic_store_n(&event->Header.SignalState, 0, __ATOMIC_RELAXED);
}

LONG NTAPI KeReadStateEvent(PRKEVENT event)
{
    return __atomic_load_n(&event->Header.SignalState, __ATOMIC_RELAXED);
}

VOID KiSignalThreadObject(DISPATCHER_HEADER *header)
{
    pthread_mutex_lock(&KiDispatcherLock);
    KiSignal(header);
    pthread_mutex_unlock(&KiDispatcherLock);
}

VOID KiInitializeThreadHeader(DISPATCHER_HEADER *header)
{
    header->Type = KI_THREAD_OBJECT;
    header->Size = 0;
    header->SignalState = 0;
    InitializeListHead(&header->WaitListHead);
}

NTSTATUS NTAPI KeWaitForSingleObject(PVOID object, KWAIT_REASON reason, KPROCESSOR_MODE mode, BOOLEAN alertable,
                                     PLARGE_INTEGER timeout)
{
    (void)reason;
    (void)mode;
    (void)alertable; /* no APCs or alerts are ever queued, so an alertable wait ends the same way */
    KiCheckWaitIrql(object, timeout, __builtin_return_address(0));
    DISPATCHER_HEADER *header = object;
    pthread_mutex_lock(&KiDispatcherLock);
    if (header->SignalState > 0) {
        if (header->Type == SynchronizationEvent)
            header->SignalState = 0;
        pthread_mutex_unlock(&KiDispatcherLock);
        return STATUS_SUCCESS;
    }
    LONGLONG interval = timeout != NULL ? KiRelativeTimeout(timeout) : -1;
    if (interval == 0) {
        pthread_mutex_unlock(&KiDispatcherLock);
        return STATUS_TIMEOUT;
    }
    KI_WAIT_BLOCK w = {.Satisfied = FALSE};
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w.Wake, &attr);
    pthread_condattr_destroy(&attr);
    InsertTailList(&header->WaitListHead, &w.Link);
    struct timespec deadline = interval > 0 ? KiDeadline(interval) : (struct timespec){0};
    NTSTATUS status = STATUS_SUCCESS;
    while (!w.Satisfied) {
        int rc = interval > 0 ? pthread_cond_timedwait(&w.Wake, &KiDispatcherLock, &deadline)
                              : pthread_cond_wait(&w.Wake, &KiDispatcherLock);
        if (rc == ETIMEDOUT && !w.Satisfied) {
            RemoveEntryList(&w.Link);
            status = STATUS_TIMEOUT;
            break;
        }
    }
    pthread_mutex_unlock(&KiDispatcherLock);
    pthread_cond_destroy(&w.Wake);
    return status;
}

NTSTATUS NTAPI KeDelayExecutionThread(KPROCESSOR_MODE mode, BOOLEAN alertable, PLARGE_INTEGER interval)
{
    (void)mode;
    (void)alertable;
    KiCheckWaitIrql(NULL, interval, __builtin_return_address(0));
    LONGLONG units = KiRelativeTimeout(interval);
    struct timespec deadline = KiDeadline(units);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR)
        ;
    return STATUS_SUCCESS;
}
