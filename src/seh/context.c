/* context.c - the x64 CONTEXT: filled from a Linux signal context, and loaded to resume execution. */
#define _GNU_SOURCE
#include <stddef.h>
#include <string.h>
#include <ucontext.h>

#include "seh/seh.h"

void KiContextFromSignal(const void *ucontext, PCONTEXT c)
{
    const ucontext_t *uc = ucontext;
    const greg_t *g = uc->uc_mcontext.gregs;
    memset(c, 0, sizeof *c);
    c->ContextFlags = CONTEXT_FULL;
    c->Rax = (ULONG64)g[REG_RAX];
    c->Rcx = (ULONG64)g[REG_RCX];
    c->Rdx = (ULONG64)g[REG_RDX];
    c->Rbx = (ULONG64)g[REG_RBX];
    c->Rsp = (ULONG64)g[REG_RSP];
    c->Rbp = (ULONG64)g[REG_RBP];
    c->Rsi = (ULONG64)g[REG_RSI];
    c->Rdi = (ULONG64)g[REG_RDI];
    c->R8 = (ULONG64)g[REG_R8];
    c->R9 = (ULONG64)g[REG_R9];
    c->R10 = (ULONG64)g[REG_R10];
    c->R11 = (ULONG64)g[REG_R11];
    c->R12 = (ULONG64)g[REG_R12];
    c->R13 = (ULONG64)g[REG_R13];
    c->R14 = (ULONG64)g[REG_R14];
    c->R15 = (ULONG64)g[REG_R15];
    c->Rip = (ULONG64)g[REG_RIP];
    c->EFlags = (ULONG)g[REG_EFL];
    c->SegCs = (USHORT)(g[REG_CSGSFS] & 0xFFFF);
    if (uc->uc_mcontext.fpregs != NULL) {
        /* The kernel's fxsave image has the XMM_SAVE_AREA32 layout. */
        memcpy(&c->FltSave, uc->uc_mcontext.fpregs, sizeof c->FltSave);
        c->MxCsr = c->FltSave.MxCsr;
    }
}

/*
 * RtlpContinue(Context, Xsave): the extended state first (XRSTOR of the image the kernel saved, or
 * FXRSTOR of the CONTEXT's legacy area), then the general registers. The target's last three words
 * (RAX, RFLAGS, RIP) are staged 152 bytes below its stack pointer, under the 128-byte red zone the
 * interrupted code may still be using, and popped from there: nothing the target can see changes.
 */
#define KI_CONTEXT_OFFSET_CHECK(field, offset) _Static_assert(offsetof(CONTEXT, field) == (offset), #field)
KI_CONTEXT_OFFSET_CHECK(EFlags, 0x44);
KI_CONTEXT_OFFSET_CHECK(Rax, 0x78);
KI_CONTEXT_OFFSET_CHECK(Rsp, 0x98);
KI_CONTEXT_OFFSET_CHECK(R15, 0xf0);
KI_CONTEXT_OFFSET_CHECK(Rip, 0xf8);
KI_CONTEXT_OFFSET_CHECK(FltSave, 0x100);

__asm__(".text\n"
        ".globl RtlpContinue\n"
        ".hidden RtlpContinue\n"
        ".type RtlpContinue,@function\n"
        "RtlpContinue:\n"
        "  test %rsi,%rsi\n  jz 1f\n"
        "  mov $-1,%eax\n  mov $-1,%edx\n  xrstor64 (%rsi)\n  jmp 2f\n"
        "1: fxrstor64 0x100(%rdi)\n"
        "2: mov 0x98(%rdi),%rsp\n  sub $152,%rsp\n"
        "  mov 0x78(%rdi),%rax\n  mov %rax,0(%rsp)\n"
        "  mov 0x44(%rdi),%eax\n  mov %rax,8(%rsp)\n"
        "  mov 0xf8(%rdi),%rax\n  mov %rax,16(%rsp)\n"
        "  mov 0x80(%rdi),%rcx\n  mov 0x88(%rdi),%rdx\n  mov 0x90(%rdi),%rbx\n  mov 0xa0(%rdi),%rbp\n"
        "  mov 0xa8(%rdi),%rsi\n  mov 0xb8(%rdi),%r8\n  mov 0xc0(%rdi),%r9\n  mov 0xc8(%rdi),%r10\n"
        "  mov 0xd0(%rdi),%r11\n  mov 0xd8(%rdi),%r12\n  mov 0xe0(%rdi),%r13\n  mov 0xe8(%rdi),%r14\n"
        "  mov 0xf0(%rdi),%r15\n  mov 0xb0(%rdi),%rdi\n"
        "  pop %rax\n  popfq\n  ret $128\n"
        ".size RtlpContinue,.-RtlpContinue\n");
