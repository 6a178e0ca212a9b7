/* pageio.c - the pager's host primitives: page-file I/O, releasing pages, installing a page whole. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "os/os.h"

int OsCreateFile(const char *path, uint64_t size, int *fd)
{
    int f = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (f < 0)
        return errno;
    if (ftruncate(f, (off_t)size) != 0) {
        int e = errno;
        close(f);
        unlink(path);
        return e;
    }
    *fd = f;
    return 0;
}

int OsCloseFile(int fd)
{
    return close(fd) == 0 ? 0 : errno;
}

int OsDeleteFile(const char *path)
{
    return unlink(path) == 0 ? 0 : errno; /* async-signal-safe: also used on the way to abort */
}

/*
 * Page I/O goes straight to the kernel, not through libc: the sanitizers intercept pread/pwrite and
 * would check the buffer - a pool page whose free blocks ASan has poisoned, or a page another thread
 * wrote before the pager made it read-only (ordered by mprotect, which TSan cannot see).
 */
static int OsTransfer(long nr, int fd, void *buf, size_t size, uint64_t offset)
{
    while (size > 0) {
        long n = syscall(nr, fd, buf, size, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : EIO;
        buf = (char *)buf + n;
        size -= (size_t)n;
        offset += (uint64_t)n;
    }
    return 0;
}

int OsReadAt(int fd, void *buf, size_t size, uint64_t offset)
{
    return OsTransfer(SYS_pread64, fd, buf, size, offset);
}

int OsWriteAt(int fd, const void *buf, size_t size, uint64_t offset)
{
    return OsTransfer(SYS_pwrite64, fd, (void *)buf, size, offset);
}

int OsPipe(int fds[2])
{
    return pipe2(fds, O_CLOEXEC) == 0 ? 0 : errno;
}

int OsPipeSignal(int fd)
{
    char byte = 0;
    ssize_t n;
    while ((n = write(fd, &byte, 1)) < 0 && errno == EINTR)
        ;
    return n == 1 ? 0 : errno;
}

int OsPipeWait(int fd)
{
    char byte;
    ssize_t n;
    while ((n = read(fd, &byte, 1)) < 0 && errno == EINTR)
        ;
    return n >= 0 ? 0 : errno; /* a byte, or the other end closed (its process is gone) */
}

int OsDiscard(void *address, size_t size)
{
    return madvise(address, size, MADV_DONTNEED) == 0 ? 0 : errno;
}

/*
 * /proc/self/mem writes through the page tables with the kernel's "force" access (as a debugger
 * plants a breakpoint), so a page can be filled while it is still inaccessible and then opened with
 * one mprotect: no thread ever sees it half filled, and the mapping stays one VMA. The descriptor
 * belongs to the process that opened it (a forked child would write into its parent), hence the pid.
 * Where the kernel refuses, the fallback fills a scratch page and mremaps it over the target, which
 * is as atomic but leaves one more mapping per page until the range is decommitted.
 */
static int OsSelfMem = -1; /* -2: unusable here */
static pid_t OsSelfMemPid;

static int OsSelfMemDescriptor(void)
{
    pid_t pid = getpid();
    int fd = __atomic_load_n(&OsSelfMem, __ATOMIC_ACQUIRE);
    if (fd >= 0 && __atomic_load_n(&OsSelfMemPid, __ATOMIC_RELAXED) == pid)
        return fd;
    if (fd == -2)
        return -1;
    int opened = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
    if (opened < 0) {
        __atomic_store_n(&OsSelfMem, -2, __ATOMIC_RELEASE);
        return -1;
    }
    /* A descriptor inherited across fork is left open (the parent's to close), only replaced. */
    __atomic_store_n(&OsSelfMemPid, pid, __ATOMIC_RELAXED);
    __atomic_store_n(&OsSelfMem, opened, __ATOMIC_RELEASE);
    return opened;
}

static int OsInstallByRemap(void *target, const void *contents, size_t size, int prot)
{
    void *scratch = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (scratch == MAP_FAILED)
        return errno;
    memcpy(scratch, contents, size);
    if (mprotect(scratch, size, prot) != 0 ||
        mremap(scratch, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, target) == MAP_FAILED) {
        int e = errno;
        munmap(scratch, size);
        return e;
    }
    return 0;
}

int OsInstallPage(void *target, const void *contents, size_t size, int prot)
{
    int fd = OsSelfMemDescriptor();
    if (fd >= 0) {
        if (OsWriteAt(fd, contents, size, (uint64_t)(uintptr_t)target) == 0)
            return mprotect(target, size, prot) == 0 ? 0 : errno;
        __atomic_store_n(&OsSelfMem, -2, __ATOMIC_RELEASE); /* refused (hardened kernel): fall back */
    }
    return OsInstallByRemap(target, contents, size, prot);
}
