/* test_seh_nested.c - exceptions raised while exceptions are dispatched (in filters, unwinding
 * __finally blocks and vectored handlers), and exact resumption of the interrupted code. */
#define _GNU_SOURCE
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <ntmem.h>
#include <ntddk.h>
#include <windows.h>

#include "death.h"


#define CODE_A 0xE0000A01u /* application-defined codes */
#define CODE_B 0xE0000B02u
#define CODE_C 0xE0000C03u

static char order_log[256];
static int order_len;

static void log_str(const char *s)
{
    while (*s && order_len < (int)sizeof order_log - 1)
        order_log[order_len++] = *s++;
    order_log[order_len] = '\0';
}

static void reset_log(void)
{
    order_len = 0;
    order_log[0] = '\0';
}

#define LOG_THEN(s, v) (log_str(s), (v))

static __attribute__((noinline)) void raise_code(DWORD code)
{
    RaiseException(code, 0, 0, NULL);
}

extern const char nested_store_site[];
static __attribute__((noinline, noclone)) void store_one(volatile int *p)
{
    __asm__ volatile(".globl nested_store_site\n\t"
                     ".hidden nested_store_site\n"
                     "nested_store_site:\n\t"
                     "movl $1, (%0)" ::"r"(p)
                     : "memory");
}

/* Uses a lot of stack, so a filter calling it overwrites whatever lay below its frame. */
static __attribute__((noinline)) int scribble_stack(int seed)
{
    volatile unsigned char junk[16384];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(seed + i);
    return junk[seed & 1023];
}

/* ---- an exception inside a filter ---------------------------------------------------------------- */

static volatile NTSTATUS inner_code;

static LONG filter_catching_its_own_raise(void)
{
    log_str("f");
    __try {
        raise_code(CODE_B);
        log_str("!");
    } __except (LOG_THEN("i", GetExceptionCode() == (NTSTATUS)CODE_B)) {
        inner_code = GetExceptionCode();
        log_str("I");
    }
    return EXCEPTION_EXECUTE_HANDLER;
}

START_TEST(a_raise_inside_a_filter_is_caught_inside_the_filter)
{
    reset_log();
    inner_code = 0;
    volatile NTSTATUS outer = 0;
    __try {
        raise_code(CODE_A);
    } __except (filter_catching_its_own_raise()) {
        outer = GetExceptionCode();
        log_str("H");
    }
    ck_assert_str_eq(order_log, "fiIH");
    ck_assert_uint_eq((ULONG)inner_code, CODE_B);
    ck_assert_uint_eq((ULONG)outer, CODE_A);
}
END_TEST

static LONG filter_catching_its_own_fault(PEXCEPTION_POINTERS e)
{
    log_str("f");
    volatile ULONG_PTR address = 0;
    __try {
        store_one((volatile int *)0x40);
    } __except (LOG_THEN("i", GetExceptionCode() == STATUS_ACCESS_VIOLATION)) {
        log_str("I");
        address = 0x40;
    }
    /* The first exception's record is still what this filter was given. */
    return address == 0x40 && e->ExceptionRecord->ExceptionCode == STATUS_INTEGER_DIVIDE_BY_ZERO
               ? EXCEPTION_EXECUTE_HANDLER
               : EXCEPTION_CONTINUE_SEARCH;
}

static volatile ULONG64 zero_divisor;

/* In assembly: UBSan would report a C division by zero before the CPU faults. */
static __attribute__((noinline)) ULONG64 divide_100_by(ULONG64 d)
{
    ULONG64 q = 100;
    __asm__ volatile("xorl %%edx, %%edx\n\t"
                     "divq %%rcx"
                     : "+a"(q)
                     : "c"(d)
                     : "rdx", "cc");
    return q;
}

START_TEST(a_fault_inside_a_filter_of_a_fault_is_caught_inside_the_filter)
{
    reset_log();
    volatile NTSTATUS outer = 0;
    __try {
        divide_100_by(zero_divisor);
    } __except (filter_catching_its_own_fault(GetExceptionInformation())) {
        outer = GetExceptionCode();
        log_str("H");
    }
    ck_assert_str_eq(order_log, "fiIH");
    ck_assert_uint_eq((ULONG)outer, (ULONG)STATUS_INTEGER_DIVIDE_BY_ZERO);
}
END_TEST

static volatile int continued_in_filter;

