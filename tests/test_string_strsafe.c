/* test_string_strsafe.c - ntstrsafe.h: truncation semantics, bad sizes, and Windows' printf conversions. */
#include <uchar.h>

#include <ntstrsafe.h>

#include "death.h"
#include "stringtest.h"

/* Narrow output equals the expected text exactly. */
#define ck_narrow(buf, text) ck_assert_str_eq((buf), (text))

static int wide_is(PCWSTR got, const char16_t *want)
{
    size_t i = 0;
    for (; want[i] != 0; i++)
        if (got[i] != want[i])
            return 0;
    return got[i] == 0;
}

/* ---- copy / cat / length ---------------------------------------------------------------------- */

START_TEST(copy_truncates_and_terminates)
{
    char a[6];
    WCHAR w[4];

    ck_status(RtlStringCchCopyA(a, sizeof a, "hello"), STATUS_SUCCESS);
    ck_narrow(a, "hello");
    ck_status(RtlStringCchCopyA(a, sizeof a, "hello world"), STATUS_BUFFER_OVERFLOW);
    ck_narrow(a, "hello");
    ck_status(RtlStringCbCopyA(a, 3, "xyz"), STATUS_BUFFER_OVERFLOW);
    ck_narrow(a, "xy");
    ck_status(RtlStringCchCopyW(w, 4, (PCWSTR)u"abc"), STATUS_SUCCESS);
    ck_assert(wide_is(w, u"abc"));
    ck_status(RtlStringCchCopyW(w, 4, (PCWSTR)u"abcd"), STATUS_BUFFER_OVERFLOW);
    ck_assert(wide_is(w, u"abc"));
    ck_status(RtlStringCbCopyW(w, 5, (PCWSTR)u"abcd"), STATUS_BUFFER_OVERFLOW); /* 5 bytes = 2 characters */
    ck_assert(wide_is(w, u"a"));
    ck_status(RtlStringCchCopyA(a, sizeof a, NULL), STATUS_SUCCESS);
    ck_narrow(a, "");
}
END_TEST

START_TEST(bad_sizes_are_invalid_parameter_and_write_nothing)
{
    char a[4] = "abc";
    WCHAR w[2] = {'q', 0};

    ck_status(RtlStringCchCopyA(a, 0, "x"), STATUS_INVALID_PARAMETER);
    ck_status(RtlStringCchCopyA(a, (size_t)NTSTRSAFE_MAX_CCH + 1, "x"), STATUS_INVALID_PARAMETER);
    ck_status(RtlStringCbCopyW(w, 1, (PCWSTR)u"x"), STATUS_INVALID_PARAMETER); /* less than one character */
    ck_status(RtlStringCchCatA(a, 0, "x"), STATUS_INVALID_PARAMETER);
    ck_status(RtlStringCchPrintfA(a, 0, "x"), STATUS_INVALID_PARAMETER);
    ck_status(RtlStringCbPrintfW(w, 1, (PCWSTR)u"x"), STATUS_INVALID_PARAMETER);
    ck_status(RtlStringCchCopyA(NULL, 4, "x"), STATUS_INVALID_PARAMETER);
    ck_narrow(a, "abc");
    ck_assert_uint_eq(w[0], 'q');
}
END_TEST

START_TEST(cat_appends_what_fits)
{
    char a[8] = "abc";
    WCHAR w[5] = {'a', 0};

    ck_status(RtlStringCchCatA(a, sizeof a, "def"), STATUS_SUCCESS);
    ck_narrow(a, "abcdef");
    ck_status(RtlStringCchCatA(a, sizeof a, "ghij"), STATUS_BUFFER_OVERFLOW);
    ck_narrow(a, "abcdefg");
    ck_status(RtlStringCchCatA(a, sizeof a, "z"), STATUS_BUFFER_OVERFLOW); /* already full */
    ck_narrow(a, "abcdefg");
    ck_status(RtlStringCchCatA(a, sizeof a, ""), STATUS_SUCCESS);
    char unterminated[3] = {'x', 'y', 'z'};
    ck_status(RtlStringCchCatA(unterminated, 3, "a"), STATUS_INVALID_PARAMETER);
    ck_status(RtlStringCbCatW(w, sizeof w, (PCWSTR)u"bc"), STATUS_SUCCESS);
    ck_assert(wide_is(w, u"abc"));
    ck_status(RtlStringCchCatW(w, 5, (PCWSTR)u"defg"), STATUS_BUFFER_OVERFLOW);
    ck_assert(wide_is(w, u"abcd"));
    ck_status(RtlStringCbCatA(a, 4, "x"), STATUS_INVALID_PARAMETER); /* no NUL within 4 bytes */
}
END_TEST

