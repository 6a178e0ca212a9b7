/* test_heap_corruption.c - heap misuse ends the process with STATUS_HEAP_CORRUPTION (0xC0000374), as
 * Windows' fail-fast does: double frees, frees of pointers into the middle of a block, frees through
 * the wrong heap, and frees after a block's end was overrun into the next block's header. Each runs
 * in a forked child that must die by SIGABRT saying 0xC0000374. HeapValidate reports the same damage
 * as FALSE without ending anything. */
#define _GNU_SOURCE
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ntmem.h>
#include <windows.h>

#include "death.h"

#define KB ((SIZE_T)1024)
#define STATUS_TEXT "0xC0000374"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* The overruns are written by code ASan does not instrument, so that the heap's own checks are what
 * finds them; an ASan report is still accepted (the heap may poison its headers and trap itself). */
#if UNDER_ASAN
#define NOT_INSTRUMENTED __attribute__((noinline, no_sanitize_address))
#else
#define NOT_INSTRUMENTED __attribute__((noinline))
#endif

static NOT_INSTRUMENTED void scribble(PUCHAR p, SIZE_T from, SIZE_T count)
{
    volatile UCHAR *v = p;
    for (SIZE_T i = 0; i < count; i++)
        v[from + i] = (UCHAR)(0x41 + i % 8);
}

/* Which heap a misuse happens in. */
typedef struct misuse {
    int process_heap; /* 1: the process heap, 0: a private heap */
    SIZE_T size;
} misuse;

static HANDLE heap_for(const misuse *m)
{
    return m->process_heap ? GetProcessHeap() : HeapCreate(0, 0, 0);
}

/* The child must die by SIGABRT with 0xC0000374 in its report; for overruns under ASan an ASan report
 * will do. */
static void expect_heap_corruption(void (*fn)(void *), void *arg, const char *what, int overrun)
{
    static death_result r;
    death_run(fn, arg, &r);
    if (UNDER_ASAN && overrun && strstr(r.output, "AddressSanitizer") != NULL)
        return;
    ck_assert_msg(strstr(r.output, "survived") == NULL, "%s: the process went on after the misuse:\n%s", what,
                  r.output);
    ck_assert_msg(strstr(r.output, STATUS_TEXT) != NULL, "%s: no " STATUS_TEXT " in the child's report (status 0x%x):\n%s",
                  what, r.status, r.output);
    ck_assert_msg(r.aborted, "%s: the child did not die by SIGABRT (status 0x%x):\n%s", what, r.status, r.output);
}

/* Sizes of the blocks misused: front-end sizes, back-end sizes, and (where it makes sense) a big one. */
static const SIZE_T Sizes[] = {16, 200, 3000, 40000, 600 * KB};
#define NSIZES ((int)(sizeof Sizes / sizeof Sizes[0]))

/* _i encodes the heap (low bit) and the size (the rest). */
static misuse misuse_of(int i)
{
    misuse m = {i & 1, Sizes[i >> 1]};
    return m;
}

static const char *describe(const misuse *m, const char *what)
{
    static char text[160];
    snprintf(text, sizeof text, "%s of a %zu-byte block in %s", what, m->size,
             m->process_heap ? "the process heap" : "a private heap");
    return text;
}

/* ---- double free ------------------------------------------------------------------------------------- */

static void double_free(void *arg)
{
    const misuse *m = arg;
    HANDLE h = heap_for(m);
    PUCHAR keep = HeapAlloc(h, 0, m->size); /* the heap is not empty around the block */
    PUCHAR p = HeapAlloc(h, 0, m->size);
    fprintf(stderr, "block %p, neighbour %p\n", (void *)p, (void *)keep);
    memset(p, 0x11, m->size);
    if (!HeapFree(h, 0, p))
        fprintf(stderr, "the first HeapFree failed\n");
    HeapFree(h, 0, p);
    fprintf(stderr, "survived the second HeapFree\n");
}

START_TEST(a_double_free_is_heap_corruption)
{
    misuse m = misuse_of(_i);
    if (m.size >= 0x7F000) /* a big block's region is released by the first free: no header to check */
        return;
    expect_heap_corruption(double_free, &m, describe(&m, "a double free"), 0);
}
END_TEST

/* A double free with the same thread's other work in between. */
static void double_free_later(void *arg)
{
    const misuse *m = arg;
    HANDLE h = heap_for(m);
    PUCHAR p = HeapAlloc(h, 0, m->size);
    PVOID others[16];
    HeapFree(h, 0, p);
    for (int i = 0; i < 16; i++)
        others[i] = HeapAlloc(h, 0, m->size * 2 + 16); /* a different size: p is not handed out again */
    for (int i = 0; i < 16; i += 2)
        HeapFree(h, 0, others[i]);
    HeapFree(h, 0, p);
    fprintf(stderr, "survived the second HeapFree\n");
}

START_TEST(a_double_free_after_other_work_is_heap_corruption)
{
    misuse m = misuse_of(_i);
    if (m.size >= 0x7F000 / 2)
        return;
    expect_heap_corruption(double_free_later, &m, describe(&m, "a later double free"), 0);
}
END_TEST

