/* fault.c - hardware faults as exceptions: SIGSEGV/SIGBUS/SIGFPE/SIGILL become NTSTATUS exceptions. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>

#include "mm/mm.h"
#include "os/os.h"
#include "seh/seh.h"

/* x86 page-fault error code bits, as the kernel reports them in the signal context. */
#define KI_PF_WRITE 0x2
#define KI_PF_INSTRUCTION 0x10

void KiPrepareThreadForExceptions(void)
{
    OsEnsureAltStack();
}

static NTSTATUS KiFpeStatus(int code)
{
    switch (code) {
    case FPE_INTOVF: return STATUS_INTEGER_OVERFLOW;
    case FPE_FLTDIV: return STATUS_FLOAT_DIVIDE_BY_ZERO;
    case FPE_FLTOVF: return STATUS_FLOAT_OVERFLOW;
    case FPE_FLTUND: return STATUS_FLOAT_UNDERFLOW;
    case FPE_FLTRES: return STATUS_FLOAT_INEXACT_RESULT;
    case FPE_FLTINV: return STATUS_FLOAT_INVALID_OPERATION;
    case FPE_FLTSUB: return STATUS_ARRAY_BOUNDS_EXCEEDED;
    default: return STATUS_INTEGER_DIVIDE_BY_ZERO;
    }
}

/* Builds the exception record Windows would raise for this signal. */
static void KiRecordFromSignal(int sig, const siginfo_t *info, const ucontext_t *uc, PEXCEPTION_RECORD r)
{
    memset(r, 0, sizeof *r);
    r->ExceptionAddress = (PVOID)uc->uc_mcontext.gregs[REG_RIP];
    if (sig == SIGSEGV || sig == SIGBUS) {
        ULONG_PTR error = (ULONG_PTR)uc->uc_mcontext.gregs[REG_ERR];
        ULONG_PTR address = (ULONG_PTR)info->si_addr;
        r->NumberParameters = 2;
        r->ExceptionInformation[0] = (error & KI_PF_INSTRUCTION) ? 8 : (error & KI_PF_WRITE) ? 1 : 0;
        r->ExceptionInformation[1] = address;
        if (sig == SIGSEGV && OsIsStackOverflow(address)) {
            r->ExceptionCode = STATUS_STACK_OVERFLOW;
        } else if (sig == SIGBUS && info->si_code == BUS_ADRERR) {
            /* The page exists but its backing could not be read (a truncated mapped file). */
            r->ExceptionCode = STATUS_IN_PAGE_ERROR;
            r->NumberParameters = 3;
            r->ExceptionInformation[2] = (ULONG_PTR)(ULONG)STATUS_IN_PAGE_ERROR;
        } else if (sig == SIGBUS && info->si_code == BUS_ADRALN) {
            r->ExceptionCode = STATUS_DATATYPE_MISALIGNMENT;
        } else {
            r->ExceptionCode = STATUS_ACCESS_VIOLATION;
        }
    } else if (sig == SIGFPE) {
        r->ExceptionCode = KiFpeStatus(info->si_code);
    } else {
        r->ExceptionCode = (info->si_code == ILL_PRVOPC || info->si_code == ILL_PRVREG) ? STATUS_PRIVILEGED_INSTRUCTION
                                                                                      : STATUS_ILLEGAL_INSTRUCTION;
    }
}

/*
 * Kernel-mode code touching system space that is not there is not an exception on Windows but
 * PAGE_FAULT_IN_NONPAGED_AREA: freed pool, pages never allocated, a wild pointer into the range.
 */
static void KiCheckSystemSpaceFault(const EXCEPTION_RECORD *r)
{
    if (r->ExceptionCode != STATUS_ACCESS_VIOLATION || !MiIsSystemAddress((PVOID)r->ExceptionInformation[1]) ||
        ntmem_get_thread_mode() != KernelMode)
        return;
    ULONG_PTR how = r->ExceptionInformation[0];
    KiBugCheckWithReason(PAGE_FAULT_IN_NONPAGED_AREA, r->ExceptionInformation[1],
                         how == 1 ? 1 : how == 8 ? 0x10 : 0, (ULONG_PTR)r->ExceptionAddress, 0,
                         "%s system address %p, which is not valid (freed or never allocated pool?)",
                         how == 1 ? "write to" : how == 8 ? "execution at" : "read from",
                         (void *)r->ExceptionInformation[1]);
}

static void KiFaultSignal(int sig, siginfo_t *info, void *ucontext)
{
    EXCEPTION_RECORD record;
    CONTEXT context;
    KiRecordFromSignal(sig, info, ucontext, &record);
    KiCheckSystemSpaceFault(&record);
    KiContextFromSignal(ucontext, &context);
    KiThread.SehInSignal = 1;
    BOOLEAN handled = RtlpDispatchException(&record, &context);
    KiThread.SehInSignal = 0;
    if (handled && KiThread.SehUnwindTarget != NULL) {
        /* An __except handler takes it: return from the signal into the unwind, on the dispatch
         * stack, so that everything after runs outside the signal handler. */
        greg_t *g = ((ucontext_t *)ucontext)->uc_mcontext.gregs;
        g[REG_RIP] = (greg_t)RtlpUnwindTrampoline;
        g[REG_RSP] = (greg_t)((ULONG_PTR)RtlpDispatchStackTop() - 8); /* as if called */
        return;
    }
    if (handled) {
        KiContextToSignal(&context, ucontext); /* a handler may have changed where to resume */
        return;
    }
    if (OsChainFault(sig, info, ucontext))
        return; /* not ours: a sanitizer or the program had a handler first */
    RtlpUnhandledException(&record, &context);
    KiContextToSignal(&context, ucontext);
}

__attribute__((constructor)) static void KiInstallFaultHandlers(void)
{
    OsInstallFaultHandlers(KiFaultSignal);
    KiPrepareThreadForExceptions();
}
