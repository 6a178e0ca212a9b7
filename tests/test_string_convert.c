/* test_string_convert.c - ANSI (1252), OEM (437) and UTF-8 conversion: every byte, the whole BMP, statuses. */
#include <stdlib.h>
#include <uchar.h>

#include "stringtest.h"

/* ---- code pages: all 256 bytes each way ------------------------------------------------------- */

static void round_trip_code_page(int oem, const WCHAR *expect_at, const UCHAR *expect_bytes, size_t expects)
{
    CHAR bytes[256], back[256];
    WCHAR wide[256];
    ULONG n = 0;

    for (int i = 0; i < 256; i++)
        bytes[i] = (CHAR)i;
    if (oem)
        ck_status(RtlOemToUnicodeN(wide, sizeof wide, &n, bytes, 256), STATUS_SUCCESS);
    else
        ck_status(RtlMultiByteToUnicodeN(wide, sizeof wide, &n, bytes, 256), STATUS_SUCCESS);
    ck_assert_uint_eq(n, 512);
    for (int i = 0; i < 128; i++)
        ck_assert_uint_eq(wide[i], i);
    for (size_t i = 0; i < expects; i++)
        ck_assert_msg(wide[expect_bytes[i]] == expect_at[i], "byte 0x%02X -> U+%04X, expected U+%04X",
                      expect_bytes[i], wide[expect_bytes[i]], expect_at[i]);
    for (int i = 0; i < 256; i++) /* a bijection: no two bytes share a character */
        for (int j = i + 1; j < 256; j++)
            ck_assert_uint_ne(wide[i], wide[j]);
    memset(back, 0, sizeof back);
    if (oem)
        ck_status(RtlUnicodeToOemN(back, sizeof back, &n, wide, sizeof wide), STATUS_SUCCESS);
    else
        ck_status(RtlUnicodeToMultiByteN(back, sizeof back, &n, wide, sizeof wide), STATUS_SUCCESS);
    ck_assert_uint_eq(n, 256);
    ck_assert_int_eq(memcmp(back, bytes, 256), 0);

    /* the same through counted strings, which allocate */
    STRING a = {256, 256, bytes}, a2;
    UNICODE_STRING u;
    if (oem) {
        ck_status(RtlOemStringToUnicodeString(&u, &a, TRUE), STATUS_SUCCESS);
        ck_status(RtlUnicodeStringToOemString(&a2, &u, TRUE), STATUS_SUCCESS);
    } else {
        ck_status(RtlAnsiStringToUnicodeString(&u, &a, TRUE), STATUS_SUCCESS);
        ck_status(RtlUnicodeStringToAnsiString(&a2, &u, TRUE), STATUS_SUCCESS);
    }
    ck_assert_uint_eq(u.Length, 512);
    ck_assert_uint_eq(u.MaximumLength, 514);
    ck_assert_int_eq(memcmp(u.Buffer, wide, 512), 0);
    ck_assert_uint_eq(u.Buffer[256], 0);
    ck_assert_uint_eq(a2.Length, 256);
    ck_assert_uint_eq(a2.MaximumLength, 257);
    ck_assert_int_eq(memcmp(a2.Buffer, bytes, 256), 0);
    RtlFreeUnicodeString(&u);
    oem ? RtlFreeOemString(&a2) : RtlFreeAnsiString(&a2);
}

START_TEST(cp1252_every_byte_round_trips)
{
    static const UCHAR b[] = {0x80, 0x81, 0x8D, 0x8F, 0x90, 0x9D, 0x82, 0x8A, 0x99, 0x9F, 0xA0, 0xE9, 0xFF};
    static const WCHAR u[] = {0x20AC, 0x0081, 0x008D, 0x008F, 0x0090, 0x009D, 0x201A, 0x0160, 0x2122, 0x0178,
                              0x00A0, 0x00E9, 0x00FF};
    round_trip_code_page(0, u, b, sizeof b);
}
END_TEST

START_TEST(cp437_every_byte_round_trips)
{
    static const UCHAR b[] = {0x80, 0x82, 0x9B, 0x9D, 0x9E, 0xB0, 0xC5, 0xDB, 0xE0, 0xE1, 0xE3, 0xEA, 0xF8, 0xFE, 0xFF};
    static const WCHAR u[] = {0x00C7, 0x00E9, 0x00A2, 0x00A5, 0x20A7, 0x2591, 0x253C, 0x2588, 0x03B1, 0x00DF,
                              0x03C0, 0x03A9, 0x00B0, 0x25A0, 0x00A0};
    round_trip_code_page(1, u, b, sizeof b);
}
END_TEST

