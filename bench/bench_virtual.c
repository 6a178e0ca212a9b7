/* bench_virtual.c - virtual memory against the bare host calls it is built on. */
/*
 *   vm_alloc ntmem <ns>      VirtualAlloc(64 KB, MEM_RESERVE|MEM_COMMIT) + VirtualFree(MEM_RELEASE)
 *   vm_alloc control <ns>    mmap(64 KB, read/write) + munmap
 *   vm_query ntmem <ns>      VirtualQuery of random addresses among 100,000 regions
 *   vm_guard ntmem <ns>      VirtualProtect(PAGE_GUARD) + a store that hits the guard, a vectored
 *                            handler continues it (the access then completes)
 *   vm_guard control <ns>    mprotect(PROT_NONE) + a store, a SIGSEGV handler mprotects it back
 * Rounds alternate ntmem and control; medians and the ratios (vm_alloc_ratio, vm_guard_ratio) are
 * printed as "<measurement> <name> <value> <unit>" lines for bench/run.sh.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <ntmem.h>
#include <windows.h>

#include "bench_stats.h"

#define REGIONS 100000

static volatile UCHAR sink;

/* ---- reserve+commit+release ----------------------------------------------------------------------- */

__attribute__((noinline)) static double alloc_ntmem(int n)
{
    double t0 = bench_now_ns();
    for (int i = 0; i < n; i++) {
        PUCHAR p = VirtualAlloc(NULL, 65536, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        if (p == NULL || !VirtualFree(p, 0, MEM_RELEASE))
            abort();
    }
    return (bench_now_ns() - t0) / n;
}

__attribute__((noinline)) static double alloc_control(int n)
{
    double t0 = bench_now_ns();
    for (int i = 0; i < n; i++) {
        void *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED || munmap(p, 65536) != 0)
            abort();
    }
    return (bench_now_ns() - t0) / n;
}

/* ---- queries among many regions ------------------------------------------------------------------- */

static PUCHAR regions[REGIONS];

static void make_regions(void)
{
    for (int i = 0; i < REGIONS; i++) {
        regions[i] = VirtualAlloc(NULL, 65536, MEM_RESERVE, PAGE_NOACCESS);
        if (regions[i] == NULL) {
            fprintf(stderr, "bench_virtual: reservation %d failed (%lu)\n", i, (unsigned long)GetLastError());
            exit(1);
        }
    }
}

__attribute__((noinline)) static double query_ntmem(int n)
{
    MEMORY_BASIC_INFORMATION m;
    uint64_t x = 88172645463325252ull;
    double t0 = bench_now_ns();
    for (int i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (VirtualQuery(regions[x % REGIONS] + 4096, &m, sizeof m) != sizeof m)
            abort();
    }
    return (bench_now_ns() - t0) / n;
}

/* ---- guard page round trips ------------------------------------------------------------------------ */

static PUCHAR guard_page;

static LONG WINAPI guard_handler(PEXCEPTION_POINTERS e)
{
    return e->ExceptionRecord->ExceptionCode == STATUS_GUARD_PAGE_VIOLATION ? EXCEPTION_CONTINUE_EXECUTION
                                                                           : EXCEPTION_CONTINUE_SEARCH;
}

__attribute__((noinline)) static double guard_ntmem(int n)
{
    DWORD old;
    double t0 = bench_now_ns();
    for (int i = 0; i < n; i++) {
        if (!VirtualProtect(guard_page, 4096, PAGE_READWRITE | PAGE_GUARD, &old))
            abort();
        *(volatile UCHAR *)guard_page = (UCHAR)i;
    }
    return (bench_now_ns() - t0) / n;
}

static PUCHAR control_page;

static void control_handler(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)context;
    if ((PUCHAR)info->si_addr < control_page || (PUCHAR)info->si_addr >= control_page + 4096)
        abort();
    mprotect(control_page, 4096, PROT_READ | PROT_WRITE);
}

__attribute__((noinline)) static double guard_control(int n)
{
    double t0 = bench_now_ns();
    for (int i = 0; i < n; i++) {
        mprotect(control_page, 4096, PROT_NONE);
        *(volatile UCHAR *)control_page = (UCHAR)i;
    }
    return (bench_now_ns() - t0) / n;
}

int main(int argc, char **argv)
{
    int rounds = 7;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "-r") == 0)
            rounds = atoi(argv[i + 1]);
    if (rounds < 1 || rounds > BENCH_MAX_ROUNDS)
        rounds = 7;
    double a[BENCH_MAX_ROUNDS], ac[BENCH_MAX_ROUNDS], q[BENCH_MAX_ROUNDS], g[BENCH_MAX_ROUNDS], gc[BENCH_MAX_ROUNDS];

    alloc_ntmem(1000);
    alloc_control(1000);
    for (int r = 0; r < rounds; r++) {
        a[r] = alloc_ntmem(20000);
        ac[r] = alloc_control(20000);
    }

    make_regions();
    query_ntmem(10000);
    for (int r = 0; r < rounds; r++)
        q[r] = query_ntmem(200000);

    guard_page = VirtualAlloc(NULL, 4096, MEM_COMMIT, PAGE_READWRITE);
    control_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    PVOID h = AddVectoredExceptionHandler(1, guard_handler);
    struct sigaction sa, previous;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = control_handler;
    sa.sa_flags = SA_SIGINFO;
    for (int r = 0; r < rounds; r++) {
        g[r] = guard_ntmem(5000);
        sigaction(SIGSEGV, &sa, &previous); /* the control's own handler, only while it runs */
        gc[r] = guard_control(5000);
        sigaction(SIGSEGV, &previous, NULL);
    }
    RemoveVectoredExceptionHandler(h);

    double ma = bench_median(a, rounds), mac = bench_median(ac, rounds);
    double mg = bench_median(g, rounds), mgc = bench_median(gc, rounds);
    printf("vm_alloc ntmem %.1f ns\n", ma);
    printf("vm_alloc control %.1f ns\n", mac);
    printf("vm_alloc_ratio ntmem %.3f x\n", ma / mac);
    printf("vm_query ntmem %.1f ns\n", bench_median(q, rounds));
    printf("vm_guard ntmem %.1f ns\n", mg);
    printf("vm_guard control %.1f ns\n", mgc);
    printf("vm_guard_ratio ntmem %.3f x\n", mg / mgc);
    for (int i = 0; i < REGIONS; i++)
        VirtualFree(regions[i], 0, MEM_RELEASE);
    return 0;
}
