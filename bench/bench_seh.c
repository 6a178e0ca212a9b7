/* bench_seh.c - the cost of structured exception handling against bare signal handling. */
/*
 * Three measurements, each against what a program without ntmem would write, in one binary:
 *   seh_try ntmem <ns>       entering and leaving a __try/__except block, no exception
 *   seh_av ntmem <ns>        a NULL write caught by __except(EXCEPTION_EXECUTE_HANDLER)
 *   seh_av control <ns>      the same write caught by a bare SIGSEGV handler that siglongjmps
 *   seh_vectored ntmem <ns>  a fault on a PROT_NONE page, a vectored handler mprotects it RW and
 *                            continues execution (the page is made PROT_NONE again each round)
 *   seh_vectored control <ns> the same with a bare SIGSEGV handler that mprotects and returns
 * Rounds alternate ntmem and control; medians are printed, plus the ratios (seh_av_ratio,
 * seh_vectored_ratio), as "<measurement> <name> <value> <unit>" lines for bench/run.sh.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <ntmem.h>
#include <windows.h>

#include "bench_stats.h"

#define MAX_ROUNDS BENCH_MAX_ROUNDS


/* A real store (a plain C store to NULL is undefined behaviour the compiler may drop). */
static __attribute__((noinline)) void store_one(volatile int *p)
{
    __asm__ volatile("movl $1, (%0)" ::"r"(p) : "memory");
}

/* ---- (a) __try/__except with no exception -------------------------------------------------------- */

static volatile int sink;

/* The counters below are not changed inside any __try body, so a jump back to the frame cannot
 * leave them stale; gcc's -Wclobbered cannot know that. */
#pragma GCC diagnostic ignored "-Wclobbered"

__attribute__((noinline)) static double try_empty(uint64_t n)
{
    double t0 = bench_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        __try {
            sink = (int)i;
        } __except (EXCEPTION_EXECUTE_HANDLER) {
            abort();
        }
    }
    return (bench_now_ns() - t0) / (double)n;
}

/* ---- (b) a caught access violation -------------------------------------------------------------- */

__attribute__((noinline)) static double av_ntmem(uint64_t n)
{
    volatile uint64_t caught = 0;
    double t0 = bench_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        __try {
            store_one(NULL);
        } __except (EXCEPTION_EXECUTE_HANDLER) {
            caught++;
        }
    }
    double t = (bench_now_ns() - t0) / (double)n;
    if (caught != n)
        abort();
    return t;
}

static sigjmp_buf bare_jump;

static void bare_longjmp(int sig, siginfo_t *info, void *uc)
{
    (void)sig, (void)info, (void)uc;
    siglongjmp(bare_jump, 1);
}

static struct sigaction install(void (*fn)(int, siginfo_t *, void *))
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old) != 0)
        abort();
    return old;
}

__attribute__((noinline)) static double av_bare(uint64_t n)
{
    struct sigaction old = install(bare_longjmp);
    volatile uint64_t caught = 0;
    double t0 = bench_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        if (sigsetjmp(bare_jump, 1) == 0)
            store_one(NULL);
        else
            caught++;
    }
    double t = (bench_now_ns() - t0) / (double)n;
    sigaction(SIGSEGV, &old, NULL); /* ntmem's handler back */
    if (caught != n)
        abort();
    return t;
}

/* ---- (c) continue execution after making the page accessible ----------------------------------- */

static PUCHAR page;

static LONG WINAPI commit_page(PEXCEPTION_POINTERS e)
{
    if (e->ExceptionRecord->ExceptionCode != STATUS_ACCESS_VIOLATION ||
        (PUCHAR)e->ExceptionRecord->ExceptionInformation[1] != page)
        return EXCEPTION_CONTINUE_SEARCH;
    mprotect(page, 4096, PROT_READ | PROT_WRITE);
    return EXCEPTION_CONTINUE_EXECUTION;
}

