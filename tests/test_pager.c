/* test_pager.c - paged pool that really pages: page-out and page-in keep data, IRQL rules at the
 * fault, the page file, the working-set limit, pageable ranges (data and code) and locking. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <ntddk.h>
#include <ntmem.h>

#include "death.h"
#include "mm/pager.h" /* the private interface for other pageable ranges */

#define TAG 'gaPT'

static NTMEM_PAGER_COUNTERS counters(void)
{
    NTMEM_PAGER_COUNTERS c;
    ntmem_query_pager_counters(&c);
    return c;
}

/* A byte pattern that differs for every block and offset. */
static UCHAR pattern(ULONG block, SIZE_T offset)
{
    ULONG64 x = (block + 1) * 0x9E3779B97F4A7C15ULL ^ (offset * 0xBF58476D1CE4E5B9ULL);
    return (UCHAR)(x >> 29);
}

/* Machine code copied into pages of our own, so the "driver" that runs it is that page. */
static const UCHAR code_write_byte[] = {0xC6, 0x07, 0x01, 0xC3}; /* movb $1,(%rdi); ret */
static const UCHAR code_return_42[] = {0xB8, 0x2A, 0x00, 0x00, 0x00, 0xC3}; /* mov $42,%eax; ret */

static PUCHAR code_page(const UCHAR *code, size_t size)
{
    PUCHAR p = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    memcpy(p, code, size);
    ck_assert_int_eq(mprotect(p, PAGE_SIZE, PROT_READ | PROT_EXEC), 0);
    return p;
}

/* The protection /proc/self/maps shows for the page at p, as "r-x" etc. */
static void maps_protection(const void *p, char out[4])
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    strcpy(out, "???");
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && (unsigned long)p >= lo && (unsigned long)p < hi) {
            memcpy(out, perms, 3);
            out[3] = 0;
        }
    }
    fclose(f);
}

#define BLOCKS 48
#define BLOCK_BYTES (3 * PAGE_SIZE + 100)

START_TEST(data_intact_after_page_out_and_in)
{
    PUCHAR blocks[BLOCKS], small[200];
    ULONG64 sum = 0, check = 0;
    for (ULONG b = 0; b < BLOCKS; b++) {
        blocks[b] = ExAllocatePoolWithTag(PagedPool, BLOCK_BYTES, TAG);
        ck_assert_ptr_nonnull(blocks[b]);
        for (SIZE_T i = 0; i < BLOCK_BYTES; i++)
            sum += blocks[b][i] = pattern(b, i);
    }
    for (ULONG b = 0; b < 200; b++) {
        small[b] = ExAllocatePoolWithTag(PagedPool, 96, TAG);
        memset(small[b], (int)b, 96);
    }
    NTMEM_PAGER_COUNTERS before = counters();
    SIZE_T written = ntmem_page_out_all();
    NTMEM_PAGER_COUNTERS out = counters();
    ck_assert_uint_ge(written, BLOCKS * 4);
    ck_assert_uint_eq(out.ResidentPagedPoolPages, 0);
    ck_assert_uint_ge(out.PagedOutPages, BLOCKS * 4);
    ck_assert_uint_eq(out.PageFileSlotsInUse, out.PagedOutPages);
    ck_assert_uint_eq(out.PageOuts - before.PageOuts, written);
    for (ULONG b = 0; b < BLOCKS; b++)
        for (SIZE_T i = 0; i < BLOCK_BYTES; i++)
            check += blocks[b][i];
    ck_assert_uint_eq(check, sum);
    for (ULONG b = 0; b < 200; b++)
        for (int i = 0; i < 96; i++)
            ck_assert_int_eq(small[b][i], (UCHAR)b);
    NTMEM_PAGER_COUNTERS in = counters();
    ck_assert_uint_ge(in.PageIns - out.PageIns, BLOCKS * 4);
    ck_assert_uint_eq(in.PagedOutPages, out.PagedOutPages - (in.PageIns - out.PageIns));
    /* Freed pages give their slots back, including pages still paged out. */
    ntmem_page_out_all();
    for (ULONG b = 0; b < BLOCKS; b++)
        ExFreePoolWithTag(blocks[b], TAG);
    for (ULONG b = 0; b < 200; b++)
        ExFreePoolWithTag(small[b], TAG);
    ck_assert_uint_lt(counters().PageFileSlotsInUse, 8); /* at most the pool's cached pages remain */
}
END_TEST