START_TEST(length_within_a_maximum)
{
    size_t n = 9;

    ck_status(RtlStringCchLengthA("hello", 10, &n), STATUS_SUCCESS);
    ck_assert_uint_eq(n, 5);
    ck_status(RtlStringCchLengthA("hello", 5, &n), STATUS_INVALID_PARAMETER);
    ck_assert_uint_eq(n, 0);
    ck_status(RtlStringCbLengthW((PCWSTR)u"abc", 8, &n), STATUS_SUCCESS);
    ck_assert_uint_eq(n, 6);
    ck_status(RtlStringCchLengthW((PCWSTR)u"abc", 3, &n), STATUS_INVALID_PARAMETER);
    ck_status(RtlStringCbLengthA(NULL, 3, &n), STATUS_INVALID_PARAMETER);
}
END_TEST

/* ---- printf ----------------------------------------------------------------------------------- */

START_TEST(printf_truncates_with_overflow)
{
    char a[8];
    WCHAR w[6];

    ck_status(RtlStringCchPrintfA(a, sizeof a, "%d-%s", 42, "abc"), STATUS_SUCCESS);
    ck_narrow(a, "42-abc");
    ck_status(RtlStringCchPrintfA(a, sizeof a, "%d-%s", 12345, "abcdef"), STATUS_BUFFER_OVERFLOW);
    ck_narrow(a, "12345-a");
    ck_status(RtlStringCchPrintfA(a, 7, "%s", "1234567"), STATUS_BUFFER_OVERFLOW);
    ck_narrow(a, "123456");
    ck_status(RtlStringCchPrintfA(a, 7, "%s", "123456"), STATUS_SUCCESS); /* exactly fits */
    ck_status(RtlStringCbPrintfW(w, sizeof w, (PCWSTR)u"%u", 123456u), STATUS_BUFFER_OVERFLOW);
    ck_assert(wide_is(w, u"12345"));
    ck_status(RtlStringCchPrintfW(w, 6, (PCWSTR)u"%x", 0xABCu), STATUS_SUCCESS);
    ck_assert(wide_is(w, u"abc"));
    /* a huge width is cut at the buffer at once, not padded for a second */
    ck_status(RtlStringCchPrintfA(a, sizeof a, "%999999999d|%s", 1, "x"), STATUS_BUFFER_OVERFLOW);
    ck_narrow(a, "       ");
    /* %n writes nothing but still takes its argument */
    int count = 77;
    ck_status(RtlStringCchPrintfA(a, sizeof a, "ab%ncd%d", &count, 5), STATUS_SUCCESS);
    ck_narrow(a, "abcd5");
    ck_assert_int_eq(count, 77);
}
END_TEST

static void fmt_a(char *out, size_t n, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    ck_status(RtlStringCchVPrintfA(out, n, format, args), STATUS_SUCCESS);
    va_end(args);
}

