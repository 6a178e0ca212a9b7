/* test_crt_string.c - the kernel CRT string routines of the seeds' table, built with -fshort-wchar so L"..." goes through wdm.h's wide names. */
#include <wchar.h> /* before wdm.h on purpose: the Windows names must still reach ntmem's routines */
#include <string.h>
#include <limits.h>
#include <stdio.h>
#include <uchar.h>

#include <ntddk.h>

#include "stringtest.h"

#if !defined(wcslen) || !defined(swprintf)
#error "wdm.h maps the wide names under 16-bit wchar_t"
#endif
_Static_assert(sizeof(L"a"[0]) == sizeof(WCHAR), "this test is built with -fshort-wchar");

#define SENTINEL 0x7E /* '~': marks what a routine must not touch */

/* Not wmemset: glibc's wide routines step in 32-bit units, whatever this file's wchar_t is. */
static void fill(wchar_t *w, size_t n)
{
    while (n-- > 0)
        w[n] = SENTINEL;
}

/* ---- _strrev, _strset, _strnset, _strlwr, _strupr and the wide twins ------------------------- */

START_TEST(reverse_odd_even_empty)
{
    char odd[] = "abcde", even[] = "abcd", one[] = "x", none[] = "";
    wchar_t wodd[] = L"abc", weven[] = L"abcd", wnone[] = L"";

    ck_assert_ptr_eq(_strrev(odd), odd);
    ck_assert_str_eq(odd, "edcba");
    ck_assert_str_eq(_strrev(even), "dcba");
    ck_assert_str_eq(_strrev(one), "x");
    ck_assert_str_eq(_strrev(none), "");
    ck_assert_ptr_eq(_wcsrev(wodd), wodd);
    ck_assert(wcscmp(wodd, L"cba") == 0);
    ck_assert(wcscmp(_wcsrev(weven), L"dcba") == 0);
    ck_assert(wcscmp(_wcsrev(wnone), L"") == 0);
}
END_TEST

START_TEST(set_and_nset_stop_at_the_nul)
{
    char s[] = "abcd";
    wchar_t w[] = L"abcd";

    ck_assert_ptr_eq(_strnset(s, 'x', 0), s);
    ck_assert_str_eq(s, "abcd");
    ck_assert_str_eq(_strnset(s, 'x', 2), "xxcd");
    ck_assert_str_eq(_strnset(s, 'y', 100), "yyyy"); /* Count past the end: the NUL stays */
    ck_assert_int_eq(s[4], 0);
    ck_assert_str_eq(_strset(s, 0x100 + 'z'), "zzzz"); /* the int is stored as a char */
    ck_assert_ptr_eq(_wcsnset(w, L'q', 3), w);
    ck_assert(wcscmp(w, L"qqqd") == 0);
    ck_assert(wcscmp(_wcsnset(w, L'r', 0), L"qqqd") == 0);
    ck_assert(wcscmp(_wcsset(w, 0x263A), L"\x263A\x263A\x263A\x263A") == 0);
    ck_assert_uint_eq(w[4], 0);
}
END_TEST

START_TEST(case_mapping_is_ascii_only)
{
    char s[] = "@AZ[`az{ 09 \xC9\xE9";
    wchar_t w[] = L"Hello \x00C9\x00E9 \x0391\x03B1 Z";

    ck_assert_ptr_eq(_strlwr(s), s);
    ck_assert_str_eq(s, "@az[`az{ 09 \xC9\xE9");
    ck_assert_str_eq(_strupr(s), "@AZ[`AZ{ 09 \xC9\xE9");
    ck_assert_ptr_eq(_wcslwr(w), w);
    ck_assert(wcscmp(w, L"hello \x00C9\x00E9 \x0391\x03B1 z") == 0);
    ck_assert(wcscmp(_wcsupr(w), L"HELLO \x00C9\x00E9 \x0391\x03B1 Z") == 0);
    ck_assert_ptr_null(_wcslwr(NULL)); /* NT's _wcslwr checks; its _wcsupr does not */
    char empty[] = "";
    ck_assert_str_eq(_strupr(empty), "");
}
END_TEST