static LONG filter_continuing_its_own_raise(void)
{
    __try {
        raise_code(CODE_B); /* continuable: returns when a filter continues it */
        continued_in_filter = 1;
    } __except (EXCEPTION_CONTINUE_EXECUTION) {
        log_str("!");
    }
    return EXCEPTION_EXECUTE_HANDLER;
}

START_TEST(a_filter_may_continue_an_exception_raised_inside_another_filter)
{
    reset_log();
    continued_in_filter = 0;
    volatile int handled = 0;
    __try {
        raise_code(CODE_A);
    } __except (filter_continuing_its_own_raise()) {
        handled = 1;
    }
    ck_assert_int_eq(continued_in_filter, 1);
    ck_assert_int_eq(handled, 1);
    ck_assert_str_eq(order_log, "");
}
END_TEST

/* The function between the exception and the frame whose filter raises: its __finally must find its
 * locals intact even though that filter ran over this part of the stack. */
static __attribute__((noinline)) void between_frames(volatile int *finally_saw_pattern)
{
    volatile unsigned char pattern[512];
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (unsigned char)(i * 7 + 3);
    __try {
        __try {
            raise_code(CODE_A);
        } __except (LOG_THEN(GetExceptionCode() == (NTSTATUS)CODE_A ? "e" : "E!", EXCEPTION_CONTINUE_SEARCH)) {
            log_str("!");
        }
    } __finally {
        int intact = 1;
        for (size_t i = 0; i < sizeof pattern; i++)
            intact &= pattern[i] == (unsigned char)(i * 7 + 3);
        *finally_saw_pattern = intact;
        log_str(AbnormalTermination() ? "G" : "g!");
    }
}

static LONG filter_raising_uncaught(void)
{
    log_str("f");
    scribble_stack(5);
    raise_code(CODE_B);
    log_str("!");
    return EXCEPTION_EXECUTE_HANDLER;
}

START_TEST(a_raise_inside_a_filter_skips_the_frames_it_would_meet_twice)
{
    reset_log();
    volatile int pattern_ok = 0;
    volatile NTSTATUS outer = 0;
    __try {
        __try {
            between_frames(&pattern_ok);
        } __except (filter_raising_uncaught()) {
            log_str("F!");
        }
    } __except (LOG_THEN("h", GetExceptionCode() == (NTSTATUS)CODE_B)) {
        outer = GetExceptionCode();
        log_str("H");
    }
    /* e: the first search; f: the filter that raises; h: the nested search goes straight to the frame
     * older than the one being filtered; G: the unwind then runs the first exception's __finally. */
    ck_assert_str_eq(order_log, "efhGH");
    ck_assert_uint_eq((ULONG)outer, CODE_B);
    ck_assert_int_eq(pattern_ok, 1);
}
END_TEST

static LONG filter_with_a_finally_then_raising(void)
{
    __try {
        raise_code(CODE_B);
    } __finally {
        log_str(AbnormalTermination() ? "t" : "t!");
    }
    return EXCEPTION_EXECUTE_HANDLER;
}

START_TEST(an_unwind_out_of_a_filter_runs_the_filters_finally_blocks_first)
{
    reset_log();
    volatile NTSTATUS outer = 0;
    __try {
        __try {
            __try {
                raise_code(CODE_A);
            } __finally {
                log_str(AbnormalTermination() ? "1" : "1!");
            }
        } __except (filter_with_a_finally_then_raising()) {
            log_str("F!");
        }
    } __except (LOG_THEN("h", EXCEPTION_EXECUTE_HANDLER)) {
        outer = GetExceptionCode();
        log_str("H");
    }
    ck_assert_str_eq(order_log, "ht1H");
    ck_assert_uint_eq((ULONG)outer, CODE_B);
}
END_TEST

/* ---- an exception inside an unwinding __finally ----------------------------------------------------- */

START_TEST(a_raise_inside_an_unwinding_finally_is_caught_inside_it)
{
    reset_log();
    volatile NTSTATUS outer = 0, inner = 0;
    __try {
        __try {
            raise_code(CODE_A);
        } __finally {
            log_str("F");
            __try {
                store_one(NULL);
            } __except (LOG_THEN("i", EXCEPTION_EXECUTE_HANDLER)) {
                inner = GetExceptionCode();
                log_str("I");
            }
            log_str(AbnormalTermination() ? "f" : "f!");
        }
    } __except (LOG_THEN("h", EXCEPTION_EXECUTE_HANDLER)) {
        outer = GetExceptionCode();
        log_str("H");
    }
    ck_assert_str_eq(order_log, "hFiIfH");
    ck_assert_uint_eq((ULONG)inner, (ULONG)STATUS_ACCESS_VIOLATION);
    ck_assert_uint_eq((ULONG)outer, CODE_A);
}
END_TEST

