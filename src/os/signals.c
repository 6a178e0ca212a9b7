/* signals.c - the host side of exceptions: fault signal handlers, alternate signal stacks. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "os/os.h"

#define OS_ALT_STACK_SIZE (256 * 1024) /* room for dispatch, handlers and a bug-check report */

static const int OsFaultSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
static struct sigaction OsPreviousActions[sizeof OsFaultSignals / sizeof OsFaultSignals[0]];


static __thread void *OsAltStack;
static __thread int OsAltStackOwned;
static __thread uintptr_t OsStackLow, OsStackHigh;
static pthread_key_t OsAltStackKey;
static pthread_once_t OsAltStackOnce = PTHREAD_ONCE_INIT;

/* At thread exit the stack we gave the thread is switched off and returned. */
static void OsReleaseAltStack(void *unused)
{
    (void)unused;
    if (OsAltStack != NULL && OsAltStackOwned) {
        stack_t off = {.ss_flags = SS_DISABLE};
        sigaltstack(&off, NULL);
        munmap(OsAltStack, OS_ALT_STACK_SIZE);
    }
    OsAltStack = NULL;
}

static void OsCreateAltStackKey(void)
{
    pthread_key_create(&OsAltStackKey, OsReleaseAltStack);
}

int OsInstallFaultHandlers(OsFaultHandler handler)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof OsFaultSignals / sizeof OsFaultSignals[0]; i++)
        if (sigaction(OsFaultSignals[i], &sa, &OsPreviousActions[i]) != 0)
            return errno;
    return 0;
}

int OsChainFault(int sig, siginfo_t *info, void *context)
{
    for (size_t i = 0; i < sizeof OsFaultSignals / sizeof OsFaultSignals[0]; i++) {
        if (OsFaultSignals[i] != sig)
            continue;
        struct sigaction *prev = &OsPreviousActions[i];
        if ((prev->sa_flags & SA_SIGINFO) && prev->sa_sigaction != NULL) {
            prev->sa_sigaction(sig, info, context);
            return 1;
        }
        if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN && prev->sa_handler != NULL) {
            prev->sa_handler(sig);
            return 1;
        }
    }
    return 0;
}

int OsEnsureAltStack(void)
{
    if (OsAltStack != NULL)
        return 0;
    stack_t current;
    if (sigaltstack(NULL, &current) == 0 && !(current.ss_flags & SS_DISABLE) && current.ss_size >= OS_ALT_STACK_SIZE) {
        OsAltStack = current.ss_sp; /* the program gave this thread one already, and it is big enough */
    } else {
        /* None, or one too small for dispatch plus a symbolised STOP report (ASan installs 54 KB
         * stacks even with handle_segv=0): replace it with ours. */
        void *p = mmap(NULL, OS_ALT_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                       -1, 0);
        if (p == MAP_FAILED)
            return errno;
        stack_t ss = {.ss_sp = p, .ss_size = OS_ALT_STACK_SIZE, .ss_flags = 0};
        if (sigaltstack(&ss, NULL) != 0) {
            int e = errno;
            munmap(p, OS_ALT_STACK_SIZE);
            return e;
        }
        OsAltStack = p;
        OsAltStackOwned = 1;
        pthread_once(&OsAltStackOnce, OsCreateAltStackKey);
        pthread_setspecific(OsAltStackKey, p);
    }
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *low;
        size_t size;
        if (pthread_attr_getstack(&attr, &low, &size) == 0) {
            OsStackLow = (uintptr_t)low;
            OsStackHigh = (uintptr_t)low + size;
        }
        pthread_attr_destroy(&attr);
    }
    return 0;
}

int OsIsStackOverflow(uintptr_t address)
{
    /* A fault at or just below the lowest page of this thread's stack is the stack running out. */
    return OsStackLow != 0 && address < OsStackLow + 4096 && address + 65536 >= OsStackLow;
}
