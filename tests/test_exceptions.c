/* test_exceptions.c - vectored and continue handlers, hardware faults as exceptions, thread modes and
 * the unhandled paths (STOP 0x1E, 0x50, the user-mode report and the unhandled-exception filter). */
#define _GNU_SOURCE
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <ntmem.h>
#include <windows.h>

#include "death.h"

#define NPAGES 64

/* ---- helpers ---------------------------------------------------------------------------------- */

/* A log of which handler ran, in order, as a string of letters. */
static char order_log[64];
static int order_len;

static void log_letter(char c)
{
    if (order_len < (int)sizeof order_log - 1) {
        order_log[order_len++] = c;
        order_log[order_len] = '\0';
    }
}

static void reset_log(void)
{
    order_len = 0;
    order_log[0] = '\0';
}

#define USER_CODE 0xE0424242u /* an application-defined code (bit 29 set) */

static LONG WINAPI h_a(PEXCEPTION_POINTERS e)
{
    (void)e;
    log_letter('A');
    return EXCEPTION_CONTINUE_SEARCH;
}

static LONG WINAPI h_b(PEXCEPTION_POINTERS e)
{
    (void)e;
    log_letter('B');
    return EXCEPTION_CONTINUE_SEARCH;
}

static LONG WINAPI h_c(PEXCEPTION_POINTERS e)
{
    (void)e;
    log_letter('C');
    return EXCEPTION_CONTINUE_SEARCH;
}

static LONG WINAPI h_continue(PEXCEPTION_POINTERS e)
{
    (void)e;
    log_letter('X');
    return EXCEPTION_CONTINUE_EXECUTION;
}

static LONG WINAPI h_never(PEXCEPTION_POINTERS e)
{
    (void)e;
    log_letter('!');
    return EXCEPTION_CONTINUE_EXECUTION;
}

static LONG WINAPI k_one(PEXCEPTION_POINTERS e)
{
    (void)e;
    log_letter('1');
    return EXCEPTION_CONTINUE_SEARCH;
}

static LONG WINAPI k_two(PEXCEPTION_POINTERS e)
{
    (void)e;
    log_letter('2');
    return EXCEPTION_CONTINUE_EXECUTION;
}

static LONG WINAPI k_three(PEXCEPTION_POINTERS e)
{
    (void)e;
    log_letter('3');
    return EXCEPTION_CONTINUE_SEARCH;
}

