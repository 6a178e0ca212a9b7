/* dispatch.c - raising exceptions and dispatching them: vectored handlers, continue handlers, the
 * unhandled-exception paths. Frame-based handlers (__try) join the search when they exist. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "os/os.h"
#include "seh/seh.h"

#define RTLP_MAX_HANDLERS 64

typedef struct _RTLP_VECTORED_LIST {
    pthread_mutex_t Lock;
    ULONG Count;
    PVECTORED_EXCEPTION_HANDLER Handlers[RTLP_MAX_HANDLERS];
    PVOID Handles[RTLP_MAX_HANDLERS];
} RTLP_VECTORED_LIST;

static RTLP_VECTORED_LIST RtlpVectoredHandlers = {.Lock = PTHREAD_MUTEX_INITIALIZER};
static RTLP_VECTORED_LIST RtlpContinueHandlers = {.Lock = PTHREAD_MUTEX_INITIALIZER};
static LPTOP_LEVEL_EXCEPTION_FILTER RtlpTopLevelFilter;
static KPROCESSOR_MODE RtlpDefaultMode = KernelMode;
static ULONG_PTR RtlpNextHandle = 1;

__attribute__((constructor)) static void RtlpReadDefaultMode(void)
{
    const char *mode = OsGetEnv("NTMEM_MODE");
    if (mode != NULL && (mode[0] == 'u' || mode[0] == 'U'))
        RtlpDefaultMode = UserMode;
}

NTMEM_API VOID ntmem_set_thread_mode(KPROCESSOR_MODE mode)
{
    KiThread.Mode = (UCHAR)(1 + (mode == UserMode));
}

NTMEM_API KPROCESSOR_MODE ntmem_get_thread_mode(VOID)
{
    return KiThread.Mode ? (KPROCESSOR_MODE)(KiThread.Mode - 1) : RtlpDefaultMode;
}

/* ---- vectored handler lists -------------------------------------------------------------------- */

static PVOID RtlpAddHandler(RTLP_VECTORED_LIST *list, ULONG first, PVECTORED_EXCEPTION_HANDLER handler)
{
    if (handler == NULL)
        return NULL;
    KiPrepareThreadForExceptions();
    pthread_mutex_lock(&list->Lock);
    PVOID handle = NULL;
    if (list->Count < RTLP_MAX_HANDLERS) {
        ULONG at = first ? 0 : list->Count;
        for (ULONG i = list->Count; i > at; i--) {
            list->Handlers[i] = list->Handlers[i - 1];
            list->Handles[i] = list->Handles[i - 1];
        }
        /* Opaque, never a real pointer; shared by both lists, whose locks differ. */
        handle = (PVOID)(__atomic_fetch_add(&RtlpNextHandle, 1, __ATOMIC_RELAXED) << 4);
        list->Handlers[at] = handler;
        list->Handles[at] = handle;
        __atomic_store_n(&list->Count, list->Count + 1, __ATOMIC_RELAXED); /* read unlocked by faults */
    }
    pthread_mutex_unlock(&list->Lock);
    return handle;
}

static ULONG RtlpRemoveHandler(RTLP_VECTORED_LIST *list, PVOID handle)
{
    ULONG removed = 0;
    pthread_mutex_lock(&list->Lock);
    for (ULONG i = 0; i < list->Count; i++) {
        if (list->Handles[i] != handle)
            continue;
        for (ULONG j = i + 1; j < list->Count; j++) {
            list->Handlers[j - 1] = list->Handlers[j];
            list->Handles[j - 1] = list->Handles[j];
        }
        __atomic_store_n(&list->Count, list->Count - 1, __ATOMIC_RELAXED);
        removed = 1;
        break;
    }
    pthread_mutex_unlock(&list->Lock);
    return removed;
}

/* Calls the handlers of a list in order, on a snapshot so handlers may add or remove handlers. TRUE
 * when one returned EXCEPTION_CONTINUE_EXECUTION. */
RTLP_DISPATCH_PATH static BOOLEAN RtlpCallHandlers(RTLP_VECTORED_LIST *list, PEXCEPTION_POINTERS pointers)
{
    PVECTORED_EXCEPTION_HANDLER snapshot[RTLP_MAX_HANDLERS];
    pthread_mutex_lock(&list->Lock);
    ULONG count = list->Count;
    for (ULONG i = 0; i < count; i++)
        snapshot[i] = list->Handlers[i];
    pthread_mutex_unlock(&list->Lock);
    for (ULONG i = 0; i < count; i++)
        if (snapshot[i](pointers) == EXCEPTION_CONTINUE_EXECUTION)
            return TRUE;
    return FALSE;
}

