/* excpt.h - exception records, the x64 CONTEXT and filter results, shared by both surfaces. */
#ifndef NTMEM_EXCPT_H
#define NTMEM_EXCPT_H

#include "ntdef.h"

NTMEM_BEGIN_DECLS

#define EXCEPTION_EXECUTE_HANDLER 1
#define EXCEPTION_CONTINUE_SEARCH 0
#define EXCEPTION_CONTINUE_EXECUTION (-1)

typedef enum _EXCEPTION_DISPOSITION {
    ExceptionContinueExecution,
    ExceptionContinueSearch,
    ExceptionNestedException,
    ExceptionCollidedUnwind
} EXCEPTION_DISPOSITION;

#define EXCEPTION_NONCONTINUABLE 0x1
#define EXCEPTION_MAXIMUM_PARAMETERS 15

typedef struct _EXCEPTION_RECORD {
    NTSTATUS ExceptionCode;
    ULONG ExceptionFlags;
    struct _EXCEPTION_RECORD *ExceptionRecord; /* a nested exception's cause */
    PVOID ExceptionAddress;
    ULONG NumberParameters;
    ULONG_PTR ExceptionInformation[EXCEPTION_MAXIMUM_PARAMETERS];
} EXCEPTION_RECORD, *PEXCEPTION_RECORD;

typedef struct DECLSPEC_ALIGN(16) _M128A {
    ULONGLONG Low;
    LONGLONG High;
} M128A, *PM128A;

typedef struct DECLSPEC_ALIGN(16) _XSAVE_FORMAT {
    USHORT ControlWord;
    USHORT StatusWord;
    UCHAR TagWord;
    UCHAR Reserved1;
    USHORT ErrorOpcode;
    ULONG ErrorOffset;
    USHORT ErrorSelector;
    USHORT Reserved2;
    ULONG DataOffset;
    USHORT DataSelector;
    USHORT Reserved3;
    ULONG MxCsr;
    ULONG MxCsr_Mask;
    M128A FloatRegisters[8];
    M128A XmmRegisters[16];
    UCHAR Reserved4[96];
} XSAVE_FORMAT, XMM_SAVE_AREA32, *PXMM_SAVE_AREA32;

#define CONTEXT_AMD64 0x00100000L
#define CONTEXT_CONTROL (CONTEXT_AMD64 | 0x1L)
#define CONTEXT_INTEGER (CONTEXT_AMD64 | 0x2L)
#define CONTEXT_SEGMENTS (CONTEXT_AMD64 | 0x4L)
#define CONTEXT_FLOATING_POINT (CONTEXT_AMD64 | 0x8L)
#define CONTEXT_DEBUG_REGISTERS (CONTEXT_AMD64 | 0x10L)
#define CONTEXT_FULL (CONTEXT_CONTROL | CONTEXT_INTEGER | CONTEXT_FLOATING_POINT)

/* The x64 CONTEXT, field for field. ntmem fills the control, integer and floating-point parts from
 * the host's signal context, and writes them back when a handler continues execution. */
typedef struct DECLSPEC_ALIGN(16) _CONTEXT {
    ULONG64 P1Home, P2Home, P3Home, P4Home, P5Home, P6Home;
    ULONG ContextFlags;
    ULONG MxCsr;
    USHORT SegCs, SegDs, SegEs, SegFs, SegGs, SegSs;
    ULONG EFlags;
    ULONG64 Dr0, Dr1, Dr2, Dr3, Dr6, Dr7;
    ULONG64 Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi;
    ULONG64 R8, R9, R10, R11, R12, R13, R14, R15;
    ULONG64 Rip;
    XMM_SAVE_AREA32 FltSave;
    M128A VectorRegister[26];
    ULONG64 VectorControl;
    ULONG64 DebugControl;
    ULONG64 LastBranchToRip;
    ULONG64 LastBranchFromRip;
    ULONG64 LastExceptionToRip;
    ULONG64 LastExceptionFromRip;
} CONTEXT, *PCONTEXT;

typedef struct _EXCEPTION_POINTERS {
    PEXCEPTION_RECORD ExceptionRecord;
    PCONTEXT ContextRecord;
} EXCEPTION_POINTERS, *PEXCEPTION_POINTERS;