START_TEST(a_raise_inside_an_unwinding_finally_replaces_the_first_exception)
{
    reset_log();
    volatile NTSTATUS outer = 0;
    __try {
        __try {
            __try {
                __try {
                    raise_code(CODE_A);
                } __finally {
                    log_str("1");
                    raise_code(CODE_B);
                    log_str("!");
                }
            } __finally {
                log_str(AbnormalTermination() ? "2" : "2!");
            }
        } __except (LOG_THEN("m", GetExceptionCode() == (NTSTATUS)CODE_A)) {
            log_str("M!");
        }
    } __except (LOG_THEN("o", GetExceptionCode() == (NTSTATUS)CODE_B)) {
        outer = GetExceptionCode();
        log_str("O");
    }
    /* m: the first search picks the middle frame; 1: the unwind raises; the second search asks the
     * middle frame again (m), which declines; o takes it; 2: the rest of the unwind. */
    ck_assert_str_eq(order_log, "m1mo2O");
    ck_assert_uint_eq((ULONG)outer, CODE_B);
}
END_TEST

/* ---- an exception inside a vectored handler -------------------------------------------------------- */

static LONG WINAPI vectored_raising(PEXCEPTION_POINTERS e)
{
    if (e->ExceptionRecord->ExceptionCode != (NTSTATUS)CODE_A)
        return EXCEPTION_CONTINUE_SEARCH;
    log_str("v");
    raise_code(CODE_C);
    log_str("!");
    return EXCEPTION_CONTINUE_SEARCH;
}

START_TEST(a_raise_inside_a_vectored_handler_reaches_the_frames)
{
    reset_log();
    PVOID h = AddVectoredExceptionHandler(1, vectored_raising);
    ck_assert_ptr_nonnull(h);
    volatile NTSTATUS outer = 0;
    __try {
        __try {
            raise_code(CODE_A);
        } __finally {
            log_str(AbnormalTermination() ? "t" : "t!");
        }
    } __except (LOG_THEN("x", GetExceptionCode() == (NTSTATUS)CODE_C)) {
        outer = GetExceptionCode();
        log_str("H");
    }
    RemoveVectoredExceptionHandler(h);
    ck_assert_str_eq(order_log, "vxtH");
    ck_assert_uint_eq((ULONG)outer, CODE_C);
}
END_TEST

/* After all that nesting the thread dispatches as before: depth and state were restored. */
START_TEST(dispatch_works_normally_after_abandoned_nested_dispatches)
{
    for (volatile int round = 0; round < 20; round++) {
        volatile int caught = 0;
        __try {
            __try {
                between_frames(&caught);
            } __except (filter_raising_uncaught()) {
            }
        } __except (EXCEPTION_EXECUTE_HANDLER) {
            caught = 2;
        }
        ck_assert_int_eq(caught, 2);
    }
    /* Eight levels are fine when each is caught again. */
    reset_log();
    volatile int handled = 0;
    __try {
        raise_code(CODE_A);
    } __except (filter_catching_its_own_raise()) {
        handled = 1;
    }
    ck_assert_int_eq(handled, 1);
    ck_assert_str_eq(order_log, "fiI");
}
END_TEST

/* ---- unhandled nested exceptions ---------------------------------------------------------------- */

static void fault_in_filter_nobody_takes(void *arg)
{
    (void)arg;
    __try {
        raise_code(CODE_A);
    } __except (store_one((volatile int *)0x28), EXCEPTION_EXECUTE_HANDLER) {
        fprintf(stderr, "handler ran\n");
    }
}

START_TEST(an_unhandled_fault_inside_a_filter_is_stop_1e_for_the_fault)
{
    SKIP_HARDWARE_DEATH_UNDER_TSAN();
    static death_result r;
    death_run(fault_in_filter_nobody_takes, NULL, &r);
    ck_assert_msg(r.parsed, "no STOP report:\n%s", r.output);
    ck_assert_uint_eq(r.code, KMODE_EXCEPTION_NOT_HANDLED);
    ck_assert_uint_eq(r.p[0], 0xC0000005u);
    ck_assert_uint_eq(r.p[1], (ULONG_PTR)nested_store_site);
    ck_assert_uint_eq(r.p[2], 1);
    ck_assert_uint_eq(r.p[3], 0x28);
    ck_assert(r.aborted);
    ck_assert_ptr_null(strstr(r.output, "handler ran"));
}
END_TEST

