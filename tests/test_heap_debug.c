/* test_heap_debug.c - debug heaps (ntmem_set_heap_debug / NTMEM_HEAP_DEBUG): fill patterns, tail
 * checking, free checking, full-page blocks; each detection path ends in STATUS_HEAP_CORRUPTION. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <ntmem.h>
#include <windows.h>

#include "death.h"

static HANDLE debug_heap(ULONG flags)
{
    ULONG old = ntmem_set_heap_debug(flags);
    HANDLE h = HeapCreate(0, 0, 0);
    ntmem_set_heap_debug(old);
    ck_assert_ptr_nonnull(h);
    return h;
}

START_TEST(fill_patterns_mark_new_and_freed_blocks)
{
    HANDLE h = debug_heap(NTMEM_HEAP_DEBUG_FILL | NTMEM_HEAP_DEBUG_TAIL | NTMEM_HEAP_DEBUG_FREE);
    PUCHAR p = HeapAlloc(h, 0, 64);
    ck_assert_ptr_nonnull(p);
    ULONG word;
    memcpy(&word, p, 4);
    ck_assert_uint_eq(word, 0xBAADF00Du);
    PUCHAR z = HeapAlloc(h, HEAP_ZERO_MEMORY, 64);
    for (int i = 0; i < 64; i++)
        ck_assert_int_eq(z[i], 0);
    ck_assert(HeapFree(h, 0, p));
    memcpy(&word, p + 32, 4); /* beyond the free block's list links */
    ck_assert_uint_eq(word, 0xFEEEFEEEu);
    PUCHAR q = HeapReAlloc(h, 0, z, 5000);
    ck_assert_ptr_nonnull(q);
    for (int i = 0; i < 64; i++)
        ck_assert_int_eq(q[i], 0);
    ck_assert_uint_eq(HeapSize(h, 0, q), 5000);
    ck_assert(HeapValidate(h, 0, NULL));
    ck_assert(HeapDestroy(h));
}
END_TEST

START_TEST(a_damaged_tail_fails_validation_without_ending_anything)
{
    HANDLE h = debug_heap(NTMEM_HEAP_DEBUG_TAIL);
    PUCHAR p = HeapAlloc(h, 0, 20);
    ck_assert(HeapValidate(h, 0, p));
    p[20] = 0; /* one byte past the end */
    ck_assert(!HeapValidate(h, 0, p));
    ck_assert(!HeapValidate(h, 0, NULL));
    /* the heap is left as it is: never used again */
}
END_TEST

static void overrun_then_free(void *arg)
{
    (void)arg;
    HANDLE h = debug_heap(NTMEM_HEAP_DEBUG_TAIL);
    PUCHAR p = HeapAlloc(h, 0, 20);
    p[21] = 1;
    HeapFree(h, 0, p);
    fprintf(stderr, "freed\n");
}

static void write_after_free_then_allocate(void *arg)
{
    (void)arg;
    HANDLE h = debug_heap(NTMEM_HEAP_DEBUG_FREE);
    PUCHAR p = HeapAlloc(h, 0, 200);
    HeapFree(h, 0, p);
    p[100] = 7; /* inside the freed block, past its links */
    for (int i = 0; i < 64; i++)
        HeapAlloc(h, 0, 200);
    fprintf(stderr, "allocated\n");
}

static void fullpage_double_free(void *arg)
{
    (void)arg;
    HANDLE h = debug_heap(NTMEM_HEAP_DEBUG_FULLPAGE);
    PVOID p = HeapAlloc(h, 0, 40);
    HeapFree(h, 0, p);
    HeapFree(h, 0, p);
    fprintf(stderr, "freed twice\n");
}

START_TEST(each_detection_path_ends_in_heap_corruption)
{
    static death_result r;
    void (*cases[])(void *) = {overrun_then_free, write_after_free_then_allocate, fullpage_double_free};
    const char *what[] = {"buffer overrun", "use after free", "double free"};
    for (int i = 0; i < 3; i++) {
        death_run(cases[i], NULL, &r);
        ck_assert_msg(r.aborted, "case %d did not abort:\n%s", i, r.output);
        ck_assert_msg(strstr(r.output, "0xC0000374") != NULL, "%s", r.output);
        ck_assert_msg(strstr(r.output, what[i]) != NULL, "expected '%s' in:\n%s", what[i], r.output);
    }
}
END_TEST

static int fault(volatile UCHAR *p, int write)
{
    volatile int code = 0;
    __try {
        if (write)
            *p = 1;
        else
            (void)*p;
    } __except (code = GetExceptionCode(), EXCEPTION_EXECUTE_HANDLER) {
    }
    return code;
}

START_TEST(full_page_blocks_fault_at_the_first_byte_past_them_and_after_free)
{
    HANDLE h = debug_heap(NTMEM_HEAP_DEBUG_FULLPAGE);
    PUCHAR p = HeapAlloc(h, 0, 48);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(fault(p + 47, 1), 0);
    ck_assert_int_eq(fault(p + 48, 1), (int)STATUS_ACCESS_VIOLATION); /* the next page */
    ck_assert_uint_eq(HeapSize(h, 0, p), 48);
    PROCESS_HEAP_ENTRY e;
    e.lpData = NULL;
    int found = 0;
    while (HeapWalk(h, &e))
        found |= e.lpData == p && (e.wFlags & PROCESS_HEAP_ENTRY_BUSY) && e.cbData == 48;
    ck_assert_int_eq(found, 1);
    ck_assert(HeapFree(h, 0, p));
    ck_assert_int_eq(fault(p, 0), (int)STATUS_ACCESS_VIOLATION); /* freed: inaccessible */
    ck_assert(!HeapValidate(h, 0, p));
    ck_assert_uint_eq(HeapSize(h, 0, p), (SIZE_T)-1);
    for (int i = 0; i < 200; i++) /* more frees than the quarantine holds */
        ck_assert(HeapFree(h, 0, HeapAlloc(h, 0, 100)));
    ck_assert(HeapValidate(h, 0, NULL));
    ck_assert(HeapDestroy(h));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("heap debug");
    TCase *t = tcase_create("debug");
    tcase_add_test(t, fill_patterns_mark_new_and_freed_blocks);
    tcase_add_test(t, a_damaged_tail_fails_validation_without_ending_anything);
    tcase_add_test(t, each_detection_path_ends_in_heap_corruption);
    tcase_add_test(t, full_page_blocks_fault_at_the_first_byte_past_them_and_after_free);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int n = srunner_ntests_failed(r);
    srunner_free(r);
    return n != 0;
}