/* ---- case-insensitive compares --------------------------------------------------------------- */

START_TEST(icmp_lowers_before_comparing)
{
    ck_assert_int_eq(_stricmp("Hello", "hELLO"), 0);
    ck_assert_int_eq(_stricmp("", ""), 0);
    ck_assert_int_lt(_stricmp("apple", "BANANA"), 0);
    ck_assert_int_gt(_stricmp("Banana", "apple"), 0);
    ck_assert_int_gt(_stricmp("abc", "ab"), 0);
    ck_assert_int_lt(_stricmp("", "a"), 0);
    /* Lowering, not raising: 'c' (0x63) is above '_' (0x5F), while strcmp sees 'C' (0x43) below it. */
    ck_assert_int_gt(_stricmp("ABC", "AB_"), 0);
    ck_assert_int_lt(strcmp("ABC", "AB_"), 0);
    /* No case outside ASCII, and bytes compare unsigned. */
    ck_assert_int_ne(_stricmp("\xC9", "\xE9"), 0);
    ck_assert_int_gt(_stricmp("\xE9", "z"), 0);

    ck_assert_int_eq(_strnicmp("ABCx", "abcy", 3), 0);
    ck_assert_int_lt(_strnicmp("ABCx", "abcy", 4), 0);
    ck_assert_int_eq(_strnicmp("x", "y", 0), 0);
    ck_assert_int_eq(_strnicmp("ab", "AB", 100), 0); /* stops at the NUL */
    ck_assert_int_gt(_strnicmp("abc", "AB", 100), 0);
}
END_TEST

START_TEST(wide_icmp_lowers_ascii_only)
{
    ck_assert_int_eq(_wcsicmp(L"Hello", L"hELLO"), 0);
    ck_assert_int_eq(_wcsicmp(L"", L""), 0);
    ck_assert_int_lt(_wcsicmp(L"apple", L"BANANA"), 0);
    ck_assert_int_gt(_wcsicmp(L"ABC", L"AB_"), 0);
    ck_assert_int_lt(_wcsicmp(L"ab", L"ABC"), 0);
    ck_assert_int_ne(_wcsicmp(L"\x00C9", L"\x00E9"), 0); /* RtlCompareUnicodeString would call these equal */
    ck_assert_int_gt(_wcsicmp(L"\xFFFF", L"a"), 0);    /* unsigned 16-bit units */
    ck_assert_int_eq(_wcsnicmp(L"ABCx", L"abcy", 3), 0);
    ck_assert_int_lt(_wcsnicmp(L"ABCx", L"abcy", 4), 0);
    ck_assert_int_eq(_wcsnicmp(L"x", L"y", 0), 0);
    ck_assert_int_eq(_wcsnicmp(L"ab", L"AB", 100), 0);
}
END_TEST

/* ---- the standard wide routines on 16-bit units ---------------------------------------------- */

START_TEST(wide_length_copy_cat)
{
    wchar_t d[8];

    ck_assert_uint_eq(wcslen(L""), 0);
    ck_assert_uint_eq(wcslen(L"abc\x263A"), 4);
    ck_assert_ptr_eq(wcscpy(d, L"ab"), d);
    ck_assert(wcscmp(d, L"ab") == 0);
    ck_assert_ptr_eq(wcscat(d, L"cd"), d);
    ck_assert(wcscmp(d, L"abcd") == 0);
    ck_assert(wcscmp(wcscat(d, L""), L"abcd") == 0);
    ck_assert(wcscmp(wcscpy(d, L""), L"") == 0);

    /* wcsncpy: exactly Count units, NUL-padded, no NUL when the source is that long. */
    fill(d, 8);
    ck_assert_ptr_eq(wcsncpy(d, L"ab", 5), d);
    ck_assert(d[0] == 'a' && d[1] == 'b' && d[2] == 0 && d[3] == 0 && d[4] == 0 && d[5] == SENTINEL);
    fill(d, 8);
    wcsncpy(d, L"abcdef", 3);
    ck_assert(d[0] == 'a' && d[2] == 'c' && d[3] == SENTINEL);
    wcsncpy(d, L"zz", 0);
    ck_assert_uint_eq(d[0], 'a');

    /* wcsncat: at most Count units of the source, then always a NUL. */
    wcscpy(d, L"ab");
    ck_assert(wcscmp(wcsncat(d, L"cdef", 2), L"abcd") == 0);
    ck_assert(wcscmp(wcsncat(d, L"xyz", 0), L"abcd") == 0);
    ck_assert(wcscmp(wcsncat(d, L"e", 100), L"abcde") == 0);
}
END_TEST

