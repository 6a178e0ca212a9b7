/* ke.h - kernel-core internals shared across modules: per-thread state and bug-check helpers. */
#ifndef NTMEM_KE_H
#define NTMEM_KE_H

#include <wdm.h>

#define NTMEM_LIKELY(x) __builtin_expect(!!(x), 1)
#define NTMEM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define NTMEM_HIDDEN __attribute__((visibility("hidden")))

/* The per-thread kernel state: IRQL, bug-check flag, last error, pool and lookaside caches. Its
 * type lives in wdm.h because the WDK's inline lookaside routines read it there. */
typedef NTMEM_THREAD_STATE KI_THREAD;
#define KiThread ntmem_thread_state

/*
 * KiBugCheckWithReason: KeBugCheckEx with a one-line explanation specific to this occurrence
 * (printf format), printed in place of the generic explanation for the code.
 */
NTMEM_HIDDEN DECLSPEC_NORETURN void KiBugCheckWithReason(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3,
                                                         ULONG_PTR P4, const char *Format, ...)
    __attribute__((format(printf, 6, 7)));

/* The table's one-line explanation for a code (and, where it matters, its parameter 1). */
NTMEM_HIDDEN PCSTR KiBugCheckExplanation(ULONG Code, ULONG_PTR P1);

/* Prints recorded return addresses symbolised, one per line, as a STOP report's stack does. */
NTMEM_HIDDEN void KiPrintFrames(void *const *Frames, int Count);

/* Thread objects are dispatcher objects (ps/thread.c makes them, wait.c signals them). */
NTMEM_HIDDEN VOID KiInitializeThreadHeader(DISPATCHER_HEADER *Header);
NTMEM_HIDDEN VOID KiSignalThreadObject(DISPATCHER_HEADER *Header);

#endif /* NTMEM_KE_H */
