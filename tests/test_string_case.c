/* test_string_case.c - case mapping over the whole BMP: characters, Windows' quirks, strings, ANSI upper-casing. */
#include <uchar.h>

#include "stringtest.h"

START_TEST(ascii_and_latin1)
{
    for (WCHAR c = 0; c < 0x80; c++) {
        WCHAR up = (c >= 'a' && c <= 'z') ? c - 0x20 : c;
        WCHAR down = (c >= 'A' && c <= 'Z') ? c + 0x20 : c;
        ck_assert_uint_eq(RtlUpcaseUnicodeChar(c), up);
        ck_assert_uint_eq(RtlDowncaseUnicodeChar(c), down);
    }
    for (WCHAR c = 0xE0; c <= 0xFE; c++) {
        if (c == 0xF7) { /* division sign */
            ck_assert_uint_eq(RtlUpcaseUnicodeChar(c), c);
            continue;
        }
        ck_assert_uint_eq(RtlUpcaseUnicodeChar(c), c - 0x20);
        ck_assert_uint_eq(RtlDowncaseUnicodeChar(c - 0x20), c);
    }
    ck_assert_uint_eq(RtlUpcaseUnicodeChar(0xB5), 0xB5); /* micro sign: Greek mu does not map back to it */
}
END_TEST

/* l_intl.nls keeps only the simple mappings that round-trip (see tools/gen-stringtables.py). */
START_TEST(windows_quirks)
{
    ck_assert_uint_eq(RtlUpcaseUnicodeChar(0x00FF), 0x0178); /* y diaeresis: round-trips */
    ck_assert_uint_eq(RtlDowncaseUnicodeChar(0x0178), 0x00FF);
    ck_assert_uint_eq(RtlUpcaseUnicodeChar(0x00DF), 0x00DF); /* sharp s: no 1:1 uppercase */
    ck_assert_uint_eq(RtlDowncaseUnicodeChar(0x1E9E), 0x1E9E); /* capital sharp s: s-sharp does not map back */
    ck_assert_uint_eq(RtlUpcaseUnicodeChar(0x0131), 0x0131); /* dotless i stays */
    ck_assert_uint_eq(RtlUpcaseUnicodeChar(0x017F), 0x017F); /* long s stays */
    ck_assert_uint_eq(RtlDowncaseUnicodeChar(0x0130), 0x0130); /* I with dot stays */
    ck_assert_uint_eq(RtlUpcaseUnicodeChar(0x03C2), 0x03C2); /* final sigma stays */
    ck_assert_uint_eq(RtlUpcaseUnicodeChar(0x03C3), 0x03A3);
    ck_assert_uint_eq(RtlDowncaseUnicodeChar(0x03A3), 0x03C3);
    ck_assert_uint_eq(RtlDowncaseUnicodeChar(0x212A), 0x212A); /* Kelvin sign */
    ck_assert_uint_eq(RtlUpcaseUnicodeChar(0x01C5), 0x01C5); /* titlecase Dz with caron */
    ck_assert_uint_eq(RtlUpcaseUnicodeChar(0x01C6), 0x01C4);
    ck_assert_uint_eq(RtlUpcaseUnicodeChar(0x1F80), 0x1F88); /* the simple mapping of a full one */
}
END_TEST

