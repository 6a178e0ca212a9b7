/* test_stress_virtual.c - threads reserving, committing, protecting, querying and releasing at once,
 * touching guard and write-watched pages of their own regions (run under TSan too). */
#include <check.h>
#include <pthread.h>
#include <string.h>
#include <ntmem.h>
#include <windows.h>

#define THREADS 2
#define ROUNDS 1500
#define PAGES 16

static pthread_barrier_t start_line;
static int failures[THREADS];

static int touch_guarded(volatile UCHAR *p)
{
    volatile int code = 0;
    __try {
        *p = 1;
    } __except (code = GetExceptionCode(), EXCEPTION_EXECUTE_HANDLER) {
    }
    return code;
}

static void *worker(void *arg)
{
    int me = (int)(ULONG_PTR)arg;
    pthread_barrier_wait(&start_line);
    for (int round = 0; round < ROUNDS; round++) {
        ULONG extra = (round & 1) ? MEM_WRITE_WATCH : 0;
        PUCHAR p = VirtualAlloc(NULL, PAGES * 4096, MEM_RESERVE | extra, PAGE_NOACCESS);
        if (p == NULL) {
            failures[me]++;
            continue;
        }
        if (VirtualAlloc(p, PAGES * 4096, MEM_COMMIT, PAGE_READWRITE) != p)
            failures[me]++;
        p[round % (PAGES * 4096)] = (UCHAR)me;
        DWORD old;
        if (!VirtualProtect(p + 4096, 4096, PAGE_READWRITE | PAGE_GUARD, &old) || old != PAGE_READWRITE)
            failures[me]++;
        if (touch_guarded(p + 4096 + 7) != (int)STATUS_GUARD_PAGE_VIOLATION || touch_guarded(p + 4096) != 0)
            failures[me]++;
        MEMORY_BASIC_INFORMATION m;
        if (VirtualQuery(p + 2 * 4096, &m, sizeof m) != sizeof m || m.AllocationBase != p || m.State != MEM_COMMIT)
            failures[me]++;
        if (extra) {
            PVOID written[PAGES];
            ULONG_PTR count = PAGES;
            DWORD granularity;
            if (GetWriteWatch(0, p, PAGES * 4096, written, &count, &granularity) != 0 || count < 2)
                failures[me]++;
        }
        if (!VirtualFree(p + 8 * 4096, 4 * 4096, MEM_DECOMMIT) || !VirtualFree(p, 0, MEM_RELEASE))
            failures[me]++;
    }
    return NULL;
}

START_TEST(threads_use_virtual_memory_at_once)
{
    MEMORYSTATUSEX before = {.dwLength = sizeof before};
    ck_assert(GlobalMemoryStatusEx(&before));
    pthread_t t[THREADS];
    pthread_barrier_init(&start_line, NULL, THREADS);
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker, (void *)(ULONG_PTR)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start_line);
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(failures[i], 0);
    /* every commit was given back: nothing lost or counted twice on any path */
    MEMORYSTATUSEX after = {.dwLength = sizeof after};
    ck_assert(GlobalMemoryStatusEx(&after));
    ck_assert_uint_eq(after.ullAvailPageFile, before.ullAvailPageFile);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stress virtual");
    TCase *t = tcase_create("threads");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, threads_use_virtual_memory_at_once);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int n = srunner_ntests_failed(r);
    srunner_free(r);
    return n != 0;
}