static void *map_none(size_t pages)
{
    void *p = mmap(NULL, pages * PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    return p;
}

/* ---- vectored handlers: order, removal, continuation ----------------------------------------- */

START_TEST(vectored_handlers_run_in_order_first_goes_in_front)
{
    reset_log();
    PVOID a = AddVectoredExceptionHandler(0, h_a);
    PVOID b = AddVectoredExceptionHandler(0, h_b);
    PVOID x = AddVectoredExceptionHandler(0, h_continue);
    PVOID n = AddVectoredExceptionHandler(0, h_never); /* after the one that continues: never runs */
    PVOID c = AddVectoredExceptionHandler(1, h_c);      /* First: in front of all of them */
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_ne(a, b);
    ck_assert_ptr_ne(b, c);
    ck_assert_ptr_ne(a, c);

    volatile int after = 0;
    RaiseException(USER_CODE, 0, 0, NULL);
    after = 1; /* RaiseException returned because a handler continued */
    ck_assert_int_eq(after, 1);
    ck_assert_str_eq(order_log, "CABX");

    /* Removal: 1 for a registered handle, 0 the second time; the removed one no longer runs. */
    ck_assert_uint_eq(RemoveVectoredExceptionHandler(a), 1);
    ck_assert_uint_eq(RemoveVectoredExceptionHandler(a), 0);
    reset_log();
    RaiseException(USER_CODE, 0, 0, NULL);
    ck_assert_str_eq(order_log, "CBX");

    ck_assert_uint_eq(RemoveVectoredExceptionHandler(c), 1);
    ck_assert_uint_eq(RemoveVectoredExceptionHandler(b), 1);
    reset_log();
    RaiseException(USER_CODE, 0, 0, NULL);
    ck_assert_str_eq(order_log, "X");

    ck_assert_uint_eq(RemoveVectoredExceptionHandler(x), 1);
    ck_assert_uint_eq(RemoveVectoredExceptionHandler(n), 1);
    ck_assert_uint_eq(RemoveVectoredExceptionHandler(n), 0);
    ck_assert_ptr_null(AddVectoredExceptionHandler(0, NULL));
}
END_TEST

START_TEST(exception_and_continue_handler_lists_are_separate)
{
    reset_log();
    PVOID x = AddVectoredExceptionHandler(0, h_continue);
    PVOID k = AddVectoredContinueHandler(0, k_one);
    /* A continue handle is not an exception handle and the other way round. */
    ck_assert_uint_eq(RemoveVectoredExceptionHandler(k), 0);
    ck_assert_uint_eq(RemoveVectoredContinueHandler(x), 0);
    RaiseException(USER_CODE, 0, 0, NULL);
    ck_assert_str_eq(order_log, "X1");
    ck_assert_uint_eq(RemoveVectoredContinueHandler(k), 1);
    ck_assert_uint_eq(RemoveVectoredContinueHandler(k), 0);
    ck_assert_uint_eq(RemoveVectoredExceptionHandler(x), 1);
}
END_TEST

START_TEST(continue_handlers_run_after_exception_handlers_in_their_order)
{
    reset_log();
    PVOID k2 = AddVectoredContinueHandler(0, k_two);   /* continues: the chain stops after it */
    PVOID k3 = AddVectoredContinueHandler(0, k_three); /* never reached */
    PVOID k1 = AddVectoredContinueHandler(1, k_one);   /* First: runs before k_two */
    PVOID a = AddVectoredExceptionHandler(0, h_a);
    PVOID x = AddVectoredExceptionHandler(0, h_continue);
    RaiseException(USER_CODE, 0, 0, NULL);
    ck_assert_str_eq(order_log, "AX12");

    ck_assert_uint_eq(RemoveVectoredContinueHandler(k2), 1);
    reset_log();
    RaiseException(USER_CODE, 0, 0, NULL);
    ck_assert_str_eq(order_log, "AX13");

    RemoveVectoredContinueHandler(k1);
    RemoveVectoredContinueHandler(k3);
    RemoveVectoredExceptionHandler(a);
    RemoveVectoredExceptionHandler(x);
}
END_TEST

/* ---- the record and context a handler sees ---------------------------------------------------- */

static EXCEPTION_RECORD seen_record;
static CONTEXT seen_context;
static int seen_count;

static LONG WINAPI h_capture(PEXCEPTION_POINTERS e)
{
    seen_record = *e->ExceptionRecord;
    seen_context = *e->ContextRecord;
    seen_count++;
    return EXCEPTION_CONTINUE_EXECUTION;
}

static __attribute__((noinline, noclone)) int raise_with_three(void)
{
    static const ULONG_PTR args[3] = {0x1111, (ULONG_PTR)-2, 0xDEADBEEFCAFEull};
    RaiseException(USER_CODE, 0, 3, args);
    return seen_count; /* code after the call: the return address lies inside this function */
}

START_TEST(handler_sees_the_raised_record_and_the_raise_point)
{
    seen_count = 0;
    memset(&seen_record, 0xCC, sizeof seen_record);
    PVOID h = AddVectoredExceptionHandler(0, h_capture);
    ck_assert_int_eq(raise_with_three(), 1);
    ck_assert_uint_eq((ULONG)seen_record.ExceptionCode, USER_CODE);
    ck_assert_uint_eq(seen_record.ExceptionFlags, 0);
    ck_assert_ptr_null(seen_record.ExceptionRecord);
    ck_assert_uint_eq(seen_record.NumberParameters, 3);
    ck_assert_uint_eq(seen_record.ExceptionInformation[0], 0x1111);
    ck_assert_uint_eq(seen_record.ExceptionInformation[1], (ULONG_PTR)-2);
    ck_assert_uint_eq(seen_record.ExceptionInformation[2], 0xDEADBEEFCAFEull);
    /* The raise point: an address inside the function that called RaiseException, and the
     * context's Rip is that same point. */
    ULONG_PTR at = (ULONG_PTR)seen_record.ExceptionAddress;
    ck_assert_msg(at > (ULONG_PTR)raise_with_three && at < (ULONG_PTR)raise_with_three + 256,
                  "ExceptionAddress %p not inside raise_with_three %p", seen_record.ExceptionAddress,
                  (void *)raise_with_three);
    ck_assert_uint_eq(seen_context.Rip, at);
    ck_assert_uint_eq(seen_context.ContextFlags & CONTEXT_CONTROL, CONTEXT_CONTROL);
    ck_assert_uint_ne(seen_context.Rsp, 0);

    /* No arguments: NumberParameters 0, even when a count is given with a NULL array. */
    RaiseException(0xE0000001u, 0, 4, NULL);
    ck_assert_int_eq(seen_count, 2);
    ck_assert_uint_eq(seen_record.NumberParameters, 0);
    /* Flags other than EXCEPTION_NONCONTINUABLE are not passed on. */
    RaiseException(0xE0000002u, 0x10, 0, NULL);
    ck_assert_uint_eq(seen_record.ExceptionFlags, 0);
    RemoveVectoredExceptionHandler(h);
}
END_TEST

START_TEST(more_than_fifteen_arguments_are_cut_to_fifteen)
{
    ULONG_PTR args[20];
    for (int i = 0; i < 20; i++)
        args[i] = 0x100u + (ULONG_PTR)i;
    seen_count = 0;
    PVOID h = AddVectoredExceptionHandler(0, h_capture);
    RaiseException(USER_CODE, 0, 20, args);
    ck_assert_int_eq(seen_count, 1);
    ck_assert_uint_eq(seen_record.NumberParameters, EXCEPTION_MAXIMUM_PARAMETERS);
    for (int i = 0; i < EXCEPTION_MAXIMUM_PARAMETERS; i++)
        ck_assert_uint_eq(seen_record.ExceptionInformation[i], 0x100u + (ULONG_PTR)i);
    /* exactly fifteen pass unchanged */
    RaiseException(USER_CODE, 0, 15, args + 5);
    ck_assert_uint_eq(seen_record.NumberParameters, 15);
    ck_assert_uint_eq(seen_record.ExceptionInformation[14], 0x100u + 19);
    RemoveVectoredExceptionHandler(h);
}
END_TEST

START_TEST(rtl_raise_exception_passes_the_callers_record)
{
    seen_count = 0;
    PVOID h = AddVectoredExceptionHandler(0, h_capture);
    EXCEPTION_RECORD r;
    memset(&r, 0, sizeof r);
    r.ExceptionCode = (NTSTATUS)0xE0000077u;
    r.NumberParameters = 2;
    r.ExceptionInformation[0] = 7;
    r.ExceptionInformation[1] = 9;
    RtlRaiseException(&r);
    ck_assert_int_eq(seen_count, 1);
    ck_assert_uint_eq((ULONG)seen_record.ExceptionCode, 0xE0000077u);
    ck_assert_uint_eq(seen_record.NumberParameters, 2);
    ck_assert_uint_eq(seen_record.ExceptionInformation[0], 7);
    ck_assert_uint_eq(seen_record.ExceptionInformation[1], 9);
    ck_assert_ptr_nonnull(seen_record.ExceptionAddress);
    RemoveVectoredExceptionHandler(h);
}
END_TEST

/* ---- hardware faults: the seed's commit on demand --------------------------------------------- */

static PUCHAR demand_base;
static size_t demand_pages;
static int demand_faults[NPAGES];
static ULONG_PTR demand_kind[NPAGES];
static ULONG_PTR demand_addr[NPAGES];
static int demand_bad;

static LONG WINAPI commit_on_demand(PEXCEPTION_POINTERS e)
{
    PEXCEPTION_RECORD r = e->ExceptionRecord;
    if (r->ExceptionCode != STATUS_ACCESS_VIOLATION || r->NumberParameters != 2)
        return EXCEPTION_CONTINUE_SEARCH;
    PUCHAR a = (PUCHAR)r->ExceptionInformation[1];
    if (a < demand_base || a >= demand_base + demand_pages * PAGE_SIZE)
        return EXCEPTION_CONTINUE_SEARCH;
    size_t page = (size_t)(a - demand_base) / PAGE_SIZE;
    demand_faults[page]++;
    demand_kind[page] = r->ExceptionInformation[0];
    demand_addr[page] = (ULONG_PTR)a;
    if ((ULONG_PTR)r->ExceptionAddress != e->ContextRecord->Rip)
        demand_bad++;
    if (mprotect(demand_base + page * PAGE_SIZE, PAGE_SIZE, PROT_READ | PROT_WRITE) != 0)
        return EXCEPTION_CONTINUE_SEARCH;
    return EXCEPTION_CONTINUE_EXECUTION;
}

START_TEST(commit_on_demand_handler_runs_once_per_page)
{
    demand_pages = NPAGES;
    demand_base = map_none(NPAGES);
    memset(demand_faults, 0, sizeof demand_faults);
    PVOID h = AddVectoredExceptionHandler(1, commit_on_demand);
    volatile PUCHAR v = demand_base;
    /* even pages: read first (the fresh page is zero); odd pages: write first */
    for (size_t i = 0; i < NPAGES; i++) {
        size_t off = i * PAGE_SIZE + 123 + i;
        if (i % 2 == 0)
            ck_assert_uint_eq(v[off], 0);
        else
            v[off] = (UCHAR)i;
    }
    for (size_t i = 0; i < NPAGES; i++) {
        ck_assert_int_eq(demand_faults[i], 1);
        ck_assert_uint_eq(demand_kind[i], i % 2 == 0 ? 0 : 1);
        ck_assert_uint_eq(demand_addr[i], (ULONG_PTR)demand_base + i * PAGE_SIZE + 123 + i);
    }
    /* now fill everything and read it back: no further faults */
    for (size_t i = 0; i < NPAGES * PAGE_SIZE; i += 64)
        v[i] = (UCHAR)(i / 64 * 7);
    for (size_t i = 0; i < NPAGES * PAGE_SIZE; i += 64)
        ck_assert_uint_eq(v[i], (UCHAR)(i / 64 * 7));
    for (size_t i = 0; i < NPAGES; i++)
        ck_assert_int_eq(demand_faults[i], 1);
    ck_assert_int_eq(demand_bad, 0);
    RemoveVectoredExceptionHandler(h);
    munmap(demand_base, NPAGES * PAGE_SIZE);
}
END_TEST

/* ---- hardware faults: a handler changes the CONTEXT ------------------------------------------- */

static ULONG64 good_value = 0x0123456789ABCDEFull;
static PUCHAR bad_page;
static int fix_calls;
static ULONG64 fix_seen_rbx;

static LONG WINAPI fix_rbx(PEXCEPTION_POINTERS e)
{
    PEXCEPTION_RECORD r = e->ExceptionRecord;
    if (r->ExceptionCode != STATUS_ACCESS_VIOLATION || r->ExceptionInformation[1] != (ULONG_PTR)bad_page + 8)
        return EXCEPTION_CONTINUE_SEARCH;
    fix_calls++;
    fix_seen_rbx = e->ContextRecord->Rbx;
    e->ContextRecord->Rbx = (ULONG64)&good_value; /* retry the load from a valid address */
    return EXCEPTION_CONTINUE_EXECUTION;
}

static __attribute__((noinline)) ULONG64 load_through_rbx(PVOID p)
{
    ULONG64 v;
    __asm__ volatile("movq (%%rbx), %%rax" : "=a"(v) : "b"(p) : "memory");
    return v;
}

static LONG WINAPI skip_with_rax(PEXCEPTION_POINTERS e)
{
    PEXCEPTION_RECORD r = e->ExceptionRecord;
    if (r->ExceptionCode != STATUS_ACCESS_VIOLATION || r->ExceptionInformation[1] != (ULONG_PTR)bad_page)
        return EXCEPTION_CONTINUE_SEARCH;
    fix_calls++;
    e->ContextRecord->Rax = 0x1122334455667788ull;
    e->ContextRecord->Rip = e->ContextRecord->R8; /* the label after the load */
    return EXCEPTION_CONTINUE_EXECUTION;
}

static __attribute__((noinline)) ULONG64 load_and_skip(PVOID p)
{
    ULONG64 v;
    __asm__ volatile("leaq 1f(%%rip), %%r8\n\t"
                     "movq (%%rbx), %%rax\n"
                     "1:"
                     : "=a"(v)
                     : "b"(p)
                     : "r8", "memory");
    return v;
}

START_TEST(handler_changes_the_context_and_execution_resumes_with_it)
{
    bad_page = map_none(1);
    fix_calls = 0;
    PVOID h = AddVectoredExceptionHandler(0, fix_rbx);
    ck_assert_uint_eq(load_through_rbx(bad_page + 8), good_value);
    ck_assert_int_eq(fix_calls, 1);
    ck_assert_uint_eq(fix_seen_rbx, (ULONG64)bad_page + 8);
    RemoveVectoredExceptionHandler(h);

    h = AddVectoredExceptionHandler(0, skip_with_rax);
    ck_assert_uint_eq(load_and_skip(bad_page), 0x1122334455667788ull);
    ck_assert_int_eq(fix_calls, 2);
    RemoveVectoredExceptionHandler(h);
    munmap(bad_page, PAGE_SIZE);
}
END_TEST

/* ---- SIGFPE and SIGILL ---------------------------------------------------------------------------- */

static NTSTATUS skip_code;
static ULONG_PTR skip_address, skip_resume;
static ULONG skip_params;

static LONG WINAPI skip_to_r8(PEXCEPTION_POINTERS e)
{
    skip_code = e->ExceptionRecord->ExceptionCode;
    skip_address = (ULONG_PTR)e->ExceptionRecord->ExceptionAddress;
    skip_params = e->ExceptionRecord->NumberParameters;
    skip_resume = e->ContextRecord->R8;
    if (skip_code == STATUS_INTEGER_DIVIDE_BY_ZERO)
        e->ContextRecord->Rax = 777;
    e->ContextRecord->Rip = e->ContextRecord->R8;
    return EXCEPTION_CONTINUE_EXECUTION;
}

static volatile ULONG64 zero_divisor = 0;

static __attribute__((noinline)) ULONG64 divide_100_by(ULONG64 d)
{
    ULONG64 q = 100;
    __asm__ volatile("leaq 1f(%%rip), %%r8\n\t"
                     "xorl %%edx, %%edx\n\t"
                     "divq %%rcx\n" /* 48 f7 f1: three bytes */
                     "1:"
                     : "+a"(q)
                     : "c"(d)
                     : "rdx", "r8", "cc");
    return q;
}

static __attribute__((noinline)) void ud2_then_go_on(void)
{
    __asm__ volatile("leaq 1f(%%rip), %%r8\n\t"
                     "ud2\n" /* 0f 0b: two bytes */
                     "1:" ::
                         : "r8", "memory");
}

START_TEST(integer_division_by_zero_is_status_integer_divide_by_zero)
{
    PVOID h = AddVectoredExceptionHandler(0, skip_to_r8);
    ck_assert_uint_eq(divide_100_by(7), 14); /* no exception: nothing changed */
    ck_assert_uint_eq(skip_code, 0);
    ck_assert_uint_eq(divide_100_by(zero_divisor), 777);
    ck_assert_uint_eq((ULONG)skip_code, (ULONG)STATUS_INTEGER_DIVIDE_BY_ZERO);
    ck_assert_uint_eq(skip_address, skip_resume - 3); /* the div instruction */
    ck_assert_uint_eq(skip_params, 0);
    RemoveVectoredExceptionHandler(h);
}
END_TEST

START_TEST(ud2_is_status_illegal_instruction)
{
    PVOID h = AddVectoredExceptionHandler(0, skip_to_r8);
    ud2_then_go_on();
    ck_assert_uint_eq((ULONG)skip_code, (ULONG)STATUS_ILLEGAL_INSTRUCTION);
    ck_assert_uint_eq(skip_address, skip_resume - 2);
    RemoveVectoredExceptionHandler(h);
}
END_TEST

/* ---- death: unhandled exceptions in kernel mode are STOP 0x1E ------------------------------------ */


extern const char exceptions_test_store_site[];
static __attribute__((noinline, noclone)) void store_one(volatile int *p)
{
    __asm__ volatile(".globl exceptions_test_store_site\n\t"
                     ".hidden exceptions_test_store_site\n"
                     "exceptions_test_store_site:\n\t"
                     "movl $1, (%0)" ::"r"(p)
                     : "memory");
}

static void write_null_plus_16(void *arg)
{
    (void)arg;
    store_one((volatile int *)16);
}

static void read_null_plus_16(void *arg)
{
    (void)arg;
    volatile int *volatile p = (volatile int *)16;
    fprintf(stderr, "value read %d\n", *p);
}

static __attribute__((unused)) void divide_by_zero(void *arg)
{
    (void)arg;
    fprintf(stderr, "quotient %llu\n", (unsigned long long)divide_100_by(zero_divisor));
}

static void trap(void *arg)
{
    (void)arg;
    __builtin_trap();
}

START_TEST(unhandled_write_to_null_is_stop_1e_with_write_and_address)
{
    SKIP_HARDWARE_DEATH_UNDER_TSAN();
    static death_result r;
    death_run(write_null_plus_16, NULL, &r);
    ck_assert_msg(r.parsed, "no STOP report:\n%s", r.output);
    ck_assert_uint_eq(r.code, KMODE_EXCEPTION_NOT_HANDLED);
    ck_assert_uint_eq(r.p[0], 0xC0000005u);
    ck_assert_uint_eq(r.p[1], (ULONG_PTR)exceptions_test_store_site); /* the faulting instruction */
    ck_assert_uint_eq(r.p[2], 1);                                      /* write */
    ck_assert_uint_eq(r.p[3], 0x10);                                   /* the address */
    ck_assert(r.aborted);
    ck_assert_msg(strstr(r.output, "KMODE_EXCEPTION_NOT_HANDLED") != NULL, "%s", r.output);
}
END_TEST

START_TEST(unhandled_read_is_stop_1e_with_read)
{
    SKIP_HARDWARE_DEATH_UNDER_TSAN();
    static death_result r;
    death_run(read_null_plus_16, NULL, &r);
    ck_assert_msg(r.parsed, "no STOP report:\n%s", r.output);
    ck_assert_uint_eq(r.code, KMODE_EXCEPTION_NOT_HANDLED);
    ck_assert_uint_eq(r.p[0], 0xC0000005u);
    ck_assert_uint_ne(r.p[1], 0);
    ck_assert_uint_eq(r.p[2], 0);
    ck_assert_uint_eq(r.p[3], 0x10);
    ck_assert(r.aborted);
    ck_assert_ptr_null(strstr(r.output, "value read"));
}
END_TEST

START_TEST(unhandled_division_by_zero_and_trap_are_stop_1e)
{
    SKIP_HARDWARE_DEATH_UNDER_TSAN();
#ifndef __SANITIZE_ADDRESS__
    /* ASan handles SIGFPE itself (handle_sigfpe=1 by default); ntmem passes a SIGFPE no handler takes
     * to the handler installed before it, so under ASan the child dies by ASan's FPE report instead. */
    ck_assert_bugcheck(divide_by_zero, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0xC0000094u);
#endif
    ck_assert_bugcheck(trap, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0xC000001Du);
}
END_TEST

/* Unbounded recursion on a thread with a small stack, readied for exceptions by a pool call. */
static volatile int recursion_forever = 1;

static __attribute__((noinline)) int recurse(volatile char *up)
{
    volatile char frame[256];
    frame[0] = (char)(up != NULL ? up[0] + 1 : 0);
    if (!recursion_forever)
        return frame[0];
    return recurse(frame) + frame[1];
}

static void *overflow_thread(void *arg)
{
    (void)arg;
    PVOID p = ExAllocatePoolWithTag(NonPagedPool, 32, 'tsxE');
    ExFreePoolWithTag(p, 'tsxE');
    return (void *)(intptr_t)recurse(NULL);
}

static void overflow_on_a_thread(void *arg)
{
    (void)arg;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t t;
    if (pthread_create(&t, &attr, overflow_thread, NULL) != 0)
        _exit(3);
    pthread_join(t, NULL);
}

START_TEST(stack_overflow_on_a_thread_is_stop_1e_stack_overflow)
{
    SKIP_HARDWARE_DEATH_UNDER_TSAN();
    static death_result r;
    death_run(overflow_on_a_thread, NULL, &r);
    ck_assert_msg(r.parsed, "no STOP report (status 0x%x):\n%s", r.status, r.output);
    ck_assert_uint_eq(r.code, KMODE_EXCEPTION_NOT_HANDLED);
    ck_assert_uint_eq(r.p[0], 0xC00000FDu);
    ck_assert(r.aborted);
}
END_TEST

/* ---- death: raising by status ----------------------------------------------------------------- */

static void ex_raise_status(void *arg)
{
    ExRaiseStatus((NTSTATUS)(ULONG)(uintptr_t)arg);
}

static void rtl_raise_status(void *arg)
{
    RtlRaiseStatus((NTSTATUS)(ULONG)(uintptr_t)arg);
}

static void ex_raise_access_violation(void *arg)
{
    (void)arg;
    ExRaiseAccessViolation();
}

static void ex_raise_misalignment(void *arg)
{
    (void)arg;
    ExRaiseDatatypeMisalignment();
}

START_TEST(unhandled_raise_status_is_stop_1e_with_the_status)
{
    ck_assert_bugcheck(ex_raise_status, (void *)(uintptr_t)0xC000009Au, KMODE_EXCEPTION_NOT_HANDLED, 0xC000009Au);
    ck_assert_bugcheck(rtl_raise_status, (void *)(uintptr_t)0xC0000017u, KMODE_EXCEPTION_NOT_HANDLED, 0xC0000017u);
    ck_assert_bugcheck(ex_raise_access_violation, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0xC0000005u);
    ck_assert_bugcheck(ex_raise_misalignment, NULL, KMODE_EXCEPTION_NOT_HANDLED, 0x80000002u);

    static death_result r;
    death_run(ex_raise_status, (void *)(uintptr_t)0xC000009Au, &r);
    /* P2 is where it was raised: inside ex_raise_status (the caller of ExRaiseStatus) */
    ck_assert_msg(r.p[1] > (ULONG_PTR)ex_raise_status && r.p[1] < (ULONG_PTR)ex_raise_status + 64,
                  "P2 0x%llx, ex_raise_status at %p", r.p[1], (void *)ex_raise_status);
    ck_assert_uint_eq(r.p[2], 0);
    ck_assert_uint_eq(r.p[3], 0);

    death_run(rtl_raise_status, (void *)(uintptr_t)0xC0000017u, &r);
    ck_assert_msg(r.p[1] > (ULONG_PTR)rtl_raise_status && r.p[1] < (ULONG_PTR)rtl_raise_status + 64,
                  "P2 0x%llx, rtl_raise_status at %p", r.p[1], (void *)rtl_raise_status);
}
END_TEST

/* A handler that continues everything, and tells what it saw. */
static LONG WINAPI continue_anything(PEXCEPTION_POINTERS e)
{
    PEXCEPTION_RECORD r = e->ExceptionRecord;
    fprintf(stderr, "saw 0x%08X flags %u cause 0x%08X\n", (unsigned)r->ExceptionCode, (unsigned)r->ExceptionFlags,
            r->ExceptionRecord ? (unsigned)r->ExceptionRecord->ExceptionCode : 0u);
    return EXCEPTION_CONTINUE_EXECUTION;
}

static void continue_noncontinuable_raise(void *arg)
{
    (void)arg;
    AddVectoredExceptionHandler(0, continue_anything);
    RaiseException(USER_CODE, EXCEPTION_NONCONTINUABLE, 0, NULL);
    fprintf(stderr, "RaiseException returned\n");
}

static void continue_ex_raise_status(void *arg)
{
    (void)arg;
    AddVectoredExceptionHandler(0, continue_anything);
    ExRaiseStatus(STATUS_INSUFFICIENT_RESOURCES);
}

START_TEST(continuing_a_noncontinuable_exception_is_stop_1e_noncontinuable)
{
    static death_result r;
    death_run(continue_noncontinuable_raise, NULL, &r);
    ck_assert_msg(r.parsed, "no STOP report:\n%s", r.output);
    ck_assert_uint_eq(r.code, KMODE_EXCEPTION_NOT_HANDLED);
    ck_assert_uint_eq(r.p[0], 0xC0000025u);
    ck_assert(r.aborted);
    ck_assert_ptr_null(strstr(r.output, "RaiseException returned"));
    /* The handler saw the original (flag set), then STATUS_NONCONTINUABLE_EXCEPTION caused by it. */
    ck_assert_msg(strstr(r.output, "saw 0xE0424242 flags 1 cause 0x00000000\n") != NULL, "%s", r.output);
    ck_assert_msg(strstr(r.output, "saw 0xC0000025 flags 1 cause 0xE0424242\n") != NULL, "%s", r.output);

    death_run(continue_ex_raise_status, NULL, &r);
    ck_assert_msg(r.parsed, "no STOP report:\n%s", r.output);
    ck_assert_uint_eq(r.code, KMODE_EXCEPTION_NOT_HANDLED);
    ck_assert_uint_eq(r.p[0], 0xC0000025u);
    ck_assert(r.aborted);
    ck_assert_msg(strstr(r.output, "saw 0xC000009A flags 1 cause 0x00000000\n") != NULL, "%s", r.output);
}
END_TEST

/* Continue handlers run only when execution continues: not on the way to a bug check. */
static LONG WINAPI continue_marker(PEXCEPTION_POINTERS e)
{
    (void)e;
    fprintf(stderr, "continue handler ran\n");
    return EXCEPTION_CONTINUE_SEARCH;
}

static LONG WINAPI search_marker(PEXCEPTION_POINTERS e)
{
    (void)e;
    fprintf(stderr, "exception handler ran\n");
    return EXCEPTION_CONTINUE_SEARCH;
}

static void unhandled_with_continue_handler(void *arg)
{
    (void)arg;
    AddVectoredContinueHandler(0, continue_marker);
    AddVectoredExceptionHandler(0, search_marker);
    RaiseException(USER_CODE, 0, 0, NULL);
}

START_TEST(continue_handlers_do_not_run_when_nothing_continues)
{
    static death_result r;
    death_run(unhandled_with_continue_handler, NULL, &r);
    ck_assert_msg(r.parsed, "no STOP report:\n%s", r.output);
    ck_assert_uint_eq(r.code, KMODE_EXCEPTION_NOT_HANDLED);
    ck_assert_uint_eq(r.p[0], USER_CODE);
    ck_assert_msg(strstr(r.output, "exception handler ran") != NULL, "%s", r.output);
    ck_assert_msg(strstr(r.output, "continue handler ran") == NULL, "%s", r.output);
}
END_TEST

/* ---- death: system space touched in kernel mode is STOP 0x50 ------------------------------------ */

extern const char exceptions_test_load_site[];
static __attribute__((noinline, noclone)) int load_one(volatile int *p)
{
    int v;
    __asm__ volatile(".globl exceptions_test_load_site\n\t"
                     ".hidden exceptions_test_load_site\n"
                     "exceptions_test_load_site:\n\t"
                     "movl (%1), %0"
                     : "=r"(v)
                     : "r"(p)
                     : "memory");
    return v;
}

static PVOID freed_block;

/* The freed block's address is computed in the parent (same allocator state in the child). */
static void write_freed_pool(void *arg)
{
    (void)arg;
    PVOID p = ExAllocatePoolWithTag(NonPagedPool, PAGE_SIZE, 'eerF');
    fprintf(stderr, "block %p\n", p);
    ExFreePoolWithTag(p, 'eerF');
    /* not a C store: under ASan the freed block is poisoned, and ASan would report it first */
    store_one(p);
}

static void read_freed_pool(void *arg)
{
    (void)arg;
    PVOID p = ExAllocatePoolWithTag(PagedPool, 3 * PAGE_SIZE, 'eerF');
    fprintf(stderr, "block %p\n", p);
    ExFreePoolWithTag(p, 'eerF');
    fprintf(stderr, "value loaded %d\n", load_one((volatile int *)((PUCHAR)p + PAGE_SIZE + 8)));
}

START_TEST(touching_freed_pool_in_kernel_mode_is_stop_50)
{
    SKIP_HARDWARE_DEATH_UNDER_TSAN();
    static death_result r;
    void *block = NULL;
    (void)freed_block;

    death_run(write_freed_pool, NULL, &r);
    ck_assert_msg(r.parsed, "no STOP report:\n%s", r.output);
    ck_assert_int_eq(sscanf(strstr(r.output, "block "), "block %p", &block), 1);
    ck_assert_uint_eq(r.code, PAGE_FAULT_IN_NONPAGED_AREA);
    ck_assert_uint_eq(r.p[0], (ULONG_PTR)block);
    ck_assert_uint_eq(r.p[1], 1);
    ck_assert_uint_eq(r.p[2], (ULONG_PTR)exceptions_test_store_site);
    ck_assert(r.aborted);

    death_run(read_freed_pool, NULL, &r);
    ck_assert_msg(r.parsed, "no STOP report:\n%s", r.output);
    ck_assert_int_eq(sscanf(strstr(r.output, "block "), "block %p", &block), 1);
    ck_assert_uint_eq(r.code, PAGE_FAULT_IN_NONPAGED_AREA);
    ck_assert_uint_eq(r.p[0], (ULONG_PTR)block + PAGE_SIZE + 8);
    ck_assert_uint_eq(r.p[1], 0);
    ck_assert_uint_eq(r.p[2], (ULONG_PTR)exceptions_test_load_site);
    ck_assert(r.aborted);
    ck_assert_ptr_null(strstr(r.output, "value loaded"));
}
END_TEST

/* ---- thread modes and the user-mode unhandled paths -------------------------------------------- */

static void *mode_of_new_thread(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)ntmem_get_thread_mode();
}

