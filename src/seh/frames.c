/* frames.c - __try frames: their life cycle, and the search and unwind phases over them. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "ex/track.h"
#include "os/os.h"
#include "seh/seh.h"

/* Phases of a frame (the ones the macros test are in excpt.h). */
enum {
    RtlpPhaseInit = 0,
    RtlpPhaseBody = 3,
    RtlpPhaseAfterBody = 4,
    RtlpPhaseHandling = 6,
    RtlpPhaseFinallyNormal = 7,
    RtlpPhaseDone = 9
};

#define RTLP_DISPATCH_STACK (1024 * 1024)

/* These functions move between stacks; ASan's bookkeeping for calls that do not return assumes one
 * stack and would report false errors, so they are left uninstrumented. */
#define RTLP_NO_ASAN __attribute__((no_sanitize("address")))

/*
 * Our own jumps: the compiler treats ntmem_seh_setjmp as returns_twice; RtlpJump restores the
 * callee-saved registers and the stack pointer and resumes after the setjmp with the value 1. They
 * are not the C library's, whose sanitizer interceptors only allow jumps up the stack - and filters
 * are evaluated by jumping up into the frame and back down to the dispatcher.
 */
__asm__(".text\n"
        ".globl ntmem_seh_setjmp\n"
        ".type ntmem_seh_setjmp,@function\n"
        "ntmem_seh_setjmp:\n"
        "  mov %rbx,0(%rdi)\n  mov %rbp,8(%rdi)\n  mov %r12,16(%rdi)\n  mov %r13,24(%rdi)\n"
        "  mov %r14,32(%rdi)\n  mov %r15,40(%rdi)\n  lea 8(%rsp),%rdx\n  mov %rdx,48(%rdi)\n"
        "  mov (%rsp),%rdx\n  mov %rdx,56(%rdi)\n  xor %eax,%eax\n  ret\n"
        ".size ntmem_seh_setjmp,.-ntmem_seh_setjmp\n"
        ".globl RtlpJump\n"
        ".hidden RtlpJump\n"
        ".type RtlpJump,@function\n"
        "RtlpJump:\n"
        "  mov $1,%eax\n"
        "  mov 0(%rdi),%rbx\n  mov 8(%rdi),%rbp\n  mov 16(%rdi),%r12\n  mov 24(%rdi),%r13\n"
        "  mov 32(%rdi),%r14\n  mov 40(%rdi),%r15\n  mov 48(%rdi),%rsp\n  jmp *56(%rdi)\n"
        ".size RtlpJump,.-RtlpJump\n"
        ".globl RtlpCallOnStack\n"
        ".hidden RtlpCallOnStack\n"
        ".type RtlpCallOnStack,@function\n"
        "RtlpCallOnStack:\n"
        "  push %rbp\n  mov %rsp,%rbp\n  and $-16,%rdx\n  mov %rdx,%rsp\n  mov %rdi,%rax\n"
        "  mov %rsi,%rdi\n  call *%rax\n  mov %rbp,%rsp\n  pop %rbp\n  ret\n"
        ".size RtlpCallOnStack,.-RtlpCallOnStack\n");

NTMEM_HIDDEN DECLSPEC_NORETURN void RtlpJump(NTMEM_SEH_JUMP *Jump);
NTMEM_HIDDEN void RtlpCallOnStack(void (*Function)(void *), void *Argument, void *StackTop);

/* ---- the frame life cycle, driven by the __try macros ------------------------------------------ */

