/* test_bugcheck.c - the STOP report, names, callbacks, the hook, raise/assert/fail-fast, DbgPrint. */
#define DBG 1 /* checked-build ASSERT even though RelWithDebInfo defines NDEBUG */
#include <check.h>
#include <setjmp.h>
#include <ntmem.h>
#include <wdm.h>

#include "death.h"

/* The text of the line after the STOP line's n-th following line (0: the name line). */
static const char *report_line(const death_result *r, int n, char *line, size_t size)
{
    const char *p = strstr(r->output, "*** STOP: ");
    ck_assert_ptr_nonnull(p);
    for (int i = 0; i <= n; i++) {
        p = strchr(p, '\n');
        ck_assert_ptr_nonnull(p);
        p++;
    }
    size_t len = strcspn(p, "\n");
    if (len >= size)
        len = size - 1;
    memcpy(line, p, len);
    line[len] = '\0';
    return line;
}

/* ---- the report ------------------------------------------------------------------------------- */

static __attribute__((noinline)) void crash_in_a_test_function(void *arg)
{
    (void)arg;
    KeBugCheckEx(BAD_POOL_CALLER, 0x07, 0x1122334455667788ULL, 0xFFFFFFFFFFFFFFFFULL, 0);
}

START_TEST(report_has_stop_line_name_explanation_and_backtrace)
{
    static death_result r;
    char line[512];

    death_run(crash_in_a_test_function, NULL, &r);
    ck_assert_msg(r.parsed, "%s", r.output);
    ck_assert_uint_eq(r.code, 0xC2);
    ck_assert_uint_eq(r.p[0], 0x07);
    ck_assert_uint_eq(r.p[1], 0x1122334455667788ULL);
    ck_assert_uint_eq(r.p[2], 0xFFFFFFFFFFFFFFFFULL);
    ck_assert_uint_eq(r.p[3], 0);
    ck_assert(r.aborted);
    ck_assert_msg(strstr(r.output, "*** STOP: 0x000000C2 (0x0000000000000007,0x1122334455667788,"
                                   "0xFFFFFFFFFFFFFFFF,0x0000000000000000)\n") != NULL,
                  "%s", r.output);
    ck_assert_str_eq(report_line(&r, 0, line, sizeof line), "BAD_POOL_CALLER");
    /* the P1 subtype's explanation, not the generic one */
    ck_assert_msg(strstr(report_line(&r, 1, line, sizeof line), "already freed") != NULL, "%s", r.output);
    ck_assert_msg(strstr(r.output, "crash_in_a_test_function") != NULL, "no test frame:\n%s", r.output);
    ck_assert_msg(strstr(r.output, "KeBugCheckEx") != NULL, "no KeBugCheckEx frame:\n%s", r.output);
}
END_TEST

static __attribute__((noinline)) void crash_without_parameters(void *arg)
{
    (void)arg;
    KeBugCheck(MANUALLY_INITIATED_CRASH);
}

START_TEST(bug_check_without_parameters_reports_zeros)
{
    static death_result r;
    char line[512];

    death_run(crash_without_parameters, NULL, &r);
    ck_assert(r.parsed);
    ck_assert_uint_eq(r.code, 0xE2);
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(r.p[i], 0);
    ck_assert_str_eq(report_line(&r, 0, line, sizeof line), "MANUALLY_INITIATED_CRASH");
    ck_assert(r.aborted);
}
END_TEST

static __attribute__((noinline)) void crash_with_unknown_code(void *arg)
{
    (void)arg;
    KeBugCheckEx(0x12345, 1, 2, 3, 4);
}

START_TEST(unknown_code_is_reported_as_unknown)
{
    static death_result r;
    char line[512];

    death_run(crash_with_unknown_code, NULL, &r);
    ck_assert_uint_eq(r.code, 0x12345);
    ck_assert_str_eq(report_line(&r, 0, line, sizeof line), "UNKNOWN_BUGCHECK");
    ck_assert_str_ne(report_line(&r, 1, line, sizeof line), "");
    ck_assert(r.aborted);
}
END_TEST

typedef struct subtype_case {
    ULONG code;
    ULONG_PTR p1;
    const char *words;
} subtype_case;