START_TEST(thread_mode_is_per_thread_and_kernel_by_default)
{
    ck_assert_int_eq(ntmem_get_thread_mode(), KernelMode);
    ntmem_set_thread_mode(UserMode);
    ck_assert_int_eq(ntmem_get_thread_mode(), UserMode);
    pthread_t t;
    void *mode;
    ck_assert_int_eq(pthread_create(&t, NULL, mode_of_new_thread, NULL), 0);
    pthread_join(t, &mode);
    ck_assert_int_eq((intptr_t)mode, KernelMode);
    ntmem_set_thread_mode(KernelMode);
    ck_assert_int_eq(ntmem_get_thread_mode(), KernelMode);
}
END_TEST

static void user_write_null(void *arg)
{
    (void)arg;
    ntmem_set_thread_mode(UserMode);
    store_one((volatile int *)16);
}

static void user_read_null(void *arg)
{
    (void)arg;
    ntmem_set_thread_mode(UserMode);
    fprintf(stderr, "value read %d\n", load_one((volatile int *)16));
}

static void user_raise(void *arg)
{
    (void)arg;
    ntmem_set_thread_mode(UserMode);
    RaiseException(USER_CODE, 0, 0, NULL);
}

static void user_write_freed_pool(void *arg)
{
    (void)arg;
    PVOID p = ExAllocatePoolWithTag(NonPagedPool, PAGE_SIZE, 'eerF');
    ExFreePoolWithTag(p, 'eerF');
    ntmem_set_thread_mode(UserMode);
    store_one(p);
}