START_TEST(unmappable_characters_become_the_default_char)
{
    static const char16_t w[] = u"A\u0100\u4E00\u20AC\u2591";
    CHAR out[5];
    ULONG n;

    ck_status(RtlUnicodeToMultiByteN(out, sizeof out, &n, (PCWCH)w, 10), STATUS_SUCCESS);
    ck_assert_int_eq(memcmp(out, "A??\x80?", 5), 0); /* the euro is in 1252, the shade is not */
    ck_status(RtlUnicodeToOemN(out, sizeof out, &n, (PCWCH)w, 10), STATUS_SUCCESS);
    ck_assert_int_eq(memcmp(out, "A???\xB0", 5), 0); /* and the other way round in 437 */
}
END_TEST

START_TEST(n_routines_convert_what_fits)
{
    WCHAR w[4];
    CHAR c[3];
    ULONG n = 99;

    ck_status(RtlMultiByteToUnicodeN(w, sizeof w, &n, "abcdef", 6), STATUS_SUCCESS);
    ck_assert_uint_eq(n, 8);
    ck_status(RtlMultiByteToUnicodeN(w, 5, NULL, "abcdef", 6), STATUS_SUCCESS); /* whole characters */
    ck_status(RtlUnicodeToMultiByteN(c, sizeof c, &n, w, sizeof w), STATUS_SUCCESS);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(memcmp(c, "abc", 3), 0);
    ck_status(RtlMultiByteToUnicodeSize(&n, "abc", 3), STATUS_SUCCESS);
    ck_assert_uint_eq(n, 6);
    ck_status(RtlUnicodeToMultiByteSize(&n, w, 8), STATUS_SUCCESS);
    ck_assert_uint_eq(n, 4);
}
END_TEST

/* ---- counted-string conversion statuses ------------------------------------------------------ */

START_TEST(sizes_count_the_nul)
{
    STRING a = as("hello");
    UNICODE_STRING u = us(u"hello");

    ck_assert_uint_eq(RtlAnsiStringToUnicodeSize(&a), 12);
    ck_assert_uint_eq(RtlxAnsiStringToUnicodeSize(&a), 12);
    ck_assert_uint_eq(RtlOemStringToUnicodeSize(&a), 12);
    ck_assert_uint_eq(RtlUnicodeStringToAnsiSize(&u), 6);
    ck_assert_uint_eq(RtlxUnicodeStringToAnsiSize(&u), 6);
    ck_assert_uint_eq(RtlUnicodeStringToOemSize(&u), 6);
}
END_TEST

START_TEST(ansi_to_unicode_statuses)
{
    WCHAR buf[6];
    UNICODE_STRING d = {2, sizeof buf, buf};
    STRING fits = as("hello"), big = as("hello!");

    memset(buf, 0x55, sizeof buf);
    ck_status(RtlAnsiStringToUnicodeString(&d, &big, FALSE), STATUS_BUFFER_OVERFLOW);
    ck_assert_uint_eq(d.Length, 2); /* untouched */
    ck_assert_uint_eq(buf[0], 0x5555);
    ck_status(RtlAnsiStringToUnicodeString(&d, &fits, FALSE), STATUS_SUCCESS);
    ck_assert(us_is(&d, u"hello"));
    ck_assert_uint_eq(buf[5], 0);
    STRING empty = {0, 0, NULL};
    ck_status(RtlAnsiStringToUnicodeString(&d, &empty, FALSE), STATUS_SUCCESS);
    ck_assert_uint_eq(d.Length, 0);

    /* 32767 bytes would need 65536 with the NUL: too long for any UNICODE_STRING */
    PCHAR huge = malloc(32767);
    memset(huge, 'q', 32767);
    STRING h = {32767, 32767, huge};
    ck_status(RtlAnsiStringToUnicodeString(&d, &h, TRUE), STATUS_INVALID_PARAMETER_2);
    ck_status(RtlOemStringToUnicodeString(&d, &h, TRUE), STATUS_INVALID_PARAMETER_2);
    h.Length = 32766;
    UNICODE_STRING ok;
    ck_status(RtlAnsiStringToUnicodeString(&ok, &h, TRUE), STATUS_SUCCESS);
    ck_assert_uint_eq(ok.Length, 65532);
    ck_assert_uint_eq(ok.MaximumLength, 65534);
    RtlFreeUnicodeString(&ok);
    free(huge);
}
END_TEST