START_TEST(wide_compare_is_unsigned)
{
    ck_assert_int_eq(wcscmp(L"", L""), 0);
    ck_assert_int_eq(wcscmp(L"abc", L"abc"), 0);
    ck_assert_int_lt(wcscmp(L"abc", L"abd"), 0);
    ck_assert_int_gt(wcscmp(L"abc", L"ab"), 0);
    ck_assert_int_lt(wcscmp(L"", L"a"), 0);
    ck_assert_int_gt(wcscmp(L"\xFFFF", L"a"), 0);
    ck_assert_int_lt(wcscmp(L"a", L"\x8000"), 0);
    ck_assert_int_lt(wcscmp(L"A", L"a"), 0); /* case counts */
    ck_assert_int_eq(wcsncmp(L"abcx", L"abcy", 3), 0);
    ck_assert_int_lt(wcsncmp(L"abcx", L"abcy", 4), 0);
    ck_assert_int_eq(wcsncmp(L"x", L"y", 0), 0);
    ck_assert_int_eq(wcsncmp(L"ab", L"ab", 100), 0);
}
END_TEST

START_TEST(wide_search)
{
    const wchar_t *s = L"abcabc";

    ck_assert_ptr_eq(wcschr(s, L'b'), s + 1);
    ck_assert_ptr_eq(wcsrchr(s, L'b'), s + 4);
    ck_assert_ptr_null(wcschr(s, L'z'));
    ck_assert_ptr_null(wcsrchr(s, L'z'));
    ck_assert_ptr_eq(wcschr(s, 0), s + 6); /* the NUL is part of the string */
    ck_assert_ptr_eq(wcsrchr(s, 0), s + 6);
    ck_assert_ptr_null(wcschr(L"\x0161", 0x61)); /* whole units, not bytes */

    ck_assert_uint_eq(wcsspn(L"abcde", L"cba"), 3);
    ck_assert_uint_eq(wcsspn(L"abcde", L""), 0);
    ck_assert_uint_eq(wcsspn(L"abcde", L"edcba"), 5);
    ck_assert_uint_eq(wcsspn(L"", L"abc"), 0);
    ck_assert_uint_eq(wcsspn(L"xab", L"ab"), 0);

    ck_assert_ptr_eq(wcsstr(s, L""), s);
    ck_assert_ptr_eq(wcsstr(s, L"ca"), s + 2);
    ck_assert_ptr_eq(wcsstr(s, L"abc"), s);
    ck_assert_ptr_eq(wcsstr(s + 1, L"abc"), s + 3);
    ck_assert_ptr_null(wcsstr(s, L"abcabcd"));
    ck_assert_ptr_null(wcsstr(s, L"cb"));
    const wchar_t *h = L"aaab", *e = L"";
    ck_assert_ptr_eq(wcsstr(h, L"aab"), h + 1); /* a partial match restarts one unit on */
    ck_assert_ptr_eq(wcsstr(e, L""), e);
    ck_assert_ptr_null(wcsstr(L"", L"a"));
}
END_TEST

/* ---- _snprintf and kin: Microsoft's legacy truncation rule ----------------------------------- */