START_TEST(user_mode_unhandled_access_violation_is_reported_then_sigabrt)
{
    SKIP_HARDWARE_DEATH_UNDER_TSAN();
    static death_result r;
    char expected[256];

    death_run(user_write_null, NULL, &r);
    snprintf(expected, sizeof expected, "*** Unhandled exception 0xC0000005 (STATUS_ACCESS_VIOLATION) at %p: write to address %p\n",
             (void *)exceptions_test_store_site, (void *)16);
    ck_assert_msg(strstr(r.output, expected) != NULL, "wanted %s in:\n%s", expected, r.output);
    ck_assert_msg(strstr(r.output, "*** STOP") == NULL, "%s", r.output);
    ck_assert_msg(r.aborted, "status 0x%x", r.status);

    death_run(user_read_null, NULL, &r);
    snprintf(expected, sizeof expected, "*** Unhandled exception 0xC0000005 (STATUS_ACCESS_VIOLATION) at %p: read from address %p\n",
             (void *)exceptions_test_load_site, (void *)16);
    ck_assert_msg(strstr(r.output, expected) != NULL, "wanted %s in:\n%s", expected, r.output);
    ck_assert_msg(strstr(r.output, "*** STOP") == NULL, "%s", r.output);
    ck_assert(r.aborted);

    /* A software exception with a code ntmem has no name for: code and address only. */
    death_run(user_raise, NULL, &r);
    ck_assert_msg(strstr(r.output, "*** Unhandled exception 0xE0424242 at 0x") != NULL, "%s", r.output);
    ck_assert_msg(strstr(r.output, "address") == NULL, "%s", r.output);
    ck_assert_msg(strstr(r.output, "*** STOP") == NULL, "%s", r.output);
    ck_assert(r.aborted);

    /* In user mode, system space is just an access violation: no STOP 0x50. */
    death_run(user_write_freed_pool, NULL, &r);
    ck_assert_msg(strstr(r.output, "*** Unhandled exception 0xC0000005 (STATUS_ACCESS_VIOLATION) at ") != NULL, "%s",
                  r.output);
    ck_assert_msg(strstr(r.output, "*** STOP") == NULL, "%s", r.output);
    ck_assert(r.aborted);
}
END_TEST