START_TEST(unicode_to_ansi_truncates_with_overflow)
{
    CHAR buf[4];
    STRING d = {0, sizeof buf, buf};
    UNICODE_STRING s = us(u"abcdef"), fits = us(u"abc");

    ck_status(RtlUnicodeStringToAnsiString(&d, &fits, FALSE), STATUS_SUCCESS);
    ck_assert_uint_eq(d.Length, 3);
    ck_assert_str_eq(buf, "abc");
    memset(buf, 'Z', sizeof buf);
    ck_status(RtlUnicodeStringToAnsiString(&d, &s, FALSE), STATUS_BUFFER_OVERFLOW);
    ck_assert_uint_eq(d.Length, 3); /* MaximumLength - 1 characters and the NUL */
    ck_assert_str_eq(buf, "abc");
    memset(buf, 'Z', sizeof buf);
    ck_status(RtlUnicodeStringToOemString(&d, &s, FALSE), STATUS_BUFFER_OVERFLOW); /* OEM: nothing written */
    ck_assert_int_eq(memcmp(buf, "ZZZZ", 4), 0);
    STRING none = {0, 0, NULL};
    ck_status(RtlUnicodeStringToAnsiString(&none, &s, FALSE), STATUS_BUFFER_OVERFLOW);
    UNICODE_STRING odd = {3, 6, (PWSTR)u"abc"};
    ck_status(RtlUnicodeStringToAnsiString(&d, &odd, FALSE), STATUS_INVALID_PARAMETER_2);
    UNICODE_STRING bad = {8, 6, (PWSTR)u"abcd"};
    ck_status(RtlUnicodeStringToAnsiString(&d, &bad, TRUE), STATUS_INVALID_PARAMETER_2);
}
END_TEST

/* ---- UTF-8 ------------------------------------------------------------------------------------ */

/* Expected UTF-8 size of a code point. */
static ULONG utf8_len(ULONG c)
{
    return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
}

START_TEST(utf8_whole_bmp_and_supplementary_round_trip)
{
    static const ULONG supplementary[] = {0x10000, 0x1F600, 0x1D11E, 0x20000, 0x10FFFF, 0xE0001};
    size_t max = 0x10000 + 2 * 6;
    PWCH w = malloc(max * sizeof(WCHAR)), back = malloc(max * sizeof(WCHAR));
    ULONG units = 0, expect = 0, got = 0, got2 = 0;

    for (ULONG c = 1; c <= 0xFFFF; c++) {
        if (c >= 0xD800 && c <= 0xDFFF)
            continue;
        w[units++] = (WCHAR)c;
        expect += utf8_len(c);
    }
    ck_assert_uint_eq(units, 0xFFFF - 0x800);
    for (size_t i = 0; i < 6; i++) {
        ULONG v = supplementary[i] - 0x10000;
        w[units++] = (WCHAR)(0xD800 + (v >> 10));
        w[units++] = (WCHAR)(0xDC00 + (v & 0x3FF));
        expect += 4;
    }
    ck_status(RtlUnicodeToUTF8N(NULL, 0, &got, w, units * 2), STATUS_SUCCESS);
    ck_assert_uint_eq(got, expect);
    PCHAR utf8 = malloc(got);
    ck_status(RtlUnicodeToUTF8N(utf8, got, &got2, w, units * 2), STATUS_SUCCESS);
    ck_assert_uint_eq(got2, expect);
    /* spot checks of the encoding */
    ck_assert_int_eq(memcmp(utf8, "\x01\x02", 2), 0);
    ULONG off = 0;
    for (ULONG c = 1; c < 0xE9; c++)
        off += utf8_len(c);
    ck_assert_int_eq(memcmp(utf8 + off, "\xC3\xA9", 2), 0); /* U+00E9 */
    ck_assert_int_eq(memcmp(utf8 + expect - 4 * 6, "\xF0\x90\x80\x80\xF0\x9F\x98\x80", 8), 0);
    ck_assert_int_eq(memcmp(utf8 + expect - 4 * 2, "\xF4\x8F\xBF\xBF", 4), 0);

    ck_status(RtlUTF8ToUnicodeN(NULL, 0, &got, utf8, expect), STATUS_SUCCESS);
    ck_assert_uint_eq(got, units * 2);
    ck_status(RtlUTF8ToUnicodeN(back, (ULONG)(max * sizeof(WCHAR)), &got, utf8, expect), STATUS_SUCCESS);
    ck_assert_uint_eq(got, units * 2);
    ck_assert_int_eq(memcmp(back, w, units * 2), 0);
    free(utf8);
    free(w);
    free(back);
}
END_TEST

static void expect_utf8_to_unicode(const char *in, ULONG in_len, const char16_t *out, NTSTATUS status)
{
    WCHAR buf[16];
    ULONG got = 0, n = 0;

    while (out[n] != 0)
        n++;
    ck_status(RtlUTF8ToUnicodeN(buf, sizeof buf, &got, in, in_len), status);
    ck_assert_uint_eq(got, n * 2);
    ck_assert_int_eq(memcmp(buf, out, n * 2), 0);
}

