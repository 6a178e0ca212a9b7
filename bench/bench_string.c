/* bench_string.c - case-insensitive compare and upcasing of Unicode strings against plain towupper loops. */
/*
 * Workloads over the same data: STR_COUNT strings of 16-80 UTF-16 units, mostly Latin with some
 * Latin-1, Greek and Cyrillic, each paired with a copy whose case is flipped, so a case-insensitive
 * compare reads both strings to the end (the equal case is the expensive one).
 *   str_cmp_ci  ns per string pair: RtlCompareUnicodeString(.., TRUE) against a loop that compares
 *               towupper() of both sides (glibc, C.UTF-8 locale, so it maps beyond ASCII too);
 *   str_upcase  ns per string: RtlUpcaseUnicodeString into a caller's buffer against a towupper()
 *               loop writing the same buffer.
 * Rounds alternate the two sides; medians are printed as "<workload> <name> <value> <unit>" for
 * bench/run.sh, and "<workload>_ratio ntmem <ntmem / towupper> x".
 */
#define _GNU_SOURCE
#include "bench_stats.h"
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wctype.h>

#include <wdm.h>

#define STR_COUNT 4096
#define STR_MAX 80

static UNICODE_STRING Left[STR_COUNT], Right[STR_COUNT];
static WCHAR Output[STR_MAX];
static volatile LONG Sink;

static const WCHAR Alphabet[] = {
    'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't',
    'u', 'v', 'w', 'x', 'y', 'z', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N',
    '0', '1', '2', '.', '_', '\\', ' ', 0xE9, 0xE0, 0xF6, 0xC7, 0x3B1, 0x3C9, 0x3A3, 0x436, 0x416, 0x44F,
};

static void make_data(void)
{
    uint64_t state = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < STR_COUNT; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        int n = 16 + (int)((state >> 33) % (STR_MAX - 16 + 1));
        PWCH a = malloc(n * sizeof(WCHAR)), b = malloc(n * sizeof(WCHAR));
        for (int k = 0; k < n; k++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            WCHAR c = Alphabet[(state >> 33) % (sizeof Alphabet / sizeof Alphabet[0])];
            a[k] = c;
            b[k] = (WCHAR)(towupper(c) != (wint_t)c ? towupper(c) : towlower(c));
        }
        Left[i] = (UNICODE_STRING){(USHORT)(n * 2), (USHORT)(n * 2), a};
        Right[i] = (UNICODE_STRING){(USHORT)(n * 2), (USHORT)(n * 2), b};
    }
}

__attribute__((noinline)) static LONG towupper_compare(PCUNICODE_STRING x, PCUNICODE_STRING y)
{
    size_t n = (x->Length < y->Length ? x->Length : y->Length) / 2;
    for (size_t i = 0; i < n; i++) {
        wint_t a = towupper(x->Buffer[i]), b = towupper(y->Buffer[i]);
        if (a != b)
            return (LONG)a - (LONG)b;
    }
    return (LONG)x->Length - (LONG)y->Length;
}

__attribute__((noinline)) static void towupper_upcase(PUNICODE_STRING d, PCUNICODE_STRING s)
{
    size_t n = s->Length / 2;
    for (size_t i = 0; i < n; i++)
        d->Buffer[i] = (WCHAR)towupper(s->Buffer[i]);
    d->Length = s->Length;
}

static double run_compare(int ntmem, int passes)
{
    LONG acc = 0;
    double t0 = bench_now_ns();
    for (int p = 0; p < passes; p++)
        for (int i = 0; i < STR_COUNT; i++)
            acc += ntmem ? RtlCompareUnicodeString(&Left[i], &Right[i], TRUE) : towupper_compare(&Left[i], &Right[i]);
    double t = (bench_now_ns() - t0) / ((double)passes * STR_COUNT);
    if (acc != 0)
        abort(); /* every pair differs only in case */
    return t;
}

static double run_upcase(int ntmem, int passes)
{
    UNICODE_STRING d = {0, sizeof Output, Output};
    double t0 = bench_now_ns();
    for (int p = 0; p < passes; p++)
        for (int i = 0; i < STR_COUNT; i++) {
            if (ntmem)
                RtlUpcaseUnicodeString(&d, &Left[i], FALSE);
            else
                towupper_upcase(&d, &Left[i]);
            Sink += Output[0];
        }
    return (bench_now_ns() - t0) / ((double)passes * STR_COUNT);
}

int main(int argc, char **argv)
{
    int rounds = 7, passes = 100, opt;
    double cmp[2][BENCH_MAX_ROUNDS], up[2][BENCH_MAX_ROUNDS];

    while ((opt = getopt(argc, argv, "r:n:c:m:v")) != -1) {
        switch (opt) {
        case 'r': rounds = atoi(optarg); break;
        case 'n': passes = atoi(optarg); break;
        default: break; /* other bench options are accepted and ignored, for run.sh */
        }
    }
    if (rounds < 1 || rounds > BENCH_MAX_ROUNDS || passes < 1) {
        fprintf(stderr, "usage: %s [-r rounds] [-n passes]\n", argv[0]);
        return 2;
    }
    if (setlocale(LC_ALL, "C.UTF-8") == NULL)
        fprintf(stderr, "bench_string: no C.UTF-8 locale; towupper maps ASCII only\n");
    make_data();
    /* the two sides agree on this data, so they do the same work */
    for (int i = 0; i < STR_COUNT; i++)
        if ((RtlCompareUnicodeString(&Left[i], &Right[i], TRUE) == 0) != (towupper_compare(&Left[i], &Right[i]) == 0))
            abort();
    run_compare(1, passes / 10 + 1);
    run_compare(0, passes / 10 + 1);
    for (int r = 0; r < rounds; r++) {
        int first = r & 1;
        cmp[first][r] = run_compare(first, passes);
        cmp[!first][r] = run_compare(!first, passes);
        up[first][r] = run_upcase(first, passes);
        up[!first][r] = run_upcase(!first, passes);
    }
    double cn = bench_median(cmp[1], rounds), ct = bench_median(cmp[0], rounds);
    double un = bench_median(up[1], rounds), ut = bench_median(up[0], rounds);
    printf("str_cmp_ci ntmem %.2f ns\n", cn);
    printf("str_cmp_ci towupper %.2f ns\n", ct);
    printf("str_cmp_ci_ratio ntmem %.3f x\n", cn / ct);
    printf("str_upcase ntmem %.2f ns\n", un);
    printf("str_upcase towupper %.2f ns\n", ut);
    printf("str_upcase_ratio ntmem %.3f x\n", un / ut);
    return 0;
}
