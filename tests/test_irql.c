/* test_irql.c - IRQL transitions and their bug checks, processor queries, per-thread state. */
#include <check.h>
#include <pthread.h>
#include <windows.h>
#include <wdm.h>

#include "death.h"

/* ---- transitions ------------------------------------------------------------------------------ */

START_TEST(starts_at_passive_level)
{
    ck_assert_uint_eq(KeGetCurrentIrql(), PASSIVE_LEVEL);
}
END_TEST

START_TEST(raise_returns_old_level_and_lower_restores_it)
{
    KIRQL Old = 0xFF;

    KeRaiseIrql(APC_LEVEL, &Old);
    ck_assert_uint_eq(Old, PASSIVE_LEVEL);
    ck_assert_uint_eq(KeGetCurrentIrql(), APC_LEVEL);

    KIRQL Old2 = 0xFF;
    KeRaiseIrql(DISPATCH_LEVEL, &Old2);
    ck_assert_uint_eq(Old2, APC_LEVEL);
    ck_assert_uint_eq(KeGetCurrentIrql(), DISPATCH_LEVEL);

    KIRQL Old3 = KfRaiseIrql(HIGH_LEVEL);
    ck_assert_uint_eq(Old3, DISPATCH_LEVEL);
    ck_assert_uint_eq(KeGetCurrentIrql(), HIGH_LEVEL);

    KeLowerIrql(Old3);
    ck_assert_uint_eq(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(Old2);
    ck_assert_uint_eq(KeGetCurrentIrql(), APC_LEVEL);
    KeLowerIrql(Old);
    ck_assert_uint_eq(KeGetCurrentIrql(), PASSIVE_LEVEL);
}
END_TEST

START_TEST(raise_and_lower_to_the_same_level_are_allowed)
{
    KIRQL Old;

    KeRaiseIrql(DISPATCH_LEVEL, &Old);
    KIRQL Same = KfRaiseIrql(DISPATCH_LEVEL);
    ck_assert_uint_eq(Same, DISPATCH_LEVEL);
    KeLowerIrql(DISPATCH_LEVEL);
    ck_assert_uint_eq(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(Old);
    ck_assert_uint_eq(KeGetCurrentIrql(), PASSIVE_LEVEL);
}
END_TEST

START_TEST(raise_to_dpc_level)
{
    KIRQL Old = KeRaiseIrqlToDpcLevel();
    ck_assert_uint_eq(Old, PASSIVE_LEVEL);
    ck_assert_uint_eq(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(Old);

    KeRaiseIrql(APC_LEVEL, &Old);
    ck_assert_uint_eq(KeRaiseIrqlToDpcLevel(), APC_LEVEL);
    KeLowerIrql(APC_LEVEL);
    KeLowerIrql(Old);
    ck_assert_uint_eq(KeGetCurrentIrql(), PASSIVE_LEVEL);
}
END_TEST

static void *report_thread_irql(void *arg)
{
    *(KIRQL *)arg = KeGetCurrentIrql();
    return NULL;
}

START_TEST(irql_is_per_thread)
{
    KIRQL Old, Seen = 0xFF;
    pthread_t Thread;

    KeRaiseIrql(DISPATCH_LEVEL, &Old);
    ck_assert_int_eq(pthread_create(&Thread, NULL, report_thread_irql, &Seen), 0);
    pthread_join(Thread, NULL);
    ck_assert_uint_eq(Seen, PASSIVE_LEVEL);
    ck_assert_uint_eq(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(Old);
}
END_TEST

/* ---- misuse ----------------------------------------------------------------------------------- */

static __attribute__((noinline)) void raise_below_current(void *arg)
{
    KIRQL Old;
    (void)arg;
    KeRaiseIrql(DISPATCH_LEVEL, &Old);
    KeRaiseIrql(APC_LEVEL, &Old); /* lower than DISPATCH_LEVEL */
}

static __attribute__((noinline)) void lower_above_current(void *arg)
{
    KIRQL Old;
    (void)arg;
    KeRaiseIrql(APC_LEVEL, &Old);
    KeLowerIrql(DISPATCH_LEVEL);
}

static __attribute__((noinline)) void raise_above_high_level(void *arg)
{
    (void)arg;
    KfRaiseIrql(HIGH_LEVEL + 1);
}

static __attribute__((noinline)) void lower_above_high_level(void *arg)
{
    KIRQL Old;
    (void)arg;
    KeRaiseIrql(HIGH_LEVEL, &Old);
    KeLowerIrql(0x20);
}

static __attribute__((noinline)) void raise_to_dpc_from_high(void *arg)
{
    KIRQL Old;
    (void)arg;
    KeRaiseIrql(HIGH_LEVEL, &Old);
    KeRaiseIrqlToDpcLevel();
}

/* Runs fn in a child and checks the whole STOP line, the name and SIGABRT. */
static void expect_stop(void (*fn)(void *), unsigned code, const char *name, unsigned long long p1,
                        unsigned long long p2, unsigned long long p3, unsigned long long p4)
{
    static death_result r;
    death_run(fn, NULL, &r);
    ck_assert_msg(r.parsed, "no STOP report:\n%s", r.output);
    ck_assert_uint_eq(r.code, code);
    ck_assert_uint_eq(r.p[0], p1);
    ck_assert_uint_eq(r.p[1], p2);
    ck_assert_uint_eq(r.p[2], p3);
    ck_assert_uint_eq(r.p[3], p4);
    ck_assert_msg(strstr(r.output, name) != NULL, "%s missing:\n%s", name, r.output);
    ck_assert_msg(r.aborted, "child did not die by SIGABRT");
}

START_TEST(raise_to_lower_level_is_irql_not_greater_or_equal)
{
    ck_assert_bugcheck(raise_below_current, NULL, IRQL_NOT_GREATER_OR_EQUAL, DISPATCH_LEVEL);
    expect_stop(raise_below_current, 0x09, "IRQL_NOT_GREATER_OR_EQUAL", DISPATCH_LEVEL, APC_LEVEL, 0, 9);
}
END_TEST

START_TEST(lower_to_higher_level_is_irql_not_less_or_equal)
{
    ck_assert_bugcheck(lower_above_current, NULL, IRQL_NOT_LESS_OR_EQUAL, APC_LEVEL);
    expect_stop(lower_above_current, 0x0A, "IRQL_NOT_LESS_OR_EQUAL", APC_LEVEL, DISPATCH_LEVEL, 0, 9);
}
END_TEST

START_TEST(levels_above_high_level_bug_check_by_direction)
{
    expect_stop(raise_above_high_level, 0x09, "above HIGH_LEVEL", PASSIVE_LEVEL, HIGH_LEVEL + 1, 0, 9);
    expect_stop(lower_above_high_level, 0x0A, "above HIGH_LEVEL", HIGH_LEVEL, 0x20, 0, 9);
}
END_TEST

START_TEST(raise_to_dpc_level_from_above_bug_checks)
{
    expect_stop(raise_to_dpc_from_high, 0x09, "IRQL_NOT_GREATER_OR_EQUAL", HIGH_LEVEL, DISPATCH_LEVEL, 0, 9);
}
END_TEST

/* ---- processors ------------------------------------------------------------------------------- */

START_TEST(processor_counts_agree)
{
    KAFFINITY Mask = 0;
    ULONG Count = KeQueryActiveProcessorCount(&Mask);

    ck_assert_uint_ge(Count, 1);
    ck_assert_uint_le(Count, 64);
    ck_assert_uint_eq((ULONG)__builtin_popcountll(Mask), Count);
    ck_assert_uint_eq(Mask & 1, 1); /* processor 0 is always active */
    ck_assert_uint_eq(KeQueryActiveProcessorCount(NULL), Count);
    ck_assert_uint_eq(KeQueryActiveProcessorCountEx(0), Count);
    ck_assert_uint_eq(KeQueryActiveProcessorCountEx(ALL_PROCESSOR_GROUPS), Count);
    ck_assert_uint_eq(KeQueryActiveProcessorCountEx(1), 0);
    ck_assert_uint_eq(KeQueryActiveProcessorCountEx(7), 0);
    ck_assert_uint_ge(KeQueryMaximumProcessorCount(), Count);
}
END_TEST

START_TEST(current_processor_is_in_range)
{
    ULONG Count = KeQueryActiveProcessorCount(NULL);

    for (int i = 0; i < 100; i++) {
        PROCESSOR_NUMBER Number = {0xFFFF, 0xFF, 0xFF};
        ck_assert_uint_lt(KeGetCurrentProcessorNumber(), Count);
        ULONG Index = KeGetCurrentProcessorNumberEx(&Number);
        ck_assert_uint_lt(Index, Count);
        ck_assert_uint_eq(Number.Group, 0);
        ck_assert_uint_eq(Number.Number, Index);
        ck_assert_uint_eq(Number.Reserved, 0);
        ck_assert_uint_lt(KeGetCurrentProcessorNumberEx(NULL), Count);
    }
}
END_TEST

/* ---- Win32 last error: per thread like IRQL ---------------------------------------------------- */

static void *set_other_last_error(void *arg)
{
    DWORD *Seen = arg;
    Seen[0] = GetLastError();
    SetLastError(ERROR_NOT_ENOUGH_MEMORY);
    Seen[1] = GetLastError();
    return NULL;
}

START_TEST(last_error_is_per_thread)
{
    DWORD Seen[2] = {77, 77};
    pthread_t Thread;

    ck_assert_uint_eq(GetLastError(), ERROR_SUCCESS);
    SetLastError(ERROR_INVALID_PARAMETER);
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
    ck_assert_int_eq(pthread_create(&Thread, NULL, set_other_last_error, Seen), 0);
    pthread_join(Thread, NULL);
    ck_assert_uint_eq(Seen[0], ERROR_SUCCESS);
    ck_assert_uint_eq(Seen[1], ERROR_NOT_ENOUGH_MEMORY);
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
    SetLastError(0xDEADBEEF);
    ck_assert_uint_eq(GetLastError(), 0xDEADBEEF);
}
END_TEST

static Suite *irql_suite(void)
{
    Suite *s = suite_create("irql");
    TCase *t = tcase_create("transitions");
    tcase_add_test(t, starts_at_passive_level);
    tcase_add_test(t, raise_returns_old_level_and_lower_restores_it);
    tcase_add_test(t, raise_and_lower_to_the_same_level_are_allowed);
    tcase_add_test(t, raise_to_dpc_level);
    tcase_add_test(t, irql_is_per_thread);
    suite_add_tcase(s, t);

    t = tcase_create("misuse");
    tcase_add_test(t, raise_to_lower_level_is_irql_not_greater_or_equal);
    tcase_add_test(t, lower_to_higher_level_is_irql_not_less_or_equal);
    tcase_add_test(t, levels_above_high_level_bug_check_by_direction);
    tcase_add_test(t, raise_to_dpc_level_from_above_bug_checks);
    suite_add_tcase(s, t);

    t = tcase_create("processors");
    tcase_add_test(t, processor_counts_agree);
    tcase_add_test(t, current_processor_is_in_range);
    suite_add_tcase(s, t);

    t = tcase_create("thread state");
    tcase_add_test(t, last_error_is_per_thread);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(irql_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
