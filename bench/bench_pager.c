/* bench_pager.c - the cost of a page-in fault on paged pool against bare signal-driven paging. */
/*
 * Two measurements of one thing, in one binary, rounds alternating:
 *   pager_pagein ntmem <ns>    a read of a paged-pool page that ntmem_page_out_all wrote to the page
 *                              file: fault, the pager reads the slot back and installs it, resume
 *   pager_pagein control <ns>  the same read of a PROT_NONE, MADV_DONTNEED page with a bare SIGSEGV
 *                              handler that mprotects it read/write, preads it from a file, returns
 *   pager_pagein_ratio ntmem <x>
 * Only the faulting read is timed; paging out between reads is not. Medians over the rounds.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <ntddk.h>
#include <ntmem.h>

#include "bench_stats.h"

static volatile UCHAR *bare_page;
static int bare_file = -1;

static void bare_page_in(int sig, siginfo_t *info, void *uc)
{
    (void)sig, (void)uc;
    if (((uintptr_t)info->si_addr & ~(uintptr_t)4095) != (uintptr_t)bare_page)
        abort();
    mprotect((void *)bare_page, 4096, PROT_READ | PROT_WRITE);
    if (pread(bare_file, (void *)bare_page, 4096, 0) != 4096)
        abort();
}

__attribute__((noinline)) static double pagein_bare(uint64_t n)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = bare_page_in;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old);
    double total = 0;
    for (uint64_t i = 0; i < n; i++) {
        mprotect((void *)bare_page, 4096, PROT_NONE);
        madvise((void *)bare_page, 4096, MADV_DONTNEED);
        double t0 = bench_now_ns();
        UCHAR v = bare_page[100];
        total += bench_now_ns() - t0;
        if (v != 0x5A)
            abort();
    }
    sigaction(SIGSEGV, &old, NULL); /* ntmem's handler back */
    return total / (double)n;
}

__attribute__((noinline)) static double pagein_ntmem(volatile UCHAR *page, uint64_t n)
{
    double total = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (ntmem_page_out_all() == 0)
            abort();
        double t0 = bench_now_ns();
        UCHAR v = page[100];
        total += bench_now_ns() - t0;
        if (v != 0x5A)
            abort();
    }
    return total / (double)n;
}

int main(int argc, char **argv)
{
    int rounds = 7, verbose = 0, opt;
    uint64_t n = 2000;
    static double nt[BENCH_MAX_ROUNDS], bare[BENCH_MAX_ROUNDS];
    while ((opt = getopt(argc, argv, "vr:n:f:c:m:")) != -1) {
        switch (opt) {
        case 'v': verbose = 1; break;
        case 'r': rounds = atoi(optarg); break;
        case 'f': n = strtoull(optarg, NULL, 0); break;
        default: break; /* other bench options are accepted and ignored, for run.sh */
        }
    }
    if (rounds < 1 || rounds > BENCH_MAX_ROUNDS || n == 0) {
        fprintf(stderr, "usage: %s [-v] [-r rounds] [-f faults]\n", argv[0]);
        return 2;
    }
    volatile UCHAR *page = ExAllocatePoolWithTag(PagedPool, PAGE_SIZE, 'hcnB');
    memset((void *)page, 0x5A, PAGE_SIZE);
    char path[] = "/tmp/ntmem-bench-pager-XXXXXX";
    bare_file = mkstemp(path);
    UCHAR buf[4096];
    memset(buf, 0x5A, sizeof buf);
    if (page == NULL || bare_file < 0 || pwrite(bare_file, buf, sizeof buf, 0) != 4096)
        return 1;
    unlink(path);
    bare_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    pagein_ntmem(page, n / 10 + 1); /* warm-up, untimed */
    pagein_bare(n / 10 + 1);
    for (int r = 0; r < rounds; r++) {
        if (r & 1) {
            bare[r] = pagein_bare(n);
            nt[r] = pagein_ntmem(page, n);
        } else {
            nt[r] = pagein_ntmem(page, n);
            bare[r] = pagein_bare(n);
        }
        if (verbose)
            fprintf(stderr, "round %d: ntmem %.0f ns, bare %.0f ns\n", r + 1, nt[r], bare[r]);
    }
    double a = bench_median(nt, rounds), b = bench_median(bare, rounds);
    printf("pager_pagein ntmem %.1f ns\n", a);
    printf("pager_pagein control %.1f ns\n", b);
    printf("pager_pagein_ratio ntmem %.3f x\n", a / b);
    return 0;
}
