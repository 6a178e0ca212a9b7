/* test_special_pool.c - Driver Verifier's special pool: placement next to an inaccessible page,
 * selection by tag and size, the pattern checked at free (STOP 0xC1 and its subtypes), overruns and
 * underruns (STOP 0xD6) and uses after free (STOP 0xD5). */
#include <check.h>
#include <string.h>
#include <ntddk.h>
#include <ntmem.h>

#include "death.h"
#include "pooltest.h"


static void special_on(ULONG tag, SIZE_T min, SIZE_T max, BOOLEAN start)
{
    NTMEM_SPECIAL_POOL_SETTINGS s = {tag, min, max, start};
    ntmem_set_special_pool(&s);
    ntmem_set_verifier_flags(NTMEM_VERIFIER_SPECIAL_POOL);
}

static void special_off(void)
{
    ntmem_set_verifier_flags(0);
    NTMEM_SPECIAL_POOL_SETTINGS s = {0, 0, 0, FALSE};
    ntmem_set_special_pool(&s);
}

START_TEST(selected_blocks_end_at_a_page_and_unselected_ones_use_normal_pool)
{
    special_on('gaT1', 16, 200, FALSE);
    NTMEM_SPECIAL_POOL_INFO before, after;
    ntmem_query_special_pool(&before);
    PUCHAR a = ExAllocatePoolWithTag(NonPagedPoolNx, 40, 'gaT1');
    PUCHAR other_tag = ExAllocatePoolWithTag(NonPagedPoolNx, 40, 'gaT2');
    PUCHAR too_big = ExAllocatePoolWithTag(PagedPool, 300, 'gaT1');
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(((ULONG_PTR)a + 48) & (PAGE_SIZE - 1), 0); /* ends at the page, to 16 bytes */
    memset(a, 7, 40);
    ck_assert_uint_eq(ExQueryPoolBlockSize(a, NULL), 40);
    NTMEM_POOL_BLOCK_INFO info;
    ck_assert_int_eq(ntmem_pool_lookup(a + 10, &info), STATUS_SUCCESS);
    ck_assert_ptr_eq(info.Block, a);
    ck_assert_uint_eq(info.Tag, 'gaT1');
    ck_assert(info.Allocated);
    ntmem_query_special_pool(&after);
    ck_assert_uint_eq(after.Allocations - before.Allocations, 1);
    ck_assert_uint_eq(after.Considered - before.Considered, 3); /* one of three: the reported fraction */
    ck_assert_uint_eq(after.Outstanding - before.Outstanding, 1);
    SYSTEM_POOLTAG counts;
    ck_assert(pt_tag_counts('gaT1', &counts));
    ck_assert_uint_ge(counts.NonPagedAllocs - counts.NonPagedFrees, 1); /* poolmon sees it */
    ExFreePoolWithTag(a, 'gaT1');
    ExFreePoolWithTag(other_tag, 'gaT2');
    ExFreePoolWithTag(too_big, 'gaT1');
    ntmem_query_special_pool(&after);
    ck_assert_uint_eq(after.Frees - before.Frees, 1);
    ck_assert_uint_eq(after.Outstanding, before.Outstanding);
    special_off();
}
END_TEST

/* When special pool is exhausted, selected requests are served from normal pool and counted as
 * fallbacks; the fraction served is Allocations / Considered. (Each test runs in a fresh child, so
 * nothing of special pool is committed when it starts.) */
START_TEST(exhausted_special_pool_falls_back_to_normal_pool)
{
    enum { N = 10, ROOM = 4 };
    special_on(0, 0, 0, FALSE);
    ntmem_set_special_pool_limit(ROOM * 2 * PAGE_SIZE); /* two pages a block */
    NTMEM_SPECIAL_POOL_INFO before, after;
    ntmem_query_special_pool(&before);
    PUCHAR blocks[N];
    int special = 0;
    for (int i = 0; i < N; i++) {
        blocks[i] = ExAllocatePoolWithTag(NonPagedPoolNx, 32, 'pSpF');
        ck_assert_ptr_nonnull(blocks[i]);
        memset(blocks[i], i, 32);
        NTMEM_POOL_BLOCK_INFO info;
        ck_assert_int_eq(ntmem_pool_lookup(blocks[i], &info), STATUS_SUCCESS);
        BOOLEAN at_page_end = (((ULONG_PTR)blocks[i] + 32) & (PAGE_SIZE - 1)) == 0;
        ck_assert(at_page_end == (i < ROOM)); /* the first ROOM in special pool, then normal pool */
        special += at_page_end;
    }
    ntmem_query_special_pool(&after);
    ck_assert_int_eq(special, ROOM);
    ck_assert_uint_eq(after.Considered - before.Considered, N);
    ck_assert_uint_eq(after.Allocations - before.Allocations, ROOM);
    ck_assert_uint_eq(after.Fallbacks - before.Fallbacks, N - ROOM);
    for (int i = 0; i < N; i++) {
        ck_assert_uint_eq(blocks[i][31], (UCHAR)i);
        ExFreePoolWithTag(blocks[i], 'pSpF');
    }
    ck_assert_uint_eq(ntmem_set_special_pool_limit(0), ROOM * 2 * PAGE_SIZE);
    special_off();
}
END_TEST

