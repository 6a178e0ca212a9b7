/* test_string_misuse.c - string misuse ends in the pool's bug checks: wrong IRQL, double free, freeing what the pool never gave. */
#include <uchar.h>

#include "death.h"
#include "stringtest.h"

#define ANY (~0ULL)
static void expect_stop(void (*fn)(void *), void *arg, unsigned code, unsigned long long p1, unsigned long long p2)
{
    static death_result r;
    death_run(fn, arg, &r);
    ck_assert_msg(r.parsed, "no STOP report; child wrote:\n%s", r.output);
    ck_assert_msg(r.code == code, "STOP 0x%08X, expected 0x%08X\n%s", r.code, code, r.output);
    ck_assert_msg(p1 == ANY || r.p[0] == p1, "P1 0x%llX, expected 0x%llX\n%s", r.p[0], p1, r.output);
    ck_assert_msg(p2 == ANY || r.p[1] == p2, "P2 0x%llX, expected 0x%llX\n%s", r.p[1], p2, r.output);
    ck_assert_msg(r.aborted, "child did not die by SIGABRT (status 0x%x)", r.status);
}

/* The allocating routines take paged pool, so they belong at PASSIVE_LEVEL (or APC_LEVEL). */
static void create_at_dispatch(void *arg)
{
    UNICODE_STRING u;
    KIRQL old;
    (void)arg;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    RtlCreateUnicodeString(&u, (PCWSTR)u"too high");
}

static void convert_at_dispatch(void *arg)
{
    UNICODE_STRING u;
    STRING a = as("too high");
    KIRQL old;
    (void)arg;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    RtlAnsiStringToUnicodeString(&u, &a, TRUE);
}

START_TEST(allocating_above_apc_level_is_bad_pool_caller_8)
{
    expect_stop(create_at_dispatch, NULL, BAD_POOL_CALLER, 0x08, DISPATCH_LEVEL);
    expect_stop(convert_at_dispatch, NULL, BAD_POOL_CALLER, 0x08, DISPATCH_LEVEL);
}
END_TEST

/* Two structures sharing one buffer: the second free is a double free. */
static void free_shared_buffer_twice(void *arg)
{
    UNICODE_STRING u, copy;
    (void)arg;
    RtlCreateUnicodeString(&u, (PCWSTR)u"shared");
    copy = u;
    RtlFreeUnicodeString(&u);
    RtlFreeUnicodeString(&copy);
}

START_TEST(freeing_a_string_twice_is_bad_pool_caller_7)
{
    expect_stop(free_shared_buffer_twice, NULL, BAD_POOL_CALLER, 0x07, ANY);
}
END_TEST

/* RtlInitUnicodeString only points at the caller's buffer: it is not the caller's to free. */
static void free_an_initialised_string(void *arg)
{
    static const char16_t text[] = u"not from pool";
    UNICODE_STRING u;
    (void)arg;
    RtlInitUnicodeString(&u, (PCWSTR)text);
    RtlFreeUnicodeString(&u);
}

START_TEST(freeing_a_non_pool_buffer_is_bad_pool_caller_40)
{
    expect_stop(free_an_initialised_string, NULL, BAD_POOL_CALLER, 0x40, ANY);
}
END_TEST

/* RtlFreeOemString, unlike its siblings, leaves the structure as it was: a second call frees again. */
static void free_oem_string_twice(void *arg)
{
    UNICODE_STRING u = us(u"oem");
    OEM_STRING o;
    (void)arg;
    RtlUnicodeStringToOemString(&o, &u, TRUE);
    RtlFreeOemString(&o);
    RtlFreeOemString(&o);
}

START_TEST(freeing_an_oem_string_twice_is_bad_pool_caller_7)
{
    expect_stop(free_oem_string_twice, NULL, BAD_POOL_CALLER, 0x07, ANY);
}
END_TEST

/* Windows frees string buffers untagged, so a buffer under the driver's own tag may go this way. */
START_TEST(a_driver_tagged_buffer_may_be_freed_by_rtl_free)
{
    UNICODE_STRING u;
    u.Buffer = ExAllocatePoolWithTag(PagedPool, 16, 'vrDm');
    u.Length = 0;
    u.MaximumLength = 16;
    RtlFreeUnicodeString(&u);
    ck_assert_ptr_null(u.Buffer);
}
END_TEST

Suite *string_misuse_suite(void)
{
    Suite *s = suite_create("string_misuse");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, allocating_above_apc_level_is_bad_pool_caller_8);
    tcase_add_test(tc, freeing_a_string_twice_is_bad_pool_caller_7);
    tcase_add_test(tc, freeing_a_non_pool_buffer_is_bad_pool_caller_40);
    tcase_add_test(tc, a_driver_tagged_buffer_may_be_freed_by_rtl_free);
    tcase_add_test(tc, freeing_an_oem_string_twice_is_bad_pool_caller_7);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return stringtest_run(string_misuse_suite());
}
