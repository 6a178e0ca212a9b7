/* test_rtl_memory.c - Rtl memory routines and macros: copy, move (overlapping), fill, zero, compare. */
#include <check.h>
#include <wdm.h>

static void pattern(UCHAR *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (UCHAR)(i * 7 + 1);
}

START_TEST(copy_bytes_and_copy_memory)
{
    UCHAR Src[100], Dst[100];

    pattern(Src, sizeof Src);
    memset(Dst, 0xEE, sizeof Dst);
    RtlCopyBytes(Dst + 1, Src, 50);
    ck_assert_uint_eq(Dst[0], 0xEE);
    ck_assert_int_eq(memcmp(Dst + 1, Src, 50), 0);
    ck_assert_uint_eq(Dst[51], 0xEE);

    memset(Dst, 0, sizeof Dst);
    RtlCopyMemory(Dst, Src, sizeof Src);
    ck_assert(RtlEqualMemory(Dst, Src, sizeof Src));
    RtlCopyBytes(Dst, NULL, 0); /* zero length touches nothing */
    ck_assert(RtlEqualMemory(Dst, Src, sizeof Src));
}
END_TEST

START_TEST(move_memory_handles_overlap_both_ways)
{
    UCHAR Buf[64], Ref[64];

    pattern(Buf, sizeof Buf);
    pattern(Ref, sizeof Ref);
    RtlMoveMemory(Buf + 8, Buf, 40); /* forward overlap */
    ck_assert_int_eq(memcmp(Buf + 8, Ref, 40), 0);
    ck_assert_int_eq(memcmp(Buf, Ref, 8), 0);
    ck_assert_int_eq(memcmp(Buf + 48, Ref + 48, 16), 0);

    pattern(Buf, sizeof Buf);
    RtlMoveMemory(Buf, Buf + 5, 50); /* backward overlap */
    ck_assert_int_eq(memcmp(Buf, Ref + 5, 50), 0);
    ck_assert_int_eq(memcmp(Buf + 55, Ref + 55, 9), 0);
}
END_TEST

START_TEST(fill_and_zero)
{
    UCHAR Buf[40];

    memset(Buf, 0x11, sizeof Buf);
    RtlFillBytes(Buf + 2, 10, 0xAB);
    ck_assert_uint_eq(Buf[1], 0x11);
    for (int i = 2; i < 12; i++)
        ck_assert_uint_eq(Buf[i], 0xAB);
    ck_assert_uint_eq(Buf[12], 0x11);

    RtlZeroBytes(Buf + 4, 4);
    ck_assert_uint_eq(Buf[3], 0xAB);
    ck_assert_uint_eq(Buf[4] | Buf[5] | Buf[6] | Buf[7], 0);
    ck_assert_uint_eq(Buf[8], 0xAB);

    RtlFillMemory(Buf, sizeof Buf, 0x5A);
    for (size_t i = 0; i < sizeof Buf; i++)
        ck_assert_uint_eq(Buf[i], 0x5A);
    RtlZeroMemory(Buf, 20);
    ck_assert_uint_eq(Buf[19], 0);
    ck_assert_uint_eq(Buf[20], 0x5A);
    ck_assert_ptr_eq(RtlSecureZeroMemory(Buf, sizeof Buf), Buf);
    for (size_t i = 0; i < sizeof Buf; i++)
        ck_assert_uint_eq(Buf[i], 0);
}
END_TEST

START_TEST(compare_memory_counts_leading_equal_bytes)
{
    UCHAR A[300], B[300];

    pattern(A, sizeof A);
    pattern(B, sizeof B);
    ck_assert_uint_eq(RtlCompareMemory(A, B, sizeof A), sizeof A);
    ck_assert_uint_eq(RtlCompareMemory(A, B, 0), 0);
    ck_assert_uint_eq(RtlCompareMemory(A, A, 17), 17);

    /* a difference at every interesting offset: first byte, inside and at the edges of chunks */
    static const size_t Offsets[] = {0, 1, 5, 63, 64, 65, 127, 128, 200, 299};
    for (size_t i = 0; i < sizeof Offsets / sizeof Offsets[0]; i++) {
        size_t At = Offsets[i];
        pattern(B, sizeof B);
        B[At] ^= 0x80;
        ck_assert_uint_eq(RtlCompareMemory(A, B, sizeof A), At);
        ck_assert_uint_eq(RtlCompareMemory(B, A, sizeof A), At);
        ck_assert_uint_eq(RtlCompareMemory(A, B, At), At); /* stops before the difference */
        ck_assert_uint_eq(RtlCompareMemory(A + At + 1, B + At + 1, sizeof A - At - 1), sizeof A - At - 1);
    }
    ck_assert(!RtlEqualMemory(A, B, sizeof A));
}
END_TEST

START_TEST(compare_memory_ulong)
{
    ULONG Words[16];

    for (int i = 0; i < 16; i++)
        Words[i] = 0xDEADBEEF;
    ck_assert_uint_eq(RtlCompareMemoryUlong(Words, sizeof Words, 0xDEADBEEF), sizeof Words);
    ck_assert_uint_eq(RtlCompareMemoryUlong(Words, 0, 0xDEADBEEF), 0);
    ck_assert_uint_eq(RtlCompareMemoryUlong(Words, 8, 0xDEADBEEF), 8);

    Words[5] = 0xDEADBEEE; /* three of its four bytes still match: counted in whole ULONGs */
    ck_assert_uint_eq(RtlCompareMemoryUlong(Words, sizeof Words, 0xDEADBEEF), 20);
    ck_assert_uint_eq(RtlCompareMemoryUlong(Words, sizeof Words, 0x12345678), 0);

    /* documented: misaligned Source or a Length not a multiple of 4 gives 0 */
    ck_assert_uint_eq(RtlCompareMemoryUlong((UCHAR *)Words + 1, 8, 0xDEADBEEF), 0);
    ck_assert_uint_eq(RtlCompareMemoryUlong(Words, 6, 0xDEADBEEF), 0);
    ck_assert_uint_eq(RtlCompareMemoryUlong(Words, 3, 0xDEADBEEF), 0);
}
END_TEST

static Suite *rtl_memory_suite(void)
{
    Suite *s = suite_create("rtl_memory");
    TCase *t = tcase_create("memory");
    tcase_add_test(t, copy_bytes_and_copy_memory);
    tcase_add_test(t, move_memory_handles_overlap_both_ways);
    tcase_add_test(t, fill_and_zero);
    tcase_add_test(t, compare_memory_counts_leading_equal_bytes);
    tcase_add_test(t, compare_memory_ulong);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(rtl_memory_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