START_TEST(utf8_ill_formed_input_is_replaced)
{
    expect_utf8_to_unicode("a\xC0\x80z", 4, u"a\uFFFD\uFFFDz", STATUS_SOME_NOT_MAPPED); /* overlong NUL */
    expect_utf8_to_unicode("\xE2\x82", 2, u"\uFFFD", STATUS_SOME_NOT_MAPPED);             /* cut short */
    expect_utf8_to_unicode("\xED\xA0\x80", 3, u"\uFFFD\uFFFD\uFFFD", STATUS_SOME_NOT_MAPPED); /* surrogate */
    expect_utf8_to_unicode("\xF4\x90\x80\x80", 4, u"\uFFFD\uFFFD\uFFFD\uFFFD", STATUS_SOME_NOT_MAPPED);
    expect_utf8_to_unicode("\x80x", 2, u"\uFFFDx", STATUS_SOME_NOT_MAPPED);
    expect_utf8_to_unicode("\xE2\x82\xAC", 3, u"\u20AC", STATUS_SUCCESS);
    expect_utf8_to_unicode("\xE2\x82x", 3, u"\uFFFDx", STATUS_SOME_NOT_MAPPED);
    WCHAR buf[4];
    ULONG got = 0;
    ck_status(RtlUTF8ToUnicodeN(buf, sizeof buf, &got, "ok\0", 3), STATUS_SUCCESS); /* the NUL converts too */
    ck_assert_uint_eq(got, 6);
    ck_assert_uint_eq(buf[2], 0);
}
END_TEST

START_TEST(utf8_statuses_and_truncation)
{
    WCHAR w[3];
    CHAR c[5];
    ULONG got = 77;

    ck_status(RtlUTF8ToUnicodeN(w, sizeof w, &got, NULL, 1), STATUS_INVALID_PARAMETER_4);
    ck_status(RtlUTF8ToUnicodeN(w, sizeof w, NULL, "a", 1), STATUS_SUCCESS); /* the count is optional here */
    ck_assert_uint_eq(w[0], 'a');
    ck_status(RtlUTF8ToUnicodeN(NULL, 0, NULL, "a", 1), STATUS_INVALID_PARAMETER);
    /* "ab" then an emoji: the pair does not fit the one unit left, so it is not split */
    ck_status(RtlUTF8ToUnicodeN(w, sizeof w, &got, "ab\xF0\x9F\x98\x80", 6), STATUS_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(got, 4);
    ck_assert_uint_eq(w[1], 'b');

    ck_status(RtlUnicodeToUTF8N(c, sizeof c, &got, NULL, 2), STATUS_INVALID_PARAMETER_4);
    ck_status(RtlUnicodeToUTF8N(c, sizeof c, NULL, (PCWCH)u"a", 2), STATUS_SUCCESS);
    ck_status(RtlUnicodeToUTF8N(NULL, 0, NULL, (PCWCH)u"a", 2), STATUS_INVALID_PARAMETER);
    ck_status(RtlUnicodeToUTF8N(c, sizeof c, &got, (PCWCH)u"ab", 3), STATUS_INVALID_PARAMETER_5);
    ck_status(RtlUnicodeToUTF8N(c, sizeof c, &got, (PCWCH)u"a\u20AC\u20AC", 6), STATUS_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(got, 4); /* 'a' and one euro; the second would need three more bytes */
    ck_assert_int_eq(memcmp(c, "a\xE2\x82\xAC", 4), 0);
    static const WCHAR lone[] = {'x', 0xD800, 'y', 0xDC00};
    ck_status(RtlUnicodeToUTF8N(NULL, 0, &got, lone, sizeof lone), STATUS_SOME_NOT_MAPPED);
    ck_assert_uint_eq(got, 8);
    ck_status(RtlUnicodeToUTF8N(c, sizeof c, &got, lone, 4), STATUS_SOME_NOT_MAPPED);
    ck_assert_int_eq(memcmp(c, "x\xEF\xBF\xBD", 4), 0);
}
END_TEST

Suite *string_convert_suite(void)
{
    Suite *s = suite_create("string_convert");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, cp1252_every_byte_round_trips);
    tcase_add_test(tc, cp437_every_byte_round_trips);
    tcase_add_test(tc, unmappable_characters_become_the_default_char);
    tcase_add_test(tc, n_routines_convert_what_fits);
    tcase_add_test(tc, sizes_count_the_nul);
    tcase_add_test(tc, ansi_to_unicode_statuses);
    tcase_add_test(tc, unicode_to_ansi_truncates_with_overflow);
    tcase_add_test(tc, utf8_whole_bmp_and_supplementary_round_trip);
    tcase_add_test(tc, utf8_ill_formed_input_is_replaced);
    tcase_add_test(tc, utf8_statuses_and_truncation);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return stringtest_run(string_convert_suite());
}
