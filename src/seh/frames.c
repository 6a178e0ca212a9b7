/* frames.c - __try frames: their life cycle, and the search and unwind phases over them. */
#define _GNU_SOURCE
#include <pthread.h>
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

RTLP_DISPATCH_PATH NTMEM_API int ntmem_seh_iterate(NTMEM_SEH_FRAME *f)
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

RTLP_DISPATCH_PATH NTMEM_API void ntmem_seh_filter_done(NTMEM_SEH_FRAME *f, LONG result)
{
    f->FilterResult = result;
    RtlpJump((NTMEM_SEH_JUMP *)KiThread.SehReturn);
}

RTLP_DISPATCH_PATH NTMEM_API void ntmem_seh_scope_end(NTMEM_SEH_FRAME *f)
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

__thread RTLP_SEH_THREAD RtlpSehThread __attribute__((tls_model("initial-exec")));

/*
 * While a filter or an unwinding __finally block runs, the head of the thread's frame list is a
 * boundary standing for the dispatch that runs it. Frames the filter or __finally creates chain onto
 * it, so an exception raised there searches them first; the search then goes on with the frames
 * older than the one being filtered or unwound (boundary.Frame.Previous), as Windows skips the
 * frames an exception in a filter would otherwise meet twice. An unwind that crosses a boundary
 * abandons that dispatch: it puts back the stack the filter ran over and unwinds the frames the
 * first exception left (Resume) before going on.
 */
typedef struct _RTLP_BOUNDARY {
    NTMEM_SEH_FRAME Frame;   /* Kind RTLP_KIND_BOUNDARY; Previous: where the search goes on */
    NTMEM_SEH_FRAME *Resume; /* a filter's: the frames from the first exception down; NULL for a __finally */
    PUCHAR Low;              /* a filter's: the stack saved while it runs, to put back if abandoned */
    PUCHAR Save;
    SIZE_T Size;
    NTMEM_SEH_JUMP *Return;  /* where the filter or __finally returns to its dispatcher */
    UCHAR Depth;             /* that dispatcher's nesting depth */
} RTLP_BOUNDARY;

#define RTLP_KIND_BOUNDARY 3

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

/* Where a dispatch at this depth keeps the stack a filter may overwrite; grown with mmap (safe in a
 * signal handler), never shrunk. Each nesting depth has its own: a filter's exception has filters. */