START_TEST(touch_at_passive_and_apc_level_pages_in)
{
    PUCHAR p = ExAllocatePoolWithTag(PagedPool, 2 * PAGE_SIZE, TAG);
    memset(p, 0x5A, 2 * PAGE_SIZE);
    ntmem_page_out_all();
    ck_assert_int_eq(p[10], 0x5A); /* a read at PASSIVE_LEVEL */
    ntmem_page_out_all();
    KIRQL old;
    KeRaiseIrql(APC_LEVEL, &old);
    p[PAGE_SIZE + 1] = 0x11; /* a write at APC_LEVEL */
    KeLowerIrql(old);
    ck_assert_int_eq(p[PAGE_SIZE + 1], 0x11);
    ck_assert_int_eq(p[PAGE_SIZE + 2], 0x5A);
    /* Faults inside library routines (and the sanitizers' interceptors of them) are resolved too. */
    static UCHAR copy[2 * PAGE_SIZE];
    ntmem_page_out_all();
    memcpy(copy, p, sizeof copy);
    ck_assert_int_eq(copy[PAGE_SIZE + 1], 0x11);
    ck_assert_int_eq(copy[3], 0x5A);
    ntmem_page_out_all();
    memset(p, 0x77, 2 * PAGE_SIZE);
    ck_assert_int_eq(p[2 * PAGE_SIZE - 1], 0x77);
    /* Trimmed to transition only: the touch is a soft fault and no I/O. */
    NTMEM_PAGER_COUNTERS c = counters();
    ExFreePoolWithTag(p, TAG);
    ck_assert_uint_ge(c.PageIns, 2);
}
END_TEST

/* ---- IRQL rules ------------------------------------------------------------------------------------ */

static volatile UCHAR *victim;
static PUCHAR driver_code;

static void touch_paged_out_at_dispatch(void *how)
{
    ntmem_page_out_all();
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    if (how == (void *)1)
        victim[0] = 1;
    else if (how == (void *)2)
        ((void (*)(volatile UCHAR *))driver_code)(victim); /* the "driver" writes */
    else
        (void)victim[0];
    KeLowerIrql(old);
}

static void touch_resident_at_dispatch(void *arg)
{
    (void)arg;
    victim[0] = 7; /* resident now */
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    victim[1] = victim[0]; /* not caught without the verifier, as on Windows */
    KeLowerIrql(old);
    _exit(victim[1] == 7 ? 0 : 3);
}

START_TEST(paged_out_touched_at_dispatch_is_stop_0a_or_d1_from_a_driver)
{
    static death_result r;
    victim = ExAllocatePoolWithTag(PagedPool, PAGE_SIZE, TAG);
    victim[0] = 1;
    death_run(touch_paged_out_at_dispatch, NULL, &r);
    ck_assert_msg(r.parsed && r.code == IRQL_NOT_LESS_OR_EQUAL, "%s", r.output);
    ck_assert_uint_eq(r.p[0], (ULONG_PTR)victim);
    ck_assert_uint_eq(r.p[1], DISPATCH_LEVEL);
    ck_assert_uint_eq(r.p[2], 0); /* a read */
    ck_assert_uint_ne(r.p[3], 0);
    ck_assert(r.aborted);
    death_run(touch_paged_out_at_dispatch, (void *)1, &r);
    ck_assert_msg(r.parsed && r.code == IRQL_NOT_LESS_OR_EQUAL, "%s", r.output);
    ck_assert_uint_eq(r.p[2], 1); /* a write */

    driver_code = code_page(code_write_byte, sizeof code_write_byte);
    PVOID driver = ntmem_verifier_register_driver("copied.sys", driver_code, PAGE_SIZE);
    death_run(touch_paged_out_at_dispatch, (void *)2, &r);
    ck_assert_msg(r.parsed && r.code == DRIVER_IRQL_NOT_LESS_OR_EQUAL, "%s", r.output);
    ck_assert_uint_eq(r.p[0], (ULONG_PTR)victim);
    ck_assert_uint_eq(r.p[1], DISPATCH_LEVEL);
    ck_assert_uint_eq(r.p[2], 1);
    ck_assert_uint_eq(r.p[3], (ULONG_PTR)driver_code); /* the faulting instruction, in the driver */
    ntmem_verifier_unload_driver(driver);

    death_run(touch_resident_at_dispatch, NULL, &r);
    ck_assert_msg(!r.parsed && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.output);
}
END_TEST