/* ---- freeing the middle of a block ------------------------------------------------------------------ */

static void free_middle(void *arg)
{
    const misuse *m = arg;
    HANDLE h = heap_for(m);
    PUCHAR p = HeapAlloc(h, 0, m->size);
    PUCHAR after = HeapAlloc(h, 0, m->size);
    fprintf(stderr, "block %p, next %p\n", (void *)p, (void *)after);
    memset(p, 0, m->size); /* whatever the heap reads before p + 16 is zero, not a plausible header */
    HeapFree(h, 0, p + 16);
    fprintf(stderr, "survived HeapFree(p + 16)\n");
}

START_TEST(freeing_a_pointer_into_a_block_is_heap_corruption)
{
    misuse m = misuse_of(_i);
    if (m.size < 64) /* p + 16 must be inside the block */
        m.size = 64;
    expect_heap_corruption(free_middle, &m, describe(&m, "HeapFree(p + 16)"), 0);
}
END_TEST

/* ---- freeing through the wrong heap ------------------------------------------------------------------ */

static void free_through_other_heap(void *arg)
{
    const misuse *m = arg;
    HANDLE a = HeapCreate(0, 0, 0);
    HANDLE b = m->process_heap ? GetProcessHeap() : HeapCreate(0, 0, 0);
    PUCHAR p = HeapAlloc(a, 0, m->size);
    PUCHAR q = HeapAlloc(b, 0, m->size); /* b is in use too */
    fprintf(stderr, "heap A %p block %p, heap B %p block %p\n", a, (void *)p, b, (void *)q);
    memset(p, 0x22, m->size);
    HeapFree(b, 0, p);
    fprintf(stderr, "survived freeing heap A's block through heap B\n");
}

START_TEST(freeing_a_block_through_another_heap_is_heap_corruption)
{
    misuse m = misuse_of(_i);
    expect_heap_corruption(free_through_other_heap, &m,
                           describe(&m, m.process_heap ? "HeapFree(process heap) of a private heap's block"
                                                       : "HeapFree(heap B) of heap A's block"),
                           0);
}
END_TEST

/* The same, the other way round: a process-heap block freed through a private heap. */
static void free_process_block_through_private_heap(void *arg)
{
    SIZE_T n = *(const SIZE_T *)arg;
    HANDLE b = HeapCreate(0, 0, 0);
    PUCHAR p = HeapAlloc(GetProcessHeap(), 0, n);
    PUCHAR q = HeapAlloc(b, 0, n);
    fprintf(stderr, "process-heap block %p, private heap %p block %p\n", (void *)p, b, (void *)q);
    HeapFree(b, 0, p);
    fprintf(stderr, "survived freeing a process-heap block through a private heap\n");
}

START_TEST(freeing_a_process_heap_block_through_a_private_heap_is_heap_corruption)
{
    SIZE_T n = Sizes[_i];
    char what[96];
    snprintf(what, sizeof what, "a %zu-byte process-heap block freed through a private heap", n);
    expect_heap_corruption(free_process_block_through_private_heap, &n, what, 0);
}
END_TEST

/* ---- overruns into the next block's header ---------------------------------------------------------- */

/* Allocates 64 blocks of `size` in a new heap and picks the two closest together: the second is the
 * block right after the first, whatever order the heap hands blocks out in. */
typedef struct pair {
    HANDLE heap;
    PUCHAR block, next;
} pair;

static int compare_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(PUCHAR const *)a, y = (uintptr_t)*(PUCHAR const *)b;
    return x < y ? -1 : x > y;
}

#define PAIR_POOL 64

static pair neighbours(SIZE_T size)
{
    pair p;
    PUCHAR blocks[PAIR_POOL];
    p.heap = HeapCreate(0, 0, 0);
    for (int i = 0; i < PAIR_POOL; i++) {
        blocks[i] = HeapAlloc(p.heap, 0, size);
        memset(blocks[i], 0x5A, size);
    }
    qsort(blocks, PAIR_POOL, sizeof blocks[0], compare_ptr);
    int best = 0;
    for (int i = 1; i + 1 < PAIR_POOL; i++)
        if (blocks[i + 1] - blocks[i] < blocks[best + 1] - blocks[best])
            best = i;
    p.block = blocks[best];
    p.next = blocks[best + 1];
    return p;
}

typedef struct overrun {
    SIZE_T size;
    int free_next; /* 1: HeapFree the next block; 0: HeapFree the overrun block, then the next one */
} overrun;

static void overrun_then_free(void *arg)
{
    const overrun *o = arg;
    pair p = neighbours(o->size);
    fprintf(stderr, "block %p (%zu bytes), next block %p (%td bytes further)\n", (void *)p.block, o->size,
            (void *)p.next, p.next - p.block);
    scribble(p.block, o->size, 32); /* 32 bytes past the end */
    /* Freeing the overrun block may or may not see the damage (Windows' front end does not look at
     * the neighbour either); freeing the damaged block must. */
    if (!o->free_next)
        HeapFree(p.heap, 0, p.block);
    HeapFree(p.heap, 0, p.next);
    fprintf(stderr, "survived HeapFree of the %s block\n", o->free_next ? "next" : "overrun and the next");
}