static const subtype_case subtype_cases[] = {
    {BAD_POOL_HEADER, 0x03, "free list"},
    {BAD_POOL_HEADER, 0x21, "overran"},
    {BAD_POOL_CALLER, 0x0A, "wrong tag"},
    {BAD_POOL_CALLER, 0x9B, "tag of 0"},
    {BAD_POOL_CALLER, 0x08, "allocate pool at an invalid IRQL"},
    {DRIVER_VERIFIER_DETECTED_VIOLATION, 0x62, "unloading"},
    {DRIVER_VERIFIER_DETECTED_VIOLATION, 0xCA, "re-initialised a lookaside"},
    {KERNEL_SECURITY_CHECK_FAILURE, 3, "LIST_ENTRY"},
};

static __attribute__((noinline)) void crash_with_subtype(void *arg)
{
    const subtype_case *c = arg;
    KeBugCheckEx(c->code, c->p1, 0, 0, 0);
}

START_TEST(explanation_follows_parameter_1)
{
    const subtype_case *c = &subtype_cases[_i];
    static death_result r;
    char line[512];

    death_run(crash_with_subtype, (void *)c, &r);
    ck_assert_uint_eq(r.code, c->code);
    ck_assert_uint_eq(r.p[0], c->p1);
    ck_assert_msg(strstr(report_line(&r, 1, line, sizeof line), c->words) != NULL,
                  "0x%X/0x%lX: \"%s\" lacks \"%s\"", c->code, (unsigned long)c->p1, line, c->words);
}
END_TEST