WINBASEAPI PVOID WINAPI AddVectoredExceptionHandler(ULONG first, PVECTORED_EXCEPTION_HANDLER handler)
{
    return RtlpAddHandler(&RtlpVectoredHandlers, first, handler);
}

WINBASEAPI ULONG WINAPI RemoveVectoredExceptionHandler(PVOID handle)
{
    return RtlpRemoveHandler(&RtlpVectoredHandlers, handle);
}

WINBASEAPI PVOID WINAPI AddVectoredContinueHandler(ULONG first, PVECTORED_EXCEPTION_HANDLER handler)
{
    return RtlpAddHandler(&RtlpContinueHandlers, first, handler);
}

WINBASEAPI ULONG WINAPI RemoveVectoredContinueHandler(PVOID handle)
{
    return RtlpRemoveHandler(&RtlpContinueHandlers, handle);
}

/* ---- dispatch ------------------------------------------------------------------------------------ */

BOOLEAN RtlpExceptionsWanted(void)
{
    return KiThread.SehFrames != NULL || __atomic_load_n(&RtlpVectoredHandlers.Count, __ATOMIC_RELAXED) != 0 ||
           (ntmem_get_thread_mode() == UserMode && __atomic_load_n(&RtlpTopLevelFilter, __ATOMIC_RELAXED) != NULL);
}

/* The lowest byte of the thread's stack still in use when the exception was raised: filters jump
 * above it and overwrite what lies between, so that much is saved around each of them. */
static PUCHAR RtlpLiveStackLow(PEXCEPTION_RECORD record, PCONTEXT context, ULONG depth)
{
    if (RtlpOnDispatchStack(context->Rsp)) /* raised by a handler the dispatcher called: its dispatch's */
        return depth > 1 ? RtlpSehThread.Low[depth - 1] : (PUCHAR)~(ULONG_PTR)0;
    PUCHAR low = (PUCHAR)context->Rsp - 128; /* the red zone of the code that raised or faulted */
    if (record->ExceptionCode == STATUS_STACK_OVERFLOW && record->NumberParameters >= 2) {
        /* The stack ran out: nothing below the faulting access is mapped. */
        PUCHAR first = (PUCHAR)PAGE_ALIGN(record->ExceptionInformation[1]) + PAGE_SIZE;
        if (low < first)
            low = first;
    }
    return low;
}

RTLP_DISPATCH_PATH BOOLEAN RtlpDispatchException(PEXCEPTION_RECORD record, PCONTEXT context)
{
    EXCEPTION_POINTERS pointers = {record, context};
    RtlpSehThread.PassRip = 0;
    ULONG depth = ++KiThread.ExceptionDepth;
    if (depth > RTLP_MAX_NESTING) {
        KiBugCheckWithReason(KMODE_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(ULONG)record->ExceptionCode,
                             (ULONG_PTR)record->ExceptionAddress, record->ExceptionInformation[0],
                             record->ExceptionInformation[1],
                             "exceptions kept being raised while exceptions were being dispatched");
    }
    RtlpSehThread.Low[depth] = RtlpLiveStackLow(record, context, depth);
    BOOLEAN continued = RtlpCallHandlers(&RtlpVectoredHandlers, &pointers);
    if (!continued)
        continued = RtlpDispatchFrames(record, context, RtlpSehThread.Low[depth]) == EXCEPTION_CONTINUE_EXECUTION;
    if (continued && (record->ExceptionFlags & EXCEPTION_NONCONTINUABLE)) {
        /* Continuing a noncontinuable exception is itself an exception, which cannot be continued. */
        EXCEPTION_RECORD nested = {.ExceptionCode = STATUS_NONCONTINUABLE_EXCEPTION,
                                   .ExceptionFlags = EXCEPTION_NONCONTINUABLE,
                                   .ExceptionRecord = record,
                                   .ExceptionAddress = record->ExceptionAddress};
        if (!RtlpDispatchException(&nested, context))
            RtlpUnhandledException(&nested, context);
        KiThread.ExceptionDepth--;
        return TRUE;
    }
    if (continued)
        RtlpCallHandlers(&RtlpContinueHandlers, &pointers);
    KiThread.ExceptionDepth--;
    return continued;
}

