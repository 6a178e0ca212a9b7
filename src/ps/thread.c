/* thread.c - thread objects and system threads: PsCreateSystemThread, PsTerminateSystemThread. */
#define _GNU_SOURCE
#include <pthread.h>
#include <unistd.h>

#include "ob/ob.h"
#include "seh/seh.h"

/* KTHREAD/ETHREAD as ntmem keeps it. */
struct _KTHREAD {
    DISPATCHER_HEADER Header; /* signalled when the thread ends */
    HANDLE UniqueThread;
    BOOLEAN SystemThread;
    NTSTATUS ExitStatus;
    PKSTART_ROUTINE StartRoutine;
    PVOID StartContext;
    KEVENT Started; /* the creator waits for the thread's id */
};

static struct _OBJECT_TYPE PspThreadTypeObject = {"Thread", 0x65726854 /* 'Thre' */, NULL};
static POBJECT_TYPE PspThreadTypePointer = &PspThreadTypeObject;
NTKERNELAPI POBJECT_TYPE *PsThreadType = &PspThreadTypePointer;

static pthread_key_t PspThreadKey;
static pthread_once_t PspThreadKeyOnce = PTHREAD_ONCE_INIT;

/* A thread leaves: its object is signalled and the thread's own reference goes. */
static void PspThreadExit(void *object)
{
    struct _KTHREAD *t = object;
    KiThread.ThreadObject = NULL;
    KiSignalThreadObject(&t->Header);
    ObfDereferenceObject(t);
}

static void PspCreateThreadKey(void)
{
    pthread_key_create(&PspThreadKey, PspThreadExit);
}

static struct _KTHREAD *PspCreateThreadObject(void)
{
    struct _KTHREAD *t = ObpCreateObject(&PspThreadTypeObject, sizeof *t);
    if (t != NULL) {
        KiInitializeThreadHeader(&t->Header);
        KeInitializeEvent(&t->Started, NotificationEvent, FALSE);
    }
    return t;
}

/* Makes t the calling thread's object; the thread holds one reference until it exits. */
static void PspAttachThread(struct _KTHREAD *t)
{
    pthread_once(&PspThreadKeyOnce, PspCreateThreadKey);
    t->UniqueThread = (HANDLE)(ULONG_PTR)gettid();
    KiThread.ThreadObject = t;
    pthread_setspecific(PspThreadKey, t);
}

PETHREAD NTAPI PsGetCurrentThread(VOID)
{
    if (KiThread.ThreadObject == NULL) {
        /* A thread the host made: it gets an object the first time one is asked for. */
        struct _KTHREAD *t = PspCreateThreadObject();
        if (t == NULL)
            KiBugCheckWithReason(MUST_SUCCEED_POOL_EMPTY, sizeof *t, 0, 0, 0,
                                 "no nonpaged pool left for the current thread's object");
        PspAttachThread(t);
    }
    return KiThread.ThreadObject;
}

PKTHREAD NTAPI KeGetCurrentThread(VOID)
{
    return PsGetCurrentThread();
}

HANDLE NTAPI PsGetThreadId(PETHREAD thread)
{
    return thread->UniqueThread;
}

HANDLE NTAPI PsGetCurrentThreadId(VOID)
{
    return PsGetThreadId(PsGetCurrentThread());
}

BOOLEAN NTAPI PsIsSystemThread(PETHREAD thread)
{
    return thread->SystemThread;
}

static void *PspSystemThreadStartup(void *arg)
{
    struct _KTHREAD *t = arg;
    KiThread.SystemThread = 1;
    ntmem_set_thread_mode(KernelMode);
    KiPrepareThreadForExceptions();
    PspAttachThread(t);
    KeSetEvent(&t->Started, IO_NO_INCREMENT, FALSE);
    t->StartRoutine(t->StartContext);
    return NULL; /* returning ends the thread as PsTerminateSystemThread(STATUS_SUCCESS) does */
}

NTSTATUS NTAPI PsCreateSystemThread(PHANDLE handle, ULONG access, POBJECT_ATTRIBUTES attributes, HANDLE process,
                                    PCLIENT_ID client, PKSTART_ROUTINE start, PVOID context)
{
    if (handle == NULL || start == NULL)
        return STATUS_INVALID_PARAMETER;
    if (process != NULL && process != NtCurrentProcess())
        return STATUS_INVALID_HANDLE; /* there is no other process */
    struct _KTHREAD *t = PspCreateThreadObject();
    if (t == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    t->SystemThread = TRUE;
    t->StartRoutine = start;
    t->StartContext = context;
    NTSTATUS status = ObpInsertHandle(t, access, attributes != NULL ? attributes->Attributes : 0, handle);
    if (!NT_SUCCESS(status)) {
        ObfDereferenceObject(t);
        return status;
    }
    /* The creator's reference becomes the new thread's, dropped when it exits. */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t host;
    int rc = pthread_create(&host, &attr, PspSystemThreadStartup, t);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        NtClose(*handle);
        *handle = NULL;
        ObfDereferenceObject(t);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    if (client != NULL) {
        KeWaitForSingleObject(&t->Started, Executive, KernelMode, FALSE, NULL);
        client->UniqueProcess = PsGetCurrentProcessId();
        client->UniqueThread = t->UniqueThread;
    }
    return STATUS_SUCCESS;
}

NTSTATUS NTAPI PsTerminateSystemThread(NTSTATUS status)
{
    if (!KiThread.SystemThread)
        return STATUS_INVALID_PARAMETER;
    ((struct _KTHREAD *)KiThread.ThreadObject)->ExitStatus = status;
    pthread_exit(NULL);
}
