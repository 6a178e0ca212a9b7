/* test_probe.c - ProbeForRead and ProbeForWrite: which buffers pass, which raise what, and what
 * ProbeForWrite touches. */
#define _GNU_SOURCE
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <ntmem.h>
#include <windows.h>

#include "death.h"

/* Counts every exception and lets it go on (so an unexpected one still ends the test). */
static int exceptions_seen;

static LONG WINAPI count_all(PEXCEPTION_POINTERS e)
{
    (void)e;
    exceptions_seen++;
    return EXCEPTION_CONTINUE_SEARCH;
}

static void probe_both(PVOID p, SIZE_T n, ULONG alignment)
{
    ProbeForRead(p, n, alignment);
    ProbeForWrite(p, n, alignment);
}

/* ---- length 0 ----------------------------------------------------------------------------------- */

START_TEST(length_zero_does_nothing_even_for_bad_addresses)
{
    exceptions_seen = 0;
    PVOID h = AddVectoredExceptionHandler(0, count_all);
    PVOID pool = ExAllocatePoolWithTag(NonPagedPool, 64, 'borP');
    ck_assert_ptr_nonnull(pool);
    probe_both(NULL, 0, 1);
    probe_both(NULL, 0, 8);
    probe_both(pool, 0, 1);
    probe_both(MmSystemRangeStart, 0, 4);
    probe_both((PVOID)(~(ULONG_PTR)0 - 10), 0, 1);
    probe_both((PVOID)3, 0, 4); /* misaligned, but nothing to check */
    ck_assert_int_eq(exceptions_seen, 0);
    ExFreePoolWithTag(pool, 'borP');
    RemoveVectoredExceptionHandler(h);
}
END_TEST

/* ---- user buffers pass ---------------------------------------------------------------------------- */

static UCHAR static_buffer[3 * PAGE_SIZE + 100];

static void *probe_own_stack(void *arg)
{
    (void)arg;
    volatile UCHAR local[2 * PAGE_SIZE];
    for (size_t i = 0; i < sizeof local; i++)
        local[i] = (UCHAR)(i * 3);
    probe_both((PVOID)local, sizeof local, 1);
    probe_both((PVOID)(local + 8), 64, 8);
    for (size_t i = 0; i < sizeof local; i++)
        if (local[i] != (UCHAR)(i * 3))
            return (void *)1;
    return NULL;
}

