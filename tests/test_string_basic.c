/* test_string_basic.c - counted strings: init, copy, append, compare, prefix, hash, search, allocation and its pool tag. */
#include <uchar.h>

#include <ntmem.h>

#include "stringtest.h"

/* ---- init -------------------------------------------------------------------------------------- */

START_TEST(init_sets_lengths_and_aliases_the_buffer)
{
    static const char16_t w[] = u"hello";
    UNICODE_STRING u;
    STRING a;

    RtlInitUnicodeString(&u, (PCWSTR)w);
    ck_assert_uint_eq(u.Length, 10);
    ck_assert_uint_eq(u.MaximumLength, 12);
    ck_assert_ptr_eq(u.Buffer, w);
    RtlInitUnicodeString(&u, NULL);
    ck_assert_uint_eq(u.Length, 0);
    ck_assert_uint_eq(u.MaximumLength, 0);
    ck_assert_ptr_null(u.Buffer);
    RtlInitUnicodeString(&u, (PCWSTR)u"");
    ck_assert_uint_eq(u.Length, 0);
    ck_assert_uint_eq(u.MaximumLength, 2);

    RtlInitAnsiString(&a, "abc");
    ck_assert_uint_eq(a.Length, 3);
    ck_assert_uint_eq(a.MaximumLength, 4);
    RtlInitString(&a, NULL);
    ck_assert_uint_eq(a.Length, 0);
    ck_assert_uint_eq(a.MaximumLength, 0);
    ck_assert_ptr_null(a.Buffer);
}
END_TEST

START_TEST(init_ex_refuses_long_strings_plain_init_truncates)
{
    /* 32767 characters do not fit (their NUL would make 0x10000 bytes); 32766 do. */
    PWCH big = malloc(40000 * sizeof(WCHAR));
    char *narrow = malloc(70000);
    UNICODE_STRING u = {1, 2, (PWSTR)0x1};
    STRING a = {1, 2, (PCHAR)0x1};

    for (int i = 0; i < 40000; i++)
        big[i] = 'x';
    big[32767] = 0;
    ck_status(RtlInitUnicodeStringEx(&u, big), STATUS_NAME_TOO_LONG);
    ck_assert_uint_eq(u.Length, 0); /* left empty, pointing at the source, as Windows leaves it */
    ck_assert_uint_eq(u.MaximumLength, 0);
    ck_assert_ptr_eq(u.Buffer, big);
    RtlInitUnicodeString(&u, big);
    ck_assert_uint_eq(u.Length, 0xFFFC);
    ck_assert_uint_eq(u.MaximumLength, 0xFFFE);
    big[32766] = 0;
    ck_status(RtlInitUnicodeStringEx(&u, big), STATUS_SUCCESS);
    ck_assert_uint_eq(u.Length, 0xFFFC);
    ck_assert_uint_eq(u.MaximumLength, 0xFFFE);
    ck_status(RtlInitUnicodeStringEx(&u, NULL), STATUS_SUCCESS);
    ck_assert_uint_eq(u.MaximumLength, 0);

    memset(narrow, 'y', 70000);
    narrow[65535] = 0;
    ck_status(RtlInitStringEx(&a, narrow), STATUS_NAME_TOO_LONG);
    ck_status(RtlInitAnsiStringEx(&a, narrow), STATUS_NAME_TOO_LONG);
    ck_assert_uint_eq(a.Length, 0);
    ck_assert_uint_eq(a.MaximumLength, 0);
    ck_assert_ptr_eq(a.Buffer, narrow);
    RtlInitAnsiString(&a, narrow);
    ck_assert_uint_eq(a.Length, 0xFFFE);
    ck_assert_uint_eq(a.MaximumLength, 0xFFFF);
    narrow[65534] = 0;
    ck_status(RtlInitAnsiStringEx(&a, narrow), STATUS_SUCCESS);
    ck_assert_uint_eq(a.Length, 0xFFFE);
    free(big);
    free(narrow);
}
END_TEST

START_TEST(constant_and_declared_strings)
{
    UNICODE_STRING c = RTL_CONSTANT_STRING(u"abc");
    STRING n = RTL_CONSTANT_STRING("abcd");
    DECLARE_CONST_UNICODE_STRING(k, u"key");
    DECLARE_UNICODE_STRING_SIZE(d, 16);

    ck_assert_uint_eq(c.Length, 6);
    ck_assert_uint_eq(c.MaximumLength, 8);
    ck_assert_uint_eq(n.Length, 4);
    ck_assert_uint_eq(n.MaximumLength, 5);
    ck_assert(us_is(&k, u"key"));
    ck_assert_uint_eq(k.MaximumLength, 8);
    ck_assert_uint_eq(d.Length, 0);
    ck_assert_uint_eq(d.MaximumLength, 32);
    ck_assert_ptr_eq(d.Buffer, d_buffer);

    WCHAR wb[10];
    CHAR nb[7];
    UNICODE_STRING e = {5, 5, NULL};
    ANSI_STRING f = {5, 5, NULL};
    RtlInitEmptyUnicodeString(&e, wb, sizeof wb);
    RtlInitEmptyAnsiString(&f, nb, sizeof nb);
    ck_assert_uint_eq(e.Length, 0);
    ck_assert_uint_eq(e.MaximumLength, 20);
    ck_assert_ptr_eq(e.Buffer, wb);
    ck_assert_uint_eq(f.Length, 0);
    ck_assert_uint_eq(f.MaximumLength, 7);
    ck_assert_ptr_eq(f.Buffer, nb);
}
END_TEST