START_TEST(narrow_conversions_follow_windows)
{
    char a[128];
    UNICODE_STRING u = us(u"Uni\u00E9");
    STRING s = as("Ansi");
    UNICODE_STRING nobuf = {0, 0, NULL};

    fmt_a(a, sizeof a, "[%s|%S|%hs|%ws|%ls]", "n", (PCWSTR)u"w\u00E9", "h", (PCWSTR)u"W", (PCWSTR)u"L");
    ck_narrow(a, "[n|w\xE9|h|W|L]");
    fmt_a(a, sizeof a, "[%wZ|%Z|%wZ|%Z]", &u, &s, (PUNICODE_STRING)NULL, &nobuf);
    ck_narrow(a, "[Uni\xE9|Ansi|(null)|(null)]");
    fmt_a(a, sizeof a, "[%c|%C|%wc|%hc]", 'x', (int)0x00E9, (int)'y', 'z');
    ck_narrow(a, "[x|\xE9|y|z]");
    fmt_a(a, sizeof a, "%S", (PCWSTR)u"\u4E00"); /* not in 1252 */
    ck_narrow(a, "?");
    fmt_a(a, sizeof a, "[%s]", (char *)NULL);
    ck_narrow(a, "[(null)]");
    fmt_a(a, sizeof a, "[%.2s|%5s|%-5s|%.3wZ]", "abcdef", "ab", "ab", &u);
    ck_narrow(a, "[ab|   ab|ab   |Uni]");
}
END_TEST

START_TEST(integer_conversions_and_sizes)
{
    char a[128];

    fmt_a(a, sizeof a, "%d %i %u %x %X %o", -5, 7, 3000000000u, 0xbeefu, 0xbeefu, 8u);
    ck_narrow(a, "-5 7 3000000000 beef BEEF 10");
    fmt_a(a, sizeof a, "%I64d %I64u %I64x %lld %llu", (LONGLONG)-9000000000ll, 18446744073709551615ull,
          0x123456789ull, (long long)-1, 10000000000ull);
    ck_narrow(a, "-9000000000 18446744073709551615 123456789 -1 10000000000");
    fmt_a(a, sizeof a, "%ld %lu %lx", (LONG)-2, (ULONG)4000000000u, (ULONG)0xFFFFFFFFu); /* l is 32 bits */
    ck_narrow(a, "-2 4000000000 ffffffff");
    fmt_a(a, sizeof a, "%hd %hu %hhx", (int)70000, (int)70000, 0x1FF);
    ck_narrow(a, "4464 4464 ff");
    fmt_a(a, sizeof a, "%Iu %zu %I32d", (SIZE_T)12345678901ull, (size_t)7, -3);
    ck_narrow(a, "12345678901 7 -3");
    fmt_a(a, sizeof a, "[%5d|%-5d|%05d|%+d|% d|%.3d|%#x|%#o|%#X]", 42, 42, -42, 42, 42, 7, 255u, 8u, 255u);
    ck_narrow(a, "[   42|42   |-0042|+42| 42|007|0xff|010|0XFF]");
    fmt_a(a, sizeof a, "[%*d|%-*d|%.*d|%*s]", 4, 1, 3, 2, 4, 3, -3, "x");
    ck_narrow(a, "[   1|2  |0003|x  ]");
    fmt_a(a, sizeof a, "%p", (PVOID)(ULONG_PTR)0xABCDEF);
    ck_narrow(a, "0000000000ABCDEF");
    fmt_a(a, sizeof a, "100%% %.1f %q", 2.25, 5);
    ck_assert_int_eq(strncmp(a, "100% 2.2", 8), 0); /* %.1f rounds to even in glibc: 2.2 */
}
END_TEST

/*
 * Where Windows and C agree (d, i, u, o, x, X, s, c without Windows' size prefixes), the output is
 * C's: every combination of flags, width and precision C defines is checked against glibc.
 */
static void agree(const char *format, int kind, long long value, const char *text)
{
    char want[128], got[128];
    if (kind == 's') {
        snprintf(want, sizeof want, format, text);
        ck_status(RtlStringCchPrintfA(got, sizeof got, format, text), STATUS_SUCCESS);
    } else {
        snprintf(want, sizeof want, format, (int)value);
        ck_status(RtlStringCchPrintfA(got, sizeof got, format, (int)value), STATUS_SUCCESS);
    }
    ck_assert_msg(strcmp(want, got) == 0, "format \"%s\": C gives \"%s\", ntmem \"%s\"", format, want, got);
}