START_TEST(an_overrun_into_the_next_header_is_found_when_either_block_is_freed)
{
    static const SIZE_T sizes[] = {16, 32, 3008, 20000};
    overrun o = {sizes[_i >> 1], _i & 1};
    char what[128];
    snprintf(what, sizeof what, "a 32-byte overrun of a %zu-byte block, then HeapFree of the %s block", o.size,
             o.free_next ? "next" : "overrun, then the next");
    expect_heap_corruption(overrun_then_free, &o, what, 1);
}
END_TEST

/* HeapValidate finds the same damage and says FALSE; nothing ends. The damaged heap is left alone
 * afterwards: never used, never destroyed. */
START_TEST(heap_validate_reports_an_overwritten_header_without_ending_anything)
{
    static const SIZE_T sizes[] = {16, 32, 3008, 20000};
    SIZE_T size = sizes[_i];
    pair p = neighbours(size);
    ck_assert(HeapValidate(p.heap, 0, NULL));
    ck_assert(HeapValidate(p.heap, 0, p.next));
    scribble(p.block, size, 32);
    ck_assert_msg(!HeapValidate(p.heap, 0, NULL),
                  "HeapValidate(heap) accepts a heap where the %zu-byte block %p was overrun by 32 bytes (next block %p)",
                  size, (void *)p.block, (void *)p.next);
    ck_assert_msg(!HeapValidate(p.heap, 0, p.next),
                  "HeapValidate(block) accepts block %p whose header was overwritten", (void *)p.next);
    ck_assert(!HeapValidate(p.heap, 0, NULL)); /* asking again changes nothing */
    /* other heaps are not affected */
    ck_assert(HeapValidate(GetProcessHeap(), 0, NULL));
    HANDLE other = HeapCreate(0, 0, 0);
    ck_assert_ptr_nonnull(other);
    PVOID q = HeapAlloc(other, 0, size);
    ck_assert_ptr_nonnull(q);
    ck_assert(HeapValidate(other, 0, NULL));
    ck_assert(HeapFree(other, 0, q));
    ck_assert(HeapDestroy(other));
}
END_TEST

/* ---- the misuse that is not corruption ---------------------------------------------------------------- */

START_TEST(the_same_operations_done_right_end_nothing)
{
    /* the controls for the tests above: their shapes without the misuse, in the same process */
    for (int i = 0; i < 2 * NSIZES; i++) {
        misuse m = misuse_of(i);
        HANDLE h = heap_for(&m);
        ck_assert_ptr_nonnull(h);
        PUCHAR keep = HeapAlloc(h, 0, m.size);
        PUCHAR p = HeapAlloc(h, 0, m.size);
        ck_assert_ptr_nonnull(keep);
        ck_assert_ptr_nonnull(p);
        memset(p, 0x11, m.size);
        ck_assert(HeapFree(h, 0, p));
        ck_assert(HeapFree(h, 0, keep));
        ck_assert(HeapValidate(h, 0, NULL));
        if (!m.process_heap)
            ck_assert(HeapDestroy(h));
    }
    static const SIZE_T sizes[] = {16, 32, 3008, 20000};
    for (int i = 0; i < 4; i++) {
        pair p = neighbours(sizes[i]);
        scribble(p.block, 0, sizes[i]); /* up to the last byte and no further */
        ck_assert(HeapValidate(p.heap, 0, NULL));
        ck_assert(HeapFree(p.heap, 0, p.next));
        ck_assert(HeapFree(p.heap, 0, p.block));
        ck_assert(HeapValidate(p.heap, 0, NULL));
        ck_assert(HeapDestroy(p.heap));
    }
}
END_TEST

static Suite *heap_corruption_suite(void)
{
    Suite *s = suite_create("heap corruption");
    TCase *t = tcase_create("fail-fast");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, the_same_operations_done_right_end_nothing);
    tcase_add_loop_test(t, a_double_free_is_heap_corruption, 0, 2 * NSIZES);
    tcase_add_loop_test(t, a_double_free_after_other_work_is_heap_corruption, 0, 2 * NSIZES);
    tcase_add_loop_test(t, freeing_a_pointer_into_a_block_is_heap_corruption, 0, 2 * NSIZES);
    tcase_add_loop_test(t, freeing_a_block_through_another_heap_is_heap_corruption, 0, 2 * NSIZES);
    tcase_add_loop_test(t, freeing_a_process_heap_block_through_a_private_heap_is_heap_corruption, 0, NSIZES);
    tcase_add_loop_test(t, an_overrun_into_the_next_header_is_found_when_either_block_is_freed, 0, 8);
    suite_add_tcase(s, t);

    t = tcase_create("validate");
    tcase_add_loop_test(t, heap_validate_reports_an_overwritten_header_without_ending_anything, 0, 4);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(heap_corruption_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