/* ---- copy and append ------------------------------------------------------------------------- */

START_TEST(copy_unicode_truncates_and_terminates_when_room)
{
    WCHAR buf[8];
    UNICODE_STRING d = {0, sizeof buf, buf}, s = us(u"abc");

    memset(buf, 0xEE, sizeof buf);
    RtlCopyUnicodeString(&d, &s);
    ck_assert(us_is(&d, u"abc"));
    ck_assert_uint_eq(buf[3], 0);
    s = us(u"abcdefgh"); /* 16 bytes: fills the buffer, no room for a NUL */
    memset(buf, 0xEE, sizeof buf);
    RtlCopyUnicodeString(&d, &s);
    ck_assert_uint_eq(d.Length, 16);
    s = us(u"abcdefghijk");
    RtlCopyUnicodeString(&d, &s);
    ck_assert_uint_eq(d.Length, 16);
    ck_assert_int_eq(memcmp(buf, u"abcdefgh", 16), 0);
    d.MaximumLength = 7; /* odd: whole characters only */
    RtlCopyUnicodeString(&d, &s);
    ck_assert_uint_eq(d.Length, 6);
    RtlCopyUnicodeString(&d, NULL);
    ck_assert_uint_eq(d.Length, 0);
}
END_TEST

START_TEST(copy_string_truncates_and_adds_no_nul)
{
    char buf[6];
    STRING d = {0, sizeof buf, buf}, s = as("hi");

    memset(buf, 'Z', sizeof buf);
    RtlCopyString(&d, &s);
    ck_assert_uint_eq(d.Length, 2);
    ck_assert_int_eq(buf[2], 'Z'); /* an 8-bit counted string gets no NUL */
    s = as("overflowing");
    RtlCopyString(&d, &s);
    ck_assert_uint_eq(d.Length, 6);
    ck_assert_int_eq(memcmp(buf, "overfl", 6), 0);
    RtlCopyString(&d, NULL);
    ck_assert_uint_eq(d.Length, 0);
}
END_TEST