START_TEST(printf_agrees_with_c_for_portable_conversions)
{
    static const char flags[] = "-+ #0";
    static const char *widths[] = {"", "0", "1", "5", "12"};
    static const char *precisions[] = {"", ".", ".0", ".1", ".3", ".8"};
    static const char conversions[] = "diuoxXsc";
    static const long long values[] = {0, 1, -1, 42, -42, 7, 255, 0x7FFFFFFF, -0x7FFFFFFF - 1, 0xDEADBEEF};
    static const char *texts[] = {"", "a", "hello world"};
    unsigned checked = 0;

    for (const char *conv = conversions; *conv; conv++) {
        int text = *conv == 's' || *conv == 'c';
        for (unsigned mask = 0; mask < 32; mask++) {
            char flagtext[8];
            size_t n = 0;
            for (int f = 0; f < 5; f++)
                if (mask & (1u << f))
                    flagtext[n++] = flags[f];
            flagtext[n] = 0;
            /* C leaves these undefined (or Windows and glibc differ on them): '#' outside o/x/X,
             * '+'/' '/'0' on text, a precision on %c */
            if ((mask & 8) && !strchr("oxX", *conv))
                continue;
            if (text && (mask & (2 | 4 | 16)))
                continue;
            for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
                for (size_t p = 0; p < sizeof precisions / sizeof precisions[0]; p++) {
                    char format[32];
                    if (*conv == 'c' && p != 0)
                        continue;
                    snprintf(format, sizeof format, "[%%%s%s%s%c]", flagtext, widths[w], precisions[p], *conv);
                    if (*conv == 's') {
                        for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++, checked++)
                            agree(format, 's', 0, texts[t]);
                    } else if (*conv == 'c') {
                        agree(format, 'c', 'q', NULL);
                        checked++;
                    } else {
                        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++, checked++)
                            agree(format, 'd', values[v], NULL);
                    }
                }
            }
        }
    }
    ck_assert_uint_gt(checked, 5000);
}
END_TEST

START_TEST(wide_conversions_are_flipped)
{
    WCHAR w[64];
    UNICODE_STRING u = us(u"\u4E00x");
    STRING s = as("\xE9");

    ck_status(RtlStringCchPrintfW(w, 64, (PCWSTR)u"[%s|%S|%hs|%ws|%ls]", (PCWSTR)u"\u4E00", "\xE9", "h",
                                  (PCWSTR)u"W", (PCWSTR)u"L"),
              STATUS_SUCCESS);
    ck_assert(wide_is(w, u"[\u4E00|\u00E9|h|W|L]"));
    ck_status(RtlStringCchPrintfW(w, 64, (PCWSTR)u"[%wZ|%Z|%c|%C|%hc]", &u, &s, (int)0x4E00, 'a', 'b'),
              STATUS_SUCCESS);
    ck_assert(wide_is(w, u"[\u4E00x|\u00E9|\u4E00|a|b]"));
    ck_status(RtlStringCchPrintfW(w, 64, (PCWSTR)u"%d/%I64X", -1, 0xFEDCBA9876543210ull), STATUS_SUCCESS);
    ck_assert(wide_is(w, u"-1/FEDCBA9876543210"));
}
END_TEST

/* ---- UNICODE_STRING destinations -------------------------------------------------------------- */

