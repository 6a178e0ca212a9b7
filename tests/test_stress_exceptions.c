/* test_stress_exceptions.c - threads faulting at once through one shared commit-on-demand handler,
 * and raising while others add and remove handlers: each sees its own exceptions, totals exact. */
#define _GNU_SOURCE
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <ntmem.h>
#include <windows.h>

#define THREADS 4
#define PAGES 32
#define ROUNDS 100

/* ---- concurrent commit on demand ------------------------------------------------------------------ */

typedef struct worker {
    PUCHAR base;
    int index;
    int faults;         /* faults the handler saw on this thread, in this thread's region */
    int foreign;        /* faults the handler saw on this thread in another thread's region */
    int wrong_kind;     /* ExceptionInformation[0] other than expected */
    int bad_data;
} worker;

static worker workers[THREADS];
static pthread_barrier_t start_line;
static __thread worker *me;            /* the region of the thread the handler runs on */
static __thread volatile ULONG_PTR expect_kind; /* what the touch in progress is: 0 read, 1 write */
static long total_faults;

static LONG WINAPI shared_commit_on_demand(PEXCEPTION_POINTERS e)
{
    PEXCEPTION_RECORD r = e->ExceptionRecord;
    if (r->ExceptionCode != STATUS_ACCESS_VIOLATION || me == NULL)
        return EXCEPTION_CONTINUE_SEARCH;
    PUCHAR a = (PUCHAR)r->ExceptionInformation[1];
    for (int i = 0; i < THREADS; i++) {
        if (&workers[i] != me && a >= workers[i].base && a < workers[i].base + PAGES * PAGE_SIZE) {
            me->foreign++;
            return EXCEPTION_CONTINUE_SEARCH;
        }
    }
    if (a < me->base || a >= me->base + PAGES * PAGE_SIZE)
        return EXCEPTION_CONTINUE_SEARCH;
    if (r->ExceptionInformation[0] != expect_kind)
        me->wrong_kind++;
    me->faults++;
    __atomic_add_fetch(&total_faults, 1, __ATOMIC_RELAXED);
    if (mprotect((PVOID)((ULONG_PTR)a & ~(ULONG_PTR)(PAGE_SIZE - 1)), PAGE_SIZE, PROT_READ | PROT_WRITE) != 0)
        return EXCEPTION_CONTINUE_SEARCH;
    return EXCEPTION_CONTINUE_EXECUTION;
}

static void *fault_worker(void *arg)
{
    worker *w = arg;
    me = w;
    pthread_barrier_wait(&start_line);
    volatile PUCHAR v = w->base;
    for (int round = 0; round < ROUNDS; round++) {
        UCHAR tag = (UCHAR)(w->index * 16 + round + 1);
        /* odd rounds read first (the page keeps last round's data), even rounds write first */
        for (int p = 0; p < PAGES; p++) {
            size_t off = (size_t)p * PAGE_SIZE + (size_t)(p * 13 + round) % PAGE_SIZE;
            if (round % 2) {
                expect_kind = 0;
                if (v[(size_t)p * PAGE_SIZE] != (UCHAR)(tag - 1))
                    w->bad_data++;
            } else {
                expect_kind = 1;
                v[off] = tag;
            }
            v[(size_t)p * PAGE_SIZE] = tag;
        }
        for (int p = 0; p < PAGES; p++)
            if (v[(size_t)p * PAGE_SIZE] != tag)
                w->bad_data++;
        /* take the access away again: the next round faults on every page once more */
        mprotect(w->base, PAGES * PAGE_SIZE, PROT_NONE);
    }
    me = NULL;
    return NULL;
}

START_TEST(threads_fault_at_once_through_one_handler)
{
    PVOID h = AddVectoredExceptionHandler(1, shared_commit_on_demand);
    ck_assert_ptr_nonnull(h);
    total_faults = 0;
    pthread_barrier_init(&start_line, NULL, THREADS);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&workers[i], 0, sizeof workers[i]);
        workers[i].index = i;
        workers[i].base = mmap(NULL, PAGES * PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ck_assert_ptr_ne(workers[i].base, MAP_FAILED);
    }
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, fault_worker, &workers[i]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(workers[i].foreign, 0);
        ck_assert_int_eq(workers[i].faults, PAGES * ROUNDS);
        ck_assert_int_eq(workers[i].wrong_kind, 0);
        ck_assert_int_eq(workers[i].bad_data, 0);
        munmap(workers[i].base, PAGES * PAGE_SIZE);
    }
    ck_assert_int_eq(total_faults, (long)THREADS * PAGES * ROUNDS);
    pthread_barrier_destroy(&start_line);
    ck_assert_uint_eq(RemoveVectoredExceptionHandler(h), 1);
}
END_TEST