PCSTR RtlpExceptionName(NTSTATUS code)
{
    switch (code) {
    case STATUS_ACCESS_VIOLATION: return "STATUS_ACCESS_VIOLATION";
    case STATUS_IN_PAGE_ERROR: return "STATUS_IN_PAGE_ERROR";
    case STATUS_GUARD_PAGE_VIOLATION: return "STATUS_GUARD_PAGE_VIOLATION";
    case STATUS_DATATYPE_MISALIGNMENT: return "STATUS_DATATYPE_MISALIGNMENT";
    case STATUS_STACK_OVERFLOW: return "STATUS_STACK_OVERFLOW";
    case STATUS_INTEGER_DIVIDE_BY_ZERO: return "STATUS_INTEGER_DIVIDE_BY_ZERO";
    case STATUS_INTEGER_OVERFLOW: return "STATUS_INTEGER_OVERFLOW";
    case STATUS_ILLEGAL_INSTRUCTION: return "STATUS_ILLEGAL_INSTRUCTION";
    case STATUS_PRIVILEGED_INSTRUCTION: return "STATUS_PRIVILEGED_INSTRUCTION";
    case STATUS_FLOAT_DIVIDE_BY_ZERO: return "STATUS_FLOAT_DIVIDE_BY_ZERO";
    case STATUS_FLOAT_OVERFLOW: return "STATUS_FLOAT_OVERFLOW";
    case STATUS_FLOAT_UNDERFLOW: return "STATUS_FLOAT_UNDERFLOW";
    case STATUS_FLOAT_INEXACT_RESULT: return "STATUS_FLOAT_INEXACT_RESULT";
    case STATUS_FLOAT_INVALID_OPERATION: return "STATUS_FLOAT_INVALID_OPERATION";
    case STATUS_NONCONTINUABLE_EXCEPTION: return "STATUS_NONCONTINUABLE_EXCEPTION";
    case STATUS_ASSERTION_FAILURE: return "STATUS_ASSERTION_FAILURE";
    case STATUS_QUOTA_EXCEEDED: return "STATUS_QUOTA_EXCEEDED";
    case STATUS_INSUFFICIENT_RESOURCES: return "STATUS_INSUFFICIENT_RESOURCES";
    case STATUS_BREAKPOINT: return "STATUS_BREAKPOINT";
    default: return NULL;
    }
}

/* User mode: say what and where, then SIGABRT. Kernel mode: bug check 0x7E on a system thread (P3/P4
 * the record and context), 0x1E on any other (P3/P4 the record's first two parameters). */
void RtlpReportUnhandled(PEXCEPTION_RECORD record, PCONTEXT context)
{
    PCSTR name = RtlpExceptionName(record->ExceptionCode);
    if (ntmem_get_thread_mode() == UserMode) {
        char text[512];
        int n = snprintf(text, sizeof text, "*** Unhandled exception 0x%08X%s%s%s at %p",
                         (unsigned)record->ExceptionCode, name ? " (" : "", name ? name : "", name ? ")" : "",
                         record->ExceptionAddress);
        if ((record->ExceptionCode == STATUS_ACCESS_VIOLATION || record->ExceptionCode == STATUS_IN_PAGE_ERROR) &&
            record->NumberParameters >= 2 && n > 0 && (size_t)n < sizeof text) {
            ULONG_PTR how = record->ExceptionInformation[0];
            n += snprintf(text + n, sizeof text - (size_t)n, ": %s address %p",
                          how == 8 ? "execute at" : how == 1 ? "write to" : "read from",
                          (void *)record->ExceptionInformation[1]);
        }
        if (n > 0 && (size_t)n < sizeof text - 1) {
            text[n++] = '\n';
            OsWriteStderr(text, (size_t)n);
        }
        OsAbort();
    }
    if (KiThread.SystemThread)
        KiBugCheckWithReason(SYSTEM_THREAD_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(ULONG)record->ExceptionCode,
                             (ULONG_PTR)record->ExceptionAddress, (ULONG_PTR)record, (ULONG_PTR)context,
                             "exception 0x%08X%s%s%s at %p was not handled by the system thread that raised it",
                             (unsigned)record->ExceptionCode, name ? " (" : "", name ? name : "", name ? ")" : "",
                             record->ExceptionAddress);
    KiBugCheckWithReason(KMODE_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(ULONG)record->ExceptionCode,
                         (ULONG_PTR)record->ExceptionAddress, record->ExceptionInformation[0],
                         record->ExceptionInformation[1],
                         "exception 0x%08X%s%s%s at %p was not handled (no handler took it)",
                         (unsigned)record->ExceptionCode, name ? " (" : "", name ? name : "", name ? ")" : "",
                         record->ExceptionAddress);
}

BOOLEAN RtlpTopLevelFilterContinues(PEXCEPTION_RECORD record, PCONTEXT context)
{
    if (ntmem_get_thread_mode() != UserMode)
        return FALSE;
    EXCEPTION_POINTERS pointers = {record, context};
    LONG verdict = UnhandledExceptionFilter(&pointers);
    if (verdict == EXCEPTION_EXECUTE_HANDLER)
        _exit((int)record->ExceptionCode); /* the filter asked for the process to end quietly */
    return verdict == EXCEPTION_CONTINUE_EXECUTION && !(record->ExceptionFlags & EXCEPTION_NONCONTINUABLE);
}

