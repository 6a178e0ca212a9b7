/* fault.c - hardware faults as exceptions: SIGSEGV/SIGBUS/SIGFPE/SIGILL become NTSTATUS exceptions. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>

#include "mm/mm.h"
#include "mm/pager.h"
#include "mm/vad.h"
#include "mm/driver_sections.h"
#include "vf/vf.h"
#include "os/os.h"
#include "seh/seh.h"

/* x86 page-fault error code bits, as the kernel reports them in the signal context. */
#define KI_PF_WRITE 0x2
#define KI_PF_INSTRUCTION 0x10

void KiPrepareThreadForExceptions(void)
{
    OsEnsureAltStack();
    RtlpDispatchStackTop(0); /* made here, not in the first fault's signal handler */
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
    VfSpecialPoolFault((PVOID)r->ExceptionInformation[1], how, r->ExceptionAddress); /* 0xD5/0xD6 there */
    KiBugCheckWithReason(PAGE_FAULT_IN_NONPAGED_AREA, r->ExceptionInformation[1],
                         how == 1 ? 1 : how == 8 ? 0x10 : 0, (ULONG_PTR)r->ExceptionAddress, 0,
                         "%s system address %p, which is not valid (freed or never allocated pool?)",
                         how == 1 ? "write to" : how == 8 ? "execution at" : "read from",
                         (void *)r->ExceptionInformation[1]);
}

/* A fault on its way to the dispatcher, laid out on the dispatch stack by the signal handler. */
typedef struct _KI_FAULT {
    CONTEXT Context;
    EXCEPTION_RECORD Record;
    PUCHAR Xsave; /* the interrupted extended state (XSAVE image), or NULL where there is none */
} KI_FAULT;

/* The XSAVE image the kernel put in the signal frame, and its size, when it marked one there. */
#define KI_FP_XSTATE_MAGIC1 0x46505853U
static SIZE_T KiXsaveSize(const ucontext_t *uc)
{
    const UCHAR *fp = (const UCHAR *)uc->uc_mcontext.fpregs;
    if (fp == NULL)
        return 0;
    ULONG magic, size;
    memcpy(&magic, fp + 464, sizeof magic); /* struct _fpx_sw_bytes, in the FXSAVE area's unused tail */
    memcpy(&size, fp + 464 + 16, sizeof size);
    return magic == KI_FP_XSTATE_MAGIC1 && size >= 576 && size <= 65536 ? size : 0;
}

/*
 * The dispatcher's side of a fault, entered when the signal handler returns: vectored handlers,
 * filters, handlers and the top-level filter all run here, outside the signal handler, so they may
 * raise and take exceptions of their own. Never returns: continues execution, unwinds to a handler,
 * or re-executes the faulting instruction for the signal handler to report.
 */
RTLP_DISPATCH_PATH static DECLSPEC_NORETURN void KiDispatchFault(KI_FAULT *fault)
{
    /* Handlers get copies: a filter that edits the context and then declines must not change what
     * is re-executed for the report. */
    EXCEPTION_RECORD record = fault->Record;
    CONTEXT context = fault->Context;
    if (RtlpDispatchException(&record, &context) || RtlpTopLevelFilterContinues(&record, &context)) {
        context.FltSave.MxCsr = context.MxCsr;
        if (fault->Xsave != NULL) {
            /* What a handler did to the legacy registers goes back through the XSAVE image; the
             * header's XSTATE_BV then says x87 and SSE state are present in it. */
            memcpy(fault->Xsave, &context.FltSave, 464);
            ULONG64 present;
            memcpy(&present, fault->Xsave + 512, sizeof present);
            present |= 3;
            memcpy(fault->Xsave + 512, &present, sizeof present);
        }
        RtlpContinue(&context, fault->Xsave);
    }
    /* A guard page's guard is gone now, so running the access again would not fault: report it here. */
    if (fault->Record.ExceptionCode == STATUS_GUARD_PAGE_VIOLATION)
        RtlpReportUnhandled(&fault->Record, &fault->Context);
    /* Nothing took it. Run the instruction again with nothing left to dispatch to, so the signal
     * handler reports it (or passes it to whoever handled faults before us) from where it happened.
     * Should it not fault again - a declining filter fixed its cause - the flag only outlives it
     * until the next exception this thread dispatches. */
    RtlpSehThread.PassRip = fault->Context.Rip;
    RtlpSehThread.PassAddress = fault->Record.ExceptionInformation[1];
    RtlpContinue(&fault->Context, fault->Xsave);
}

