/* test_stress_threads.c - system threads handing synchronization events back and forth, and thread
 * objects made and released from several threads at once (run under TSan too). */
#include <check.h>
#include <string.h>
#include <ntmem.h>
#include <ntddk.h>

#define ROUNDS 20000
#define CHURN_THREADS 3
#define CHURN_ROUNDS 40

typedef struct pingpong {
    KEVENT Ping, Pong;
    LONG Count; /* touched by whoever holds the ball, so races would show */
} pingpong;

static VOID NTAPI pong_routine(PVOID context)
{
    pingpong *p = context;
    for (int i = 0; i < ROUNDS; i++) {
        KeWaitForSingleObject(&p->Ping, Executive, KernelMode, FALSE, NULL);
        p->Count++;
        KeSetEvent(&p->Pong, IO_NO_INCREMENT, FALSE);
    }
}

static void join_and_close(HANDLE h)
{
    PVOID thread;
    ck_assert_int_eq(ObReferenceObjectByHandle(h, SYNCHRONIZE, *PsThreadType, KernelMode, &thread, NULL), 0);
    ZwClose(h);
    KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(thread);
}

START_TEST(two_threads_pass_a_synchronization_event_back_and_forth)
{
    static pingpong p;
    memset(&p, 0, sizeof p);
    KeInitializeEvent(&p.Ping, SynchronizationEvent, FALSE);
    KeInitializeEvent(&p.Pong, SynchronizationEvent, FALSE);
    HANDLE h;
    ck_assert_int_eq(PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, pong_routine, &p), 0);
    for (int i = 0; i < ROUNDS; i++) {
        p.Count++;
        KeSetEvent(&p.Ping, IO_NO_INCREMENT, FALSE);
        KeWaitForSingleObject(&p.Pong, Executive, KernelMode, FALSE, NULL);
    }
    join_and_close(h);
    ck_assert_int_eq(p.Count, 2 * ROUNDS);
}
END_TEST

static VOID NTAPI nothing_routine(PVOID context)
{
    __atomic_add_fetch((LONG *)context, 1, __ATOMIC_RELAXED);
}

static VOID NTAPI churn_routine(PVOID context)
{
    for (int i = 0; i < CHURN_ROUNDS; i++) {
        HANDLE h;
        if (PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, nothing_routine, context) == 0)
            join_and_close(h);
        (void)PsGetCurrentThreadId();
    }
}

START_TEST(system_threads_create_and_join_threads_at_once)
{
    static LONG ran;
    ran = 0;
    HANDLE h[CHURN_THREADS];
    for (int i = 0; i < CHURN_THREADS; i++)
        ck_assert_int_eq(PsCreateSystemThread(&h[i], THREAD_ALL_ACCESS, NULL, NULL, NULL, churn_routine, &ran), 0);
    for (int i = 0; i < CHURN_THREADS; i++)
        join_and_close(h[i]);
    ck_assert_int_eq(ran, CHURN_THREADS * CHURN_ROUNDS);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stress threads");
    TCase *t = tcase_create("threads");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, two_threads_pass_a_synchronization_event_back_and_forth);
    tcase_add_test(t, system_threads_create_and_join_threads_at_once);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