void RtlpUnhandledException(PEXCEPTION_RECORD record, PCONTEXT context)
{
    if (!RtlpTopLevelFilterContinues(record, context))
        RtlpReportUnhandled(record, context);
}

WINBASEAPI LPTOP_LEVEL_EXCEPTION_FILTER WINAPI SetUnhandledExceptionFilter(LPTOP_LEVEL_EXCEPTION_FILTER filter)
{
    return __atomic_exchange_n(&RtlpTopLevelFilter, filter, __ATOMIC_ACQ_REL);
}

WINBASEAPI LONG WINAPI UnhandledExceptionFilter(PEXCEPTION_POINTERS pointers)
{
    LPTOP_LEVEL_EXCEPTION_FILTER filter = __atomic_load_n(&RtlpTopLevelFilter, __ATOMIC_ACQUIRE);
    return filter != NULL ? filter(pointers) : EXCEPTION_CONTINUE_SEARCH;
}

/* ---- raising ------------------------------------------------------------------------------------- */

/* A software exception's context is its raise point: the caller's return address and stack. */
RTLP_DISPATCH_PATH static __attribute__((noinline)) void RtlpRaise(PEXCEPTION_RECORD record, PVOID raise_address, PVOID frame)
{
    CONTEXT context;
    (void)frame;
    memset(&context, 0, sizeof context);
    context.ContextFlags = CONTEXT_CONTROL;
    context.Rip = (ULONG64)raise_address;
    /* Everything below this point of the stack is free for filters to use while we dispatch. */
    __asm__ volatile("mov %%rsp, %0" : "=r"(context.Rsp));
    if (record->ExceptionAddress == NULL)
        record->ExceptionAddress = raise_address;
    KiPrepareThreadForExceptions();
    if (!RtlpDispatchSoftware(record, &context))
        RtlpUnhandledException(record, &context);
}

RTLP_DISPATCH_PATH NTSYSAPI VOID NTAPI RtlRaiseException(PEXCEPTION_RECORD record)
{
    RtlpRaise(record, __builtin_return_address(0), __builtin_frame_address(0));
}

RTLP_DISPATCH_PATH WINBASEAPI VOID WINAPI RaiseException(DWORD code, DWORD flags, DWORD count, const ULONG_PTR *arguments)
{
    EXCEPTION_RECORD record = {.ExceptionCode = (NTSTATUS)code, .ExceptionFlags = flags & EXCEPTION_NONCONTINUABLE};
    if (arguments != NULL) {
        record.NumberParameters = count < EXCEPTION_MAXIMUM_PARAMETERS ? count : EXCEPTION_MAXIMUM_PARAMETERS;
        for (ULONG i = 0; i < record.NumberParameters; i++)
            record.ExceptionInformation[i] = arguments[i];
    }
    RtlpRaise(&record, __builtin_return_address(0), __builtin_frame_address(0));
}

/* Exceptions raised by status are noncontinuable: a handler that continues one gets
 * STATUS_NONCONTINUABLE_EXCEPTION, and nothing returns here. */
RTLP_DISPATCH_PATH static DECLSPEC_NORETURN void RtlpRaiseStatus(NTSTATUS status, PVOID raise_address, PVOID frame)
{
    EXCEPTION_RECORD record = {.ExceptionCode = status, .ExceptionFlags = EXCEPTION_NONCONTINUABLE};
    RtlpRaise(&record, raise_address, frame);
    KiBugCheckWithReason(KMODE_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(ULONG)STATUS_NONCONTINUABLE_EXCEPTION,
                         (ULONG_PTR)raise_address, 0, 0, "a handler continued noncontinuable exception 0x%08X",
                         (unsigned)status);
}

RTLP_DISPATCH_PATH NTSYSAPI VOID NTAPI RtlRaiseStatus(NTSTATUS status)
{
    RtlpRaiseStatus(status, __builtin_return_address(0), __builtin_frame_address(0));
}

RTLP_DISPATCH_PATH NTKERNELAPI VOID NTAPI ExRaiseStatus(NTSTATUS status)
{
    RtlpRaiseStatus(status, __builtin_return_address(0), __builtin_frame_address(0));
}

RTLP_DISPATCH_PATH NTKERNELAPI VOID NTAPI ExRaiseAccessViolation(VOID)
{
    RtlpRaiseStatus(STATUS_ACCESS_VIOLATION, __builtin_return_address(0), __builtin_frame_address(0));
}

RTLP_DISPATCH_PATH NTKERNELAPI VOID NTAPI ExRaiseDatatypeMisalignment(VOID)
{
    RtlpRaiseStatus(STATUS_DATATYPE_MISALIGNMENT, __builtin_return_address(0), __builtin_frame_address(0));
}
