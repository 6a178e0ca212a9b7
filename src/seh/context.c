/* context.c - the x64 CONTEXT from and to a Linux signal context. */
#define _GNU_SOURCE
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

void KiContextToSignal(const CONTEXT *c, void *ucontext)
{
    ucontext_t *uc = ucontext;
    greg_t *g = uc->uc_mcontext.gregs;
    g[REG_RAX] = (greg_t)c->Rax;
    g[REG_RCX] = (greg_t)c->Rcx;
    g[REG_RDX] = (greg_t)c->Rdx;
    g[REG_RBX] = (greg_t)c->Rbx;
    g[REG_RSP] = (greg_t)c->Rsp;
    g[REG_RBP] = (greg_t)c->Rbp;
    g[REG_RSI] = (greg_t)c->Rsi;
    g[REG_RDI] = (greg_t)c->Rdi;
    g[REG_R8] = (greg_t)c->R8;
    g[REG_R9] = (greg_t)c->R9;
    g[REG_R10] = (greg_t)c->R10;
    g[REG_R11] = (greg_t)c->R11;
    g[REG_R12] = (greg_t)c->R12;
    g[REG_R13] = (greg_t)c->R13;
    g[REG_R14] = (greg_t)c->R14;
    g[REG_R15] = (greg_t)c->R15;
    g[REG_RIP] = (greg_t)c->Rip;
    g[REG_EFL] = (greg_t)c->EFlags;
    if (uc->uc_mcontext.fpregs != NULL)
        memcpy(uc->uc_mcontext.fpregs, &c->FltSave, sizeof c->FltSave);
}
