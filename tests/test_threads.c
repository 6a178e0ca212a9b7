/* test_threads.c - system threads, thread objects and handles, events and waits, and STOP 0x7E for
 * exceptions a system thread does not handle. */
#define _GNU_SOURCE
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <ntmem.h>
#include <ntddk.h>

#include "death.h"
#include "pooltest.h"


#define USER_CODE 0xE0007E01u

/* Waits for a thread handle's object to be signalled, then closes everything. */
static void join_and_close(HANDLE h)
{
    PVOID thread = NULL;
    ck_assert_int_eq(ObReferenceObjectByHandle(h, SYNCHRONIZE, *PsThreadType, KernelMode, &thread, NULL),
                     STATUS_SUCCESS);
    ck_assert_int_eq(ZwClose(h), STATUS_SUCCESS);
    ck_assert_int_eq(KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    ObDereferenceObject(thread);
}

/* ---- system threads ------------------------------------------------------------------------------- */

typedef struct probe {
    int ran;
    PVOID context_seen;
    BOOLEAN system;
    HANDLE id;
    KIRQL irql;
    KPROCESSOR_MODE mode;
} probe;

static VOID NTAPI record_routine(PVOID context)
{
    probe *p = context;
    p->context_seen = context;
    p->system = PsIsSystemThread(PsGetCurrentThread());
    p->id = PsGetCurrentThreadId();
    p->irql = KeGetCurrentIrql();
    p->mode = ntmem_get_thread_mode();
    __atomic_store_n(&p->ran, 1, __ATOMIC_RELEASE);
}

START_TEST(a_system_thread_runs_its_routine_at_passive_level_and_signals_its_object)
{
    probe p;
    memset(&p, 0, sizeof p);
    HANDLE h = NULL;
    CLIENT_ID client;
    OBJECT_ATTRIBUTES oa;
    InitializeObjectAttributes(&oa, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
    ck_assert_int_eq(PsCreateSystemThread(&h, THREAD_ALL_ACCESS, &oa, NULL, &client, record_routine, &p),
                     STATUS_SUCCESS);
    ck_assert_ptr_nonnull(h);
    ck_assert((ULONG_PTR)h & 0x80000000u); /* a kernel handle, as Windows marks them */
    join_and_close(h);
    ck_assert_int_eq(__atomic_load_n(&p.ran, __ATOMIC_ACQUIRE), 1);
    ck_assert_ptr_eq(p.context_seen, &p);
    ck_assert(p.system);
    ck_assert_ptr_eq(p.id, client.UniqueThread);
    ck_assert_ptr_eq(client.UniqueProcess, PsGetCurrentProcessId());
    ck_assert_ptr_ne(p.id, PsGetCurrentThreadId());
    ck_assert_int_eq(p.irql, PASSIVE_LEVEL);
    ck_assert_int_eq(p.mode, KernelMode);
    ck_assert(!PsIsSystemThread(PsGetCurrentThread())); /* the test's own thread is not one */
    ck_assert_ptr_eq(KeGetCurrentThread(), PsGetCurrentThread());
}
END_TEST

static volatile int after_terminate;

static VOID NTAPI terminating_routine(PVOID context)
{
    (void)context;
    PsTerminateSystemThread(STATUS_SUCCESS);
    after_terminate = 1;
}

START_TEST(ps_terminate_system_thread_ends_only_system_threads)
{
    after_terminate = 0;
    HANDLE h;
    ck_assert_int_eq(PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NtCurrentProcess(), NULL,
                                          terminating_routine, NULL),
                     STATUS_SUCCESS);
    join_and_close(h);
    ck_assert_int_eq(after_terminate, 0);
    ck_assert_int_eq(PsTerminateSystemThread(STATUS_SUCCESS), STATUS_INVALID_PARAMETER);
}
END_TEST

START_TEST(bad_create_parameters_and_handles_give_their_statuses)
{
    HANDLE h = NULL;
    ck_assert_int_eq(PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, NULL, NULL),
                     STATUS_INVALID_PARAMETER);
    ck_assert_int_eq(PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, (HANDLE)(ULONG_PTR)0x1234, NULL,
                                          record_routine, NULL),
                     STATUS_INVALID_HANDLE);
    PVOID object = (PVOID)1;
    ck_assert_int_eq(ObReferenceObjectByHandle((HANDLE)(ULONG_PTR)0x7FF0, 0, NULL, KernelMode, &object, NULL),
                     STATUS_INVALID_HANDLE);
    ck_assert_ptr_null(object);
    ck_assert_int_eq(ZwClose((HANDLE)(ULONG_PTR)0x7FF0), STATUS_INVALID_HANDLE);

    /* A handle is one object of one type; asking for another type fails. */
    probe p;
    memset(&p, 0, sizeof p);
    ck_assert_int_eq(PsCreateSystemThread(&h, SYNCHRONIZE, NULL, NULL, NULL, record_routine, &p), STATUS_SUCCESS);
    POBJECT_TYPE other = (POBJECT_TYPE)&p;
    ck_assert_int_eq(ObReferenceObjectByHandle(h, SYNCHRONIZE, other, KernelMode, &object, NULL),
                     STATUS_OBJECT_TYPE_MISMATCH);
    OBJECT_HANDLE_INFORMATION info;
    ck_assert_int_eq(ObReferenceObjectByHandle(h, THREAD_ALL_ACCESS, NULL, UserMode, &object, &info),
                     STATUS_ACCESS_DENIED);
    ck_assert_int_eq(ObReferenceObjectByHandle(h, SYNCHRONIZE, NULL, UserMode, &object, &info), STATUS_SUCCESS);
    ck_assert_uint_eq(info.GrantedAccess, SYNCHRONIZE);
    ObDereferenceObject(object);
    join_and_close(h);
    ck_assert_int_eq(ZwClose(h), STATUS_INVALID_HANDLE); /* a user handle: a status, not a bug check */
}
END_TEST