/* ---- pageable ranges: data, code, protection ------------------------------------------------------- */

START_TEST(pageable_range_data_comes_back_with_its_protection)
{
    const SIZE_T pages = 16;
    PUCHAR base = mmap(NULL, pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (SIZE_T i = 0; i < pages * PAGE_SIZE; i++)
        base[i] = pattern(99, i);
    mprotect(base + 15 * PAGE_SIZE, PAGE_SIZE, PROT_READ); /* a read-only page, like .rodata */
    PVOID range = MiRegisterPageableRange(base, pages * PAGE_SIZE, "test range");
    ck_assert_ptr_nonnull(range);
    ck_assert_ptr_null(MiRegisterPageableRange(base + PAGE_SIZE, PAGE_SIZE, "overlap"));
    ck_assert_uint_eq(MiPageOutRange(base, pages * PAGE_SIZE), pages);
    ck_assert_uint_eq(MiPageOutRange(base, pages * PAGE_SIZE), 0); /* nothing left to write */
    char prot[4];
    maps_protection(base, prot);
    ck_assert_str_eq(prot, "---");
    for (SIZE_T i = 0; i < pages * PAGE_SIZE; i += 7)
        ck_assert_int_eq(base[i], pattern(99, i));
    base[5] = 0xEE;
    maps_protection(base + 15 * PAGE_SIZE, prot);
    ck_assert_str_eq(prot, "r--");
    /* A write to the read-only page is an access violation, not the pager's to resolve. */
    BOOLEAN caught = FALSE;
    __try {
        *(volatile UCHAR *)(base + 15 * PAGE_SIZE) = 1;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        caught = GetExceptionCode() == STATUS_ACCESS_VIOLATION;
    }
    ck_assert(caught);
    MiPageOutRange(base, pages * PAGE_SIZE);
    MiUnregisterPageableRange(range);
    maps_protection(base, prot);
    ck_assert_str_eq(prot, "rw-");
    maps_protection(base + 15 * PAGE_SIZE, prot);
    ck_assert_str_eq(prot, "r--");
    ck_assert_int_eq(base[5], 0xEE);
    ck_assert_int_eq(base[15 * PAGE_SIZE + 3], pattern(99, 15 * PAGE_SIZE + 3));
    munmap(base, pages * PAGE_SIZE);
}
END_TEST

START_TEST(pageable_code_faults_in_on_execute_and_runs)
{
    PUCHAR code = code_page(code_return_42, sizeof code_return_42);
    int (*fn)(void) = (int (*)(void))code;
    PVOID range = MiRegisterPageableRange(code, PAGE_SIZE, "code");
    ck_assert_uint_eq(MiPageOutRange(code, PAGE_SIZE), 1);
    ULONG64 ins = counters().PageIns;
    ck_assert_int_eq(fn(), 42);
    ck_assert_uint_eq(counters().PageIns, ins + 1);
    char prot[4];
    maps_protection(code, prot);
    ck_assert_str_eq(prot, "r-x");
    MiPageOutRange(code, PAGE_SIZE);
    MiUnregisterPageableRange(range);
    maps_protection(code, prot);
    ck_assert_str_eq(prot, "r-x");
    ck_assert_int_eq(fn(), 42);
    munmap(code, PAGE_SIZE);
}
END_TEST

static void execute_paged_out_code_at_dispatch(void *arg)
{
    (void)arg;
    PUCHAR code = code_page(code_return_42, sizeof code_return_42);
    MiRegisterPageableRange(code, PAGE_SIZE, "code");
    MiPageOutRange(code, PAGE_SIZE);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    ((int (*)(void))code)();
}

START_TEST(paged_out_code_executed_at_dispatch_is_stop_0a_execute)
{
    static death_result r;
    death_run(execute_paged_out_code_at_dispatch, NULL, &r);
    ck_assert_msg(r.parsed && r.code == IRQL_NOT_LESS_OR_EQUAL, "%s", r.output);
    ck_assert_uint_eq(r.p[2], 8);          /* execute */
    ck_assert_uint_eq(r.p[0], r.p[3]);     /* the address is the instruction */
}
END_TEST

/* ---- locking, and IRQL checking over ranges -------------------------------------------------------- */

static PUCHAR locked_base;

static void touch_range_under_irql_checking(void *unlocked)
{
    ntmem_set_verifier_flags(NTMEM_VERIFIER_IRQL_CHECKING);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    locked_base[1] = 2; /* locked: usable at DISPATCH_LEVEL even under IRQL checking */
    if (unlocked != NULL)
        (void)*(volatile UCHAR *)(locked_base + 8 * PAGE_SIZE);
    KeLowerIrql(old);
    _exit(locked_base[1] == 2 ? 0 : 3);
}

START_TEST(locked_pages_are_not_paged_and_stay_usable_at_dispatch)
{
    const SIZE_T pages = 16;
    locked_base = mmap(NULL, pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(locked_base, 3, pages * PAGE_SIZE);
    PVOID range = MiRegisterPageableRange(locked_base, pages * PAGE_SIZE, "locked test");
    MiPageOutRange(locked_base, pages * PAGE_SIZE);
    MiLockPageableRange(locked_base, 4 * PAGE_SIZE); /* brought back in */
    MiLockPageableRange(locked_base, PAGE_SIZE);     /* counted */
    ntmem_page_out_all();
    ck_assert_uint_eq(MiPageOutRange(locked_base, pages * PAGE_SIZE), 0);
    char prot[4];
    maps_protection(locked_base, prot);
    ck_assert_str_eq(prot, "rw-");
    static death_result r;
    death_run(touch_range_under_irql_checking, NULL, &r);
    ck_assert_msg(!r.parsed && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.output);
    death_run(touch_range_under_irql_checking, (void *)1, &r);
    ck_assert_msg(r.parsed && r.code == DRIVER_IRQL_NOT_LESS_OR_EQUAL, "%s", r.output);
    ck_assert_uint_eq(r.p[0], (ULONG_PTR)(locked_base + 8 * PAGE_SIZE));
    MiUnlockPageableRange(locked_base, 4 * PAGE_SIZE);
    ck_assert_uint_eq(MiPageOutRange(locked_base, 4 * PAGE_SIZE), 3); /* page 0 still has a lock */
    MiUnlockPageableRange(locked_base, PAGE_SIZE);
    ck_assert_uint_eq(MiPageOutRange(locked_base, 4 * PAGE_SIZE), 1);
    MiUnregisterPageableRange(range);
    for (SIZE_T i = 0; i < pages * PAGE_SIZE; i += 512)
        ck_assert_int_eq(locked_base[i], 3);
    munmap(locked_base, pages * PAGE_SIZE);
}
END_TEST

/* ---- the page file --------------------------------------------------------------------------------- */

static char pagefile_path[256];

/* In a child: configure, page out, report the file's size, then exit normally or by a bug check. */
static void child_pages_out(void *bugcheck)
{
    ck_assert_int_eq(ntmem_set_pagefile(pagefile_path, 2 << 20), STATUS_SUCCESS);
    PUCHAR p = ExAllocatePoolWithTag(PagedPool, 4 * PAGE_SIZE, TAG);
    memset(p, 1, 4 * PAGE_SIZE);
    if (ntmem_page_out_all() < 4)
        _exit(4);
    if (ntmem_set_pagefile("/elsewhere", 0) != STATUS_ALREADY_COMMITTED)
        _exit(5);
    struct stat st;
    if (stat(pagefile_path, &st) != 0 || st.st_size != (2 << 20))
        _exit(6);
    if (bugcheck != NULL)
        KeBugCheckEx(MANUALLY_INITIATED_CRASH, 0, 0, 0, 0);
    exit(0); /* atexit handlers run */
}

START_TEST(page_file_at_the_configured_path_and_size_removed_at_exit)
{
    snprintf(pagefile_path, sizeof pagefile_path, "/tmp/ntmem-test-pagefile-%d", (int)getpid());
    static death_result r;
    death_run(child_pages_out, NULL, &r);
    ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status 0x%x\n%s", r.status, r.output);
    ck_assert_int_ne(access(pagefile_path, F_OK), 0);
    death_run(child_pages_out, (void *)1, &r);
    ck_assert_msg(r.parsed && r.code == MANUALLY_INITIATED_CRASH, "%s", r.output);
    ck_assert_int_ne(access(pagefile_path, F_OK), 0); /* removed on the way to SIGABRT too */
}
END_TEST

/* The environment variables, in a fresh process: this binary run again with --pagefile-child. */
static int pagefile_child_main(void)
{
    PUCHAR p = ExAllocatePoolWithTag(PagedPool, PAGE_SIZE, TAG);
    p[0] = 1;
    ntmem_page_out_all();
    struct stat st;
    const char *path = getenv("NTMEM_PAGEFILE");
    int ok = stat(path, &st) == 0 && st.st_size == (3 << 20) && counters().PageFileSlots == (3 << 20) / PAGE_SIZE &&
             counters().WorkingSetLimitPages == (1 << 20) / PAGE_SIZE;
    return ok && p[0] == 1 ? 0 : 7;
}

START_TEST(page_file_from_the_environment)
{
    char path[256], cmd[1024], exe[512];
    snprintf(path, sizeof path, "/tmp/ntmem-test-envfile-%d", (int)getpid());
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    ck_assert_int_gt(n, 0);
    exe[n] = 0;
    snprintf(cmd, sizeof cmd, "NTMEM_PAGEFILE=%s NTMEM_PAGEFILE_SIZE=3M NTMEM_PAGED_POOL_WS=1M %s --pagefile-child",
             path, exe);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

/* The page file loses its contents under a paged-out page: the read back fails. */
static void page_in_from_a_truncated_page_file(void *arg)
{
    (void)arg;
    ntmem_set_pagefile(pagefile_path, 1 << 20);
    ntmem_page_out_all();
    if (truncate(pagefile_path, 0) != 0)
        _exit(8);
    (void)victim[0];
}

START_TEST(unreadable_page_file_is_stop_7a)
{
    snprintf(pagefile_path, sizeof pagefile_path, "/tmp/ntmem-test-truncated-%d", (int)getpid());
    victim = ExAllocatePoolWithTag(PagedPool, PAGE_SIZE, TAG);
    victim[0] = 1;
    static death_result r;
    death_run(page_in_from_a_truncated_page_file, NULL, &r);
    ck_assert_msg(r.parsed && r.code == KERNEL_DATA_INPAGE_ERROR, "%s", r.output);
    ck_assert_uint_eq(r.p[1], (ULONG)STATUS_IN_PAGE_ERROR);
    ck_assert_uint_eq(r.p[3], (ULONG_PTR)victim);
    ck_assert(r.aborted);
    ck_assert_int_ne(access(pagefile_path, F_OK), 0);
}
END_TEST

static PUCHAR fork_block;

static void child_of_a_paged_out_parent(void *arg)
{
    (void)arg;
    for (SIZE_T i = 0; i < 8 * PAGE_SIZE; i++)
        if (fork_block[i] != pattern(5, i))
            _exit(9);
    memset(fork_block, 0xCC, 8 * PAGE_SIZE); /* its own copy, paged through its own file */
    if (ntmem_page_out_all() < 8 || fork_block[PAGE_SIZE] != 0xCC)
        _exit(10);
    exit(0);
}

START_TEST(fork_with_pages_out_gives_the_child_its_data)
{
    fork_block = ExAllocatePoolWithTag(PagedPool, 8 * PAGE_SIZE, TAG);
    for (SIZE_T i = 0; i < 8 * PAGE_SIZE; i++)
        fork_block[i] = pattern(5, i);
    ntmem_page_out_all();
    ck_assert_uint_ge(counters().PagedOutPages, 8);
    static death_result r;
    death_run(child_of_a_paged_out_parent, NULL, &r);
    ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status 0x%x\n%s", r.status, r.output);
    ck_assert_uint_ge(counters().PagedOutPages, 8); /* the parent's pages are still out, and intact */
    for (SIZE_T i = 0; i < 8 * PAGE_SIZE; i++)
        ck_assert_int_eq(fork_block[i], pattern(5, i));
    ExFreePoolWithTag(fork_block, TAG);
}
END_TEST

START_TEST(full_page_file_leaves_pages_resident)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/ntmem-test-small-%d", (int)getpid());
    ck_assert_int_eq(ntmem_set_pagefile(path, 16 * PAGE_SIZE), STATUS_SUCCESS);
    PUCHAR p = ExAllocatePoolWithTag(PagedPool, 40 * PAGE_SIZE, TAG);
    for (SIZE_T i = 0; i < 40 * PAGE_SIZE; i++)
        p[i] = pattern(7, i);
    ck_assert_uint_eq(ntmem_page_out_all(), 16);
    NTMEM_PAGER_COUNTERS c = counters();
    ck_assert_uint_eq(c.PageFileSlots, 16);
    ck_assert_uint_eq(c.PageFileSlotsInUse, 16);
    ck_assert_uint_eq(c.PageFileSlotsPeak, 16);
    ck_assert_uint_ge(c.PageFileFull, 1);
    ck_assert_uint_ge(c.ResidentPagedPoolPages, 24);
    for (SIZE_T i = 0; i < 40 * PAGE_SIZE; i++)
        ck_assert_int_eq(p[i], pattern(7, i));
    ck_assert_uint_eq(counters().PageFileSlotsInUse, 0);
    ExFreePoolWithTag(p, TAG);
}
END_TEST

/* ---- the working set ------------------------------------------------------------------------------- */

START_TEST(balance_set_thread_keeps_the_working_set_limit)
{
    const SIZE_T pages = 1024, limit = 128;
    PUCHAR p = ExAllocatePoolWithTag(PagedPool, pages * PAGE_SIZE, TAG);
    for (SIZE_T i = 0; i < pages * PAGE_SIZE; i += 64)
        p[i] = pattern(3, i);
    ck_assert_uint_ge(counters().ResidentPagedPoolPages, pages);
    ntmem_set_paged_pool_working_set(limit * PAGE_SIZE);
    NTMEM_PAGER_COUNTERS c;
    for (int waited = 0; waited < 100; waited++) { /* 10 s at most; two or three passes are enough */
        c = counters();
        if (c.ResidentPageablePages <= limit)
            break;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    ck_assert_msg(c.ResidentPageablePages <= limit, "resident %llu pages", (unsigned long long)c.ResidentPageablePages);
    ck_assert_uint_ge(c.BalancePasses, 1);
    ck_assert_uint_ge(c.PageOuts, pages - limit);
    ck_assert_uint_eq(c.WorkingSetLimitPages, limit);
    ntmem_set_paged_pool_working_set((SIZE_T)-1);
    for (SIZE_T i = 0; i < pages * PAGE_SIZE; i += 64)
        ck_assert_int_eq(p[i], pattern(3, i));
    ck_assert_uint_ge(counters().PageIns, pages - limit);
    ExFreePoolWithTag(p, TAG);
}
END_TEST

START_TEST(trim_target_and_soft_faults)
{
    const SIZE_T pages = 64;
    PUCHAR p = ExAllocatePoolWithTag(PagedPool, pages * PAGE_SIZE, TAG);
    memset(p, 9, pages * PAGE_SIZE);
    SIZE_T resident = counters().ResidentPageablePages;
    SIZE_T written = ntmem_trim_working_set((resident - 10) * PAGE_SIZE);
    ck_assert_uint_eq(written, 10);
    ck_assert_uint_eq(counters().ResidentPageablePages, resident - 10);
    ck_assert_uint_eq(ntmem_trim_working_set((SIZE_T)-1 & ~(SIZE_T)(PAGE_SIZE - 1)), 0);
    for (SIZE_T i = 0; i < pages * PAGE_SIZE; i += PAGE_SIZE)
        ck_assert_int_eq(p[i], 9);
    /* A page the working-set manager aged to transition comes back with a soft fault, no I/O. */
    MI_PAGEABLE_RANGE *pool = &MiPager.Ranges[MI_PAGED_POOL_RANGE];
    pthread_mutex_lock(&MiPager.Lock);
    MiMakeTransitionLocked(pool, (SIZE_T)(p + PAGE_SIZE - pool->Base) >> PAGE_SHIFT);
    pthread_mutex_unlock(&MiPager.Lock);
    NTMEM_PAGER_COUNTERS before = counters();
    ck_assert_uint_eq(before.TransitionPages, 1);
    p[PAGE_SIZE] = 10;
    NTMEM_PAGER_COUNTERS after = counters();
    ck_assert_uint_eq(after.SoftFaults, before.SoftFaults + 1);
    ck_assert_uint_eq(after.PageIns, before.PageIns);
    ck_assert_uint_eq(after.TransitionPages, 0);
    ExFreePoolWithTag(p, TAG);
}
END_TEST

START_TEST(nonpaged_pool_is_never_paged)
{
    PUCHAR np = ExAllocatePoolWithTag(NonPagedPoolNx, 8 * PAGE_SIZE, TAG);
    memset(np, 4, 8 * PAGE_SIZE);
    NTMEM_PAGER_COUNTERS c = counters();
    ck_assert_uint_ge(c.NonPagedLockedPages + c.NonPagedLockFailures, 1);
    ntmem_page_out_all();
    char prot[4];
    maps_protection(np, prot);
    ck_assert_str_eq(prot, "rw-");
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    for (SIZE_T i = 0; i < 8 * PAGE_SIZE; i += PAGE_SIZE)
        np[i]++;
    KeLowerIrql(old);
    ck_assert_int_eq(np[0], 5);
    ExFreePoolWithTag(np, TAG);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--pagefile-child") == 0)
        return pagefile_child_main();
    Suite *s = suite_create("pager");
    TCase *t = tcase_create("pager");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, data_intact_after_page_out_and_in);
    tcase_add_test(t, touch_at_passive_and_apc_level_pages_in);
    tcase_add_test(t, paged_out_touched_at_dispatch_is_stop_0a_or_d1_from_a_driver);
    tcase_add_test(t, pageable_range_data_comes_back_with_its_protection);
    tcase_add_test(t, pageable_code_faults_in_on_execute_and_runs);
    tcase_add_test(t, paged_out_code_executed_at_dispatch_is_stop_0a_execute);
    tcase_add_test(t, locked_pages_are_not_paged_and_stay_usable_at_dispatch);
    tcase_add_test(t, page_file_at_the_configured_path_and_size_removed_at_exit);
    tcase_add_test(t, page_file_from_the_environment);
    tcase_add_test(t, unreadable_page_file_is_stop_7a);
    tcase_add_test(t, fork_with_pages_out_gives_the_child_its_data);
    tcase_add_test(t, full_page_file_leaves_pages_resident);
    tcase_add_test(t, balance_set_thread_keeps_the_working_set_limit);
    tcase_add_test(t, trim_target_and_soft_faults);
    tcase_add_test(t, nonpaged_pool_is_never_paged);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int n = srunner_ntests_failed(r);
    srunner_free(r);
    return n != 0;
}
