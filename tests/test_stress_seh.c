/* test_stress_seh.c - two threads, each inside its own __try frames, raising and faulting at once:
 * every exception reaches the frames of the thread it happened on, with that thread's data, including
 * exceptions raised inside filters and unwinding __finally blocks. */
#define _GNU_SOURCE
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <ntmem.h>
#include <windows.h>

#define THREADS 2
#define ITERATIONS 2000
#define PAGES 4
#define USER_CODE 0xE0535300u /* + the thread's index */

typedef struct seh_worker {
    int index;
    PUCHAR base;        /* PAGES pages, PROT_NONE at the start of every iteration */
    int caught;         /* raises caught by this thread's handler */
    int wrong_code;     /* a raise whose code or argument was not this thread's */
    int filter_calls;   /* commit filter: faults seen in this thread's region */
    int foreign;        /* commit filter: a fault in another thread's region */
    int av_caught;      /* NULL writes caught */
    int finally_runs;   /* __finally blocks run during unwinding */
    int bad_data;
    int nested_inner;   /* faults inside a filter, caught inside it */
    int nested_outer;   /* raises inside an unwinding __finally, caught outside */
} seh_worker;

static seh_worker workers[THREADS];
static pthread_barrier_t start_line;

static LONG raise_filter(PEXCEPTION_POINTERS e, seh_worker *w, int iteration)
{
    PEXCEPTION_RECORD r = e->ExceptionRecord;
    if (r->ExceptionCode != (NTSTATUS)(USER_CODE + (ULONG)w->index) || r->NumberParameters != 2 ||
        r->ExceptionInformation[0] != (ULONG_PTR)w || r->ExceptionInformation[1] != (ULONG_PTR)iteration)
        w->wrong_code++;
    return EXCEPTION_EXECUTE_HANDLER;
}

static LONG commit_filter(PEXCEPTION_POINTERS e, seh_worker *w)
{
    PEXCEPTION_RECORD r = e->ExceptionRecord;
    if (r->ExceptionCode != STATUS_ACCESS_VIOLATION)
        return EXCEPTION_CONTINUE_SEARCH;
    PUCHAR a = (PUCHAR)r->ExceptionInformation[1];
    for (int i = 0; i < THREADS; i++)
        if (i != w->index && a >= workers[i].base && a < workers[i].base + PAGES * PAGE_SIZE) {
            w->foreign++;
            return EXCEPTION_CONTINUE_SEARCH;
        }
    if (a < w->base || a >= w->base + PAGES * PAGE_SIZE)
        return EXCEPTION_CONTINUE_SEARCH;
    w->filter_calls++;
    if (mprotect((PVOID)((ULONG_PTR)a & ~(ULONG_PTR)(PAGE_SIZE - 1)), PAGE_SIZE, PROT_READ | PROT_WRITE) != 0)
        return EXCEPTION_CONTINUE_SEARCH;
    return EXCEPTION_CONTINUE_EXECUTION;
}

static void write_null(void);

/* Faults inside itself and catches that, then takes the exception it was asked about. */
static LONG faulting_filter(seh_worker *w)
{
    __try {
        write_null();
    } __except (GetExceptionCode() == STATUS_ACCESS_VIOLATION) {
        w->nested_inner++;
    }
    return EXCEPTION_EXECUTE_HANDLER;
}

/* A real store to NULL (a plain C one is undefined behaviour, which the compiler may drop). */
static __attribute__((noinline)) void write_null(void)
{
    __asm__ volatile("movl $1, (%0)" ::"r"((volatile int *)NULL) : "memory");
}

static void *seh_thread(void *arg)
{
    seh_worker *w = arg;
    pthread_barrier_wait(&start_line);
    for (int it = 0; it < ITERATIONS; it++) {
        /* a raise, through a __finally, caught here */
        volatile int handled = 0;
        __try {
            __try {
                ULONG_PTR args[2] = {(ULONG_PTR)w, (ULONG_PTR)it};
                RaiseException(USER_CODE + (ULONG)w->index, 0, 2, args);
            } __finally {
                if (AbnormalTermination())
                    w->finally_runs++;
            }
        } __except (raise_filter(GetExceptionInformation(), w, it)) {
            if (GetExceptionCode() == (NTSTATUS)(USER_CODE + (ULONG)w->index))
                handled = 1;
        }
        w->caught += handled;

        /* commit on demand from a filter that continues execution */
        UCHAR tag = (UCHAR)(it * 2 + w->index + 1);
        volatile PUCHAR v = w->base;
        __try {
            for (int p = 0; p < PAGES; p++)
                v[(size_t)p * PAGE_SIZE + (size_t)(it % 64) * 8] = tag;
        } __except (commit_filter(GetExceptionInformation(), w)) {
            w->bad_data += 1000;
        }
        for (int p = 0; p < PAGES; p++)
            if (v[(size_t)p * PAGE_SIZE + (size_t)(it % 64) * 8] != tag)
                w->bad_data++;
        mprotect(w->base, PAGES * PAGE_SIZE, PROT_NONE);

        /* a hardware fault caught by a handler */
        __try {
            write_null();
        } __except (GetExceptionCode() == STATUS_ACCESS_VIOLATION) {
            w->av_caught++;
        }

        /* exceptions raised while exceptions are dispatched */
        __try {
            RaiseException(USER_CODE + (ULONG)w->index, 0, 0, NULL);
        } __except (faulting_filter(w)) {
        }
        __try {
            __try {
                RaiseException(USER_CODE + (ULONG)w->index, 0, 0, NULL);
            } __finally {
                if (AbnormalTermination())
                    RaiseException(USER_CODE + 0x100 + (ULONG)w->index, 0, 0, NULL);
            }
        } __except (GetExceptionCode() == (NTSTATUS)(USER_CODE + (ULONG)w->index) ||
                    GetExceptionCode() == (NTSTATUS)(USER_CODE + 0x100 + (ULONG)w->index)) {
            /* the first exception chose this handler; the __finally's raise replaced it */
            if (GetExceptionCode() == (NTSTATUS)(USER_CODE + 0x100 + (ULONG)w->index))
                w->nested_outer++;
        }
    }
    return NULL;
}

START_TEST(threads_raise_and_fault_inside_their_own_frames)
{
    pthread_t t[THREADS];
    pthread_barrier_init(&start_line, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        memset(&workers[i], 0, sizeof workers[i]);
        workers[i].index = i;
        workers[i].base = mmap(NULL, PAGES * PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ck_assert_ptr_ne(workers[i].base, MAP_FAILED);
    }
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, seh_thread, &workers[i]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start_line);
    for (int i = 0; i < THREADS; i++) {
        seh_worker *w = &workers[i];
        ck_assert_int_eq(w->caught, ITERATIONS);
        ck_assert_int_eq(w->wrong_code, 0);
        ck_assert_int_eq(w->finally_runs, ITERATIONS);
        ck_assert_int_eq(w->filter_calls, ITERATIONS * PAGES);
        ck_assert_int_eq(w->foreign, 0);
        ck_assert_int_eq(w->av_caught, ITERATIONS);
        ck_assert_int_eq(w->bad_data, 0);
        ck_assert_int_eq(w->nested_inner, ITERATIONS);
        ck_assert_int_eq(w->nested_outer, ITERATIONS);
        munmap(w->base, PAGES * PAGE_SIZE);
    }
}
END_TEST

static Suite *stress_seh_suite(void)
{
    Suite *s = suite_create("stress seh");
    TCase *t = tcase_create("threads");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, threads_raise_and_fault_inside_their_own_frames);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(stress_seh_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