/* ---- __try / __except / __finally ------------------------------------------------------------
 * Each __try is a frame on the thread's list. An exception is dispatched in two phases, as on
 * Windows: filters are evaluated, innermost first, while everything still stands (ntmem jumps into
 * the frame to run the filter expression and back, saving and restoring the stack below it); then
 * __finally blocks run innermost first and the chosen handler runs. The frame's state below is
 * ntmem's own; use the keywords, not it.
 *
 * As with every setjmp-based SEH, a local variable that the body changes and a handler, filter or
 * __finally block then reads must be volatile (gcc warns with -Wclobbered). Leaving a __try body
 * with break or continue is reported at run time; return or goto out of a __try/__finally body is
 * reported too (its __finally cannot run), out of a __try/__except body it is fine. break and
 * continue written directly in an __except handler or a __finally block end the __try statement
 * itself (ntmem's hidden loop), not an enclosing loop: set a flag and test it after the __try. */
typedef struct _NTMEM_SEH_JUMP {
    ULONG64 Rbx, Rbp, R12, R13, R14, R15, Rsp, Rip;
} NTMEM_SEH_JUMP;

typedef struct _NTMEM_SEH_FRAME {
    struct _NTMEM_SEH_FRAME *Previous;
    NTMEM_SEH_JUMP Jump;
    volatile LONG Phase;
    LONG Kind;
    volatile LONG FilterResult;
    NTSTATUS Code;
    PEXCEPTION_POINTERS Pointers;
} NTMEM_SEH_FRAME;

#define NTMEM_SEH_PROBE 1
#define NTMEM_SEH_READY 2
#define NTMEM_SEH_FILTERING 5
#define NTMEM_SEH_UNWINDING 8
#define NTMEM_SEH_EXCEPT 1
#define NTMEM_SEH_FINALLY 2

NTMEM_API int ntmem_seh_setjmp(NTMEM_SEH_JUMP *Jump) __attribute__((returns_twice));
NTMEM_API int ntmem_seh_iterate(NTMEM_SEH_FRAME *Frame);
NTMEM_API void ntmem_seh_push(NTMEM_SEH_FRAME *Frame);
NTMEM_API void ntmem_seh_body_done(NTMEM_SEH_FRAME *Frame);
NTMEM_API void ntmem_seh_probe(NTMEM_SEH_FRAME *Frame, LONG Kind);
NTMEM_API DECLSPEC_NORETURN void ntmem_seh_filter_done(NTMEM_SEH_FRAME *Frame, LONG Result);
NTMEM_API void ntmem_seh_scope_end(NTMEM_SEH_FRAME *Frame);

#define __try                                                                                   \
    for (NTMEM_SEH_FRAME __ntmem_seh __attribute__((cleanup(ntmem_seh_scope_end))) = {0};      \
         ntmem_seh_iterate(&__ntmem_seh);)                                                      \
        if (__ntmem_seh.Phase == NTMEM_SEH_READY ? (ntmem_seh_push(&__ntmem_seh),               \
                                                    ntmem_seh_setjmp(&__ntmem_seh.Jump) == 0)   \
                                                 : 0)                                           \
            switch (0) {                                                                        \
            __label__ __ntmem_seh_leave;                                                        \
            default:
#define __except(...) /* a filter may be a comma expression */                                 \
            __ntmem_seh_leave: __attribute__((unused));                                         \
                ntmem_seh_body_done(&__ntmem_seh);                                              \
            }                                                                                   \
        else if (__ntmem_seh.Phase == NTMEM_SEH_PROBE)                                          \
            ntmem_seh_probe(&__ntmem_seh, NTMEM_SEH_EXCEPT);                                    \
        else if (__ntmem_seh.Phase == NTMEM_SEH_FILTERING)                                      \
            ntmem_seh_filter_done(&__ntmem_seh, (LONG)(__VA_ARGS__));                           \
        else
#define __finally                                                                               \
            __ntmem_seh_leave: __attribute__((unused));                                         \
                ntmem_seh_body_done(&__ntmem_seh);                                              \
            }                                                                                   \
        else if (__ntmem_seh.Phase == NTMEM_SEH_PROBE)                                          \
            ntmem_seh_probe(&__ntmem_seh, NTMEM_SEH_FINALLY);                                   \
        else
#define __leave goto __ntmem_seh_leave
#define GetExceptionCode() (__ntmem_seh.Code)
#define GetExceptionInformation() (__ntmem_seh.Pointers)
#define AbnormalTermination() (__ntmem_seh.Phase == NTMEM_SEH_UNWINDING)
#define _exception_code() GetExceptionCode()
#define _exception_info() GetExceptionInformation()
#define _abnormal_termination() AbnormalTermination()

NTMEM_END_DECLS

#endif /* NTMEM_EXCPT_H */