/* The unhandled-exception filter: called with the record after the vectored handlers declined. */
static PUCHAR filter_page;

static LONG WINAPI filter_fixes_protection(PEXCEPTION_POINTERS e)
{
    PEXCEPTION_RECORD r = e->ExceptionRecord;
    fprintf(stderr, "filter saw 0x%08X kind %lu at %p\n", (unsigned)r->ExceptionCode,
            (unsigned long)r->ExceptionInformation[0], (void *)r->ExceptionInformation[1]);
    if (r->ExceptionCode == STATUS_ACCESS_VIOLATION && (PUCHAR)r->ExceptionInformation[1] == filter_page + 40) {
        mprotect(filter_page, PAGE_SIZE, PROT_READ | PROT_WRITE);
        return EXCEPTION_CONTINUE_EXECUTION;
    }
    return EXCEPTION_CONTINUE_SEARCH;
}

static LONG WINAPI filter_executes_handler(PEXCEPTION_POINTERS e)
{
    fprintf(stderr, "filter saw 0x%08X\n", (unsigned)e->ExceptionRecord->ExceptionCode);
    return EXCEPTION_EXECUTE_HANDLER;
}

static LONG WINAPI filter_searches(PEXCEPTION_POINTERS e)
{
    fprintf(stderr, "filter saw 0x%08X\n", (unsigned)e->ExceptionRecord->ExceptionCode);
    return EXCEPTION_CONTINUE_SEARCH;
}