static LONG filter_raising_forever(void)
{
    __try {
        raise_code(CODE_B);
    } __except (filter_raising_forever()) {
    }
    return EXCEPTION_EXECUTE_HANDLER;
}

static void raise_in_every_filter(void *arg)
{
    (void)arg;
    __try {
        raise_code(CODE_A);
    } __except (filter_raising_forever()) {
    }
}

START_TEST(exceptions_nested_past_eight_levels_are_stop_1e)
{
    ck_assert_bugcheck(raise_in_every_filter, NULL, KMODE_EXCEPTION_NOT_HANDLED, CODE_B);
}
END_TEST

static void raise_in_unwinding_finally_user_mode(void *arg)
{
    (void)arg;
    ntmem_set_thread_mode(UserMode);
    __try {
        __try {
            raise_code(CODE_A);
        } __finally {
            raise_code(CODE_B);
        }
    } __except (GetExceptionCode() == (NTSTATUS)CODE_A) {
        fprintf(stderr, "handler ran\n");
    }
}

START_TEST(an_unhandled_raise_inside_an_unwinding_finally_is_reported_in_user_mode)
{
    static death_result r;
    death_run(raise_in_unwinding_finally_user_mode, NULL, &r);
    ck_assert(r.aborted);
    ck_assert_msg(strstr(r.output, "*** Unhandled exception 0xE0000B02") != NULL, "%s", r.output);
    ck_assert_ptr_null(strstr(r.output, "handler ran"));
}
END_TEST

/* ---- continuing resumes exactly ------------------------------------------------------------------ */

/*
 * regs_fault(p, out): loads known values into every callee-saved register, RAX, XMM7 and the 128
 * bytes below RSP (the red zone), stores to *p (the fault), then writes what it finds in all of them
 * to out: RBX RBP R12 R13 R14 R15 RAX XMM7 (2 words) and the red zone's 16 words.
 */
extern void regs_fault(volatile int *p, ULONG64 *out);
__asm__(".text\n"
        ".type regs_fault,@function\n"
        "regs_fault:\n"
        "  push %rbx\n  push %rbp\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"
        "  mov $0x1111111111111111,%rbx\n  mov $0x2222222222222222,%rbp\n"
        "  mov $0x3333333333333333,%r12\n  mov $0x4444444444444444,%r13\n"
        "  mov $0x5555555555555555,%r14\n  mov $0x6666666666666666,%r15\n"
        "  mov $0x7777777777777777,%rax\n  movq %rax,%xmm7\n  movlhps %xmm7,%xmm7\n"
        "  mov $0xA5A5A5A5A5A5A5A5,%rax\n"
        "  lea -128(%rsp),%rdx\n  mov $16,%ecx\n"
        "1: mov %rax,-8(%rdx,%rcx,8)\n  dec %ecx\n  jnz 1b\n"
        "  mov $0x7777777777777777,%rax\n"
        "  movl $1,(%rdi)\n"
        "  mov %rbx,0(%rsi)\n  mov %rbp,8(%rsi)\n  mov %r12,16(%rsi)\n  mov %r13,24(%rsi)\n"
        "  mov %r14,32(%rsi)\n  mov %r15,40(%rsi)\n  mov %rax,48(%rsi)\n"
        "  movq %xmm7,56(%rsi)\n  movhps %xmm7,64(%rsi)\n"
        "  lea -128(%rsp),%rdx\n  mov $16,%ecx\n"
        "2: mov -8(%rdx,%rcx,8),%rax\n  mov %rax,64(%rsi,%rcx,8)\n  dec %ecx\n  jnz 2b\n"
        "  pop %r15\n  pop %r14\n  pop %r13\n  pop %r12\n  pop %rbp\n  pop %rbx\n  ret\n"
        ".size regs_fault,.-regs_fault\n");

static void *regs_page;
static int change_context;