START_TEST(names_cover_the_documented_codes)
{
    static const struct {
        ULONG code;
        const char *name;
    } names[] = {
        {IRQL_NOT_GREATER_OR_EQUAL, "IRQL_NOT_GREATER_OR_EQUAL"},
        {IRQL_NOT_LESS_OR_EQUAL, "IRQL_NOT_LESS_OR_EQUAL"},
        {0x0F, "SPIN_LOCK_ALREADY_OWNED"},
        {0x10, "SPIN_LOCK_NOT_OWNED"},
        {BAD_POOL_HEADER, "BAD_POOL_HEADER"},
        {KMODE_EXCEPTION_NOT_HANDLED, "KMODE_EXCEPTION_NOT_HANDLED"},
        {MUST_SUCCEED_POOL_EMPTY, "MUST_SUCCEED_POOL_EMPTY"},
        {PAGE_FAULT_IN_NONPAGED_AREA, "PAGE_FAULT_IN_NONPAGED_AREA"},
        {SYSTEM_THREAD_EXCEPTION_NOT_HANDLED, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED"},
        {SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, "SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION"},
        {BAD_POOL_CALLER, "BAD_POOL_CALLER"},
        {DRIVER_VERIFIER_DETECTED_VIOLATION, "DRIVER_VERIFIER_DETECTED_VIOLATION"},
        {DRIVER_IRQL_NOT_LESS_OR_EQUAL, "DRIVER_IRQL_NOT_LESS_OR_EQUAL"},
        {DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL, "DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL"},
        {DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION, "DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION"},
        {KERNEL_SECURITY_CHECK_FAILURE, "KERNEL_SECURITY_CHECK_FAILURE"},
        {MANUALLY_INITIATED_CRASH, "MANUALLY_INITIATED_CRASH"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ck_assert_str_eq(ntmem_bugcheck_name(names[i].code), names[i].name);
    ck_assert_str_eq(ntmem_bugcheck_name(0), "UNKNOWN_BUGCHECK");
    ck_assert_str_eq(ntmem_bugcheck_name(0xFFFFFFFF), "UNKNOWN_BUGCHECK");
}
END_TEST

/* ---- callbacks -------------------------------------------------------------------------------- */

static KBUGCHECK_CALLBACK_RECORD FirstRecord, SecondRecord, GoneRecord;
static char FirstBuffer[64], SecondBuffer[64];

static void write_marker(PVOID Buffer, ULONG Length)
{
    char Line[160];
    /* Prove the routine got its own buffer and length, and runs at HIGH_LEVEL. */
    snprintf((char *)Buffer, Length, "marker-%p-%lu", Buffer, (unsigned long)Length);
    int n = snprintf(Line, sizeof Line, "callback wrote [%s] at IRQL %u\n", (char *)Buffer,
                     (unsigned)KeGetCurrentIrql());
    ck_assert_int_eq(write(2, Line, (size_t)n), n);
}

static void must_not_run(PVOID Buffer, ULONG Length)
{
    (void)Buffer;
    (void)Length;
    ck_assert_int_eq(write(2, "DEREGISTERED CALLBACK RAN\n", 26), 26);
}

static __attribute__((noinline)) void crash_with_callbacks(void *arg)
{
    (void)arg;
    KeInitializeCallbackRecord(&FirstRecord);
    KeInitializeCallbackRecord(&SecondRecord);
    KeInitializeCallbackRecord(&GoneRecord);
    ck_assert(KeRegisterBugCheckCallback(&FirstRecord, write_marker, FirstBuffer, sizeof FirstBuffer,
                                         (PUCHAR) "first"));
    ck_assert(KeRegisterBugCheckCallback(&SecondRecord, write_marker, SecondBuffer, 32, (PUCHAR) "second"));
    ck_assert(KeRegisterBugCheckCallback(&GoneRecord, must_not_run, NULL, 0, (PUCHAR) "gone"));
    ck_assert(KeDeregisterBugCheckCallback(&GoneRecord));
    KeBugCheckEx(MANUALLY_INITIATED_CRASH, 0, 0, 0, 0);
}

START_TEST(callbacks_run_after_the_report_and_before_the_abort)
{
    static death_result r;
    char first[128], second[128];

    death_run(crash_with_callbacks, NULL, &r);
    ck_assert(r.parsed);
    ck_assert(r.aborted);
    snprintf(first, sizeof first, "callback wrote [marker-%p-%lu] at IRQL 15", (void *)FirstBuffer,
             (unsigned long)sizeof FirstBuffer);
    snprintf(second, sizeof second, "callback wrote [marker-%p-32] at IRQL 15", (void *)SecondBuffer);
    const char *stop = strstr(r.output, "*** STOP: ");
    const char *a = strstr(r.output, first), *b = strstr(r.output, second);
    ck_assert_msg(a != NULL && b != NULL, "markers missing:\n%s", r.output);
    ck_assert_msg(stop < a && a < b, "callbacks ran out of order or before the report:\n%s", r.output);
    ck_assert_msg(strstr(r.output, "Calling bug-check callback first") != NULL, "%s", r.output);
    ck_assert_msg(strstr(r.output, "DEREGISTERED") == NULL, "%s", r.output);
}
END_TEST

static void noop_callback(PVOID Buffer, ULONG Length)
{
    (void)Buffer;
    (void)Length;
}

START_TEST(register_and_deregister_report_record_state)
{
    KBUGCHECK_CALLBACK_RECORD Record;

    KeInitializeCallbackRecord(&Record);
    ck_assert_uint_eq(Record.State, BufferEmpty);
    ck_assert(!KeDeregisterBugCheckCallback(&Record)); /* never registered */
    ck_assert(KeRegisterBugCheckCallback(&Record, noop_callback, NULL, 0, (PUCHAR) "t"));
    ck_assert_uint_eq(Record.State, BufferInserted);
    ck_assert(!KeRegisterBugCheckCallback(&Record, noop_callback, NULL, 0, (PUCHAR) "t")); /* again */
    ck_assert(KeDeregisterBugCheckCallback(&Record));
    ck_assert_uint_eq(Record.State, BufferEmpty);
    ck_assert(!KeDeregisterBugCheckCallback(&Record));
    ck_assert(KeRegisterBugCheckCallback(&Record, noop_callback, NULL, 0, (PUCHAR) "t")); /* reusable */
    ck_assert(KeDeregisterBugCheckCallback(&Record));
    ck_assert_uint_eq(KeGetCurrentIrql(), PASSIVE_LEVEL);
}
END_TEST

static KBUGCHECK_CALLBACK_RECORD RecursiveRecord;

static void bug_check_again(PVOID Buffer, ULONG Length)
{
    (void)Buffer;
    (void)Length;
    KeBugCheckEx(BAD_POOL_HEADER, 3, 0, 0, 0);
}

static __attribute__((noinline)) void crash_with_recursive_callback(void *arg)
{
    (void)arg;
    KeInitializeCallbackRecord(&RecursiveRecord);
    KeRegisterBugCheckCallback(&RecursiveRecord, bug_check_again, NULL, 0, (PUCHAR) "recursive");
    KeBugCheckEx(MANUALLY_INITIATED_CRASH, 1, 0, 0, 0);
}

START_TEST(recursive_bug_check_stops_at_once)
{
    static death_result r;

    death_run(crash_with_recursive_callback, NULL, &r);
    ck_assert_uint_eq(r.code, 0xE2); /* the first report is the one parsed */
    ck_assert_msg(strstr(r.output, "Recursive bug check 0x00000019") != NULL, "%s", r.output);
    ck_assert_msg(strstr(strstr(r.output, "*** STOP: ") + 1, "*** STOP: ") == NULL,
                  "second full report:\n%s", r.output);
    ck_assert(r.aborted);
}
END_TEST

static void exit_3(int sig)
{
    (void)sig;
    _exit(3);
}

static __attribute__((noinline)) void crash_with_sigabrt_handled_and_blocked(void *arg)
{
    sigset_t set;
    (void)arg;
    signal(SIGABRT, exit_3);
    sigemptyset(&set);
    sigaddset(&set, SIGABRT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    KeBugCheck(MANUALLY_INITIATED_CRASH);
}

START_TEST(the_process_dies_by_sigabrt_whatever_the_program_did)
{
    ck_assert_bugcheck(crash_with_sigabrt_handled_and_blocked, NULL, 0xE2, 0);
}
END_TEST

/* ---- the hook --------------------------------------------------------------------------------- */

static jmp_buf HookJump;
static ULONG HookCode;
static ULONG_PTR HookParams[4];
static int HookCalls;

static void jumping_hook(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4)
{
    HookCode = Code;
    HookParams[0] = P1;
    HookParams[1] = P2;
    HookParams[2] = P3;
    HookParams[3] = P4;
    HookCalls++;
    longjmp(HookJump, 1);
}

START_TEST(hook_receives_code_and_parameters)
{
    ck_assert_ptr_null(ntmem_set_bugcheck_hook(jumping_hook));
    HookCalls = 0;
    if (setjmp(HookJump) == 0) {
        KeBugCheckEx(BAD_POOL_CALLER, 0x0A, 0x1000, 'gaT1', 'gaT2');
        ck_abort_msg("KeBugCheckEx returned");
    }
    ck_assert_int_eq(HookCalls, 1);
    ck_assert_uint_eq(HookCode, BAD_POOL_CALLER);
    ck_assert_uint_eq(HookParams[0], 0x0A);
    ck_assert_uint_eq(HookParams[1], 0x1000);
    ck_assert_uint_eq(HookParams[2], 'gaT1');
    ck_assert_uint_eq(HookParams[3], 'gaT2');

    /* A second bug check on the same thread reaches the hook too: nothing is left marked. */
    if (setjmp(HookJump) == 0)
        KeBugCheck(MANUALLY_INITIATED_CRASH);
    ck_assert_int_eq(HookCalls, 2);
    ck_assert_uint_eq(HookCode, MANUALLY_INITIATED_CRASH);
    ck_assert_uint_eq(HookParams[0], 0);

    /* Internal bug checks go through it as well. */
    KSPIN_LOCK Lock;
    KeInitializeSpinLock(&Lock);
    if (setjmp(HookJump) == 0)
        KeReleaseSpinLockFromDpcLevel(&Lock);
    ck_assert_int_eq(HookCalls, 3);
    ck_assert_uint_eq(HookCode, 0x10);
    ck_assert_uint_eq(HookParams[0], (ULONG_PTR)&Lock);

    ck_assert_ptr_eq(ntmem_set_bugcheck_hook(NULL), jumping_hook);
}
END_TEST

static void returning_hook(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4)
{
    char Line[96];
    int n = snprintf(Line, sizeof Line, "hook saw 0x%X %lu %lu %lu %lu\n", (unsigned)Code, (unsigned long)P1,
                     (unsigned long)P2, (unsigned long)P3, (unsigned long)P4);
    ck_assert_int_eq(write(2, Line, (size_t)n), n);
}

static __attribute__((noinline)) void crash_with_returning_hook(void *arg)
{
    (void)arg;
    ntmem_set_bugcheck_hook(returning_hook);
    KeBugCheckEx(PAGE_FAULT_IN_NONPAGED_AREA, 5, 6, 7, 8);
}

START_TEST(a_hook_that_returns_lets_the_bug_check_proceed)
{
    static death_result r;

    death_run(crash_with_returning_hook, NULL, &r);
    const char *hook = strstr(r.output, "hook saw 0x50 5 6 7 8\n");
    ck_assert_msg(hook != NULL, "%s", r.output);
    ck_assert(r.parsed);
    ck_assert_uint_eq(r.code, 0x50);
    ck_assert_uint_eq(r.p[3], 8);
    ck_assert(hook < strstr(r.output, "*** STOP: "));
    ck_assert(r.aborted);
}
END_TEST

/* ---- exceptions raised by status, assertions, fail fast --------------------------------------- */

static __attribute__((noinline)) void raise_access_violation(void *arg)
{
    (void)arg;
    RtlRaiseStatus(STATUS_ACCESS_VIOLATION);
}

static __attribute__((noinline)) void ex_raise_no_memory(void *arg)
{
    (void)arg;
    ExRaiseStatus(STATUS_NO_MEMORY);
}

START_TEST(unhandled_raise_is_kmode_exception_not_handled)
{
    static death_result r;
    char line[512];

    ck_assert_bugcheck(raise_access_violation, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0xC0000005);
    ck_assert_bugcheck(ex_raise_no_memory, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0xC0000017);

    death_run(raise_access_violation, NULL, &r);
    ck_assert_uint_ne(r.p[1], 0); /* the address the exception was raised at */
    ck_assert_uint_eq(r.p[2], 0);
    ck_assert_uint_eq(r.p[3], 0);
    ck_assert_str_eq(report_line(&r, 0, line, sizeof line), "KMODE_EXCEPTION_NOT_HANDLED");
    ck_assert_msg(strstr(report_line(&r, 1, line, sizeof line), "0xC0000005") != NULL, "%s", r.output);
    ck_assert_msg(strstr(r.output, "raise_access_violation") != NULL, "%s", r.output);
}
END_TEST

static int assertion_value = 3;

static __attribute__((noinline)) void failing_assert(void *arg)
{
    (void)arg;
    ASSERT(assertion_value == 4);
}

static __attribute__((noinline)) void failing_assert_with_message(void *arg)
{
    (void)arg;
    ASSERTMSG("the value must be four", assertion_value == 4);
}

static __attribute__((noinline)) void passing_assert(void *arg)
{
    (void)arg;
    ASSERT(assertion_value == 3);
    NT_ASSERT(assertion_value > 0);
    PAGED_CODE();
}

START_TEST(failed_assert_raises_assertion_failure)
{
    static death_result r;
    char expected[256];

    ck_assert_bugcheck(failing_assert, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0xC0000420);
    death_run(failing_assert, NULL, &r);
    snprintf(expected, sizeof expected, "*** Assertion failed: assertion_value == 4\n***   Source File: %s, line ",
             __FILE__);
    ck_assert_msg(strstr(r.output, expected) != NULL, "%s", r.output);
    ck_assert(strstr(r.output, "*** Assertion failed") < strstr(r.output, "*** STOP: "));

    death_run(failing_assert_with_message, NULL, &r);
    ck_assert_uint_eq(r.code, 0x1E);
    ck_assert_msg(strstr(r.output, "the value must be four") != NULL, "%s", r.output);

    death_run(passing_assert, NULL, &r);
    ck_assert(!r.parsed);
    ck_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
}
END_TEST

static __attribute__((noinline)) void paged_code_at_dispatch_level(void *arg)
{
    KIRQL Old;
    (void)arg;
    KeRaiseIrql(DISPATCH_LEVEL, &Old);
    PAGED_CODE();
}

START_TEST(paged_code_at_dispatch_level_asserts)
{
    ck_assert_bugcheck(paged_code_at_dispatch_level, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0xC0000420);
}
END_TEST

static __attribute__((noinline)) void fail_fast_invalid_parameter(void *arg)
{
    (void)arg;
    RtlFailFast(5);
}

START_TEST(fail_fast_is_kernel_security_check_failure)
{
    static death_result r;

    ck_assert_bugcheck(fail_fast_invalid_parameter, NULL, KERNEL_SECURITY_CHECK_FAILURE, 5);
    death_run(fail_fast_invalid_parameter, NULL, &r);
    ck_assert_uint_eq(r.p[1], 0);
    ck_assert_msg(strstr(r.output, "invalid parameter") != NULL, "%s", r.output);
}
END_TEST

/* ---- debug output ----------------------------------------------------------------------------- */

static __attribute__((noinline)) void print_debug_output(void *arg)
{
    (void)arg;
    ck_assert_uint_eq(DbgPrint("plain %d %s\n", 42, "text"), STATUS_SUCCESS);
    KdPrint(("kd %u\n", 7u));
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "level error\n");
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_WARNING_LEVEL, "level warning\n");
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_TRACE_LEVEL, "level trace\n");
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "level info\n");
    ck_assert_uint_eq(DbgPrintEx(DPFLTR_IHVDRIVER_ID, 4, "level four\n"), STATUS_SUCCESS);
    DbgPrintEx(DPFLTR_DEFAULT_ID, 31, "level 31\n");
    DbgPrintEx(DPFLTR_DEFAULT_ID, 0x20 | 0x8, "mask with info bit\n");
    DbgPrintEx(DPFLTR_DEFAULT_ID, 0x40, "mask without printed bits\n");
}