START_TEST(many_system_threads_come_and_go_and_their_objects_are_freed)
{
    for (int round = 0; round < 50; round++) {
        probe p[4];
        HANDLE h[4];
        memset(p, 0, sizeof p);
        for (int i = 0; i < 4; i++)
            ck_assert_int_eq(PsCreateSystemThread(&h[i], THREAD_ALL_ACCESS, NULL, NULL, NULL, record_routine, &p[i]),
                             STATUS_SUCCESS);
        for (int i = 0; i < 4; i++) {
            join_and_close(h[i]);
            ck_assert_int_eq(p[i].ran, 1);
        }
    }
    /* A thread's object outlives the thread only while referenced: the last dereference frees it,
     * which the tag table shows ('Thre' outstanding back to zero once the exiting threads have
     * dropped their own references - they do that just after signalling, so it is polled). This
     * thread never asked for its own object, so none should remain. */
    SYSTEM_POOLTAG usage;
    memset(&usage, 0, sizeof usage);
    for (int tries = 0; tries < 2000; tries++) {
        pt_tag_counts(0x65726854, &usage);
        if (usage.NonPagedAllocs - usage.NonPagedFrees == 0)
            break;
        usleep(1000);
    }
    ck_assert_uint_eq(usage.NonPagedAllocs - usage.NonPagedFrees, 0);
    ck_assert_uint_ge(usage.NonPagedAllocs, 200);
}
END_TEST

/* ---- events and waits -------------------------------------------------------------------------- */

typedef struct waiter {
    PKEVENT event;
    PKEVENT done;
    volatile LONG woke;
} waiter;

