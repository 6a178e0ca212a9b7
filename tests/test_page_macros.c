/* test_page_macros.c - the page arithmetic macros, with the seed's examples and the edge cases. */
#include <check.h>
#include <wdm.h>

START_TEST(constants)
{
    ck_assert_uint_eq(PAGE_SIZE, 4096);
    ck_assert_uint_eq(1UL << PAGE_SHIFT, PAGE_SIZE);
}
END_TEST

START_TEST(seed_examples)
{
    ck_assert_uint_eq(ROUND_TO_PAGES(1), 4096);
    ck_assert_uint_eq(ROUND_TO_PAGES(4097), 8192);
    ck_assert_uint_eq(BYTES_TO_PAGES(42), 1);
    ck_assert_uint_eq(BYTES_TO_PAGES(5000), 2);
    ck_assert_uint_eq(BYTE_OFFSET(0x12345678), 0x678);
    ck_assert_ptr_eq(PAGE_ALIGN(0x12345678), (PVOID)0x12345000);
    ck_assert_uint_eq(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x12345FFF, 2), 2);
}
END_TEST

START_TEST(round_to_pages_edges)
{
    ck_assert_uint_eq(ROUND_TO_PAGES(0), 0);
    ck_assert_uint_eq(ROUND_TO_PAGES(4095), 4096);
    ck_assert_uint_eq(ROUND_TO_PAGES(4096), 4096);
    ck_assert_uint_eq(ROUND_TO_PAGES(8192), 8192);
    ck_assert_uint_eq(ROUND_TO_PAGES(0x100000001ULL), 0x100001000ULL); /* SIZE_T-wide, no 32-bit cut */
}
END_TEST

START_TEST(bytes_to_pages_edges)
{
    ck_assert_uint_eq(BYTES_TO_PAGES(0), 0);
    ck_assert_uint_eq(BYTES_TO_PAGES(1), 1);
    ck_assert_uint_eq(BYTES_TO_PAGES(4096), 1);
    ck_assert_uint_eq(BYTES_TO_PAGES(4097), 2);
    ck_assert_uint_eq(BYTES_TO_PAGES(8192), 2);
    ck_assert_uint_eq(BYTES_TO_PAGES((SIZE_T)1 << 32), 0x100000);
}
END_TEST

START_TEST(byte_offset_and_page_align_edges)
{
    UCHAR Buffer[16];

    ck_assert_uint_eq(BYTE_OFFSET(0), 0);
    ck_assert_uint_eq(BYTE_OFFSET(0x1000), 0);
    ck_assert_uint_eq(BYTE_OFFSET(0xFFF), 0xFFF);
    ck_assert_uint_eq(BYTE_OFFSET(0x7FFFFFFFFFFFF001ULL), 1);
    ck_assert_ptr_eq(PAGE_ALIGN(0x1000), (PVOID)0x1000);
    ck_assert_ptr_eq(PAGE_ALIGN(0xFFF), NULL);
    ck_assert_ptr_eq(PAGE_ALIGN(0xFFFFFFFFFFFFFFFFULL), (PVOID)0xFFFFFFFFFFFFF000ULL);
    /* with real pointers the two halves add back up */
    ck_assert_ptr_eq((UCHAR *)PAGE_ALIGN(&Buffer[5]) + BYTE_OFFSET(&Buffer[5]), &Buffer[5]);
}
END_TEST

START_TEST(span_pages_edges)
{
    ck_assert_uint_eq(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1000, 0), 0);
    ck_assert_uint_eq(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1000, 1), 1);
    ck_assert_uint_eq(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1000, 0x1000), 1);
    ck_assert_uint_eq(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1000, 0x1001), 2);
    ck_assert_uint_eq(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1001, 0x1000), 2);
    ck_assert_uint_eq(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1FFF, 1), 1);
    ck_assert_uint_eq(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x12345678, 0x10000), 17);
    ck_assert_uint_eq(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x12345000, 0x10000), 16);
    ck_assert_uint_eq(ADDRESS_AND_SIZE_TO_SPAN_PAGES((PVOID)0x12345FFF, 0x1002), 3);
}
END_TEST

static Suite *page_macros_suite(void)
{
    Suite *s = suite_create("page_macros");
    TCase *t = tcase_create("macros");
    tcase_add_test(t, constants);
    tcase_add_test(t, seed_examples);
    tcase_add_test(t, round_to_pages_edges);
    tcase_add_test(t, bytes_to_pages_edges);
    tcase_add_test(t, byte_offset_and_page_align_edges);
    tcase_add_test(t, span_pages_edges);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(page_macros_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