static void user_filter_continues(void *arg)
{
    (void)arg;
    ntmem_set_thread_mode(UserMode);
    filter_page = mmap(NULL, PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    AddVectoredExceptionHandler(0, search_marker);
    if (SetUnhandledExceptionFilter(filter_fixes_protection) != NULL)
        fprintf(stderr, "a filter was already set\n");
    if (SetUnhandledExceptionFilter(filter_fixes_protection) != filter_fixes_protection)
        fprintf(stderr, "SetUnhandledExceptionFilter did not return the previous filter\n");
    store_one((volatile int *)(filter_page + 40));
    fprintf(stderr, "resumed, value %d\n", *(volatile int *)(filter_page + 40));
}

static void user_filter_executes_handler(void *arg)
{
    (void)arg;
    ntmem_set_thread_mode(UserMode);
    SetUnhandledExceptionFilter(filter_executes_handler);
    store_one((volatile int *)16);
    fprintf(stderr, "resumed\n");
}

static void user_filter_searches(void *arg)
{
    (void)arg;
    ntmem_set_thread_mode(UserMode);
    SetUnhandledExceptionFilter(filter_searches);
    RaiseException(0xE0000003u, 0, 0, NULL);
}

static void kernel_filter_not_called(void *arg)
{
    (void)arg;
    SetUnhandledExceptionFilter(filter_executes_handler);
    store_one((volatile int *)16);
}

START_TEST(unhandled_exception_filter_continue_execute_and_search)
{
    SKIP_HARDWARE_DEATH_UNDER_TSAN();
    static death_result r;
    char expected[128];

    /* CONTINUE_EXECUTION after fixing the protection: the store is retried and succeeds. */
    death_run(user_filter_continues, NULL, &r);
    ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status 0x%x\n%s", r.status, r.output);
    ck_assert_msg(strstr(r.output, "resumed, value 1\n") != NULL, "%s", r.output);
    ck_assert_msg(strstr(r.output, "already set") == NULL && strstr(r.output, "previous filter") == NULL, "%s",
                  r.output);
    const char *vectored = strstr(r.output, "exception handler ran");
    const char *filter = strstr(r.output, "filter saw 0xC0000005 kind 1 at 0x");
    ck_assert_msg(vectored != NULL && filter != NULL && vectored < filter, "vectored handlers run first:\n%s",
                  r.output);
    ck_assert_ptr_null(strstr(r.output, "Unhandled exception"));

    /* EXECUTE_HANDLER: the process ends quietly with the exception code as its status. */
    death_run(user_filter_executes_handler, NULL, &r);
    ck_assert_msg(WIFEXITED(r.status), "status 0x%x\n%s", r.status, r.output);
    ck_assert_int_eq(WEXITSTATUS(r.status), 0xC0000005u & 0xFF);
    ck_assert_msg(strstr(r.output, "filter saw 0xC0000005\n") != NULL, "%s", r.output);
    ck_assert_ptr_null(strstr(r.output, "resumed"));
    ck_assert_ptr_null(strstr(r.output, "Unhandled exception"));
    ck_assert_ptr_null(strstr(r.output, "*** STOP"));

    /* CONTINUE_SEARCH: the report and SIGABRT. */
    death_run(user_filter_searches, NULL, &r);
    ck_assert_msg(strstr(r.output, "filter saw 0xE0000003\n") != NULL, "%s", r.output);
    snprintf(expected, sizeof expected, "*** Unhandled exception 0xE0000003 at ");
    ck_assert_msg(strstr(r.output, expected) != NULL, "%s", r.output);
    ck_assert(r.aborted);

    /* Kernel mode: the filter is not consulted; STOP 0x1E. */
    death_run(kernel_filter_not_called, NULL, &r);
    ck_assert_msg(r.parsed, "no STOP report:\n%s", r.output);
    ck_assert_uint_eq(r.code, KMODE_EXCEPTION_NOT_HANDLED);
    ck_assert_uint_eq(r.p[0], 0xC0000005u);
    ck_assert_ptr_null(strstr(r.output, "filter saw"));
    ck_assert(r.aborted);
}
END_TEST

/* UnhandledExceptionFilter itself calls the filter that was set, or answers CONTINUE_SEARCH. */
static LONG WINAPI filter_says_execute(PEXCEPTION_POINTERS e)
{
    (void)e;
    return EXCEPTION_EXECUTE_HANDLER;
}

START_TEST(unhandled_exception_filter_calls_the_top_level_filter)
{
    EXCEPTION_RECORD r = {.ExceptionCode = (NTSTATUS)USER_CODE};
    CONTEXT c;
    memset(&c, 0, sizeof c);
    EXCEPTION_POINTERS p = {&r, &c};
    LPTOP_LEVEL_EXCEPTION_FILTER old = SetUnhandledExceptionFilter(filter_says_execute);
    ck_assert_int_eq(UnhandledExceptionFilter(&p), EXCEPTION_EXECUTE_HANDLER);
    ck_assert_ptr_eq(SetUnhandledExceptionFilter(old), filter_says_execute);
}
END_TEST

static Suite *exceptions_suite(void)
{
    Suite *s = suite_create("exceptions");
    TCase *t = tcase_create("vectored");
    tcase_add_test(t, vectored_handlers_run_in_order_first_goes_in_front);
    tcase_add_test(t, exception_and_continue_handler_lists_are_separate);
    tcase_add_test(t, continue_handlers_run_after_exception_handlers_in_their_order);
    tcase_add_test(t, handler_sees_the_raised_record_and_the_raise_point);
    tcase_add_test(t, more_than_fifteen_arguments_are_cut_to_fifteen);
    tcase_add_test(t, rtl_raise_exception_passes_the_callers_record);
    suite_add_tcase(s, t);

    t = tcase_create("hardware");
    tcase_add_test(t, commit_on_demand_handler_runs_once_per_page);
    tcase_add_test(t, handler_changes_the_context_and_execution_resumes_with_it);
    tcase_add_test(t, integer_division_by_zero_is_status_integer_divide_by_zero);
    tcase_add_test(t, ud2_is_status_illegal_instruction);
    suite_add_tcase(s, t);

    t = tcase_create("kernel mode unhandled");
    tcase_add_test(t, unhandled_write_to_null_is_stop_1e_with_write_and_address);
    tcase_add_test(t, unhandled_read_is_stop_1e_with_read);
    tcase_add_test(t, unhandled_division_by_zero_and_trap_are_stop_1e);
    tcase_add_test(t, stack_overflow_on_a_thread_is_stop_1e_stack_overflow);
    tcase_add_test(t, unhandled_raise_status_is_stop_1e_with_the_status);
    tcase_add_test(t, continuing_a_noncontinuable_exception_is_stop_1e_noncontinuable);
    tcase_add_test(t, continue_handlers_do_not_run_when_nothing_continues);
    tcase_add_test(t, touching_freed_pool_in_kernel_mode_is_stop_50);
    suite_add_tcase(s, t);

    t = tcase_create("user mode");
    tcase_add_test(t, thread_mode_is_per_thread_and_kernel_by_default);
    tcase_add_test(t, user_mode_unhandled_access_violation_is_reported_then_sigabrt);
    tcase_add_test(t, unhandled_exception_filter_continue_execute_and_search);
    tcase_add_test(t, unhandled_exception_filter_calls_the_top_level_filter);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(exceptions_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
