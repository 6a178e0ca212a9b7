/* bugcheck.c - KeBugCheckEx: the STOP report, a symbolised backtrace, bug-check callbacks, SIGABRT. */
#define _GNU_SOURCE
#include "ke/ke.h"
#include "os/os.h"

#include <ntmem.h>

#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef NTMEM_HAVE_LIBDW
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#endif

/* Defined in bugcheck_names.c. */

#define KIP_MAX_FRAMES 48

static NTMEM_BUGCHECK_HOOK KipHook;
static int KipReportOwner; /* 1 once a thread has started the (single) report */

static LIST_ENTRY KipCallbackList = {&KipCallbackList, &KipCallbackList};
static KSPIN_LOCK KipCallbackLock;

/* ---- output that needs no heap: the heap may be what is corrupt ------------------------------- */

static void __attribute__((format(printf, 1, 2))) KipPrint(const char *Format, ...)
{
    char Line[1024];
    va_list Args;

    va_start(Args, Format);
    int Length = vsnprintf(Line, sizeof Line, Format, Args);
    va_end(Args);
    if (Length < 0)
        return;
    OsWriteStderr(Line, (size_t)Length < sizeof Line ? (size_t)Length : sizeof Line - 1);
}

static const char *KipBaseName(const char *Path)
{
    const char *Slash = Path != NULL ? strrchr(Path, '/') : NULL;
    return Slash != NULL ? Slash + 1 : (Path != NULL ? Path : "?");
}

/* ---- backtrace symbolisation ------------------------------------------------------------------ */

/* The fallback: dladdr sees only exported (dynamic) symbols, so hidden and static functions of
 * libntmem and of the program print as offsets into their module. */
static void KipPrintFrameDladdr(int Index, void *Pc)
{
    Dl_info Info;

    if (dladdr((char *)Pc - 1, &Info) == 0) {
        KipPrint("  #%-2d %p ??\n", Index, Pc);
        return;
    }
    if (Info.dli_sname != NULL)
        KipPrint("  #%-2d %p %s+0x%lx [%s]\n", Index, Pc, Info.dli_sname,
                 (unsigned long)((char *)Pc - (char *)Info.dli_saddr), KipBaseName(Info.dli_fname));
    else
        KipPrint("  #%-2d %p %s+0x%lx\n", Index, Pc, KipBaseName(Info.dli_fname),
                 (unsigned long)((char *)Pc - (char *)Info.dli_fbase));
}

#ifdef NTMEM_HAVE_LIBDW
static char *KipDebuginfoPath;
static const Dwfl_Callbacks KipDwflCallbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &KipDebuginfoPath,
};

static Dwfl *KipOpenDwfl(VOID)
{
    Dwfl *Session = dwfl_begin(&KipDwflCallbacks);

    if (Session == NULL)
        return NULL;
    if (dwfl_linux_proc_report(Session, getpid()) != 0 || dwfl_report_end(Session, NULL, NULL) != 0) {
        dwfl_end(Session);
        return NULL;
    }
    return Session;
}