static PUCHAR RtlpSaveArea(ULONG depth, SIZE_T size)
{
    RTLP_SEH_THREAD *t = &RtlpSehThread;
    if (size > t->SaveSize[depth]) {
        SIZE_T want = ALIGN_UP_BY(size, 65536);
        PUCHAR p = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            RtlpMisuse("no memory to evaluate an exception filter");
        if (t->Save[depth] != NULL)
            munmap(t->Save[depth], t->SaveSize[depth]);
        t->Save[depth] = p;
        t->SaveSize[depth] = want;
    }
    return t->Save[depth];
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
RTLP_DISPATCH_PATH static LONG RtlpEvaluateFilter(NTMEM_SEH_FRAME *f, PEXCEPTION_POINTERS pointers, PUCHAR low)
{
    PUCHAR high = (PUCHAR)f->Jump.Rsp;
    SIZE_T size = high > low ? (SIZE_T)(high - low) : 0;
    NTMEM_SEH_JUMP back;
    RTLP_BOUNDARY boundary = {.Frame = {.Previous = f->Previous, .Kind = RTLP_KIND_BOUNDARY},
                              .Resume = KiThread.SehFrames,
                              .Low = low,
                              .Size = size,
                              .Save = size != 0 ? RtlpSaveArea(KiThread.ExceptionDepth, size) : NULL,
                              .Return = &back,
                              .Depth = KiThread.ExceptionDepth};
    PVOID outer = KiThread.SehReturn;
    if (size != 0)
        RtlpCopyStack(boundary.Save, low, size);
    if (ntmem_seh_setjmp(&back) == 0) {
        f->Code = pointers->ExceptionRecord->ExceptionCode;
        f->Pointers = pointers;
        f->Phase = NTMEM_SEH_FILTERING;
        KiThread.SehFrames = &boundary.Frame;
        KiThread.SehReturn = &back;
        RtlpForgetStack(low, high);
        RtlpJump(&f->Jump);
    }
    KiThread.SehFrames = boundary.Resume;
    KiThread.SehReturn = outer;
    if (size != 0)
        RtlpCopyStack(low, boundary.Save, size);
    f->Phase = RtlpPhaseBody; /* the body is still where the exception left it */
    return f->FilterResult;
}

/* Runs the __finally blocks of the frames inside Target, innermost first, then enters Target's
 * handler. Never returns. */
RTLP_DISPATCH_PATH static DECLSPEC_NORETURN void RtlpUnwindTo(NTMEM_SEH_FRAME *target, NTSTATUS code, PUCHAR low)
{
    while (KiThread.SehFrames != target) {
        NTMEM_SEH_FRAME *g = KiThread.SehFrames;
        if (g == NULL)
            RtlpMisuse("an exception handler's frame is no longer on the thread's frame list");
        if (g->Kind == RTLP_KIND_BOUNDARY) {
            /* Leaving the filter or __finally block the exception came from: the dispatch running
             * it is abandoned. A filter's stack goes back to what the first exception left, for
             * the __finally blocks of the frames it had not unwound yet. */
            RTLP_BOUNDARY *b = (RTLP_BOUNDARY *)g;
            if (b->Size != 0) {
                RtlpCopyStack(b->Low, b->Save, b->Size);
                if (b->Low < low)
                    low = b->Low;
            }
            KiThread.SehFrames = b->Resume != NULL ? b->Resume : g->Previous;
            continue;
        }
        KiThread.SehFrames = g->Previous;
        if (g->Kind != NTMEM_SEH_FINALLY)
            continue;
        NTMEM_SEH_JUMP back;
        RTLP_BOUNDARY boundary = {.Frame = {.Previous = g->Previous, .Kind = RTLP_KIND_BOUNDARY},
                                  .Return = &back,
                                  .Depth = KiThread.ExceptionDepth};
        if (ntmem_seh_setjmp(&back) == 0) {
            g->Phase = NTMEM_SEH_UNWINDING;
            KiThread.SehFrames = &boundary.Frame;
            KiThread.SehReturn = &back;
            RtlpForgetStack(low, (PUCHAR)g->Jump.Rsp);
            RtlpJump(&g->Jump);
        }
        KiThread.SehFrames = boundary.Frame.Previous;
    }
    /* The dispatches still running are those whose filter or __finally encloses the handler: the
     * nearest boundary beyond it says which, and where that filter or __finally returns. */
    NTMEM_SEH_FRAME *outer = target->Previous;
    while (outer != NULL && outer->Kind != RTLP_KIND_BOUNDARY)
        outer = outer->Previous;
    KiThread.SehReturn = outer != NULL ? ((RTLP_BOUNDARY *)outer)->Return : NULL;
    KiThread.ExceptionDepth = outer != NULL ? ((RTLP_BOUNDARY *)outer)->Depth : 0;
    KiThread.SehFrames = target->Previous;
    target->Code = code;
    target->Pointers = NULL; /* GetExceptionInformation belongs to filters */
    target->Phase = RtlpPhaseHandling;
    RtlpForgetStack(low, (PUCHAR)target->Jump.Rsp);
    RtlpJump(&target->Jump);
}

RTLP_DISPATCH_PATH LONG RtlpDispatchFrames(PEXCEPTION_RECORD record, PCONTEXT context, PUCHAR low)
{
    EXCEPTION_POINTERS pointers = {record, context};
    for (NTMEM_SEH_FRAME *f = KiThread.SehFrames; f != NULL; f = f->Previous) {
        if (f->Kind != NTMEM_SEH_EXCEPT)
            continue;
        LONG verdict = RtlpEvaluateFilter(f, &pointers, low);
        if (verdict < 0)
            return EXCEPTION_CONTINUE_EXECUTION;
        if (verdict > 0)
            RtlpUnwindTo(f, record->ExceptionCode, low);
    }
    return EXCEPTION_CONTINUE_SEARCH;
}

/* ---- the dispatch stack -------------------------------------------------------------------------- */

static pthread_key_t RtlpSehKey;
static pthread_once_t RtlpSehKeyOnce = PTHREAD_ONCE_INIT;

/* A thread that dispatched exceptions leaves: its dispatch stack and save areas go. */
static void RtlpSehThreadExit(void *stack)
{
    munmap(stack, RTLP_DISPATCH_STACK);
    KiThread.DispatchStack = NULL;
    for (ULONG i = 0; i <= RTLP_MAX_NESTING; i++) {
        if (RtlpSehThread.Save[i] != NULL)
            munmap(RtlpSehThread.Save[i], RtlpSehThread.SaveSize[i]);
        RtlpSehThread.Save[i] = NULL;
        RtlpSehThread.SaveSize[i] = 0;
    }
}

static void RtlpCreateSehKey(void)
{
    pthread_key_create(&RtlpSehKey, RtlpSehThreadExit);
}

static PUCHAR RtlpDispatchStackBase(void)
{
    if (KiThread.DispatchStack == NULL) {
        /* First made outside signal handlers: threads prepare for exceptions (and so make this)
         * when they first use ntmem, before anything can fault. */
        void *stack = mmap(NULL, RTLP_DISPATCH_STACK, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (stack == MAP_FAILED)
            RtlpMisuse("no memory for the exception dispatch stack");
        KiThread.DispatchStack = stack;
        pthread_once(&RtlpSehKeyOnce, RtlpCreateSehKey);
        pthread_setspecific(RtlpSehKey, stack);
    }
    return KiThread.DispatchStack;
}

BOOLEAN RtlpOnDispatchStack(ULONG_PTR sp)
{
    ULONG_PTR base = (ULONG_PTR)KiThread.DispatchStack;
    return base != 0 && sp > base && sp <= base + RTLP_DISPATCH_STACK;
}

PUCHAR RtlpDispatchStackTop(ULONG_PTR sp)
{
    PUCHAR top = RtlpDispatchStackBase() + RTLP_DISPATCH_STACK;
    /* A dispatcher waiting for a filter or __finally block keeps its frames above its jump point;
     * one running a handler is above the handler's stack pointer, red zone included. */
    const NTMEM_SEH_JUMP *waiting = KiThread.SehReturn;
    if (waiting != NULL && RtlpOnDispatchStack(waiting->Rsp) && (PUCHAR)waiting->Rsp - 512 < top)
        top = (PUCHAR)waiting->Rsp - 512;
    if (RtlpOnDispatchStack(sp) && (PUCHAR)sp - 512 < top)
        top = (PUCHAR)sp - 512;
    return (PUCHAR)ALIGN_DOWN_BY(top, 64);
}

void RtlpForgetDispatchStack(PVOID below)
{
    PUCHAR base = RtlpDispatchStackBase();
    PUCHAR from = (PUCHAR)below - 262144 > base ? (PUCHAR)below - 262144 : base;
    RtlpForgetStack(from, below);
}

/* ---- software raises dispatch on the dispatch stack ---------------------------------------------- */

typedef struct _RTLP_RAISE {
    PEXCEPTION_RECORD Record;
    PCONTEXT Context;
    BOOLEAN Continued;
} RTLP_RAISE;

RTLP_DISPATCH_PATH static void RtlpDispatchOnStack(void *arg)
{
    RTLP_RAISE *r = arg;
    /* The raiser's record and context live on the thread's stack, where filters run: work on copies
     * here, below nothing a filter can reach. */
    EXCEPTION_RECORD record = *r->Record;
    CONTEXT context = *r->Context;
    r->Continued = RtlpDispatchException(&record, &context);
}

RTLP_DISPATCH_PATH BOOLEAN RtlpDispatchSoftware(PEXCEPTION_RECORD record, PCONTEXT context)
{
    /* Filters run below their frames on the thread's stack, so the dispatcher may not stand there;
     * without frames, or when already on the dispatch stack (a vectored handler raised), it may. */
    if (KiThread.SehFrames == NULL || RtlpOnDispatchStack(context->Rsp))
        return RtlpDispatchException(record, context);
    RTLP_RAISE r = {record, context, FALSE};
    PUCHAR top = RtlpDispatchStackTop(context->Rsp);
    RtlpForgetDispatchStack(top);
    RtlpCallOnStack(RtlpDispatchOnStack, &r, top);
    return r.Continued;
}