static VOID NTAPI wait_routine(PVOID context)
{
    waiter *w = context;
    KeWaitForSingleObject(w->event, Executive, KernelMode, FALSE, NULL);
    __atomic_add_fetch(&w->woke, 1, __ATOMIC_ACQ_REL);
    if (w->done != NULL)
        KeSetEvent(w->done, IO_NO_INCREMENT, FALSE);
}

START_TEST(a_notification_event_releases_every_waiter_and_stays_set)
{
    KEVENT event;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    ck_assert_int_eq(KeReadStateEvent(&event), 0);
    waiter w = {&event, NULL, 0};
    HANDLE h[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(PsCreateSystemThread(&h[i], THREAD_ALL_ACCESS, NULL, NULL, NULL, wait_routine, &w),
                         STATUS_SUCCESS);
    LARGE_INTEGER short_wait = {.QuadPart = -20 * 10000LL}; /* 20 ms, relative */
    KeDelayExecutionThread(KernelMode, FALSE, &short_wait);
    ck_assert_int_eq(__atomic_load_n(&w.woke, __ATOMIC_ACQUIRE), 0);
    ck_assert_int_eq(KeSetEvent(&event, IO_NO_INCREMENT, FALSE), 0);
    for (int i = 0; i < 3; i++)
        join_and_close(h[i]);
    ck_assert_int_eq(w.woke, 3);
    ck_assert_int_eq(KeReadStateEvent(&event), 1);
    LARGE_INTEGER zero = {.QuadPart = 0};
    ck_assert_int_eq(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &zero), STATUS_SUCCESS);
    ck_assert_int_eq(KeReadStateEvent(&event), 1); /* a notification event is not consumed */
    ck_assert_int_eq(KeResetEvent(&event), 1);
    ck_assert_int_eq(KeResetEvent(&event), 0);
}
END_TEST

START_TEST(a_synchronization_event_releases_one_waiter_per_set)
{
    KEVENT event, done;
    KeInitializeEvent(&event, SynchronizationEvent, FALSE);
    KeInitializeEvent(&done, SynchronizationEvent, FALSE);
    waiter w = {&event, &done, 0};
    HANDLE h[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(PsCreateSystemThread(&h[i], THREAD_ALL_ACCESS, NULL, NULL, NULL, wait_routine, &w),
                         STATUS_SUCCESS);
    KeSetEvent(&event, IO_NO_INCREMENT, FALSE);
    ck_assert_int_eq(KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    LARGE_INTEGER short_wait = {.QuadPart = -30 * 10000LL};
    KeDelayExecutionThread(KernelMode, FALSE, &short_wait);
    ck_assert_int_eq(__atomic_load_n(&w.woke, __ATOMIC_ACQUIRE), 1); /* the other still waits */
    ck_assert_int_eq(KeReadStateEvent(&event), 0);                  /* consumed by the waiter */
    KeSetEvent(&event, IO_NO_INCREMENT, FALSE);
    for (int i = 0; i < 2; i++)
        join_and_close(h[i]);
    ck_assert_int_eq(w.woke, 2);
    /* Set with no waiter: the next wait takes it at once and clears it. */
    KeSetEvent(&event, IO_NO_INCREMENT, FALSE);
    LARGE_INTEGER zero = {.QuadPart = 0};
    ck_assert_int_eq(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &zero), STATUS_SUCCESS);
    ck_assert_int_eq(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &zero), STATUS_TIMEOUT);
}
END_TEST