/* Lays the fault out on the dispatch stack and makes the signal return into KiDispatchFault. */
static void KiRedirectToDispatcher(ucontext_t *uc, const EXCEPTION_RECORD *record)
{
    greg_t *g = uc->uc_mcontext.gregs;
    PUCHAR top = RtlpDispatchStackTop((ULONG_PTR)g[REG_RSP]);
    RtlpForgetDispatchStack(top);
    SIZE_T xsize = KiXsaveSize(uc);
    PUCHAR xsave = NULL;
    if (xsize != 0) {
        xsave = (PUCHAR)ALIGN_DOWN_BY(top - xsize, 64);
        memcpy(xsave, uc->uc_mcontext.fpregs, xsize);
        top = xsave;
    }
    KI_FAULT *fault = (KI_FAULT *)ALIGN_DOWN_BY(top - sizeof(KI_FAULT), 64);
    KiContextFromSignal(uc, &fault->Context);
    fault->Record = *record;
    fault->Xsave = xsave;
    g[REG_RIP] = (greg_t)KiDispatchFault;
    g[REG_RSP] = (greg_t)((ULONG_PTR)fault - 8); /* as if called */
    g[REG_RDI] = (greg_t)fault;
}

static void KiFaultSignal(int sig, siginfo_t *info, void *ucontext)
{
    ucontext_t *uc = ucontext;
    EXCEPTION_RECORD record;
    KiRecordFromSignal(sig, info, uc, &record);
    if (record.ExceptionCode == STATUS_ACCESS_VIOLATION) {
        /* Pageable memory first - paged pool and registered ranges, which may lie in user space:
         * paged out, trimmed or hidden by IRQL checking, the pager brings the page back (or bug
         * checks at DISPATCH_LEVEL and above) before the VAD path could call it a bad access. */
        if (MiPageableFault((PVOID)record.ExceptionInformation[1], record.ExceptionInformation[0],
                            record.ExceptionAddress))
            return;
        /* Virtual memory's own faults: first writes to write-watched pages are recorded and
         * resumed; a guard page loses its guard and the access becomes a guard-page exception. */
        MI_FAULT_RESULT vm = MiResolveUserFault((PVOID)record.ExceptionInformation[1], record.ExceptionInformation[0] == 1);
        if (vm == MI_FAULT_RESOLVED)
            return;
        if (vm == MI_FAULT_GUARD)
            record.ExceptionCode = STATUS_GUARD_PAGE_VIOLATION;
        /* Kernel code calling into (or reading) a driver's INIT section after it was discarded. */
        if (ntmem_get_thread_mode() == KernelMode)
            MiDriverSectionFault((PVOID)record.ExceptionInformation[1], record.ExceptionInformation[0],
                                 record.ExceptionAddress);
    }
    KiCheckSystemSpaceFault(&record);
    BOOLEAN again = RtlpSehThread.PassRip == (ULONG64)uc->uc_mcontext.gregs[REG_RIP] &&
                    RtlpSehThread.PassAddress == record.ExceptionInformation[1];
    RtlpSehThread.PassRip = 0;
    if (!again && RtlpExceptionsWanted()) {
        KiRedirectToDispatcher(uc, &record);
        return;
    }
    if (OsChainFault(sig, info, ucontext))
        return; /* not ours: a sanitizer or the program had a handler first */
    CONTEXT context;
    KiContextFromSignal(ucontext, &context);
    RtlpReportUnhandled(&record, &context);
}

__attribute__((constructor)) static void KiInstallFaultHandlers(void)
{
    OsInstallFaultHandlers(KiFaultSignal);
    KiPrepareThreadForExceptions();
}