START_TEST(snprintf_legacy_truncation)
{
    char b[8];

    memset(b, SENTINEL, sizeof b);
    ck_assert_int_eq(_snprintf(b, sizeof b, "%s", "abc"), 3); /* len < count: NUL added */
    ck_assert_str_eq(b, "abc");
    ck_assert_int_eq(b[4], SENTINEL);

    memset(b, SENTINEL, sizeof b);
    ck_assert_int_eq(_snprintf(b, 4, "abcd"), 4); /* len == count: no NUL, returns count */
    ck_assert(memcmp(b, "abcd", 4) == 0 && b[4] == SENTINEL);

    memset(b, SENTINEL, sizeof b);
    ck_assert_int_eq(_snprintf(b, 4, "ab%dde", 12), -1); /* len > count: count chars, no NUL, -1 */
    ck_assert(memcmp(b, "ab12", 4) == 0 && b[4] == SENTINEL);

    memset(b, SENTINEL, sizeof b);
    ck_assert_int_eq(_snprintf(b, 0, "x"), -1);
    ck_assert_int_eq(b[0], SENTINEL);
    ck_assert_int_eq(_snprintf(b, 0, ""), 0); /* len == count == 0 */
    ck_assert_int_eq(b[0], SENTINEL);
    ck_assert_int_eq(_snprintf(b, 1, ""), 0);
    ck_assert_int_eq(b[0], 0);

    /* The NT CRT's argument checks: a NULL buffer with count 0 sizes the output. */
    ck_assert_int_eq(_snprintf(NULL, 0, "%s it really work?", "does"), 20);
    ck_assert_int_eq(_snprintf(NULL, 5, "x"), -1);
    ck_assert_int_eq(_snprintf(b, sizeof b, NULL), -1);
}
END_TEST

static int call_vsnprintf(char *b, size_t n, const char *f, ...)
{
    va_list a;
    int r;
    va_start(a, f);
    r = _vsnprintf(b, n, f, a);
    va_end(a);
    return r;
}

static int call_vsnwprintf(wchar_t *b, size_t n, const wchar_t *f, ...)
{
    va_list a;
    int r;
    va_start(a, f);
    r = _vsnwprintf(b, n, f, a);
    va_end(a);
    return r;
}

START_TEST(snprintf_windows_conversions)
{
    char b[96];
    UNICODE_STRING u = us(u"\\Driver\\x");
    STRING a = as("ansi");

    ck_assert_int_eq(_snprintf(b, sizeof b, "%S world!", L"hello"), 12);
    ck_assert_str_eq(b, "hello world!");
    ck_assert_int_gt(_snprintf(b, sizeof b, "%wZ|%Z|%ws|%hs", &u, &a, L"w", "h"), 0);
    ck_assert_str_eq(b, "\\Driver\\x|ansi|w|h");
    /* l is 32 bits, I64 and ll 64, as on Windows. */
    ck_assert_int_gt(_snprintf(b, sizeof b, "%ld %lu %lx %I64d %lld", (LONG)-1, (ULONG)0xFFFFFFFFu, (ULONG)0xABCu,
                               (LONGLONG)-5000000000LL, (LONGLONG)1 << 40), 0);
    ck_assert_str_eq(b, "-1 4294967295 abc -5000000000 1099511627776");
    ck_assert_int_eq(call_vsnprintf(b, sizeof b, "%u cookies", 100u), 11);
    ck_assert_str_eq(b, "100 cookies");
    ck_assert_int_eq(call_vsnprintf(b, 3, "%u cookies", 100u), -1);
    ck_assert_int_eq(call_vsnprintf(NULL, 0, "%05d", 7), 5);
}
END_TEST

