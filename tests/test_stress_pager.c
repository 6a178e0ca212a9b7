/* test_stress_pager.c - threads write and verify their own paged pool and pageable ranges while
 * they are paged out under them, continually: by explicit trims, by the balance set thread, and by
 * IRQL checking hiding everything on another thread's raises to DISPATCH_LEVEL. */
#include <check.h>
#include <pthread.h>
#include <sys/mman.h>
#include <stdio.h>
#include <string.h>
#include <ntddk.h>
#include <ntmem.h>

#include "mm/pager.h"

#define TAG 'tSgP'
#define WORKERS 4
#define BLOCKS 24
#define ROUNDS 400
#define RANGE_PAGES 8

static volatile int stop_trimming;

static SIZE_T block_size(ULONG b)
{
    return b % 3 == 0 ? 3 * PAGE_SIZE + 40 : b % 3 == 1 ? PAGE_SIZE : 200; /* big, one page, small */
}

static UCHAR value(ULONG worker, ULONG block, ULONG round, SIZE_T offset)
{
    return (UCHAR)(worker * 131 + block * 31 + round * 7 + offset / 61);
}

static void *worker(void *arg)
{
    ULONG w = (ULONG)(ULONG_PTR)arg;
    PUCHAR blocks[BLOCKS];
    long bad = 0;
    for (ULONG b = 0; b < BLOCKS; b++)
        blocks[b] = ExAllocatePoolWithTag(PagedPool, block_size(b), TAG);
    /* And a pageable range of its own, as a driver image's data section would be. */
    PUCHAR range = mmap(NULL, RANGE_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    PVOID handle = MiRegisterPageableRange(range, RANGE_PAGES * PAGE_SIZE, "stress range");
    if (handle == NULL)
        return (void *)1000L;
    for (ULONG round = 0; round < ROUNDS; round++) {
        for (SIZE_T i = 0; i < RANGE_PAGES * PAGE_SIZE; i += 97) {
            if (round > 0)
                bad += range[i] != value(w, 99, round - 1, i);
            range[i] = value(w, 99, round, i);
        }
        if (round % 9 == 0)
            MiPageOutRange(range, RANGE_PAGES * PAGE_SIZE);
        for (ULONG b = 0; b < BLOCKS; b++) {
            if (blocks[b] == NULL)
                continue;
            if (round > 0)
                for (SIZE_T i = 0; i < block_size(b); i += 13)
                    bad += blocks[b][i] != value(w, b, round - 1, i);
            for (SIZE_T i = 0; i < block_size(b); i++)
                blocks[b][i] = value(w, b, round, i);
        }
        /* Now and then at APC_LEVEL, and through a raise to DISPATCH_LEVEL that touches nothing. */
        if (round % 5 == 0) {
            KIRQL old;
            KeRaiseIrql(APC_LEVEL, &old);
            bad += blocks[0] != NULL && blocks[0][0] != value(w, 0, round, 0);
            KeLowerIrql(old);
        }
        if (round % 7 == 0) {
            ExFreePoolWithTag(blocks[w % BLOCKS], TAG); /* frees while pages may be out */
            blocks[w % BLOCKS] = NULL;
        }
        if (round % 7 == 1 && blocks[w % BLOCKS] == NULL) {
            ULONG b = w % BLOCKS;
            blocks[b] = ExAllocatePoolWithTag(PagedPool, block_size(b), TAG);
            for (SIZE_T i = 0; blocks[b] != NULL && i < block_size(b); i++)
                blocks[b][i] = value(w, b, round, i);
        }
    }
    for (ULONG b = 0; b < BLOCKS; b++)
        if (blocks[b] != NULL)
            ExFreePoolWithTag(blocks[b], TAG);
    MiUnregisterPageableRange(handle);
    munmap(range, RANGE_PAGES * PAGE_SIZE);
    return (void *)bad;
}

static void *trimmer(void *arg)
{
    (void)arg;
    ULONG n = 0;
    while (!__atomic_load_n(&stop_trimming, __ATOMIC_RELAXED)) {
        if (n++ % 2)
            ntmem_page_out_all();
        else
            ntmem_trim_working_set(16 * PAGE_SIZE);
        /* IRQL checking hides all pageable memory on every raise; the workers get it back lazily. */
        KIRQL old;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        KeLowerIrql(old);
    }
    return NULL;
}

START_TEST(paged_pool_stays_intact_while_paged_out_under_the_threads)
{
    ntmem_set_paged_pool_working_set(32 * PAGE_SIZE); /* the balance set thread trims too */
    ntmem_set_verifier_flags(NTMEM_VERIFIER_IRQL_CHECKING);
    pthread_t workers[WORKERS], trim;
    pthread_create(&trim, NULL, trimmer, NULL);
    for (ULONG w = 0; w < WORKERS; w++)
        pthread_create(&workers[w], NULL, worker, (void *)(ULONG_PTR)w);
    long bad = 0;
    for (ULONG w = 0; w < WORKERS; w++) {
        void *r;
        pthread_join(workers[w], &r);
        bad += (long)r;
    }
    __atomic_store_n(&stop_trimming, 1, __ATOMIC_RELAXED);
    pthread_join(trim, NULL);
    ck_assert_int_eq(bad, 0);
    NTMEM_PAGER_COUNTERS c;
    ntmem_query_pager_counters(&c);
    ck_assert_uint_gt(c.PageOuts, 0);
    ck_assert_uint_gt(c.PageIns, 0);
    ck_assert_uint_eq(c.FailedWrites, 0);
    ck_assert_uint_eq(c.PagedOutPages, c.PageFileSlotsInUse);
    fprintf(stderr, "page-outs %llu, page-ins %llu, soft faults %llu, balance passes %llu\n",
            (unsigned long long)c.PageOuts, (unsigned long long)c.PageIns, (unsigned long long)c.SoftFaults,
            (unsigned long long)c.BalancePasses);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stress pager");
    TCase *t = tcase_create("stress pager");
    tcase_set_timeout(t, 600);
    tcase_add_test(t, paged_pool_stays_intact_while_paged_out_under_the_threads);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int n = srunner_ntests_failed(r);
    srunner_free(r);
    return n != 0;
}