static LONG WINAPI vectored_unprotect(PEXCEPTION_POINTERS e)
{
    if (e->ExceptionRecord->ExceptionCode != STATUS_ACCESS_VIOLATION ||
        e->ExceptionRecord->ExceptionInformation[1] != (ULONG_PTR)regs_page)
        return EXCEPTION_CONTINUE_SEARCH;
    mprotect(regs_page, PAGE_SIZE, PROT_READ | PROT_WRITE);
    if (change_context) {
        e->ContextRecord->Rbx = 0xB0B0B0B0B0B0B0B0ull;
        e->ContextRecord->Rax = 0x0A0A0A0A0A0A0A0Aull;
        e->ContextRecord->FltSave.XmmRegisters[7].Low = 0x1234;
        e->ContextRecord->FltSave.XmmRegisters[7].High = 0x5678;
    }
    return EXCEPTION_CONTINUE_EXECUTION;
}

static void check_resumed(int changed, int with_frame)
{
    ULONG64 out[25];
    memset(out, 0, sizeof out);
    regs_page = mmap(NULL, PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(regs_page, MAP_FAILED);
    change_context = changed;
    PVOID h = AddVectoredExceptionHandler(0, vectored_unprotect);
    if (with_frame) {
        __try {
            regs_fault(regs_page, out);
        } __except (EXCEPTION_EXECUTE_HANDLER) {
            ck_abort_msg("the fault reached a frame");
        }
    } else {
        regs_fault(regs_page, out);
    }
    RemoveVectoredExceptionHandler(h);
    ck_assert_int_eq(*(volatile int *)regs_page, 1);
    munmap(regs_page, PAGE_SIZE);
    ck_assert_uint_eq(out[0], changed ? 0xB0B0B0B0B0B0B0B0ull : 0x1111111111111111ull);
    ck_assert_uint_eq(out[1], 0x2222222222222222ull);
    ck_assert_uint_eq(out[2], 0x3333333333333333ull);
    ck_assert_uint_eq(out[3], 0x4444444444444444ull);
    ck_assert_uint_eq(out[4], 0x5555555555555555ull);
    ck_assert_uint_eq(out[5], 0x6666666666666666ull);
    ck_assert_uint_eq(out[6], changed ? 0x0A0A0A0A0A0A0A0Aull : 0x7777777777777777ull);
    ck_assert_uint_eq(out[7], changed ? 0x1234 : 0x7777777777777777ull);
    ck_assert_uint_eq(out[8], changed ? 0x5678 : 0x7777777777777777ull);
    for (int i = 9; i < 25; i++)
        ck_assert_msg(out[i] == 0xA5A5A5A5A5A5A5A5ull, "red zone word %d is 0x%llx", i - 9,
                      (unsigned long long)out[i]);
}

START_TEST(continuing_restores_registers_vectors_and_the_red_zone)
{
    check_resumed(0, 0);
    check_resumed(0, 1);
}
END_TEST

START_TEST(continuing_applies_what_the_handler_changed_in_the_context)
{
    check_resumed(1, 0);
    check_resumed(1, 1);
}
END_TEST

static Suite *nested_suite(void)
{
    Suite *s = suite_create("seh nested");
    TCase *t = tcase_create("in filters");
    tcase_add_test(t, a_raise_inside_a_filter_is_caught_inside_the_filter);
    tcase_add_test(t, a_fault_inside_a_filter_of_a_fault_is_caught_inside_the_filter);
    tcase_add_test(t, a_filter_may_continue_an_exception_raised_inside_another_filter);
    tcase_add_test(t, a_raise_inside_a_filter_skips_the_frames_it_would_meet_twice);
    tcase_add_test(t, an_unwind_out_of_a_filter_runs_the_filters_finally_blocks_first);
    suite_add_tcase(s, t);

    t = tcase_create("in finally and vectored handlers");
    tcase_add_test(t, a_raise_inside_an_unwinding_finally_is_caught_inside_it);
    tcase_add_test(t, a_raise_inside_an_unwinding_finally_replaces_the_first_exception);
    tcase_add_test(t, a_raise_inside_a_vectored_handler_reaches_the_frames);
    tcase_add_test(t, dispatch_works_normally_after_abandoned_nested_dispatches);
    suite_add_tcase(s, t);

    t = tcase_create("unhandled");
    tcase_add_test(t, an_unhandled_fault_inside_a_filter_is_stop_1e_for_the_fault);
    tcase_add_test(t, exceptions_nested_past_eight_levels_are_stop_1e);
    tcase_add_test(t, an_unhandled_raise_inside_an_unwinding_finally_is_reported_in_user_mode);
    suite_add_tcase(s, t);

    t = tcase_create("resuming");
    tcase_add_test(t, continuing_restores_registers_vectors_and_the_red_zone);
    tcase_add_test(t, continuing_applies_what_the_handler_changed_in_the_context);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(nested_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