START_TEST(snwprintf_legacy_truncation_and_flipped_conversions)
{
    wchar_t w[8];

    fill(w, 8);
    ck_assert_int_eq(_snwprintf(w, 8, L"%s-%S", L"ab", "cd"), 5); /* wide routine: %s wide, %S narrow */
    ck_assert(wcscmp(w, L"ab-cd") == 0);
    ck_assert_uint_eq(w[6], SENTINEL);

    fill(w, 8);
    ck_assert_int_eq(_snwprintf(w, 3, L"%d", 123), 3); /* len == count */
    ck_assert(w[0] == '1' && w[2] == '3' && w[3] == SENTINEL);

    fill(w, 8);
    ck_assert_int_eq(_snwprintf(w, 3, L"%hs", "abcd"), -1); /* len > count */
    ck_assert(w[0] == 'a' && w[2] == 'c' && w[3] == SENTINEL);

    ck_assert_int_eq(_snwprintf(w, 0, L"x"), -1);
    ck_assert_int_eq(_snwprintf(NULL, 0, L"%ld", (LONG)-42), 3);
    ck_assert_int_eq(_snwprintf(NULL, 1, L"x"), -1);
    ck_assert_int_eq(_snwprintf(w, 8, NULL), -1);
    ck_assert_int_eq(call_vsnwprintf(w, 8, L"%c%C", L'\x263A', 'n'), 2);
    ck_assert(w[0] == 0x263A && w[1] == 'n' && w[2] == 0);
    ck_assert_int_eq(call_vsnwprintf(w, 2, L"%c%C%c", L'a', 'b', L'c'), -1);
}
END_TEST

START_TEST(swprintf_is_the_legacy_form)
{
    wchar_t w[32];
    UNICODE_STRING u = us(u"name");

    /* No count: int swprintf(wchar_t *buffer, const wchar_t *format, ...). */
    ck_assert_int_eq(swprintf(w, L"%d-%s-%wZ", 5, L"x", &u), 8);
    ck_assert(wcscmp(w, L"5-x-name") == 0);
    ck_assert_int_eq(swprintf(w, L""), 0);
    ck_assert_uint_eq(w[0], 0);
    ck_assert_int_eq(ntmem_swprintf(w, L"%04X", 0xBEEFu), 4);
    ck_assert(wcscmp(w, L"BEEF") == 0);
}
END_TEST

START_TEST(itoa_signs_only_in_radix_10)
{
    char b[40];
    wchar_t w[40];

    ck_assert_ptr_eq(_itoa(-123, b, 10), b);
    ck_assert_str_eq(b, "-123");
    ck_assert_str_eq(_itoa(0, b, 10), "0");
    ck_assert_str_eq(_itoa(INT_MIN, b, 10), "-2147483648");
    ck_assert_str_eq(_itoa(-1, b, 16), "ffffffff"); /* other radixes: the 32 bits, unsigned */
    ck_assert_str_eq(_itoa(-1, b, 2), "11111111111111111111111111111111");
    ck_assert_str_eq(_itoa(35, b, 36), "z");
    ck_assert_str_eq(_itoa(5, b, 1), "");
    ck_assert_ptr_eq(_itow(-42, w, 10), w);
    ck_assert(wcscmp(w, L"-42") == 0);
    ck_assert(wcscmp(_itow(255, w, 16), L"ff") == 0);
}
END_TEST

/* sprintf stays glibc's (replacing it would change the host process): C formats, not Windows'. */
START_TEST(sprintf_is_glibc)
{
    char b[64];

    ck_assert_int_eq(sprintf(b, "%ld", (long)1 << 40), 13);
    ck_assert_str_eq(b, "1099511627776");
    ck_assert_int_eq(_snprintf(b, sizeof b, "%ld", (LONG)-1), 2);
}
END_TEST

Suite *crt_string_suite(void)
{
    Suite *s = suite_create("crt_string");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, reverse_odd_even_empty);
    tcase_add_test(tc, set_and_nset_stop_at_the_nul);
    tcase_add_test(tc, case_mapping_is_ascii_only);
    tcase_add_test(tc, icmp_lowers_before_comparing);
    tcase_add_test(tc, wide_icmp_lowers_ascii_only);
    tcase_add_test(tc, wide_length_copy_cat);
    tcase_add_test(tc, wide_compare_is_unsigned);
    tcase_add_test(tc, wide_search);
    tcase_add_test(tc, snprintf_legacy_truncation);
    tcase_add_test(tc, snprintf_windows_conversions);
    tcase_add_test(tc, snwprintf_legacy_truncation_and_flipped_conversions);
    tcase_add_test(tc, swprintf_is_the_legacy_form);
    tcase_add_test(tc, itoa_signs_only_in_radix_10);
    tcase_add_test(tc, sprintf_is_glibc);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return stringtest_run(crt_string_suite());
}