/* ---- raising while the handler lists change -------------------------------------------------------- */

#define RAISES 2000
#define CHURN 2000

static long continued, bystander_calls;
static __thread long my_continues;
static volatile int churning;

static LONG WINAPI continue_own(PEXCEPTION_POINTERS e)
{
    PEXCEPTION_RECORD r = e->ExceptionRecord;
    if ((ULONG)r->ExceptionCode != 0xE0005555u || r->NumberParameters != 1 ||
        r->ExceptionInformation[0] != (ULONG_PTR)pthread_self())
        return EXCEPTION_CONTINUE_SEARCH;
    my_continues++;
    __atomic_add_fetch(&continued, 1, __ATOMIC_RELAXED);
    return EXCEPTION_CONTINUE_EXECUTION;
}

static LONG WINAPI bystander(PEXCEPTION_POINTERS e)
{
    (void)e;
    __atomic_add_fetch(&bystander_calls, 1, __ATOMIC_RELAXED);
    return EXCEPTION_CONTINUE_SEARCH;
}

static void *raiser(void *arg)
{
    (void)arg;
    ULONG_PTR self = (ULONG_PTR)pthread_self();
    for (int i = 0; i < RAISES; i++)
        RaiseException(0xE0005555u, 0, 1, &self);
    return (void *)(intptr_t)my_continues;
}

static void *churner(void *arg)
{
    (void)arg;
    for (int i = 0; i < CHURN; i++) {
        PVOID h = AddVectoredExceptionHandler((ULONG)(i & 1), bystander);
        if (h == NULL || RemoveVectoredExceptionHandler(h) != 1 || RemoveVectoredExceptionHandler(h) != 0)
            return (void *)1;
        PVOID k = AddVectoredContinueHandler((ULONG)(i & 1), bystander);
        if (k == NULL || RemoveVectoredContinueHandler(k) != 1)
            return (void *)1;
    }
    return NULL;
}

START_TEST(raising_while_handlers_come_and_go)
{
    PVOID h = AddVectoredExceptionHandler(0, continue_own);
    continued = 0;
    pthread_t r[2], c[2];
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(pthread_create(&r[i], NULL, raiser, NULL), 0);
        ck_assert_int_eq(pthread_create(&c[i], NULL, churner, NULL), 0);
    }
    for (int i = 0; i < 2; i++) {
        void *own, *fail;
        pthread_join(r[i], &own);
        pthread_join(c[i], &fail);
        ck_assert_int_eq((intptr_t)own, RAISES); /* every raise continued, by this thread's handler call */
        ck_assert_ptr_null(fail);
    }
    ck_assert_int_eq(continued, 2 * RAISES);
    ck_assert_uint_eq(RemoveVectoredExceptionHandler(h), 1);
    /* the bystander ran sometimes or never; it never took an exception, and it is gone now */
    long before = bystander_calls;
    ULONG_PTR self = (ULONG_PTR)pthread_self();
    h = AddVectoredExceptionHandler(0, continue_own);
    RaiseException(0xE0005555u, 0, 1, &self);
    ck_assert_int_eq(bystander_calls, before);
    RemoveVectoredExceptionHandler(h);
}
END_TEST

/* ---- modes are per thread ----------------------------------------------------------------------- */

static void *mode_flipper(void *arg)
{
    KPROCESSOR_MODE mode = (KPROCESSOR_MODE)(intptr_t)arg;
    ntmem_set_thread_mode(mode);
    pthread_barrier_wait(&start_line);
    for (int i = 0; i < 10000; i++)
        if (ntmem_get_thread_mode() != mode)
            return (void *)1;
    return NULL;
}

START_TEST(thread_modes_do_not_leak_between_threads)
{
    pthread_barrier_init(&start_line, NULL, 2);
    pthread_t a, b;
    void *ra, *rb;
    ck_assert_int_eq(pthread_create(&a, NULL, mode_flipper, (void *)(intptr_t)UserMode), 0);
    ck_assert_int_eq(pthread_create(&b, NULL, mode_flipper, (void *)(intptr_t)KernelMode), 0);
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    ck_assert_ptr_null(ra);
    ck_assert_ptr_null(rb);
    ck_assert_int_eq(ntmem_get_thread_mode(), KernelMode);
    pthread_barrier_destroy(&start_line);
}
END_TEST

static Suite *stress_exceptions_suite(void)
{
    Suite *s = suite_create("stress exceptions");
    TCase *t = tcase_create("threads");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, threads_fault_at_once_through_one_handler);
    tcase_add_test(t, raising_while_handlers_come_and_go);
    tcase_add_test(t, thread_modes_do_not_leak_between_threads);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(stress_exceptions_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