START_TEST(append_is_all_or_nothing)
{
    WCHAR buf[6];
    UNICODE_STRING d = {0, sizeof buf, buf}, s = us(u"abc"), big = us(u"defg");

    ck_status(RtlAppendUnicodeStringToString(&d, &s), STATUS_SUCCESS);
    ck_assert(us_is(&d, u"abc"));
    ck_assert_uint_eq(buf[3], 0);
    memset(buf + 3, 0x77, 6);
    ck_status(RtlAppendUnicodeStringToString(&d, &big), STATUS_BUFFER_TOO_SMALL);
    ck_assert(us_is(&d, u"abc"));
    ck_assert_uint_eq(buf[3], 0x7777); /* nothing written */
    ck_status(RtlAppendUnicodeToString(&d, (PCWSTR)u"defg"), STATUS_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(buf[3], 0x7777);
    ck_status(RtlAppendUnicodeToString(&d, (PCWSTR)u"def"), STATUS_SUCCESS); /* exactly full, no NUL */
    ck_assert(us_is(&d, u"abcdef"));
    ck_status(RtlAppendUnicodeToString(&d, NULL), STATUS_SUCCESS);
    ck_status(RtlAppendUnicodeToString(&d, (PCWSTR)u""), STATUS_SUCCESS);
    ck_status(RtlAppendUnicodeToString(&d, (PCWSTR)u"x"), STATUS_BUFFER_TOO_SMALL);

    char nb[5];
    STRING n = {0, sizeof nb, nb}, a = as("abc"), b = as("de"), c = as("d");
    ck_status(RtlAppendStringToString(&n, &a), STATUS_SUCCESS);
    ck_status(RtlAppendStringToString(&n, &b), STATUS_SUCCESS);
    ck_assert_int_eq(memcmp(nb, "abcde", 5), 0);
    ck_status(RtlAppendStringToString(&n, &c), STATUS_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n.Length, 5);
}
END_TEST

START_TEST(append_to_an_invalid_destination_is_refused)
{
    WCHAR buf[4];
    UNICODE_STRING d = {10, sizeof buf, buf}, s = us(u"a"), odd = {3, 8, buf};

    ck_status(RtlAppendUnicodeStringToString(&d, &s), STATUS_INVALID_PARAMETER);
    ck_status(RtlAppendUnicodeToString(&d, (PCWSTR)u"a"), STATUS_INVALID_PARAMETER);
    d.Length = 1;
    ck_status(RtlAppendUnicodeToString(&d, (PCWSTR)u"a"), STATUS_INVALID_PARAMETER);
    d.Length = 0;
    ck_status(RtlAppendUnicodeStringToString(&d, &odd), STATUS_INVALID_PARAMETER);
    ck_assert_uint_eq(d.Length, 0);
}
END_TEST

/* ---- compare, equal, prefix ------------------------------------------------------------------ */

START_TEST(compare_unicode_orders_and_ignores_case_on_request)
{
    UNICODE_STRING a = us(u"apple"), b = us(u"APPLE"), c = us(u"apples"), d = us(u"banana"), e = us(u"");
    UNICODE_STRING u1 = us(u"_"), u2 = us(u"a");

    ck_assert_int_gt(RtlCompareUnicodeString(&a, &b, FALSE), 0);
    ck_assert_int_eq(RtlCompareUnicodeString(&a, &b, TRUE), 0);
    ck_assert_int_lt(RtlCompareUnicodeString(&a, &c, TRUE), 0);
    ck_assert_int_gt(RtlCompareUnicodeString(&c, &a, FALSE), 0);
    ck_assert_int_lt(RtlCompareUnicodeString(&a, &d, FALSE), 0);
    ck_assert_int_lt(RtlCompareUnicodeString(&e, &a, FALSE), 0);
    ck_assert_int_eq(RtlCompareUnicodeString(&e, &e, TRUE), 0);
    /* case-insensitive compares upcase: '_' (0x5F) sorts after 'A' (0x41), before 'a' (0x61) */
    ck_assert_int_lt(RtlCompareUnicodeString(&u1, &u2, FALSE), 0);
    ck_assert_int_gt(RtlCompareUnicodeString(&u1, &u2, TRUE), 0);
    /* beyond ASCII */
    UNICODE_STRING g1 = us(u"\u03A3\u03BF\u03C6\u03AF\u03B1"), g2 = us(u"\u03C3\u03BF\u03C6\u03AF\u03B1");
    ck_assert_int_eq(RtlCompareUnicodeString(&g1, &g2, TRUE), 0);
    ck_assert(RtlEqualUnicodeString(&g1, &g2, TRUE));
    ck_assert(!RtlEqualUnicodeString(&g1, &g2, FALSE));
    UNICODE_STRING c1 = us(u"\u0416\u0443\u043A"), c2 = us(u"\u0436\u0423\u041A"); /* Cyrillic */
    ck_assert(RtlEqualUnicodeString(&c1, &c2, TRUE));
}
END_TEST

START_TEST(compare_string_ansi_folds_ascii_only)
{
    STRING a = as("Hello"), b = as("hELLO"), c = as("Help"), e1 = as("\xE9t\xE9"), e2 = as("\xC9T\xC9");

    ck_assert_int_ne(RtlCompareString(&a, &b, FALSE), 0);
    ck_assert_int_eq(RtlCompareString(&a, &b, TRUE), 0);
    ck_assert_int_lt(RtlCompareString(&a, &c, TRUE), 0);
    ck_assert(RtlEqualString(&a, &b, TRUE));
    ck_assert(!RtlEqualString(&a, &b, FALSE));
    ck_assert(!RtlEqualString(&a, &c, TRUE));
    /* Windows folds only a-z in 8-bit strings: e acute and E acute stay different */
    ck_assert(!RtlEqualString(&e1, &e2, TRUE));
    ck_assert_int_gt(RtlCompareString(&e1, &e2, TRUE), 0);
    STRING m1 = as("\xE9tE"), m2 = as("\xE9Te");
    ck_assert(RtlEqualString(&m1, &m2, TRUE));
}
END_TEST

START_TEST(prefix_checks_the_first_string_against_the_second)
{
    UNICODE_STRING p = us(u"\\Device\\"), s = us(u"\\device\\Harddisk0"), q = us(u"\\Device\\Harddisk0\\x");
    STRING ap = as("ab"), as1 = as("ABC"), ae = as("");

    ck_assert(RtlPrefixUnicodeString(&p, &s, TRUE));
    ck_assert(!RtlPrefixUnicodeString(&p, &s, FALSE));
    ck_assert(RtlPrefixUnicodeString(&p, &q, FALSE));
    ck_assert(!RtlPrefixUnicodeString(&q, &p, TRUE)); /* longer cannot be a prefix */
    ck_assert(RtlPrefixUnicodeString(&p, &p, FALSE));
    ck_assert(RtlPrefixString(&ap, &as1, TRUE));
    ck_assert(!RtlPrefixString(&ap, &as1, FALSE));
    ck_assert(RtlPrefixString(&ae, &as1, FALSE));
}
END_TEST

/* ---- hash, search ---------------------------------------------------------------------------- */

START_TEST(hash_is_x65599_and_case_folds_on_request)
{
    UNICODE_STRING a = us(u"Ab"), b = us(u"aB"), e = us(u"");
    ULONG h1 = 0, h2 = 0;

    ck_status(RtlHashUnicodeString(&a, FALSE, HASH_STRING_ALGORITHM_X65599, &h1), STATUS_SUCCESS);
    ck_assert_uint_eq(h1, 'A' * 65599u + 'b');
    ck_status(RtlHashUnicodeString(&a, TRUE, HASH_STRING_ALGORITHM_DEFAULT, &h1), STATUS_SUCCESS);
    ck_status(RtlHashUnicodeString(&b, TRUE, HASH_STRING_ALGORITHM_X65599, &h2), STATUS_SUCCESS);
    ck_assert_uint_eq(h1, h2);
    ck_assert_uint_eq(h1, 'A' * 65599u + 'B');
    ck_status(RtlHashUnicodeString(&e, FALSE, 0, &h1), STATUS_SUCCESS);
    ck_assert_uint_eq(h1, 0);
    h1 = 77;
    ck_status(RtlHashUnicodeString(&a, FALSE, 2, &h1), STATUS_INVALID_PARAMETER);
    ck_assert_uint_eq(h1, 0);
    ck_status(RtlHashUnicodeString(&a, FALSE, HASH_STRING_ALGORITHM_INVALID, &h1), STATUS_INVALID_PARAMETER);
    ck_status(RtlHashUnicodeString(NULL, FALSE, 0, &h1), STATUS_INVALID_PARAMETER);
    ck_status(RtlHashUnicodeString(&a, FALSE, 0, NULL), STATUS_INVALID_PARAMETER);
}
END_TEST

START_TEST(find_char_reports_windows_positions)
{
    UNICODE_STRING s = us(u"Some Wild String"), set = us(u"S"), sl = us(u"\\"), none = us(u"xyz"),
                   path = us(u"\\a\\b\\file"), lower = us(u"w"), all = us(u"Some");
    USHORT pos = 99;

    ck_status(RtlFindCharInUnicodeString(0, &s, &set, &pos), STATUS_SUCCESS);
    ck_assert_uint_eq(pos, 2); /* forward: the prefix up to and including the match */
    ck_status(RtlFindCharInUnicodeString(RTL_FIND_CHAR_IN_UNICODE_STRING_START_AT_END, &s, &set, &pos),
              STATUS_SUCCESS);
    ck_assert_uint_eq(pos, 20); /* from the end: the prefix before the match */
    ck_status(RtlFindCharInUnicodeString(RTL_FIND_CHAR_IN_UNICODE_STRING_START_AT_END, &path, &sl, &pos),
              STATUS_SUCCESS);
    ck_assert_uint_eq(pos, 8);
    ck_status(RtlFindCharInUnicodeString(0, &s, &none, &pos), STATUS_NOT_FOUND);
    ck_assert_uint_eq(pos, 0);
    ck_status(RtlFindCharInUnicodeString(0, &s, &lower, &pos), STATUS_NOT_FOUND);
    ck_status(RtlFindCharInUnicodeString(RTL_FIND_CHAR_IN_UNICODE_STRING_CASE_INSENSITIVE, &s, &lower, &pos),
              STATUS_SUCCESS);
    ck_assert_uint_eq(pos, 12);
    ck_status(RtlFindCharInUnicodeString(RTL_FIND_CHAR_IN_UNICODE_STRING_COMPLEMENT_CHAR_SET, &s, &all, &pos),
              STATUS_SUCCESS);
    ck_assert_uint_eq(pos, 10); /* ' ' at index 4 */
    pos = 5;
    ck_status(RtlFindCharInUnicodeString(8, &s, &set, &pos), STATUS_INVALID_PARAMETER);
    ck_assert_uint_eq(pos, 0);
    /* ignoring case beyond ASCII: capital sigma finds sigma, but not final sigma, whose case
     * mapping does not round-trip */
    UNICODE_STRING sigma = us(u"\u03C3"), final = us(u"\u03C2"), capital = us(u"\u03A3");
    ck_status(RtlFindCharInUnicodeString(RTL_FIND_CHAR_IN_UNICODE_STRING_CASE_INSENSITIVE, &sigma, &capital, &pos),
              STATUS_SUCCESS);
    ck_assert_uint_eq(pos, 2);
    ck_status(RtlFindCharInUnicodeString(RTL_FIND_CHAR_IN_UNICODE_STRING_CASE_INSENSITIVE, &final, &capital, &pos),
              STATUS_NOT_FOUND);
    ck_assert(!RtlEqualUnicodeString(&final, &capital, TRUE));
    UNICODE_STRING odd = {1, 2, (PWSTR)u"a"};
    ck_status(RtlFindCharInUnicodeString(0, &odd, &set, &pos), STATUS_INVALID_PARAMETER);
}
END_TEST

/* ---- integers -------------------------------------------------------------------------------- */

START_TEST(integer_to_unicode_string_bases_and_room)
{
    WCHAR buf[12];
    UNICODE_STRING d = {0, sizeof buf, buf};

    ck_status(RtlIntegerToUnicodeString(1234, 0, &d), STATUS_SUCCESS);
    ck_assert(us_is(&d, u"1234"));
    ck_assert_uint_eq(buf[4], 0);
    ck_status(RtlIntegerToUnicodeString(0xBEEF, 16, &d), STATUS_SUCCESS);
    ck_assert(us_is(&d, u"BEEF"));
    ck_status(RtlIntegerToUnicodeString(5, 2, &d), STATUS_SUCCESS);
    ck_assert(us_is(&d, u"101"));
    ck_status(RtlIntegerToUnicodeString(8, 8, &d), STATUS_SUCCESS);
    ck_assert(us_is(&d, u"10"));
    ck_status(RtlIntegerToUnicodeString(0, 10, &d), STATUS_SUCCESS);
    ck_assert(us_is(&d, u"0"));
    ck_status(RtlIntegerToUnicodeString(1, 7, &d), STATUS_INVALID_PARAMETER);
    ck_status(RtlIntegerToUnicodeString(4294967295u, 10, &d), STATUS_SUCCESS); /* 10 digits + NUL fit 12 */
    ck_assert(us_is(&d, u"4294967295"));
    d.MaximumLength = 20; /* 10 digits need 22 bytes with the NUL */
    d.Length = 2;
    ck_status(RtlIntegerToUnicodeString(4294967295u, 10, &d), STATUS_BUFFER_OVERFLOW);
    ck_assert_uint_eq(d.Length, 2);

    WCHAR big[24];
    UNICODE_STRING e = {0, sizeof big, big};
    ck_status(RtlInt64ToUnicodeString(18446744073709551615ull, 10, &e), STATUS_SUCCESS);
    ck_assert(us_is(&e, u"18446744073709551615"));
    ck_status(RtlInt64ToUnicodeString(0x123456789ABCull, 16, &e), STATUS_SUCCESS);
    ck_assert(us_is(&e, u"123456789ABC"));
    ck_status(RtlInt64ToUnicodeString(1, 3, &e), STATUS_INVALID_PARAMETER);

    /* more digits than Windows' 16-byte (ULONG) or 32-byte (ULONGLONG) scratch buffer: too large */
    WCHAR wide[40];
    UNICODE_STRING w = {0, sizeof wide, wide};
    ck_status(RtlIntegerToUnicodeString(0xFFFF, 2, &w), STATUS_SUCCESS);
    ck_assert(us_is(&w, u"1111111111111111"));
    ck_status(RtlIntegerToUnicodeString(0x10000, 2, &w), STATUS_BUFFER_OVERFLOW);
    ck_assert_uint_eq(w.Length, 32);
    ck_status(RtlInt64ToUnicodeString(0xFFFFFFFFull, 2, &w), STATUS_SUCCESS);
    ck_assert_uint_eq(w.Length, 64);
    ck_status(RtlInt64ToUnicodeString(0x100000000ull, 2, &w), STATUS_BUFFER_OVERFLOW);
    ck_status(RtlIntPtrToUnicodeString((ULONG_PTR)0xFFFFFFFFFFull, 16, &w), STATUS_SUCCESS);
    ck_assert(us_is(&w, u"FFFFFFFFFF"));
}
END_TEST

START_TEST(integer_to_char_terminates_only_when_room)
{
    char buf[8];

    memset(buf, 'Z', sizeof buf);
    ck_status(RtlIntegerToChar(255, 16, sizeof buf, buf), STATUS_SUCCESS);
    ck_assert_str_eq(buf, "FF");
    memset(buf, 'Z', sizeof buf);
    ck_status(RtlIntegerToChar(123, 10, 3, buf), STATUS_SUCCESS);
    ck_assert_int_eq(memcmp(buf, "123Z", 4), 0); /* exactly full: no NUL */
    ck_status(RtlIntegerToChar(1234, 10, 3, buf), STATUS_BUFFER_OVERFLOW);
    ck_status(RtlIntegerToChar(1, 5, 8, buf), STATUS_INVALID_PARAMETER);
    ck_status(RtlIntegerToChar(1, 10, 8, NULL), STATUS_ACCESS_VIOLATION);
    /* a negative length asks for zero padding to that width, without a NUL */
    memset(buf, 'Z', sizeof buf);
    ck_status(RtlIntegerToChar(42, 10, -5, buf), STATUS_SUCCESS);
    ck_assert_int_eq(memcmp(buf, "00042Z", 6), 0);
    ck_status(RtlIntegerToChar(0x1F, 16, -2, buf), STATUS_SUCCESS);
    ck_assert_int_eq(memcmp(buf, "1F0", 3), 0);
    ck_status(RtlIntegerToChar(123456, 10, -3, buf), STATUS_BUFFER_OVERFLOW);
}
END_TEST

START_TEST(char_to_integer_parses_like_windows)
{
    ULONG v = 99;

    ck_status(RtlCharToInteger("  123abc", 10, &v), STATUS_SUCCESS);
    ck_assert_uint_eq(v, 123);
    ck_status(RtlCharToInteger("-15", 0, &v), STATUS_SUCCESS);
    ck_assert_uint_eq(v, (ULONG)-15);
    ck_status(RtlCharToInteger("+0x1F", 0, &v), STATUS_SUCCESS);
    ck_assert_uint_eq(v, 31);
    ck_status(RtlCharToInteger("0b101", 0, &v), STATUS_SUCCESS);
    ck_assert_uint_eq(v, 5);
    ck_status(RtlCharToInteger("0o17", 0, &v), STATUS_SUCCESS);
    ck_assert_uint_eq(v, 15);
    ck_status(RtlCharToInteger("0x1F", 16, &v), STATUS_SUCCESS); /* prefixes only with base 0 */
    ck_assert_uint_eq(v, 0);
    ck_status(RtlCharToInteger("0X1F", 0, &v), STATUS_SUCCESS); /* and lower case only */
    ck_assert_uint_eq(v, 0);
    ck_status(RtlCharToInteger("\xA0\xFF 12", 10, &v), STATUS_SUCCESS); /* high bytes count as blanks */
    ck_assert_uint_eq(v, 12);
    ck_status(RtlCharToInteger("1g", 0, &v), STATUS_SUCCESS);
    ck_assert_uint_eq(v, 1);
    ck_status(RtlCharToInteger("ff", 16, &v), STATUS_SUCCESS);
    ck_assert_uint_eq(v, 255);
    ck_status(RtlCharToInteger("", 10, &v), STATUS_SUCCESS);
    ck_assert_uint_eq(v, 0);
    ck_status(RtlCharToInteger("12", 7, &v), STATUS_INVALID_PARAMETER);
    ck_status(RtlCharToInteger("12", 10, NULL), STATUS_ACCESS_VIOLATION);

    UNICODE_STRING s = us(u"\t 4294967295 tail");
    ck_status(RtlUnicodeStringToInteger(&s, 0, &v), STATUS_SUCCESS);
    ck_assert_uint_eq(v, 4294967295u);
    s = us(u"-0x10");
    ck_status(RtlUnicodeStringToInteger(&s, 0, &v), STATUS_SUCCESS);
    ck_assert_uint_eq(v, (ULONG)-16);
    s = us(u"777");
    s.Length = 4; /* only the counted characters */
    ck_status(RtlUnicodeStringToInteger(&s, 8, &v), STATUS_SUCCESS);
    ck_assert_uint_eq(v, 63);
    ck_status(RtlUnicodeStringToInteger(&s, 3, &v), STATUS_INVALID_PARAMETER);
}
END_TEST

/* ---- allocation and the pool tag ------------------------------------------------------------- */

START_TEST(create_and_duplicate_allocate_from_strg_and_free_returns_it)
{
    long before = strg_live();
    UNICODE_STRING c, d, e = {0, 0, NULL}, src = us(u"dup me");

    ck_assert(RtlCreateUnicodeString(&c, (PCWSTR)u"created"));
    ck_assert(us_is(&c, u"created"));
    ck_assert_uint_eq(c.MaximumLength, 16);
    ck_assert_uint_eq(c.Buffer[7], 0);
    ck_assert_int_eq(strg_live(), before + 1);
    ck_assert_uint_eq(ExQueryPoolBlockSize(c.Buffer, NULL) >= 16, 1);

    ck_status(RtlDuplicateUnicodeString(RTL_DUPLICATE_UNICODE_STRING_NULL_TERMINATE, &src, &d), STATUS_SUCCESS);
    ck_assert(us_is(&d, u"dup me"));
    ck_assert_uint_eq(d.MaximumLength, 14);
    ck_assert_uint_eq(d.Buffer[6], 0);
    ck_assert_ptr_ne(d.Buffer, src.Buffer);
    ck_assert_int_eq(strg_live(), before + 2);
    RtlFreeUnicodeString(&d);
    ck_assert_ptr_null(d.Buffer);
    ck_status(RtlDuplicateUnicodeString(0, &src, &d), STATUS_SUCCESS);
    ck_assert_uint_eq(d.MaximumLength, 12);
    RtlFreeUnicodeString(&d);

    /* empty: nothing allocated, unless both flags ask for a NUL-only buffer */
    ck_status(RtlDuplicateUnicodeString(RTL_DUPLICATE_UNICODE_STRING_NULL_TERMINATE, &e, &d), STATUS_SUCCESS);
    ck_assert_ptr_null(d.Buffer);
    ck_status(RtlDuplicateUnicodeString(3, &e, &d), STATUS_SUCCESS);
    ck_assert_ptr_nonnull(d.Buffer);
    ck_assert_uint_eq(d.Length, 0);
    ck_assert_uint_eq(d.MaximumLength, 2);
    ck_assert_uint_eq(d.Buffer[0], 0);
    RtlFreeUnicodeString(&d);

    ck_status(RtlDuplicateUnicodeString(2, &src, &d), STATUS_INVALID_PARAMETER);
    ck_status(RtlDuplicateUnicodeString(4, &src, &d), STATUS_INVALID_PARAMETER);
    ck_status(RtlDuplicateUnicodeString(1, NULL, &d), STATUS_SUCCESS); /* an absent string is empty */
    ck_assert_ptr_null(d.Buffer);
    ck_assert_uint_eq(d.MaximumLength, 0);
    ck_status(RtlDuplicateUnicodeString(0, &src, NULL), STATUS_INVALID_PARAMETER);
    UNICODE_STRING bad = {4, 2, (PWSTR)u"ab"}, oddmax = {2, 3, (PWSTR)u"ab"}, nobuf = {0, 2, NULL};
    ck_status(RtlDuplicateUnicodeString(0, &bad, &d), STATUS_INVALID_PARAMETER);
    ck_status(RtlDuplicateUnicodeString(0, &oddmax, &d), STATUS_INVALID_PARAMETER);
    ck_status(RtlDuplicateUnicodeString(0, &nobuf, &d), STATUS_INVALID_PARAMETER);
    PWCH big = malloc(0x10000);
    UNICODE_STRING full = {0xFFFE, 0xFFFE, big};
    ck_status(RtlDuplicateUnicodeString(1, &full, &d), STATUS_NAME_TOO_LONG);
    ck_status(RtlDuplicateUnicodeString(0, &full, &d), STATUS_SUCCESS);
    RtlFreeUnicodeString(&d);
    free(big);

    RtlFreeUnicodeString(&c);
    RtlFreeUnicodeString(&c); /* cleared: a second free does nothing */
    ck_assert_int_eq(strg_live(), before);
}
END_TEST

START_TEST(every_allocating_routine_shows_in_the_tag_table_and_frees_back)
{
    long before = strg_live();
    SYSTEM_POOLTAG t0, t1;
    UNICODE_STRING u1, u2, u3, u4, src = us(u"Mixed Case \u00E9");
    ANSI_STRING a1, a2 = as("ansi \xE9");
    OEM_STRING o1, o2 = as("oem \x82");

    pt_tag_counts(STRG_TAG, &t0);
    ck_status(RtlAnsiStringToUnicodeString(&u1, &a2, TRUE), STATUS_SUCCESS);
    ck_status(RtlOemStringToUnicodeString(&u2, &o2, TRUE), STATUS_SUCCESS);
    ck_status(RtlUpcaseUnicodeString(&u3, &src, TRUE), STATUS_SUCCESS);
    ck_status(RtlDowncaseUnicodeString(&u4, &src, TRUE), STATUS_SUCCESS);
    ck_status(RtlUnicodeStringToAnsiString(&a1, &src, TRUE), STATUS_SUCCESS);
    ck_status(RtlUnicodeStringToOemString(&o1, &src, TRUE), STATUS_SUCCESS);
    ck_assert_int_eq(strg_live(), before + 6);
    ck_assert(pt_tag_counts(STRG_TAG, &t1));
    ck_assert_uint_eq(t1.PagedAllocs - t0.PagedAllocs, 6);
    ck_assert_uint_eq(t1.NonPagedAllocs, t0.NonPagedAllocs); /* paged, as Windows allocates them */
    ck_assert_uint_gt(t1.PagedUsed, t0.PagedUsed);
    RtlFreeUnicodeString(&u1);
    RtlFreeUnicodeString(&u2);
    RtlFreeUnicodeString(&u3);
    RtlFreeUnicodeString(&u4);
    RtlFreeAnsiString(&a1);
    RtlFreeOemString(&o1);
    ck_assert_int_eq(strg_live(), before);
    pt_tag_counts(STRG_TAG, &t1);
    ck_assert_uint_eq(t1.PagedUsed, t0.PagedUsed);

    /* failures allocate nothing */
    PCHAR huge = malloc(40000);
    memset(huge, 'a', 40000);
    STRING toolong = {40000, 40000, huge};
    ck_status(RtlAnsiStringToUnicodeString(&u1, &toolong, TRUE), STATUS_INVALID_PARAMETER_2);
    ck_assert_int_eq(strg_live(), before);
    free(huge);
}
END_TEST

/* With the pool refusing everything (Driver Verifier's low resources simulation at 100%), each
 * allocating routine reports STATUS_NO_MEMORY (or FALSE) and leaves nothing behind. */
START_TEST(out_of_pool_every_allocating_routine_says_no_memory)
{
    UNICODE_STRING u, src = us(u"text");
    STRING a = as("text"), o;
    long before = strg_live();

    ntmem_set_low_resources(100, 1, 0);
    ntmem_set_verifier_flags(NTMEM_VERIFIER_LOW_RESOURCES);
    ck_assert(!RtlCreateUnicodeString(&u, (PCWSTR)u"text"));
    ck_status(RtlDuplicateUnicodeString(1, &src, &u), STATUS_NO_MEMORY);
    ck_status(RtlAnsiStringToUnicodeString(&u, &a, TRUE), STATUS_NO_MEMORY);
    ck_status(RtlOemStringToUnicodeString(&u, &a, TRUE), STATUS_NO_MEMORY);
    ck_status(RtlUnicodeStringToAnsiString(&o, &src, TRUE), STATUS_NO_MEMORY);
    ck_status(RtlUnicodeStringToOemString(&o, &src, TRUE), STATUS_NO_MEMORY);
    ck_status(RtlUpcaseUnicodeString(&u, &src, TRUE), STATUS_NO_MEMORY);
    ck_status(RtlDowncaseUnicodeString(&u, &src, TRUE), STATUS_NO_MEMORY);
    ntmem_set_verifier_flags(0);
    ck_assert_int_eq(strg_live(), before);
}
END_TEST

START_TEST(validate_unicode_string_is_windows_well_formed)
{
    UNICODE_STRING ok = us(u"ab"), empty = {0, 0, NULL}, odd_len = {1, 4, (PWSTR)u"ab"},
                   odd_max = {2, 5, (PWSTR)u"ab"}, over = {6, 4, (PWSTR)u"ab"}, nobuf = {0, 4, NULL};

    ck_status(RtlValidateUnicodeString(0, &ok), STATUS_SUCCESS);
    ck_status(RtlValidateUnicodeString(0, &empty), STATUS_SUCCESS);
    ck_status(RtlValidateUnicodeString(0, NULL), STATUS_SUCCESS);
    ck_status(RtlValidateUnicodeString(1, &ok), STATUS_INVALID_PARAMETER);
    ck_status(RtlValidateUnicodeString(0, &odd_len), STATUS_INVALID_PARAMETER);
    ck_status(RtlValidateUnicodeString(0, &odd_max), STATUS_INVALID_PARAMETER);
    ck_status(RtlValidateUnicodeString(0, &over), STATUS_INVALID_PARAMETER);
    ck_status(RtlValidateUnicodeString(0, &nobuf), STATUS_INVALID_PARAMETER);
}
END_TEST

/* The statuses the string routines return have their Win32 errors. */
START_TEST(string_statuses_map_to_win32_errors)
{
    ck_assert_uint_eq(RtlNtStatusToDosError(STATUS_BUFFER_OVERFLOW), 234);      /* ERROR_MORE_DATA */
    ck_assert_uint_eq(RtlNtStatusToDosError(STATUS_BUFFER_TOO_SMALL), 122);     /* ERROR_INSUFFICIENT_BUFFER */
    ck_assert_uint_eq(RtlNtStatusToDosError(STATUS_NAME_TOO_LONG), 206);        /* ERROR_FILENAME_EXCED_RANGE */
    ck_assert_uint_eq(RtlNtStatusToDosError(STATUS_NOT_FOUND), 1168);           /* ERROR_NOT_FOUND */
    ck_assert_uint_eq(RtlNtStatusToDosError(STATUS_SOME_NOT_MAPPED), 1301);     /* ERROR_SOME_NOT_MAPPED */
    ck_assert_uint_eq(RtlNtStatusToDosError(STATUS_INVALID_PARAMETER_2), 87);   /* ERROR_INVALID_PARAMETER */
    ck_assert_uint_eq(RtlNtStatusToDosError(STATUS_NO_MEMORY), 8);              /* ERROR_NOT_ENOUGH_MEMORY */
}
END_TEST

Suite *string_basic_suite(void)
{
    Suite *s = suite_create("string_basic");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, init_sets_lengths_and_aliases_the_buffer);
    tcase_add_test(tc, init_ex_refuses_long_strings_plain_init_truncates);
    tcase_add_test(tc, constant_and_declared_strings);
    tcase_add_test(tc, copy_unicode_truncates_and_terminates_when_room);
    tcase_add_test(tc, copy_string_truncates_and_adds_no_nul);
    tcase_add_test(tc, append_is_all_or_nothing);
    tcase_add_test(tc, append_to_an_invalid_destination_is_refused);
    tcase_add_test(tc, compare_unicode_orders_and_ignores_case_on_request);
    tcase_add_test(tc, compare_string_ansi_folds_ascii_only);
    tcase_add_test(tc, prefix_checks_the_first_string_against_the_second);
    tcase_add_test(tc, hash_is_x65599_and_case_folds_on_request);
    tcase_add_test(tc, find_char_reports_windows_positions);
    tcase_add_test(tc, integer_to_unicode_string_bases_and_room);
    tcase_add_test(tc, integer_to_char_terminates_only_when_room);
    tcase_add_test(tc, char_to_integer_parses_like_windows);
    tcase_add_test(tc, create_and_duplicate_allocate_from_strg_and_free_returns_it);
    tcase_add_test(tc, every_allocating_routine_shows_in_the_tag_table_and_frees_back);
    tcase_add_test(tc, string_statuses_map_to_win32_errors);
    tcase_add_test(tc, validate_unicode_string_is_windows_well_formed);
    tcase_add_test(tc, out_of_pool_every_allocating_routine_says_no_memory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return stringtest_run(string_basic_suite());
}