__attribute__((noinline)) static double vectored_ntmem(uint64_t n)
{
    PVOID h = AddVectoredExceptionHandler(1, commit_page);
    double t0 = bench_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        store_one((volatile int *)page);
        mprotect(page, 4096, PROT_NONE);
    }
    double t = (bench_now_ns() - t0) / (double)n;
    RemoveVectoredExceptionHandler(h);
    return t;
}

static void bare_commit(int sig, siginfo_t *info, void *uc)
{
    (void)sig, (void)uc;
    if ((PUCHAR)info->si_addr != page)
        abort();
    mprotect(page, 4096, PROT_READ | PROT_WRITE);
}

__attribute__((noinline)) static double vectored_bare(uint64_t n)
{
    struct sigaction old = install(bare_commit);
    double t0 = bench_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        store_one((volatile int *)page);
        mprotect(page, 4096, PROT_NONE);
    }
    double t = (bench_now_ns() - t0) / (double)n;
    sigaction(SIGSEGV, &old, NULL);
    return t;
}

/* ---- driver ------------------------------------------------------------------------------------ */



static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s [-v] [-r rounds] [-n iterations] [-f faults] [workload...]\n"
                    "(other bench options and workload names are accepted and ignored, for run.sh)\n",
            prog);
    exit(2);
}

int main(int argc, char **argv)
{
    int rounds = 7, verbose = 0, opt;
    uint64_t n = 20000000, faults = 50000;
    static double tr[MAX_ROUNDS], an[MAX_ROUNDS], ab[MAX_ROUNDS], vn[MAX_ROUNDS], vb[MAX_ROUNDS];

    while ((opt = getopt(argc, argv, "vr:n:f:c:m:")) != -1) {
        switch (opt) {
        case 'v': verbose = 1; break;
        case 'r': rounds = atoi(optarg); break;
        case 'n': n = strtoull(optarg, NULL, 0); break;
        case 'f': faults = strtoull(optarg, NULL, 0); break;
        case 'c': case 'm': break;
        default: usage(argv[0]);
        }
    }
    if (rounds < 1 || rounds > MAX_ROUNDS || n == 0 || faults == 0)
        usage(argv[0]);

    page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        abort();
    /* Warm-up, untimed. */
    try_empty(n / 10 + 1);
    av_ntmem(faults / 10 + 1);
    av_bare(faults / 10 + 1);
    vectored_ntmem(faults / 10 + 1);
    vectored_bare(faults / 10 + 1);
    for (int r = 0; r < rounds; r++) {
        tr[r] = try_empty(n);
        if (r & 1) {
            ab[r] = av_bare(faults);
            an[r] = av_ntmem(faults);
            vb[r] = vectored_bare(faults);
            vn[r] = vectored_ntmem(faults);
        } else {
            an[r] = av_ntmem(faults);
            ab[r] = av_bare(faults);
            vn[r] = vectored_ntmem(faults);
            vb[r] = vectored_bare(faults);
        }
        if (verbose)
            fprintf(stderr, "round %d: try %.2f ns, av %.0f/%.0f ns, vectored %.0f/%.0f ns\n", r + 1, tr[r], an[r],
                    ab[r], vn[r], vb[r]);
    }
    double t = bench_median(tr, rounds), a = bench_median(an, rounds), b = bench_median(ab, rounds);
    double v = bench_median(vn, rounds), c = bench_median(vb, rounds);
    printf("seh_try ntmem %.2f ns\n", t);
    printf("seh_av ntmem %.1f ns\n", a);
    printf("seh_av control %.1f ns\n", b);
    printf("seh_av_ratio ntmem %.3f x\n", a / b);
    printf("seh_vectored ntmem %.1f ns\n", v);
    printf("seh_vectored control %.1f ns\n", c);
    printf("seh_vectored_ratio ntmem %.3f x\n", v / c);
    munmap(page, 4096);
    return 0;
}
