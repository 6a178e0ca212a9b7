/* os.h - the thin host layer: the only calls to mmap/mprotect/madvise/sysconf live behind it. */
#ifndef NTMEM_OS_H
#define NTMEM_OS_H

#include <stddef.h>
#include <stdint.h>

/* Every primitive returns 0 or an errno value. */
int OsReserve(void *hint, size_t size, void **base);         /* PROT_NONE, MAP_NORESERVE */
int OsReserveFixed(void *address, size_t size);              /* at exactly address, or EEXIST */
int OsRelease(void *base, size_t size);
int OsCommit(void *address, size_t size);                    /* read/write */
int OsDecommit(void *address, size_t size);                  /* drop contents, back to PROT_NONE */
int OsProtect(void *address, size_t size, int prot);         /* PROT_* values */
size_t OsPageSize(void);
uint64_t OsPhysicalMemory(void);
uint64_t OsSwapSize(void);                                  /* the host's swap, bytes */
unsigned OsProcessorCount(void);
unsigned OsCurrentProcessor(void);
/* Finds the [stack] mapping's start and the highest other mapping's end below it (/proc/self/maps). */
int OsFindHighGap(uintptr_t *gap_low, uintptr_t *gap_high);
/* Each page's current PROT_* bits (0 where nothing is mapped), from /proc/self/maps. */
int OsQueryProtection(const void *base, size_t pages, unsigned char *prot);
/* Parses "123", "64K", "512M", "8G"; returns 0 and the value, or EINVAL. */
int OsParseSize(const char *text, uint64_t *value);
/* Writes all of Text to stderr with write(2), retrying on EINTR: no stdio, no heap. */
void OsWriteStderr(const char *text, size_t length);
/* Fault signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL) go to Handler, on the alternate stack. */
#include <signal.h>
typedef void (*OsFaultHandler)(int sig, siginfo_t *info, void *context);
int OsInstallFaultHandlers(OsFaultHandler handler);
/* Passes a fault to the handler installed before ours; 0 if there was none to call. */
int OsChainFault(int sig, siginfo_t *info, void *context);
/* Gives the calling thread an alternate signal stack (kept for the thread's life) and notes its
 * stack's bounds, so a stack overflow can still be dispatched. */
int OsEnsureAltStack(void);
/* True when Address is where this thread's stack ran out. */
int OsIsStackOverflow(uintptr_t address);
/* Ends the process by SIGABRT whatever the program did with that signal. */
__attribute__((noreturn)) void OsAbort(void);
/* Runs Hook (async-signal-safe work only) just before OsAbort ends the process. */
void OsSetAbortHook(void (*hook)(void));
/* mlock: keeps the range resident; EPERM/ENOMEM where the host's limit forbids it. */
int OsLockMemory(void *address, size_t size);

/* ---- the pager's primitives (pageio.c) ---- */
/* Creates Path (it must not exist), Size bytes long, open for reading and writing. */
int OsCreateFile(const char *path, uint64_t size, int *fd);
int OsCloseFile(int fd);
int OsDeleteFile(const char *path);
/* Whole transfers (short ones retried) that the sanitizers do not intercept. */
int OsReadAt(int fd, void *buf, size_t size, uint64_t offset);
int OsWriteAt(int fd, const void *buf, size_t size, uint64_t offset);
/* A one-shot handshake between processes: a pipe, one byte written, waited for (or its writer's
 * exit). */
int OsPipe(int fds[2]);
int OsPipeSignal(int fd);
int OsPipeWait(int fd);
/* Drops the pages' contents (MADV_DONTNEED); protection is unchanged. */
int OsDiscard(void *address, size_t size);
/* Makes Target hold Contents with protection Prot, without a moment where it is accessible and
 * partly filled. Target must be inaccessible on entry. */
int OsInstallPage(void *target, const void *contents, size_t size, int prot);
/* getenv that ignores empty values. */
const char *OsGetEnv(const char *name);

#endif /* NTMEM_OS_H */
