/* ke.h - kernel-core internals shared across modules: per-thread state and bug-check helpers. */
#ifndef NTMEM_KE_H
#define NTMEM_KE_H

#include <wdm.h>

#define NTMEM_LIKELY(x) __builtin_expect(!!(x), 1)
#define NTMEM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define NTMEM_HIDDEN __attribute__((visibility("hidden")))

struct _EXP_POOL_THREAD;
struct _EXP_LOOKASIDE_THREAD;

/* What ntmem keeps per host thread; the "current processor" state of a real kernel. */
typedef struct _KI_THREAD {
    KIRQL Irql;                       /* current IRQL; PASSIVE_LEVEL (0) for new threads */
    UCHAR InBugCheck;                 /* set while this thread reports a bug check */
    ULONG LastError;                  /* Win32 GetLastError/SetLastError */
    struct _EXP_POOL_THREAD *Pool;    /* per-thread pool caches and tag counters (ex/) */
    struct _EXP_POOL_THREAD *PoolFast;/* the same, for the pool's fast paths; NULL while ASan or
                                         Valgrind watch the pool, so every request takes the
                                         tracked slow paths without a test on the fast ones */
    struct _EXP_LOOKASIDE_THREAD *Lookaside; /* per-thread caches of lookaside lists (ex/) */
} KI_THREAD;

/* initial-exec: one fs-relative load on every fast path instead of a __tls_get_addr call. */
extern __thread KI_THREAD KiThread __attribute__((tls_model("initial-exec")));

/*
 * KiBugCheckWithReason: KeBugCheckEx with a one-line explanation specific to this occurrence
 * (printf format), printed in place of the generic explanation for the code.
 */
NTMEM_HIDDEN DECLSPEC_NORETURN void KiBugCheckWithReason(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3,
                                                         ULONG_PTR P4, const char *Format, ...)
    __attribute__((format(printf, 6, 7)));

/* The table's one-line explanation for a code (and, where it matters, its parameter 1). */
NTMEM_HIDDEN PCSTR KiBugCheckExplanation(ULONG Code, ULONG_PTR P1);

#endif /* NTMEM_KE_H */