/* libdw reads the symbol table (static and hidden functions included) and the DWARF line table. */
static BOOLEAN KipPrintFrameDwarf(Dwfl *Session, int Index, void *Pc)
{
    /* Return addresses point after the call; look up the call instruction itself. */
    Dwarf_Addr Address = (Dwarf_Addr)(ULONG_PTR)Pc - 1;
    Dwfl_Module *Module = dwfl_addrmodule(Session, Address);
    GElf_Off Offset = 0;
    GElf_Sym Symbol;

    if (Module == NULL)
        return FALSE;
    const char *Function = dwfl_module_addrinfo(Module, Address, &Offset, &Symbol, NULL, NULL, NULL);
    if (Function == NULL)
        return FALSE;
    const char *ModuleName = dwfl_module_info(Module, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

    Dwfl_Line *Line = dwfl_module_getsrc(Module, Address);
    Dwarf_Addr Bias;
    Dwarf_Line *DwarfLine = Line != NULL ? dwfl_dwarf_line(Line, &Bias) : NULL;
    int LineNumber = 0;
    const char *Source = DwarfLine != NULL ? dwarf_linesrc(DwarfLine, NULL, NULL) : NULL;
    if (Source != NULL && dwarf_lineno(DwarfLine, &LineNumber) == 0)
        KipPrint("  #%-2d %p %s+0x%lx (%s:%d) [%s]\n", Index, Pc, Function, (unsigned long)Offset + 1,
                 KipBaseName(Source), LineNumber, KipBaseName(ModuleName));
    else
        KipPrint("  #%-2d %p %s+0x%lx [%s]\n", Index, Pc, Function, (unsigned long)Offset + 1,
                 KipBaseName(ModuleName));
    return TRUE;
}
#endif

/* Prints the caller's stack, leaving out the given number of innermost frames (the report itself). */
static __attribute__((noinline)) void KipPrintBacktrace(int Skip)
{
    void *Frames[KIP_MAX_FRAMES];
    int Count = backtrace(Frames, KIP_MAX_FRAMES);

    Skip++; /* this function */
    KipPrint("Stack:\n");
#ifdef NTMEM_HAVE_LIBDW
    Dwfl *Session = KipOpenDwfl();
#endif
    for (int i = Skip; i < Count; i++) {
#ifdef NTMEM_HAVE_LIBDW
        if (Session != NULL && KipPrintFrameDwarf(Session, i - Skip, Frames[i]))
            continue;
#endif
        KipPrintFrameDladdr(i - Skip, Frames[i]);
    }
#ifdef NTMEM_HAVE_LIBDW
    if (Session != NULL)
        dwfl_end(Session);
#endif
}

void KiPrintFrames(void *const *Frames, int Count)
{
#ifdef NTMEM_HAVE_LIBDW
    Dwfl *Session = KipOpenDwfl();
#endif
    for (int i = 0; i < Count; i++) {
#ifdef NTMEM_HAVE_LIBDW
        if (Session != NULL && KipPrintFrameDwarf(Session, i, Frames[i]))
            continue;
#endif
        KipPrintFrameDladdr(i, Frames[i]);
    }
#ifdef NTMEM_HAVE_LIBDW
    if (Session != NULL)
        dwfl_end(Session);
#endif
}

/* ---- bug-check callbacks ---------------------------------------------------------------------- */

/* Windows keeps a checksum of the record's fields so that a corrupted record is skipped, not called. */
static ULONG_PTR KipRecordChecksum(const KBUGCHECK_CALLBACK_RECORD *Record)
{
    return (ULONG_PTR)Record->CallbackRoutine + (ULONG_PTR)Record->Buffer + Record->Length +
           (ULONG_PTR)Record->Component;
}

/* Registration is allowed at any IRQL; above DISPATCH_LEVEL the lock is taken without raising. */
static KIRQL KipLockCallbacks(VOID)
{
    KIRQL OldIrql = KeGetCurrentIrql();

    if (OldIrql > DISPATCH_LEVEL)
        KeAcquireSpinLockAtDpcLevel(&KipCallbackLock);
    else
        KeAcquireSpinLock(&KipCallbackLock, &OldIrql);
    return OldIrql;
}

static VOID KipUnlockCallbacks(KIRQL OldIrql)
{
    if (OldIrql > DISPATCH_LEVEL)
        KeReleaseSpinLockFromDpcLevel(&KipCallbackLock);
    else
        KeReleaseSpinLock(&KipCallbackLock, OldIrql);
}

BOOLEAN NTAPI KeRegisterBugCheckCallback(PKBUGCHECK_CALLBACK_RECORD CallbackRecord,
                                         PKBUGCHECK_CALLBACK_ROUTINE CallbackRoutine, PVOID Buffer,
                                         ULONG Length, PUCHAR Component)
{
    BOOLEAN Inserted = FALSE;
    KIRQL OldIrql = KipLockCallbacks();

    if (CallbackRecord->State == BufferEmpty) {
        CallbackRecord->CallbackRoutine = CallbackRoutine;
        CallbackRecord->Buffer = Buffer;
        CallbackRecord->Length = Length;
        CallbackRecord->Component = Component;
        CallbackRecord->Checksum = KipRecordChecksum(CallbackRecord);
        CallbackRecord->State = BufferInserted;
        InsertTailList(&KipCallbackList, &CallbackRecord->Entry);
        Inserted = TRUE;
    }
    KipUnlockCallbacks(OldIrql);
    return Inserted;
}

BOOLEAN NTAPI KeDeregisterBugCheckCallback(PKBUGCHECK_CALLBACK_RECORD CallbackRecord)
{
    BOOLEAN Removed = FALSE;
    KIRQL OldIrql = KipLockCallbacks();

    if (CallbackRecord->State != BufferEmpty) {
        RemoveEntryList(&CallbackRecord->Entry);
        CallbackRecord->State = BufferEmpty;
        Removed = TRUE;
    }
    KipUnlockCallbacks(OldIrql);
    return Removed;
}

/*
 * On Windows the other processors are frozen while callbacks run, so no lock is needed. Here they
 * keep running: wait a little for a registration in progress to finish, then walk the list whether
 * or not the lock was won (its holder may be stuck). The lock is never released: the process ends.
 */
static VOID KipRunCallbacks(VOID)
{
    for (int Attempt = 0; Attempt < 1000 && !KeTryToAcquireSpinLockAtDpcLevel(&KipCallbackLock);
         Attempt++) {
        struct timespec Pause = {0, 1000};
        nanosleep(&Pause, NULL);
    }
    for (PLIST_ENTRY Entry = KipCallbackList.Flink; Entry != &KipCallbackList; Entry = Entry->Flink) {
        PKBUGCHECK_CALLBACK_RECORD Record = CONTAINING_RECORD(Entry, KBUGCHECK_CALLBACK_RECORD, Entry);
        if (Record->Checksum != KipRecordChecksum(Record)) {
            KipPrint("Skipping bug-check callback record %p: it is corrupt\n", (void *)Record);
            continue;
        }
        KipPrint("Calling bug-check callback %s\n",
                 Record->Component != NULL ? (const char *)Record->Component : "(no component)");
        Record->State = BufferStarted;
        Record->CallbackRoutine(Record->Buffer, Record->Length);
        Record->State = BufferFinished;
    }
}

/* ---- the bug check ---------------------------------------------------------------------------- */

static DECLSPEC_NORETURN void KipDie(VOID)
{
    OsAbort();
}

/* A second thread that bug checks while the first reports waits for the end, as a frozen CPU would. */
static DECLSPEC_NORETURN void KipFreeze(VOID)
{
    for (;;) {
        struct timespec Pause = {1, 0};
        nanosleep(&Pause, NULL);
    }
}

static void KipReport(ULONG Code, const ULONG_PTR P[4], PCSTR Reason, KIRQL Irql)
{
    fflush(stdout); /* keep what the program printed before the crash ahead of the report */
    KipPrint("\n*** STOP: 0x%08X (0x%016llX,0x%016llX,0x%016llX,0x%016llX)\n", (unsigned)Code,
             (unsigned long long)P[0], (unsigned long long)P[1], (unsigned long long)P[2],
             (unsigned long long)P[3]);
    KipPrint("%s\n", ntmem_bugcheck_name(Code));
    KipPrint("%s\n", Reason != NULL ? Reason : KiBugCheckExplanation(Code, P[0]));
    KipPrint("IRQL: %u\n", (unsigned)Irql);
    /* Leave out KipBugCheck: the stack starts at the KeBugCheckEx-level entry, as in a Windows dump. */
    KipPrintBacktrace(1);
}

static __attribute__((noinline)) DECLSPEC_NORETURN void
KipBugCheck(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4, PCSTR Reason)
{
    const ULONG_PTR P[4] = {P1, P2, P3, P4};

    if (KiThread.InBugCheck) {
        KipPrint("*** Recursive bug check 0x%08X (0x%016llX) while reporting a bug check on this "
                 "thread; stopping at once\n",
                 (unsigned)Code, (unsigned long long)P1);
        KipDie();
    }
    /* The hook runs first and may longjmp out, so nothing is marked until it has returned. */
    NTMEM_BUGCHECK_HOOK Hook = __atomic_load_n(&KipHook, __ATOMIC_ACQUIRE);
    if (Hook != NULL)
        Hook(Code, P1, P2, P3, P4);

    KiThread.InBugCheck = 1;
    if (__atomic_exchange_n(&KipReportOwner, 1, __ATOMIC_ACQ_REL) != 0)
        KipFreeze();
    KIRQL Irql = KiThread.Irql;
    KiThread.Irql = HIGH_LEVEL; /* the report and the callbacks run at HIGH_LEVEL, as on Windows */
    KipReport(Code, P, Reason, Irql);
    KipRunCallbacks();
    KipDie();
}

VOID NTAPI KeBugCheckEx(ULONG BugCheckCode, ULONG_PTR BugCheckParameter1, ULONG_PTR BugCheckParameter2,
                        ULONG_PTR BugCheckParameter3, ULONG_PTR BugCheckParameter4)
{
    KipBugCheck(BugCheckCode, BugCheckParameter1, BugCheckParameter2, BugCheckParameter3,
                BugCheckParameter4, NULL);
}

VOID NTAPI KeBugCheck(ULONG BugCheckCode)
{
    KipBugCheck(BugCheckCode, 0, 0, 0, 0, NULL);
}

void KiBugCheckWithReason(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4,
                          const char *Format, ...)
{
    char Reason[512];
    va_list Args;

    va_start(Args, Format);
    vsnprintf(Reason, sizeof Reason, Format, Args);
    va_end(Args);
    KipBugCheck(Code, P1, P2, P3, P4, Reason);
}

NTMEM_BUGCHECK_HOOK ntmem_set_bugcheck_hook(NTMEM_BUGCHECK_HOOK Hook)
{
    return __atomic_exchange_n(&KipHook, Hook, __ATOMIC_ACQ_REL);
}