START_TEST(unicode_string_copy_cat_printf)
{
    WCHAR buf[6];
    UNICODE_STRING d = {0, sizeof buf, buf}, s = us(u"abc"), big = us(u"defgh");

    ck_status(RtlUnicodeStringCopy(&d, &s), STATUS_SUCCESS);
    ck_assert(us_is(&d, u"abc"));
    ck_status(RtlUnicodeStringCat(&d, &s), STATUS_SUCCESS);
    ck_assert(us_is(&d, u"abcabc"));
    ck_status(RtlUnicodeStringCat(&d, &s), STATUS_BUFFER_OVERFLOW);
    ck_assert(us_is(&d, u"abcabc"));
    ck_status(RtlUnicodeStringCopy(&d, &s), STATUS_SUCCESS);
    ck_status(RtlUnicodeStringCat(&d, &big), STATUS_BUFFER_OVERFLOW);
    ck_assert(us_is(&d, u"abcdef"));
    ck_status(RtlUnicodeStringCopyString(&d, (PCWSTR)u"0123456789"), STATUS_BUFFER_OVERFLOW);
    ck_assert(us_is(&d, u"012345"));
    ck_status(RtlUnicodeStringCopyString(&d, (PCWSTR)u"x"), STATUS_SUCCESS);
    ck_status(RtlUnicodeStringCatString(&d, (PCWSTR)u"yz"), STATUS_SUCCESS);
    ck_assert(us_is(&d, u"xyz"));

    ck_status(RtlUnicodeStringPrintf(&d, (PCWSTR)u"%d:%wZ", 7, &s), STATUS_SUCCESS);
    ck_assert(us_is(&d, u"7:abc"));
    ck_status(RtlUnicodeStringPrintf(&d, (PCWSTR)u"%d:%wZ!", 77, &s), STATUS_BUFFER_OVERFLOW);
    ck_assert(us_is(&d, u"77:abc"));

    UNICODE_STRING bad = {4, 2, buf}, odd = {1, 6, buf}, oddmax = {0, 5, buf};
    ck_status(RtlUnicodeStringCopy(&bad, &s), STATUS_INVALID_PARAMETER);
    ck_status(RtlUnicodeStringCopy(&d, &odd), STATUS_INVALID_PARAMETER);
    ck_status(RtlUnicodeStringCat(&odd, &s), STATUS_INVALID_PARAMETER);
    ck_status(RtlUnicodeStringPrintf(&oddmax, (PCWSTR)u"x"), STATUS_INVALID_PARAMETER);
    ck_status(RtlUnicodeStringCopy(NULL, &s), STATUS_INVALID_PARAMETER);

    UNICODE_STRING init;
    ck_status(RtlUnicodeStringInit(&init, (PCWSTR)u"abc"), STATUS_SUCCESS);
    ck_assert_uint_eq(init.Length, 6);
    ck_assert_uint_eq(init.MaximumLength, 8);
    PWCH huge = malloc(40000 * sizeof(WCHAR));
    for (int i = 0; i < 40000; i++)
        huge[i] = 'w';
    huge[32767] = 0; /* 32767 characters: one more than a UNICODE_STRING holds with its NUL */
    ck_status(RtlUnicodeStringInit(&init, huge), STATUS_INVALID_PARAMETER);
    ck_assert_uint_eq(init.Length, 0);
    ck_assert_ptr_null(init.Buffer);
    huge[32766] = 0;
    ck_status(RtlUnicodeStringInit(&init, huge), STATUS_SUCCESS);
    ck_assert_uint_eq(init.Length, 65532);
    free(huge);
}
END_TEST

/* DbgPrint formats the Windows way too: what drivers print with KdPrint(("%wZ", RegistryPath)). */
static void print_counted_strings(void *arg)
{
    UNICODE_STRING path = us(u"\\Registry\\Machine\\Driver");
    STRING name = as("drv.sys");
    (void)arg;
    DbgPrint("path %wZ name %Z wide %ws %S long %ld size %I64u\n", &path, &name, (PCWSTR)u"w", (PCWSTR)u"S",
             (LONG)-7, 1ull << 40);
}

START_TEST(dbgprint_uses_windows_conversions)
{
    static death_result r;

    death_run(print_counted_strings, NULL, &r);
    ck_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    ck_assert_str_eq(r.output, "path \\Registry\\Machine\\Driver name drv.sys wide w S long -7 size 1099511627776\n");
}
END_TEST

Suite *string_strsafe_suite(void)
{
    Suite *s = suite_create("string_strsafe");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, copy_truncates_and_terminates);
    tcase_add_test(tc, bad_sizes_are_invalid_parameter_and_write_nothing);
    tcase_add_test(tc, cat_appends_what_fits);
    tcase_add_test(tc, length_within_a_maximum);
    tcase_add_test(tc, printf_truncates_with_overflow);
    tcase_add_test(tc, narrow_conversions_follow_windows);
    tcase_add_test(tc, integer_conversions_and_sizes);
    tcase_add_test(tc, wide_conversions_are_flipped);
    tcase_add_test(tc, printf_agrees_with_c_for_portable_conversions);
    tcase_add_test(tc, unicode_string_copy_cat_printf);
    tcase_add_test(tc, dbgprint_uses_windows_conversions);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return stringtest_run(string_strsafe_suite());
}