START_TEST(waits_time_out_relative_and_absolute)
{
    KEVENT event;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    LARGE_INTEGER before, after;
    KeQuerySystemTime(&before);
    LARGE_INTEGER relative = {.QuadPart = -30 * 10000LL};
    ck_assert_int_eq(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &relative), STATUS_TIMEOUT);
    KeQuerySystemTime(&after);
    ck_assert_int_ge(after.QuadPart - before.QuadPart, 29 * 10000LL);
    LARGE_INTEGER absolute = {.QuadPart = after.QuadPart + 20 * 10000LL};
    ck_assert_int_eq(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &absolute), STATUS_TIMEOUT);
    KeQuerySystemTime(&before);
    ck_assert_int_ge(before.QuadPart, absolute.QuadPart - 10000LL);
    LARGE_INTEGER past = {.QuadPart = 1};
    ck_assert_int_eq(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &past), STATUS_TIMEOUT);
    /* System time is Windows': 100 ns units since 1601, so 2020 is past 132223104000000000. */
    ck_assert_int_gt(before.QuadPart, 132223104000000000LL);
    /* A test at DISPATCH_LEVEL is allowed. */
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    LARGE_INTEGER zero = {.QuadPart = 0};
    NTSTATUS s = KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &zero);
    KeLowerIrql(old);
    ck_assert_int_eq(s, STATUS_TIMEOUT);
}
END_TEST

/* ---- misuse ------------------------------------------------------------------------------------- */

static KEVENT misuse_event;

static void wait_at_dispatch(void *arg)
{
    (void)arg;
    KeInitializeEvent(&misuse_event, NotificationEvent, FALSE);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeWaitForSingleObject(&misuse_event, Executive, KernelMode, FALSE, NULL);
}

START_TEST(a_blocking_wait_at_dispatch_level_is_stop_0a)
{
    static death_result r;
    death_run(wait_at_dispatch, NULL, &r);
    ck_assert_msg(r.parsed, "%s", r.output);
    ck_assert_uint_eq(r.code, IRQL_NOT_LESS_OR_EQUAL);
    ck_assert_uint_eq(r.p[0], (ULONG_PTR)&misuse_event);
    ck_assert_uint_eq(r.p[1], DISPATCH_LEVEL);
    ck_assert(r.aborted);
}
END_TEST

static void close_bad_kernel_handle(void *arg)
{
    (void)arg;
    ZwClose((HANDLE)(ULONG_PTR)0xFFFFFFFF80000444ull);
}

START_TEST(closing_a_kernel_handle_that_is_not_open_is_stop_93)
{
    static death_result r;
    death_run(close_bad_kernel_handle, NULL, &r);
    ck_assert_msg(r.parsed, "%s", r.output);
    ck_assert_uint_eq(r.code, INVALID_KERNEL_HANDLE);
    ck_assert_uint_eq(r.p[0], 0xFFFFFFFF80000444ull);
    ck_assert_uint_eq(r.p[1], 1);
    ck_assert(r.aborted);
}
END_TEST

static void dereference_twice(void *arg)
{
    (void)arg;
    PVOID thread = PsGetCurrentThread();
    ObReferenceObject(thread);
    ObDereferenceObject(thread);
    ObDereferenceObject(thread); /* the thread's own reference */
    ObDereferenceObject(thread); /* one too many */
}

START_TEST(dereferencing_an_object_too_often_is_stop_139_reference_count)
{
#if defined(__SANITIZE_ADDRESS__)
    /* The last dereference reads the freed object's header: ASan reports that first, rightly. */
    static death_result r;
    death_run(dereference_twice, NULL, &r);
    ck_assert_msg(strstr(r.output, "AddressSanitizer") != NULL && strstr(r.output, "ObpHeader") != NULL, "%s",
                  r.output);
#else
    ck_assert_bugcheck(dereference_twice, NULL, KERNEL_SECURITY_CHECK_FAILURE, 0x0E);
#endif
}
END_TEST

/* ---- unhandled exceptions on system threads -------------------------------------------------------- */

static VOID NTAPI raising_routine(PVOID context)
{
    (void)context;
    ExRaiseStatus((NTSTATUS)USER_CODE);
}

extern const char threads_store_site[];
static VOID NTAPI faulting_routine(PVOID context)
{
    (void)context;
    __asm__ volatile(".globl threads_store_site\n\t"
                     ".hidden threads_store_site\n"
                     "threads_store_site:\n\t"
                     "movl $1, (%0)" ::"r"((volatile int *)0x30)
                     : "memory");
}

