/* seh.h - exception dispatch internals: the dispatcher, the dispatch stack and the unhandled paths. */
#ifndef NTMEM_SEH_H
#define NTMEM_SEH_H

#include <ntmem.h>
#include <windows.h>
#include "ke/ke.h"

/* Functions that move between stacks, or that jumps leave without returning, are not instrumented:
 * ASan's bookkeeping of frames would report false errors, and TSan's shadow call stack would grow
 * by every frame that never returns. */
#define RTLP_DISPATCH_PATH __attribute__((no_sanitize("address", "thread")))

#define RTLP_MAX_NESTING 8 /* exceptions raised while dispatching exceptions, before giving up */

/* Per-thread dispatch state that only the exception code uses. */
typedef struct _RTLP_SEH_THREAD {
    PUCHAR Low[RTLP_MAX_NESTING + 1];      /* per depth: the lowest live byte of the thread's stack */
    PUCHAR Save[RTLP_MAX_NESTING + 1];     /* per depth: where the stack under a running filter is kept */
    SIZE_T SaveSize[RTLP_MAX_NESTING + 1];
    ULONG64 PassRip;                       /* a fault no one took, re-executed to report it (fault.c) */
    ULONG64 PassAddress;
} RTLP_SEH_THREAD;

extern NTMEM_HIDDEN __thread RTLP_SEH_THREAD RtlpSehThread __attribute__((tls_model("initial-exec")));

/* Dispatches an exception: vectored handlers, then the frames (__try/__except), then, when continuing,
 * the continue handlers. TRUE when execution continues with *Context; a filter that says
 * EXECUTE_HANDLER unwinds to its handler and this does not return. Runs outside the thread's stack
 * whenever frames exist (their filters run on it). */
NTMEM_HIDDEN BOOLEAN RtlpDispatchException(PEXCEPTION_RECORD Record, PCONTEXT Context);
/* The frame-based search after the vectored handlers: EXCEPTION_CONTINUE_EXECUTION or
 * EXCEPTION_CONTINUE_SEARCH, or an unwind that does not return. Low is the lowest live byte of the
 * thread's stack. */
NTMEM_HIDDEN LONG RtlpDispatchFrames(PEXCEPTION_RECORD Record, PCONTEXT Context, PUCHAR Low);
/* RtlpDispatchException for a software raise, moved to the dispatch stack when needed. */
NTMEM_HIDDEN BOOLEAN RtlpDispatchSoftware(PEXCEPTION_RECORD Record, PCONTEXT Context);
/* Where on the thread's dispatch stack a new dispatch may start: below any dispatch already running
 * there and below Sp when Sp is on it. */
NTMEM_HIDDEN PUCHAR RtlpDispatchStackTop(ULONG_PTR Sp);
NTMEM_HIDDEN BOOLEAN RtlpOnDispatchStack(ULONG_PTR Sp);
/* A dispatch starting at Below may reuse dispatch-stack bytes whose frames were abandoned by jumps:
 * ASan must forget their redzones. */
NTMEM_HIDDEN void RtlpForgetDispatchStack(PVOID Below);
/* Resumes execution with Context (and the extended processor state in Xsave, an XSAVE image, when
 * not NULL) without writing the 128-byte red zone below the target stack pointer. */
NTMEM_HIDDEN DECLSPEC_NORETURN void RtlpContinue(const CONTEXT *Context, void *Xsave);
/* TRUE when something may take an exception on this thread: vectored handlers, __try frames, or a
 * top-level filter in user mode. Without any, faults are reported where they happen. */
NTMEM_HIDDEN BOOLEAN RtlpExceptionsWanted(void);
/* The top-level filter's say on an exception nothing else took (user mode only): TRUE to continue
 * execution; EXCEPTION_EXECUTE_HANDLER ends the process. */
NTMEM_HIDDEN BOOLEAN RtlpTopLevelFilterContinues(PEXCEPTION_RECORD Record, PCONTEXT Context);
/* No one took the exception: a report and SIGABRT in user mode, bug check 0x7E on a system thread,
 * 0x1E on another kernel-mode thread. */
NTMEM_HIDDEN DECLSPEC_NORETURN void RtlpReportUnhandled(PEXCEPTION_RECORD Record, PCONTEXT Context);
/* Both of the above in order: returns only when the top-level filter continues execution. */
NTMEM_HIDDEN void RtlpUnhandledException(PEXCEPTION_RECORD Record, PCONTEXT Context);
/* Gives the calling thread what exception dispatch needs (an alternate signal stack). */
NTMEM_HIDDEN void KiPrepareThreadForExceptions(void);
/* Host signal context -> CONTEXT. */
NTMEM_HIDDEN void KiContextFromSignal(const void *UContext, PCONTEXT Context);
/* The symbolic name of an exception code, or NULL. */
NTMEM_HIDDEN PCSTR RtlpExceptionName(NTSTATUS Code);

#endif /* NTMEM_SEH_H */
