/* seh.h - exception dispatch internals: the dispatcher and the unhandled-exception paths. */
#ifndef NTMEM_SEH_H
#define NTMEM_SEH_H

#include <ntmem.h>
#include <windows.h>
#include "ke/ke.h"

/* Runs the vectored handlers (and, when continuing, the continue handlers) for an exception. TRUE
 * when a handler asked to continue execution with *Context. */
NTMEM_HIDDEN BOOLEAN RtlpDispatchException(PEXCEPTION_RECORD Record, PCONTEXT Context);
/* The frame-based search (__try/__except), after the vectored handlers. Returns
 * EXCEPTION_CONTINUE_EXECUTION or EXCEPTION_CONTINUE_SEARCH; a filter that says EXECUTE_HANDLER
 * unwinds to its handler and this does not return. */
NTMEM_HIDDEN LONG RtlpDispatchFrames(PEXCEPTION_RECORD Record, PCONTEXT Context);
/* RtlpDispatchException for a software raise: moved to a stack of its own when frames may need
 * their filters evaluated, since those run on the thread's stack below the frames. */
NTMEM_HIDDEN BOOLEAN RtlpDispatchSoftware(PEXCEPTION_RECORD Record, PCONTEXT Context);
/* The fault path's way out of a signal handler into an unwind (see RtlpDispatchFrames). */
NTMEM_HIDDEN void RtlpUnwindTrampoline(void);
NTMEM_HIDDEN PVOID RtlpDispatchStackTop(void);
/* No handler took the exception: the unhandled-exception filter in user mode, else bug check 0x1E
 * (kernel mode). Returns only when the filter says to continue execution. */
NTMEM_HIDDEN void RtlpUnhandledException(PEXCEPTION_RECORD Record, PCONTEXT Context);
/* Gives the calling thread what exception dispatch needs (an alternate signal stack). */
NTMEM_HIDDEN void KiPrepareThreadForExceptions(void);
/* Host signal context <-> CONTEXT. */
NTMEM_HIDDEN void KiContextFromSignal(const void *UContext, PCONTEXT Context);
NTMEM_HIDDEN void KiContextToSignal(const CONTEXT *Context, void *UContext);
/* The symbolic name of an exception code, or NULL. */
NTMEM_HIDDEN PCSTR RtlpExceptionName(NTSTATUS Code);

#endif /* NTMEM_SEH_H */