static void run_system_thread(void *routine)
{
    HANDLE h;
    if (PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, (PKSTART_ROUTINE)routine, NULL) == 0)
        join_and_close(h);
}

START_TEST(an_unhandled_raise_on_a_system_thread_is_stop_7e)
{
    static death_result r;
    death_run(run_system_thread, (void *)raising_routine, &r);
    ck_assert_msg(r.parsed, "%s", r.output);
    ck_assert_uint_eq(r.code, SYSTEM_THREAD_EXCEPTION_NOT_HANDLED);
    ck_assert_uint_eq(r.p[0], USER_CODE);
    ck_assert_uint_ne(r.p[2], 0); /* the exception record */
    ck_assert_uint_ne(r.p[3], 0); /* the context record */
    ck_assert(r.aborted);
    ck_assert_ptr_nonnull(strstr(r.output, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED"));
}
END_TEST

START_TEST(an_unhandled_fault_on_a_system_thread_is_stop_7e_at_the_faulting_instruction)
{
    SKIP_HARDWARE_DEATH_UNDER_TSAN();
    static death_result r;
    death_run(run_system_thread, (void *)faulting_routine, &r);
    ck_assert_msg(r.parsed, "%s", r.output);
    ck_assert_uint_eq(r.code, SYSTEM_THREAD_EXCEPTION_NOT_HANDLED);
    ck_assert_uint_eq(r.p[0], 0xC0000005u);
    ck_assert_uint_eq(r.p[1], (ULONG_PTR)threads_store_site);
    ck_assert_uint_ne(r.p[2], 0);
    ck_assert_uint_ne(r.p[3], 0);
    ck_assert(r.aborted);
}
END_TEST

static VOID NTAPI handling_routine(PVOID context)
{
    int *caught = context;
    __try {
        ExRaiseStatus((NTSTATUS)USER_CODE);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        *caught = 1;
    }
}

START_TEST(a_system_thread_that_handles_its_exception_carries_on)
{
    int caught = 0;
    HANDLE h;
    ck_assert_int_eq(PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, handling_routine, &caught),
                     STATUS_SUCCESS);
    join_and_close(h);
    ck_assert_int_eq(caught, 1);
}
END_TEST

static Suite *threads_suite(void)
{
    Suite *s = suite_create("threads");
    TCase *t = tcase_create("system threads");
    tcase_add_test(t, a_system_thread_runs_its_routine_at_passive_level_and_signals_its_object);
    tcase_add_test(t, ps_terminate_system_thread_ends_only_system_threads);
    tcase_add_test(t, bad_create_parameters_and_handles_give_their_statuses);
    tcase_add_test(t, many_system_threads_come_and_go_and_their_objects_are_freed);
    suite_add_tcase(s, t);

    t = tcase_create("events");
    tcase_add_test(t, a_notification_event_releases_every_waiter_and_stays_set);
    tcase_add_test(t, a_synchronization_event_releases_one_waiter_per_set);
    tcase_add_test(t, waits_time_out_relative_and_absolute);
    suite_add_tcase(s, t);

    t = tcase_create("misuse");
    tcase_add_test(t, a_blocking_wait_at_dispatch_level_is_stop_0a);
    tcase_add_test(t, closing_a_kernel_handle_that_is_not_open_is_stop_93);
    tcase_add_test(t, dereferencing_an_object_too_often_is_stop_139_reference_count);
    suite_add_tcase(s, t);

    t = tcase_create("unhandled");
    tcase_add_test(t, an_unhandled_raise_on_a_system_thread_is_stop_7e);
    tcase_add_test(t, an_unhandled_fault_on_a_system_thread_is_stop_7e_at_the_faulting_instruction);
    tcase_add_test(t, a_system_thread_that_handles_its_exception_carries_on);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(threads_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