START_TEST(verify_start_puts_the_block_at_the_start_of_its_page)
{
    special_on(0, 0, 0, TRUE);
    PUCHAR a = ExAllocatePoolWithTag(PagedPool, 100, 'trtS');
    ck_assert_uint_eq((ULONG_PTR)a & (PAGE_SIZE - 1), 0);
    memset(a, 1, 100);
    ExFreePoolWithTag(a, 'trtS');
    special_off();
}
END_TEST

/* ---- what each misuse ends in -------------------------------------------------------------------- */

static void overrun(void *arg)
{
    (void)arg;
    special_on(0, 0, 0, FALSE);
    volatile UCHAR *p = ExAllocatePoolWithTag(NonPagedPoolNx, 48, 'nurO');
    p[48] = 1; /* the first byte after it: the inaccessible page */
}

static void underrun(void *arg)
{
    (void)arg;
    special_on(0, 0, 0, TRUE);
    volatile UCHAR *p = ExAllocatePoolWithTag(NonPagedPoolNx, 48, 'nurU');
    p[-1] = 1;
}

static void use_after_free(void *arg)
{
    (void)arg;
    special_on(0, 0, 0, FALSE);
    volatile UCHAR *p = ExAllocatePoolWithTag(PagedPool, 64, 'fauU');
    ExFreePoolWithTag((PVOID)p, 'fauU');
    (void)p[3];
}

static void slack_overrun(void *arg)
{
    (void)arg;
    special_on(0, 0, 0, FALSE);
    PUCHAR p = ExAllocatePoolWithTag(NonPagedPoolNx, 40, 'kalS');
    p[41] = 1; /* inside the 16-byte alignment slack: no fault, found at free */
    ExFreePoolWithTag(p, 'kalS');
}

static void write_before_block(void *arg)
{
    (void)arg;
    special_on(0, 0, 0, FALSE);
    PUCHAR p = ExAllocatePoolWithTag(NonPagedPoolNx, 40, 'eroB');
    p[-100] = 1;
    ExFreePoolWithTag(p, 'eroB');
}

static void double_free(void *arg)
{
    (void)arg;
    special_on(0, 0, 0, FALSE);
    PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 40, 'lbuD');
    ExFreePoolWithTag(p, 'lbuD');
    ExFreePoolWithTag(p, 'lbuD');
}

static void free_inside(void *arg)
{
    (void)arg;
    special_on(0, 0, 0, FALSE);
    PUCHAR p = ExAllocatePoolWithTag(NonPagedPoolNx, 64, 'dsnI');
    ExFreePoolWithTag(p + 16, 'dsnI');
}

static void wrong_tag(void *arg)
{
    (void)arg;
    special_on(0, 0, 0, FALSE);
    PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 64, 'gaT1');
    ExFreePoolWithTag(p, 'gaT2');
}

START_TEST(faults_on_special_pool_are_stop_d6_and_d5)
{
    SKIP_HARDWARE_DEATH_UNDER_TSAN();
    static death_result r;
    death_run(overrun, NULL, &r);
    ck_assert_msg(r.parsed && r.code == DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION, "status 0x%x:\n%s", r.status,
                  r.output);
    ck_assert_uint_eq(r.p[0] & (PAGE_SIZE - 1), 0); /* the first byte of the inaccessible page */
    ck_assert_uint_eq(r.p[1], 1);                    /* a write */
    ck_assert(r.aborted);
    death_run(underrun, NULL, &r);
    ck_assert_msg(r.parsed && r.code == DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION, "%s", r.output);
    ck_assert_uint_eq(r.p[0] & (PAGE_SIZE - 1), PAGE_SIZE - 1);
    death_run(use_after_free, NULL, &r);
    ck_assert_msg(r.parsed && r.code == DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL, "%s", r.output);
    ck_assert_uint_eq(r.p[1], 0); /* a read */
}
END_TEST

START_TEST(damage_found_at_free_is_stop_c1_with_its_subtype)
{
    static death_result r;
    struct {
        void (*fn)(void *);
        ULONG code;
        ULONG_PTR p4;
    } cases[] = {{slack_overrun, SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, 0x24},
                 {write_before_block, SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, 0x23},
                 {double_free, SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, 0x20},
                 {free_inside, SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, 0x21}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        death_run(cases[i].fn, NULL, &r);
        ck_assert_msg(r.parsed && r.code == cases[i].code, "case %zu:\n%s", i, r.output);
        ck_assert_msg(r.p[3] == cases[i].p4, "case %zu: P4 0x%llx\n%s", i, r.p[3], r.output);
        ck_assert(r.aborted);
    }
    ck_assert_bugcheck(wrong_tag, NULL, BAD_POOL_CALLER, 0x0A);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("special pool");
    TCase *t = tcase_create("special pool");
    tcase_add_test(t, selected_blocks_end_at_a_page_and_unselected_ones_use_normal_pool);
    tcase_add_test(t, verify_start_puts_the_block_at_the_start_of_its_page);
    tcase_add_test(t, exhausted_special_pool_falls_back_to_normal_pool);
    tcase_add_test(t, faults_on_special_pool_are_stop_d6_and_d5);
    tcase_add_test(t, damage_found_at_free_is_stop_c1_with_its_subtype);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int n = srunner_ntests_failed(r);
    srunner_free(r);
    return n != 0;
}