START_TEST(heap_stack_static_and_mapped_buffers_pass)
{
    exceptions_seen = 0;
    PVOID h = AddVectoredExceptionHandler(0, count_all);

    UCHAR *heap = malloc(5 * PAGE_SIZE);
    ck_assert_ptr_nonnull(heap);
    for (size_t i = 0; i < 5 * PAGE_SIZE; i++)
        heap[i] = (UCHAR)i;
    probe_both(heap, 5 * PAGE_SIZE, 1);
    probe_both(heap, 16, __alignof__(max_align_t));
    for (size_t i = 0; i < 5 * PAGE_SIZE; i++)
        ck_assert_uint_eq(heap[i], (UCHAR)i); /* ProbeForWrite keeps the contents */
    free(heap);

    /* The main thread's stack (above the system range, by design) and another thread's. */
    volatile UCHAR local[3 * PAGE_SIZE];
    memset((void *)local, 0x5A, sizeof local);
    probe_both((PVOID)local, sizeof local, 1);
    ck_assert_uint_eq(local[PAGE_SIZE + 7], 0x5A);
    pthread_t t;
    void *bad;
    ck_assert_int_eq(pthread_create(&t, NULL, probe_own_stack, NULL), 0);
    ck_assert_int_eq(pthread_join(t, &bad), 0);
    ck_assert_ptr_null(bad);

    memset(static_buffer, 0x33, sizeof static_buffer);
    probe_both(static_buffer, sizeof static_buffer, 1);
    probe_both((PUCHAR)static_buffer + 1, 10, 1);
    ck_assert_uint_eq(static_buffer[sizeof static_buffer - 1], 0x33);

    PUCHAR map = mmap(NULL, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(map, MAP_FAILED);
    map[2 * PAGE_SIZE] = 9;
    probe_both(map, 4 * PAGE_SIZE, PAGE_SIZE);
    probe_both(map + 4 * PAGE_SIZE - 1, 1, 1); /* the last byte */
    ck_assert_uint_eq(map[2 * PAGE_SIZE], 9);
    munmap(map, 4 * PAGE_SIZE);

    ck_assert_int_eq(exceptions_seen, 0);
    RemoveVectoredExceptionHandler(h);
}
END_TEST

START_TEST(probe_for_read_does_not_touch_the_buffer)
{
    exceptions_seen = 0;
    PVOID h = AddVectoredExceptionHandler(0, count_all);
    PUCHAR none = mmap(NULL, 3 * PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(none, MAP_FAILED);
    ProbeForRead(none, 3 * PAGE_SIZE, 1);
    ProbeForRead(none + 100, PAGE_SIZE, 4);
    ck_assert_int_eq(exceptions_seen, 0);
    munmap(none, 3 * PAGE_SIZE);
    RemoveVectoredExceptionHandler(h);
}
END_TEST

/* ---- ProbeForWrite touches every page for write -------------------------------------------------- */

#define DEMAND_PAGES 8
static PUCHAR demand_base;
static int demand_faults[DEMAND_PAGES];
static int demand_writes[DEMAND_PAGES];
static int grant_only_what_is_asked; /* read fault -> PROT_READ, write fault -> PROT_READ|PROT_WRITE */

static LONG WINAPI commit_on_demand(PEXCEPTION_POINTERS e)
{
    PEXCEPTION_RECORD r = e->ExceptionRecord;
    if (r->ExceptionCode != STATUS_ACCESS_VIOLATION)
        return EXCEPTION_CONTINUE_SEARCH;
    PUCHAR a = (PUCHAR)r->ExceptionInformation[1];
    if (a < demand_base || a >= demand_base + DEMAND_PAGES * PAGE_SIZE)
        return EXCEPTION_CONTINUE_SEARCH;
    size_t page = (size_t)(a - demand_base) / PAGE_SIZE;
    demand_faults[page]++;
    int write = r->ExceptionInformation[0] == 1;
    demand_writes[page] += write;
    int prot = grant_only_what_is_asked && !write ? PROT_READ : PROT_READ | PROT_WRITE;
    mprotect(demand_base + page * PAGE_SIZE, PAGE_SIZE, prot);
    return EXCEPTION_CONTINUE_EXECUTION;
}

/* Fills the region with a pattern, then takes all access away. */
static void demand_setup(int grant_only)
{
    demand_base = mmap(NULL, DEMAND_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(demand_base, MAP_FAILED);
    for (size_t i = 0; i < DEMAND_PAGES * PAGE_SIZE; i++)
        demand_base[i] = (UCHAR)(i * 7 + 1);
    ck_assert_int_eq(mprotect(demand_base, DEMAND_PAGES * PAGE_SIZE, PROT_NONE), 0);
    memset(demand_faults, 0, sizeof demand_faults);
    memset(demand_writes, 0, sizeof demand_writes);
    grant_only_what_is_asked = grant_only;
}

static void demand_check_pattern(void)
{
    mprotect(demand_base, DEMAND_PAGES * PAGE_SIZE, PROT_READ);
    for (size_t i = 0; i < DEMAND_PAGES * PAGE_SIZE; i++)
        ck_assert_uint_eq(demand_base[i], (UCHAR)(i * 7 + 1));
    munmap(demand_base, DEMAND_PAGES * PAGE_SIZE);
}

START_TEST(probe_for_write_touches_each_page_once)
{
    demand_setup(0);
    PVOID h = AddVectoredExceptionHandler(0, commit_on_demand);
    /* from the middle of page 1 to the middle of page 4 */
    ProbeForWrite(demand_base + PAGE_SIZE + 100, 3 * PAGE_SIZE - 50, 4);
    for (int i = 0; i < DEMAND_PAGES; i++)
        ck_assert_msg(demand_faults[i] == (i >= 1 && i <= 4), "page %d faulted %d times", i, demand_faults[i]);
    demand_check_pattern();

    /* exactly pages 1 and 2 (the range ends at the start of page 3, which is not touched) */
    demand_setup(0);
    ProbeForWrite(demand_base + PAGE_SIZE, 2 * PAGE_SIZE, 8);
    for (int i = 0; i < DEMAND_PAGES; i++)
        ck_assert_msg(demand_faults[i] == (i == 1 || i == 2), "page %d faulted %d times", i, demand_faults[i]);
    demand_check_pattern();

    /* one byte at the end of a page, and a two-byte range straddling two pages */
    demand_setup(0);
    ProbeForWrite(demand_base + PAGE_SIZE - 1, 1, 1);
    ProbeForWrite(demand_base + 6 * PAGE_SIZE - 1, 2, 1);
    for (int i = 0; i < DEMAND_PAGES; i++)
        ck_assert_msg(demand_faults[i] == (i == 0 || i == 5 || i == 6), "page %d faulted %d times", i,
                      demand_faults[i]);
    demand_check_pattern();
    RemoveVectoredExceptionHandler(h);
}
END_TEST

START_TEST(probe_for_write_touches_for_write_not_just_read)
{
    demand_setup(1);
    PVOID h = AddVectoredExceptionHandler(0, commit_on_demand);
    ProbeForWrite(demand_base + 2 * PAGE_SIZE + 8, 4 * PAGE_SIZE, 8);
    for (int i = 0; i < DEMAND_PAGES; i++) {
        int in = i >= 2 && i <= 6;
        ck_assert_msg(demand_writes[i] == in, "page %d: %d write faults", i, demand_writes[i]);
        ck_assert_msg(in ? demand_faults[i] >= 1 && demand_faults[i] <= 2 : demand_faults[i] == 0,
                      "page %d faulted %d times", i, demand_faults[i]);
    }
    demand_check_pattern();
    RemoveVectoredExceptionHandler(h);
}
END_TEST

/* ---- what raises what (unhandled, so STOP 0x1E names the exception) ------------------------------- */

static void read_pool_block(void *arg)
{
    (void)arg;
    PVOID pool = ExAllocatePoolWithTag(PagedPool, 100, 'borP');
    ProbeForRead(pool, 100, 1);
    fprintf(stderr, "probe returned\n");
}

static void write_pool_block(void *arg)
{
    (void)arg;
    PVOID pool = ExAllocatePoolWithTag(NonPagedPool, 2 * PAGE_SIZE, 'borP');
    ProbeForWrite(pool, 8, 8);
    fprintf(stderr, "probe returned\n");
}

static void read_system_range_start(void *arg)
{
    (void)arg;
    ProbeForRead(MmSystemRangeStart, 1, 1);
}

static void read_into_system_range(void *arg)
{
    (void)arg;
    /* starts one byte below the system range and ends one byte inside it */
    ProbeForRead((PUCHAR)MmSystemRangeStart - 1, 2, 1);
}

static void write_into_system_range(void *arg)
{
    (void)arg;
    ProbeForWrite((PUCHAR)MmSystemRangeStart - PAGE_SIZE, PAGE_SIZE + 1, 1);
}

static void read_across_system_range(void *arg)
{
    (void)arg;
    /* from the user heap to beyond the end of the system range */
    PUCHAR p = calloc(1, 16);
    ProbeForRead(p, (SIZE_T)(~(ULONG_PTR)0 - (ULONG_PTR)p), 1);
}

static void read_wrapping(void *arg)
{
    (void)arg;
    ProbeForRead((PVOID)(~(ULONG_PTR)0 - 10), 100, 1);
}

static void write_wrapping(void *arg)
{
    (void)arg;
    ProbeForWrite((PVOID)(~(ULONG_PTR)0 - 10), 100, 1);
}

static UCHAR aligned_buffer[64] __attribute__((aligned(16)));

static void read_misaligned(void *arg)
{
    (void)arg;
    ProbeForRead(aligned_buffer + 2, 8, 4);
}

static void write_misaligned(void *arg)
{
    (void)arg;
    ProbeForWrite(aligned_buffer + 4, 8, 8);
}

static PUCHAR readonly_page;

static void write_readonly(void *arg)
{
    (void)arg;
    readonly_page = mmap(NULL, 2 * PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    fprintf(stderr, "page %p\n", (void *)readonly_page);
    ProbeForWrite(readonly_page + 16, 32, 4);
    fprintf(stderr, "probe returned\n");
}

START_TEST(pool_and_system_addresses_raise_access_violation)
{
    static death_result r;
    ck_assert_bugcheck(read_pool_block, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0xC0000005u);
    ck_assert_bugcheck(write_pool_block, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0xC0000005u);
    ck_assert_bugcheck(read_system_range_start, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0xC0000005u);
    ck_assert_bugcheck(read_into_system_range, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0xC0000005u);
    ck_assert_bugcheck(write_into_system_range, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0xC0000005u);
    ck_assert_bugcheck(read_across_system_range, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0xC0000005u);
    /* raised, not touched: not a 0x50 for writing pool, and the probe does not return */
    death_run(write_pool_block, NULL, &r);
    ck_assert_uint_eq(r.code, KMODE_EXCEPTION_NOT_HANDLED);
    ck_assert_ptr_null(strstr(r.output, "probe returned"));
}
END_TEST

START_TEST(wrapping_range_raises_access_violation)
{
    ck_assert_bugcheck(read_wrapping, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0xC0000005u);
    ck_assert_bugcheck(write_wrapping, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0xC0000005u);
}
END_TEST

START_TEST(misaligned_address_raises_datatype_misalignment)
{
    ck_assert_bugcheck(read_misaligned, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0x80000002u);
    ck_assert_bugcheck(write_misaligned, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0x80000002u);
}
END_TEST

START_TEST(probe_for_write_on_a_readonly_mapping_is_a_write_access_violation)
{
#if defined(__SANITIZE_THREAD__)
    /* A hardware fault that reaches a bug check under TSan ends in TSan's own report (its deadly-signal
     * handler, and its signal-unsafe-call check on the STOP report); the other builds run this. */
    return;
#endif
    static death_result r;
    void *page = NULL;
    death_run(write_readonly, NULL, &r);
    ck_assert_msg(r.parsed, "no STOP report:\n%s", r.output);
    ck_assert_int_eq(sscanf(strstr(r.output, "page "), "page %p", &page), 1);
    ck_assert_uint_eq(r.code, KMODE_EXCEPTION_NOT_HANDLED);
    ck_assert_uint_eq(r.p[0], 0xC0000005u);
    ck_assert_uint_eq(r.p[2], 1); /* write */
    ck_assert_msg(r.p[3] >= (ULONG_PTR)page + 16 && r.p[3] < (ULONG_PTR)page + 48, "P4 0x%llx, buffer %p+16",
                  r.p[3], page);
    ck_assert(r.aborted);
    ck_assert_ptr_null(strstr(r.output, "probe returned"));
}
END_TEST

/* The exceptions a probe raises are noncontinuable: a handler that continues one gets
 * STATUS_NONCONTINUABLE_EXCEPTION, and the probe does not return. */
static LONG WINAPI continue_anything(PEXCEPTION_POINTERS e)
{
    fprintf(stderr, "saw 0x%08X flags %u\n", (unsigned)e->ExceptionRecord->ExceptionCode,
            (unsigned)e->ExceptionRecord->ExceptionFlags);
    return EXCEPTION_CONTINUE_EXECUTION;
}

static void continue_after_probe(void *arg)
{
    (void)arg;
    AddVectoredExceptionHandler(0, continue_anything);
    ProbeForRead(MmSystemRangeStart, 16, 1);
    fprintf(stderr, "probe returned\n");
}

START_TEST(probe_exceptions_are_noncontinuable)
{
    static death_result r;
    death_run(continue_after_probe, NULL, &r);
    ck_assert_msg(r.parsed, "no STOP report:\n%s", r.output);
    ck_assert_uint_eq(r.code, KMODE_EXCEPTION_NOT_HANDLED);
    ck_assert_uint_eq(r.p[0], 0xC0000025u);
    ck_assert_msg(strstr(r.output, "saw 0xC0000005 flags 1\n") != NULL, "%s", r.output);
    ck_assert_ptr_null(strstr(r.output, "probe returned"));
}
END_TEST

static Suite *probe_suite(void)
{
    Suite *s = suite_create("probe");
    TCase *t = tcase_create("passes");
    tcase_add_test(t, length_zero_does_nothing_even_for_bad_addresses);
    tcase_add_test(t, heap_stack_static_and_mapped_buffers_pass);
    tcase_add_test(t, probe_for_read_does_not_touch_the_buffer);
    tcase_add_test(t, probe_for_write_touches_each_page_once);
    tcase_add_test(t, probe_for_write_touches_for_write_not_just_read);
    suite_add_tcase(s, t);

    t = tcase_create("raises");
    tcase_add_test(t, pool_and_system_addresses_raise_access_violation);
    tcase_add_test(t, wrapping_range_raises_access_violation);
    tcase_add_test(t, misaligned_address_raises_datatype_misalignment);
    tcase_add_test(t, probe_for_write_on_a_readonly_mapping_is_a_write_access_violation);
    tcase_add_test(t, probe_exceptions_are_noncontinuable);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(probe_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
