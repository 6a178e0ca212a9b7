/* stringtest.h - helpers shared by the string tests: status checks, u"" counted strings, pool tag 'Strg' counters. */
#ifndef NTMEM_TESTS_STRINGTEST_H
#define NTMEM_TESTS_STRINGTEST_H

#include <check.h>
#include <string.h>
#include <wdm.h>

#include "pooltest.h"

#define STRG_TAG 'grtS'

#define ck_status(expr, expected) ck_assert_uint_eq((ULONG)(expr), (ULONG)(expected))

/* A UNICODE_STRING over a u"" literal (or any NUL-terminated UTF-16). */
static inline UNICODE_STRING us(const char16_t *s)
{
    UNICODE_STRING u;
    RtlInitUnicodeString(&u, (PCWSTR)s);
    return u;
}

static inline STRING as(const char *s)
{
    STRING a;
    RtlInitString(&a, s);
    return a;
}

/* The counted string equals the literal, character for character. */
static inline int us_is(PCUNICODE_STRING u, const char16_t *s)
{
    size_t n = 0;
    while (s[n] != 0)
        n++;
    return u->Length == n * 2 && (n == 0 || memcmp(u->Buffer, s, n * 2) == 0);
}

/* Live 'Strg' blocks: allocations minus frees, paged pool. */
static inline long strg_live(void)
{
    SYSTEM_POOLTAG t;
    pt_tag_counts(STRG_TAG, &t);
    return (long)t.PagedAllocs - (long)t.PagedFrees;
}

/* Runs one suite the way every string test's main does; the exit status is ctest's verdict. */
static inline int stringtest_run(Suite *suite)
{
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? 1 : 0;
}

#endif /* NTMEM_TESTS_STRINGTEST_H */