START_TEST(scripts_across_the_bmp)
{
    static const WCHAR pairs[][2] = {
        {0x0101, 0x0100}, {0x0149, 0x0149}, {0x01C6, 0x01C4}, {0x0250, 0x2C6F}, {0x03B1, 0x0391},
        {0x03AC, 0x0386}, {0x0430, 0x0410}, {0x0450, 0x0400}, {0x0561, 0x0531}, {0x1E01, 0x1E00},
        {0x1F00, 0x1F08}, {0x2170, 0x2160}, {0x24D0, 0x24B6}, {0x2C30, 0x2C00}, {0x2D00, 0x10A0},
        {0xA641, 0xA640}, {0xAB70, 0x13A0}, {0xFF41, 0xFF21}, {0xFF5A, 0xFF3A}, {0x4E00, 0x4E00}, {0x10D0, 0x1C90},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        ck_assert_msg(RtlUpcaseUnicodeChar(pairs[i][0]) == pairs[i][1], "U+%04X -> U+%04X, expected U+%04X",
                      pairs[i][0], RtlUpcaseUnicodeChar(pairs[i][0]), pairs[i][1]);
}
END_TEST

START_TEST(whole_bmp_properties)
{
    unsigned changed_up = 0, changed_down = 0;
    for (ULONG c = 0; c <= 0xFFFF; c++) {
        WCHAR u = RtlUpcaseUnicodeChar((WCHAR)c), d = RtlDowncaseUnicodeChar((WCHAR)c);
        if (c >= 0xD800 && c <= 0xF8FF) { /* surrogates and private use are left alone */
            ck_assert_uint_eq(u, c);
            ck_assert_uint_eq(d, c);
        }
        /* every mapping round-trips, and is idempotent */
        if (u != c) {
            changed_up++;
            ck_assert_msg(RtlDowncaseUnicodeChar(u) == c, "U+%04lX upcases without a way back", (unsigned long)c);
            ck_assert_msg(RtlUpcaseUnicodeChar(u) == u, "upcase not idempotent at U+%04lX", (unsigned long)c);
        }
        if (d != c) {
            changed_down++;
            ck_assert_msg(RtlUpcaseUnicodeChar(d) == c, "U+%04lX downcases without a way back", (unsigned long)c);
            ck_assert_msg(RtlDowncaseUnicodeChar(d) == d, "downcase not idempotent at U+%04lX", (unsigned long)c);
        }
    }
    /* the BMP has over a thousand cased pairs; an ASCII-only table would have 26 */
    ck_assert_uint_gt(changed_up, 1000);
    ck_assert_uint_gt(changed_down, 1000);
}
END_TEST

START_TEST(unicode_string_case_in_place_and_allocated)
{
    WCHAR buf[16];
    UNICODE_STRING d = {0, sizeof buf, buf}, s = us(u"Stra\u00DFe \u00FF\u03C2"), out;

    ck_status(RtlUpcaseUnicodeString(&d, &s, FALSE), STATUS_SUCCESS);
    ck_assert(us_is(&d, u"STRA\u00DFE \u0178\u03C2"));
    ck_status(RtlDowncaseUnicodeString(&d, &d, FALSE), STATUS_SUCCESS); /* in place */
    ck_assert(us_is(&d, u"stra\u00DFe \u00FF\u03C2"));
    d.MaximumLength = 4;
    d.Length = 2;
    ck_status(RtlUpcaseUnicodeString(&d, &s, FALSE), STATUS_BUFFER_OVERFLOW);
    ck_assert_uint_eq(d.Length, 2);
    ck_status(RtlDowncaseUnicodeString(&d, &s, FALSE), STATUS_BUFFER_OVERFLOW);

    long before = strg_live();
    ck_status(RtlUpcaseUnicodeString(&out, &s, TRUE), STATUS_SUCCESS);
    ck_assert_uint_eq(out.MaximumLength, s.Length);
    ck_assert(us_is(&out, u"STRA\u00DFE \u0178\u03C2"));
    ck_assert_int_eq(strg_live(), before + 1);
    RtlFreeUnicodeString(&out);
    ck_assert_int_eq(strg_live(), before);
    UNICODE_STRING odd = {3, 4, buf};
    ck_status(RtlUpcaseUnicodeString(&out, &odd, TRUE), STATUS_INVALID_PARAMETER);
    ck_assert_int_eq(strg_live(), before);
}
END_TEST

START_TEST(ansi_upper_char_and_string)
{
    /* Windows changes a-z only: its signed-CHAR test sends 0x80-0xFF back unchanged */
    for (int c = 0; c < 256; c++)
        ck_assert_int_eq((UCHAR)RtlUpperChar((CHAR)c), (c >= 'a' && c <= 'z') ? c - 0x20 : c);

    char buf[4];
    STRING d = {0, sizeof buf, buf}, s = as("ab\xE7" "def");
    RtlUpperString(&d, &s);
    ck_assert_uint_eq(d.Length, 4); /* what fits */
    ck_assert_int_eq(memcmp(buf, "AB\xE7" "D", 4), 0);
    STRING self = {3, 3, buf};
    memcpy(buf, "xyz", 3);
    RtlUpperString(&self, &self);
    ck_assert_int_eq(memcmp(buf, "XYZ", 3), 0);
}
END_TEST

Suite *string_case_suite(void)
{
    Suite *s = suite_create("string_case");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, ascii_and_latin1);
    tcase_add_test(tc, windows_quirks);
    tcase_add_test(tc, scripts_across_the_bmp);
    tcase_add_test(tc, whole_bmp_properties);
    tcase_add_test(tc, unicode_string_case_in_place_and_allocated);
    tcase_add_test(tc, ansi_upper_char_and_string);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return stringtest_run(string_case_suite());
}