START_TEST(debug_output_goes_to_stderr_filtered_by_level)
{
    static death_result r;

    death_run(print_debug_output, NULL, &r);
    ck_assert(!r.parsed);
    ck_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    ck_assert_str_eq(r.output, "plain 42 text\nkd 7\nlevel error\nlevel warning\nlevel trace\n"
                               "level info\nmask with info bit\n");
}
END_TEST

static __attribute__((noinline)) void print_long_message(void *arg)
{
    char Long[2000];
    (void)arg;
    memset(Long, 'x', sizeof Long - 1);
    Long[sizeof Long - 1] = '\0';
    DbgPrint("%s", Long);
}

START_TEST(debug_output_is_cut_at_512_bytes)
{
    static death_result r;

    death_run(print_long_message, NULL, &r);
    ck_assert_uint_eq(strlen(r.output), 511);
}
END_TEST

static Suite *bugcheck_suite(void)
{
    Suite *s = suite_create("bugcheck");
    TCase *t = tcase_create("report");
    tcase_add_test(t, report_has_stop_line_name_explanation_and_backtrace);
    tcase_add_test(t, bug_check_without_parameters_reports_zeros);
    tcase_add_test(t, unknown_code_is_reported_as_unknown);
    tcase_add_loop_test(t, explanation_follows_parameter_1, 0,
                        (int)(sizeof subtype_cases / sizeof subtype_cases[0]));
    tcase_add_test(t, names_cover_the_documented_codes);
    suite_add_tcase(s, t);

    t = tcase_create("callbacks");
    tcase_add_test(t, callbacks_run_after_the_report_and_before_the_abort);
    tcase_add_test(t, register_and_deregister_report_record_state);
    tcase_add_test(t, recursive_bug_check_stops_at_once);
    tcase_add_test(t, the_process_dies_by_sigabrt_whatever_the_program_did);
    suite_add_tcase(s, t);

    t = tcase_create("hook");
    tcase_add_test(t, hook_receives_code_and_parameters);
    tcase_add_test(t, a_hook_that_returns_lets_the_bug_check_proceed);
    suite_add_tcase(s, t);

    t = tcase_create("raise");
    tcase_add_test(t, unhandled_raise_is_kmode_exception_not_handled);
    tcase_add_test(t, failed_assert_raises_assertion_failure);
    tcase_add_test(t, paged_code_at_dispatch_level_asserts);
    tcase_add_test(t, fail_fast_is_kernel_security_check_failure);
    suite_add_tcase(s, t);

    t = tcase_create("debug output");
    tcase_add_test(t, debug_output_goes_to_stderr_filtered_by_level);
    tcase_add_test(t, debug_output_is_cut_at_512_bytes);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(bugcheck_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
