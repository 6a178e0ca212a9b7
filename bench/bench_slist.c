/* bench_slist.c - an SLIST push+pop pair on one thread against a bare loop of two cmpxchg16b. */
/*
 * The floor for a lock-free 16-byte-header list is its two compare-exchanges; everything else (two
 * header loads, the entry's Next, the new header's fields, the call) should hide in their shadow.
 * The control does the same number of cmpxchg16b on a local 16-byte value, each depending on the
 * previous one as a pop depends on the push before it. Rounds alternate the two; medians are printed
 * as "<measurement> <name> <value> <unit>" lines for bench/run.sh:
 *   slist_pair ntmem <ns per push+pop pair>
 *   slist_cas control <ns per two compare-exchanges>
 *   slist_ratio ntmem <pair / control>
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wdm.h>

#include "bench_stats.h"

#define MAX_ROUNDS BENCH_MAX_ROUNDS


static SLIST_HEADER Head;
static SLIST_ENTRY Entries[2]; /* one stays on the list, so the pop is never of an empty list */

/* noinline, so the compiler cannot merge iterations: each pair is two real calls, as a driver makes. */
__attribute__((noinline)) static double slist_pairs(uint64_t n)
{
    double t0 = bench_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        InterlockedPushEntrySList(&Head, &Entries[1]);
        if (InterlockedPopEntrySList(&Head) != &Entries[1])
            abort();
    }
    return (bench_now_ns() - t0) / (double)n;
}

__attribute__((noinline, target("cx16"))) static double cas_pairs(uint64_t n)
{
    _Alignas(16) unsigned __int128 Cell = 0;
    unsigned __int128 Cur = 0;
    double t0 = bench_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        /* A push-like and a pop-like swap, each expecting what the previous one installed. */
        unsigned __int128 Seen = __sync_val_compare_and_swap(&Cell, Cur, Cur + 0x10001);
        Cur = Seen == Cur ? Cur + 0x10001 : Seen;
        Seen = __sync_val_compare_and_swap(&Cell, Cur, Cur + 0xFFFF);
        Cur = Seen == Cur ? Cur + 0xFFFF : Seen;
    }
    double t = (bench_now_ns() - t0) / (double)n;
    if (__atomic_load_n((uint64_t *)&Cell, __ATOMIC_RELAXED) != (uint64_t)Cur)
        abort();
    return t;
}



static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s [-v] [-r rounds] [-n pairs] [workload...]\n"
                    "(other bench options and workload names are accepted and ignored, for run.sh)\n",
            prog);
    exit(2);
}

int main(int argc, char **argv)
{
    int rounds = 7, verbose = 0, opt;
    uint64_t n = 5000000;
    double slist[MAX_ROUNDS], cas[MAX_ROUNDS];

    while ((opt = getopt(argc, argv, "vr:n:c:m:")) != -1) {
        switch (opt) {
        case 'v': verbose = 1; break;
        case 'r': rounds = atoi(optarg); break;
        case 'n': n = strtoull(optarg, NULL, 0); break;
        case 'c': case 'm': break;
        default: usage(argv[0]);
        }
    }
    if (rounds < 1 || rounds > MAX_ROUNDS || n == 0)
        usage(argv[0]);

    InitializeSListHead(&Head);
    InterlockedPushEntrySList(&Head, &Entries[0]);
    /* Warm-up, untimed: code, the header's line and the CPU's clock. */
    slist_pairs(n / 10 + 1);
    cas_pairs(n / 10 + 1);
    for (int r = 0; r < rounds; r++) {
        if (r & 1) {
            cas[r] = cas_pairs(n);
            slist[r] = slist_pairs(n);
        } else {
            slist[r] = slist_pairs(n);
            cas[r] = cas_pairs(n);
        }
        if (verbose)
            fprintf(stderr, "round %d: slist %.2f ns, cas %.2f ns\n", r + 1, slist[r], cas[r]);
    }
    double s = bench_median(slist, rounds), c = bench_median(cas, rounds);
    printf("slist_pair ntmem %.2f ns\n", s);
    printf("slist_cas control %.2f ns\n", c);
    printf("slist_ratio ntmem %.3f x\n", s / c);
    return 0;
}