static DECLSPEC_NORETURN void RtlpMisuse(const char *what)
{
    char text[256];
    int n = snprintf(text, sizeof text, "*** ntmem: %s\n", what);
    OsWriteStderr(text, n > 0 && (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
    OsAbort();
}

RTLP_NO_ASAN NTMEM_API int ntmem_seh_iterate(NTMEM_SEH_FRAME *f)
{
    switch (f->Phase) {
    case RtlpPhaseInit:
        f->Phase = NTMEM_SEH_PROBE; /* one pass to learn __except or __finally before the body runs */
        return 1;
    case NTMEM_SEH_READY:
        return 1;
    case RtlpPhaseBody:
        RtlpMisuse("break or continue left a __try body; use __leave (ntmem cannot follow them out)");
    case RtlpPhaseAfterBody:
        if (f->Kind == NTMEM_SEH_FINALLY) {
            f->Phase = RtlpPhaseFinallyNormal;
            return 1;
        }
        f->Phase = RtlpPhaseDone;
        return 0;
    case NTMEM_SEH_UNWINDING:
        RtlpJump((NTMEM_SEH_JUMP *)KiThread.SehReturn); /* the unwinding __finally is done */
    default:
        f->Phase = RtlpPhaseDone;
        return 0;
    }
}

NTMEM_API void ntmem_seh_probe(NTMEM_SEH_FRAME *f, LONG kind)
{
    f->Kind = kind;
    f->Phase = NTMEM_SEH_READY;
}

NTMEM_API void ntmem_seh_push(NTMEM_SEH_FRAME *f)
{
    f->Previous = KiThread.SehFrames;
    KiThread.SehFrames = f;
    f->Phase = RtlpPhaseBody;
}

/* The body is done (normally or by __leave): the frame leaves the list before a __finally runs, so
 * an exception inside the __finally goes to the frames outside. */
NTMEM_API void ntmem_seh_body_done(NTMEM_SEH_FRAME *f)
{
    KiThread.SehFrames = f->Previous;
    f->Phase = RtlpPhaseAfterBody;
}

RTLP_NO_ASAN NTMEM_API void ntmem_seh_filter_done(NTMEM_SEH_FRAME *f, LONG result)
{
    f->FilterResult = result;
    RtlpJump((NTMEM_SEH_JUMP *)KiThread.SehReturn);
}

RTLP_NO_ASAN NTMEM_API void ntmem_seh_scope_end(NTMEM_SEH_FRAME *f)
{
    if (f->Phase != RtlpPhaseBody)
        return;
    /* return or goto out of the body */
    if (KiThread.SehFrames == f)
        KiThread.SehFrames = f->Previous;
    if (f->Kind == NTMEM_SEH_FINALLY)
        RtlpMisuse("return or goto left a __try/__finally body, so its __finally block cannot run; use __leave");
}

/* ---- search and unwind --------------------------------------------------------------------------- */

/* Copies of the stack are made byte by byte without instrumentation: they span other functions'
 * frames, redzones included. */
__attribute__((no_sanitize("address", "thread"), noinline)) static void RtlpCopyStack(PUCHAR to, const UCHAR *from,
                                                                                      SIZE_T n)
{
    SIZE_T i = 0;
    for (; i + 8 <= n; i += 8)
        *(volatile ULONG64 *)(to + i) = *(const volatile ULONG64 *)(from + i);
    for (; i < n; i++)
        ((volatile UCHAR *)to)[i] = ((const volatile UCHAR *)from)[i];
}

/* Where a thread keeps the stack a filter may overwrite; grown with mmap (safe in a signal handler),
 * never shrunk. Filters are not nested, so one buffer per thread is enough. */
static __thread PUCHAR RtlpSaveBuffer __attribute__((tls_model("initial-exec")));
static __thread SIZE_T RtlpSaveSize __attribute__((tls_model("initial-exec")));

static PUCHAR RtlpSaveArea(SIZE_T size)
{
    if (size > RtlpSaveSize) {
        SIZE_T want = ALIGN_UP_BY(size, 65536);
        PUCHAR p = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            RtlpMisuse("no memory to evaluate an exception filter");
        if (RtlpSaveBuffer != NULL)
            munmap(RtlpSaveBuffer, RtlpSaveSize);
        RtlpSaveBuffer = p;
        RtlpSaveSize = want;
    }
    return RtlpSaveBuffer;
}

/* The stack between where the exception happened and a frame we jump into holds frames that are
 * gone (for now or for good): ASan must forget their redzones, or it reports their reuse. */
static void RtlpForgetStack(PUCHAR low, PUCHAR high)
{
    if (high > low)
        ExpAsanUnpoison(low, (SIZE_T)(high - low));
}

/* Evaluates one frame's filter: jump into the frame, let it compute, come back, and put back the
 * stack below the frame that the filter's calls may have overwritten. */
RTLP_NO_ASAN static LONG RtlpEvaluateFilter(NTMEM_SEH_FRAME *f, PEXCEPTION_POINTERS pointers, PUCHAR low)
{
    PUCHAR high = (PUCHAR)f->Jump.Rsp;
    SIZE_T size = high > low ? (SIZE_T)(high - low) : 0;
    PUCHAR volatile save = NULL; /* set before the jump, read after it */
    if (size != 0) {
        save = RtlpSaveArea(size);
        RtlpCopyStack(save, low, size);
    }
    NTMEM_SEH_JUMP back;
    PVOID outer = KiThread.SehReturn;
    if (ntmem_seh_setjmp(&back) == 0) {
        f->Code = pointers->ExceptionRecord->ExceptionCode;
        f->Pointers = pointers;
        f->Phase = NTMEM_SEH_FILTERING;
        KiThread.SehReturn = &back;
        RtlpForgetStack(low, high);
        RtlpJump(&f->Jump);
    }
    KiThread.SehReturn = outer;
    if (size != 0)
        RtlpCopyStack(low, save, size);
    f->Phase = RtlpPhaseBody; /* the body is still where the exception left it */
    return f->FilterResult;
}

/* Runs the __finally blocks of the frames inside Target, innermost first, then enters Target's
 * handler. Never returns. */
RTLP_NO_ASAN static DECLSPEC_NORETURN void RtlpUnwindTo(NTMEM_SEH_FRAME *target, NTSTATUS code, PUCHAR low)
{
    while (KiThread.SehFrames != target) {
        NTMEM_SEH_FRAME *g = KiThread.SehFrames;
        KiThread.SehFrames = g->Previous;
        if (g->Kind != NTMEM_SEH_FINALLY)
            continue;
        NTMEM_SEH_JUMP back;
        if (ntmem_seh_setjmp(&back) == 0) {
            g->Phase = NTMEM_SEH_UNWINDING;
            KiThread.SehReturn = &back;
            RtlpForgetStack(low, (PUCHAR)g->Jump.Rsp);
            RtlpJump(&g->Jump);
        }
    }
    KiThread.SehReturn = NULL;
    KiThread.SehFrames = target->Previous;
    target->Code = code;
    target->Pointers = NULL; /* GetExceptionInformation belongs to filters */
    target->Phase = RtlpPhaseHandling;
    KiThread.ExceptionDepth = 0;
    RtlpForgetStack(low, (PUCHAR)target->Jump.Rsp);
    RtlpJump(&target->Jump);
}

RTLP_NO_ASAN LONG RtlpDispatchFrames(PEXCEPTION_RECORD record, PCONTEXT context)
{
    EXCEPTION_POINTERS pointers = {record, context};
    PUCHAR low = (PUCHAR)context->Rsp - 128; /* the red zone of the code that raised or faulted */
    if (record->ExceptionCode == STATUS_STACK_OVERFLOW && record->NumberParameters >= 2) {
        /* The stack ran out: nothing below the faulting access is mapped. */
        PUCHAR first = (PUCHAR)PAGE_ALIGN(record->ExceptionInformation[1]) + PAGE_SIZE;
        if (low < first)
            low = first;
    }
    for (NTMEM_SEH_FRAME *f = KiThread.SehFrames; f != NULL; f = f->Previous) {
        if (f->Kind != NTMEM_SEH_EXCEPT)
            continue;
        LONG verdict = RtlpEvaluateFilter(f, &pointers, low);
        if (verdict < 0)
            return EXCEPTION_CONTINUE_EXECUTION;
        if (verdict > 0) {
            if (KiThread.SehInSignal && KiThread.ExceptionDepth == 1) {
                /* Leave the signal handler first (the fault path resumes in RtlpUnwindTrampoline),
                 * so __finally blocks and the handler do not run inside it. */
                KiThread.SehUnwindTarget = f;
                KiThread.SehUnwindCode = record->ExceptionCode;
                KiThread.SehUnwindLow = low;
                return EXCEPTION_EXECUTE_HANDLER;
            }
            RtlpUnwindTo(f, record->ExceptionCode, low);
        }
    }
    return EXCEPTION_CONTINUE_SEARCH;
}

RTLP_NO_ASAN void RtlpUnwindTrampoline(void)
{
    NTMEM_SEH_FRAME *target = KiThread.SehUnwindTarget;
    KiThread.SehUnwindTarget = NULL;
    RtlpUnwindTo(target, KiThread.SehUnwindCode, KiThread.SehUnwindLow);
}

PVOID RtlpDispatchStackTop(void)
{
    if (KiThread.DispatchStack == NULL) {
        void *stack = mmap(NULL, RTLP_DISPATCH_STACK, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (stack == MAP_FAILED)
            RtlpMisuse("no memory for the exception dispatch stack");
        KiThread.DispatchStack = stack;
    }
    return (PUCHAR)KiThread.DispatchStack + RTLP_DISPATCH_STACK;
}

/* ---- software raises dispatch on a stack of their own ------------------------------------------- */

typedef struct _RTLP_RAISE {
    PEXCEPTION_RECORD Record;
    PCONTEXT Context;
    BOOLEAN Continued;
} RTLP_RAISE;

RTLP_NO_ASAN static void RtlpDispatchOnStack(void *arg)
{
    RTLP_RAISE *r = arg;
    /* The raiser's record and context live on the thread's stack, where filters run: work on copies
     * here, below nothing a filter can reach. */
    EXCEPTION_RECORD record = *r->Record;
    CONTEXT context = *r->Context;
    r->Continued = RtlpDispatchException(&record, &context);
}

RTLP_NO_ASAN BOOLEAN RtlpDispatchSoftware(PEXCEPTION_RECORD record, PCONTEXT context)
{
    /* Filters run below their frames on this stack, so the dispatcher may not stand there. */
    if (KiThread.ExceptionDepth != 0 || KiThread.SehFrames == NULL)
        return RtlpDispatchException(record, context);
    RTLP_RAISE r = {record, context, FALSE};
    RtlpCallOnStack(RtlpDispatchOnStack, &r, RtlpDispatchStackTop());
    return r.Continued;
}
