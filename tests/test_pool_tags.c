/* test_pool_tags.c - SystemPoolTagInformation counters, system information queries, the pool report. */
#define _GNU_SOURCE
#include <check.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <ntddk.h>
#include <ntmem.h>

#include "death.h"
#include "pooltest.h"

#define TAG_A 'AgaT' /* "TagA" in memory, as poolmon shows it */
#define TAG_B 'BgaT'
#define TAG_T 'TgaT'
#define TAG_P 'PgaT'
#define TAG_LEAK 'kaeL'
#define TAG_DONE 'enoD'

static const POOL_TYPE Pools[2] = {NonPagedPool, PagedPool};

static ULONG allocs(const SYSTEM_POOLTAG *t, int pool)
{
    return pool ? t->PagedAllocs : t->NonPagedAllocs;
}
static ULONG frees(const SYSTEM_POOLTAG *t, int pool)
{
    return pool ? t->PagedFrees : t->NonPagedFrees;
}
static SIZE_T used(const SYSTEM_POOLTAG *t, int pool)
{
    return pool ? t->PagedUsed : t->NonPagedUsed;
}

/* ---- the query itself --------------------------------------------------------------------------- */

START_TEST(zero_length_query_reports_the_length_needed)
{
    PVOID keep = ExAllocatePoolWithTag(NonPagedPool, 10, TAG_A); /* at least one tag exists */
    ULONG need = 0xDEAD;
    ck_assert_uint_eq((ULONG)ZwQuerySystemInformation(SystemPoolTagInformation, NULL, 0, &need),
                      (ULONG)STATUS_INFO_LENGTH_MISMATCH);
    ck_assert_uint_ge(need, offsetof(SYSTEM_POOLTAG_INFORMATION, TagInfo) + sizeof(SYSTEM_POOLTAG));
    PSYSTEM_POOLTAG_INFORMATION info = malloc(need);
    ULONG got = 0;
    ck_assert_uint_eq((ULONG)ZwQuerySystemInformation(SystemPoolTagInformation, info, need, &got),
                      (ULONG)STATUS_SUCCESS);
    ck_assert_uint_eq(got, need);
    ck_assert_uint_ge(info->Count, 1);
    ck_assert_uint_eq(need, offsetof(SYSTEM_POOLTAG_INFORMATION, TagInfo) + info->Count * sizeof(SYSTEM_POOLTAG));
    /* one byte short is still a mismatch */
    ck_assert_uint_eq((ULONG)ZwQuerySystemInformation(SystemPoolTagInformation, info, need - 1, &got),
                      (ULONG)STATUS_INFO_LENGTH_MISMATCH);
    /* tags are listed once each */
    for (ULONG i = 0; i < info->Count; i++)
        for (ULONG j = i + 1; j < info->Count; j++)
            ck_assert_uint_ne(info->TagInfo[i].TagUlong, info->TagInfo[j].TagUlong);
    free(info);
    ExFreePoolWithTag(keep, TAG_A);
}
END_TEST

typedef NTSTATUS(NTAPI *query_fn)(SYSTEM_INFORMATION_CLASS, PVOID, ULONG, PULONG);

START_TEST(both_names_are_exported_and_agree)
{
    query_fn zw = (query_fn)dlsym(RTLD_DEFAULT, "ZwQuerySystemInformation");
    query_fn nt = (query_fn)dlsym(RTLD_DEFAULT, "NtQuerySystemInformation");
    ck_assert_ptr_nonnull(zw);
    ck_assert_ptr_nonnull(nt);
    PVOID p = ExAllocatePoolWithTag(PagedPool, 100, TAG_B);
    ULONG need_zw = 0, need_nt = 0;
    ck_assert_uint_eq((ULONG)zw(SystemPoolTagInformation, NULL, 0, &need_zw), (ULONG)STATUS_INFO_LENGTH_MISMATCH);
    ck_assert_uint_eq((ULONG)nt(SystemPoolTagInformation, NULL, 0, &need_nt), (ULONG)STATUS_INFO_LENGTH_MISMATCH);
    ck_assert_uint_eq(need_zw, need_nt);
    PSYSTEM_POOLTAG_INFORMATION a = malloc(need_zw), b = malloc(need_nt);
    ck_assert_uint_eq((ULONG)zw(SystemPoolTagInformation, a, need_zw, NULL), (ULONG)STATUS_SUCCESS);
    ck_assert_uint_eq((ULONG)nt(SystemPoolTagInformation, b, need_nt, NULL), (ULONG)STATUS_SUCCESS);
    ck_assert_uint_eq(a->Count, b->Count);
    for (ULONG i = 0; i < a->Count; i++) { /* field by field: the layout has padding after PagedFrees */
        SYSTEM_POOLTAG *x = &a->TagInfo[i], *y = &b->TagInfo[i];
        ck_assert_uint_eq(x->TagUlong, y->TagUlong);
        ck_assert_uint_eq(x->PagedAllocs, y->PagedAllocs);
        ck_assert_uint_eq(x->PagedFrees, y->PagedFrees);
        ck_assert_uint_eq(x->PagedUsed, y->PagedUsed);
        ck_assert_uint_eq(x->NonPagedAllocs, y->NonPagedAllocs);
        ck_assert_uint_eq(x->NonPagedFrees, y->NonPagedFrees);
        ck_assert_uint_eq(x->NonPagedUsed, y->NonPagedUsed);
    }
    SYSTEM_BASIC_INFORMATION x, y;
    ck_assert_uint_eq((ULONG)zw(SystemBasicInformation, &x, sizeof x, NULL), (ULONG)STATUS_SUCCESS);
    ck_assert_uint_eq((ULONG)nt(SystemBasicInformation, &y, sizeof y, NULL), (ULONG)STATUS_SUCCESS);
    ck_assert_uint_eq(x.PageSize, y.PageSize);
    ck_assert_uint_eq(x.MaximumUserModeAddress, y.MaximumUserModeAddress);
    free(a);
    free(b);
    ExFreePoolWithTag(p, TAG_B);
}
END_TEST

START_TEST(basic_information)
{
    SYSTEM_BASIC_INFORMATION b;
    ULONG len = 0;
    memset(&b, 0xCC, sizeof b);
    ck_assert_uint_eq((ULONG)ZwQuerySystemInformation(SystemBasicInformation, &b, sizeof b, &len),
                      (ULONG)STATUS_SUCCESS);
    ck_assert_uint_eq(len, sizeof b);
    ck_assert_uint_eq(b.PageSize, 4096);
    ck_assert_int_ge(b.NumberOfProcessors, 1);
    ck_assert_uint_eq(b.MaximumUserModeAddress, (ULONG_PTR)MmHighestUserAddress);
    ck_assert_uint_lt(b.MinimumUserModeAddress, b.MaximumUserModeAddress);
    ck_assert_uint_eq(b.AllocationGranularity, 0x10000);
    ck_assert_uint_ne(b.ActiveProcessorsAffinityMask, 0);
    ck_assert_uint_gt(b.NumberOfPhysicalPages, 0);
    /* the length must be exact */
    ck_assert_uint_eq((ULONG)ZwQuerySystemInformation(SystemBasicInformation, &b, sizeof b - 1, &len),
                      (ULONG)STATUS_INFO_LENGTH_MISMATCH);
    ck_assert_uint_eq(len, sizeof b);
    UCHAR bigger[sizeof b + 8];
    ck_assert_uint_eq((ULONG)ZwQuerySystemInformation(SystemBasicInformation, bigger, sizeof bigger, &len),
                      (ULONG)STATUS_INFO_LENGTH_MISMATCH);
    ck_assert_uint_eq((ULONG)ZwQuerySystemInformation(SystemBasicInformation, NULL, 0, &len),
                      (ULONG)STATUS_INFO_LENGTH_MISMATCH);
}
END_TEST

START_TEST(unknown_class_is_invalid_info_class)
{
    UCHAR buf[4096];
    ULONG len;
    ck_assert_uint_eq((ULONG)ZwQuerySystemInformation((SYSTEM_INFORMATION_CLASS)7, buf, sizeof buf, &len),
                      (ULONG)STATUS_INVALID_INFO_CLASS);
    ck_assert_uint_eq((ULONG)NtQuerySystemInformation((SYSTEM_INFORMATION_CLASS)5000, buf, sizeof buf, &len),
                      (ULONG)STATUS_INVALID_INFO_CLASS);
}
END_TEST

/* ---- exact counters ---------------------------------------------------------------------------- */

/* k allocations and j frees of known sizes in one pool: Allocs k, Frees j, Used the live blocks' bytes. */
START_TEST(counters_are_exact)
{
    int pool = _i;
    const ULONG tag = pool ? 'xEgP' : 'xEgN';
    static const SIZE_T sizes[] = {1, 16, 17, 100, 512, 513, 1000, 4048, 4049, PAGE_SIZE, 3 * PAGE_SIZE + 1};
    enum { K = sizeof sizes / sizeof sizes[0] };
    SYSTEM_POOLTAG t;
    ck_assert(!pt_tag_counts(tag, &t));
    PVOID p[K];
    SIZE_T bytes[K], total = 0;
    for (int i = 0; i < K; i++) {
        p[i] = ExAllocatePoolWithTag(Pools[pool], sizes[i], tag);
        bytes[i] = pt_charged_bytes(p[i], sizes[i]);
        if (sizes[i] > 4048)
            ck_assert_uint_eq(bytes[i], ROUND_TO_PAGES(sizes[i]));
        else
            ck_assert(bytes[i] == pt_small_block_bytes(sizes[i]) || bytes[i] == pt_small_block_bytes(sizes[i]) + 16);
        total += bytes[i];
        ck_assert(pt_tag_counts(tag, &t));
        ck_assert_uint_eq(allocs(&t, pool), (ULONG)i + 1);
        ck_assert_uint_eq(frees(&t, pool), 0);
        ck_assert_uint_eq(used(&t, pool), total);
        ck_assert_uint_eq(allocs(&t, !pool), 0);
        ck_assert_uint_eq(used(&t, !pool), 0);
    }
    int j = 0;
    for (int i = 0; i < K; i += 2, j++) {
        ExFreePoolWithTag(p[i], tag);
        total -= bytes[i];
    }
    pt_tag_counts(tag, &t);
    ck_assert_uint_eq(allocs(&t, pool), K);
    ck_assert_uint_eq(frees(&t, pool), (ULONG)j);
    ck_assert_uint_eq(used(&t, pool), total);
    for (int i = 1; i < K; i += 2)
        ExFreePool(p[i]);
    pt_tag_counts(tag, &t);
    ck_assert_uint_eq(frees(&t, pool), K);
    ck_assert_uint_eq(used(&t, pool), 0);
    /* the expected sizes, independently of ExQueryPoolBlockSize, for sizes that never get an extra unit */
    PVOID a = ExAllocatePoolWithTag(Pools[pool], 1, tag), b = ExAllocatePoolWithTag(Pools[pool], 5000, tag);
    pt_tag_counts(tag, &t);
    ck_assert(used(&t, pool) == 32 + 2 * PAGE_SIZE || used(&t, pool) == 48 + 2 * PAGE_SIZE);
    ExFreePoolWithTag(a, tag);
    ExFreePoolWithTag(b, tag);
}
END_TEST

START_TEST(both_pools_counted_separately_under_one_tag)
{
    SYSTEM_POOLTAG t;
    PVOID n1 = ExAllocatePoolWithTag(NonPagedPool, 100, TAG_A);
    PVOID n2 = ExAllocatePool2(POOL_FLAG_NON_PAGED, 2 * PAGE_SIZE, TAG_A);
    PVOID p1 = ExAllocatePoolWithTag(PagedPool, 200, TAG_A);
    pt_tag_counts(TAG_A, &t);
    ck_assert_uint_eq(t.NonPagedAllocs, 2);
    ck_assert_uint_eq(t.PagedAllocs, 1);
    ck_assert_uint_eq(t.NonPagedUsed, pt_charged_bytes(n1, 100) + 2 * PAGE_SIZE);
    ck_assert_uint_eq(t.PagedUsed, pt_charged_bytes(p1, 200));
    ck_assert(memcmp(t.Tag, "TagA", 4) == 0);
    ExFreePoolWithTag(n1, TAG_A);
    ExFreePoolWithTag(n2, TAG_A);
    ExFreePoolWithTag(p1, TAG_A);
    pt_tag_counts(TAG_A, &t);
    ck_assert_uint_eq(t.NonPagedFrees, 2);
    ck_assert_uint_eq(t.PagedFrees, 1);
    ck_assert_uint_eq(t.NonPagedUsed + t.PagedUsed, 0);
}
END_TEST

START_TEST(protected_tags_count_without_the_bit)
{
    SYSTEM_POOLTAG t, withbit;
    PVOID a = ExAllocatePoolWithTag(NonPagedPool, 64, TAG_P | PROTECTED_POOL);
    PVOID b = ExAllocatePoolWithTag(NonPagedPool, 64, TAG_P);
    PVOID c = ExAllocatePoolWithTag(PagedPool, 3 * PAGE_SIZE, TAG_P | PROTECTED_POOL);
    ck_assert(pt_tag_counts(TAG_P, &t));
    ck_assert(!pt_tag_counts(TAG_P | PROTECTED_POOL, &withbit));
    ck_assert_uint_eq(t.NonPagedAllocs, 2);
    ck_assert_uint_eq(t.PagedAllocs, 1);
    ck_assert_uint_eq(t.PagedUsed, 3 * PAGE_SIZE);
    ExFreePoolWithTag(a, TAG_P | PROTECTED_POOL);
    ExFreePoolWithTag(b, TAG_P);
    ExFreePoolWithTag(c, TAG_P | PROTECTED_POOL);
    pt_tag_counts(TAG_P, &t);
    ck_assert_uint_eq(t.NonPagedFrees, 2);
    ck_assert_uint_eq(t.PagedFrees, 1);
    ck_assert_uint_eq(t.NonPagedUsed + t.PagedUsed, 0);
}
END_TEST

/* ---- other threads ------------------------------------------------------------------------------ */

typedef struct thread_job {
    int count;
    PVOID blocks[64];
    SIZE_T charged;
    int free_half;       /* the thread frees every other block itself */
    int wait;            /* stay alive until released */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int ready, release;
} thread_job;

static void *allocating_thread(void *arg)
{
    thread_job *j = arg;
    for (int i = 0; i < j->count; i++) {
        SIZE_T n = 24 + (SIZE_T)i * 150;
        j->blocks[i] = ExAllocatePoolWithTag(Pools[i & 1], n, TAG_T);
        j->charged += pt_charged_bytes(j->blocks[i], n);
    }
    if (j->free_half) {
        for (int i = 0; i < j->count; i += 2) {
            j->charged -= pt_charged_bytes(j->blocks[i], 24 + (SIZE_T)i * 150);
            ExFreePoolWithTag(j->blocks[i], TAG_T);
            j->blocks[i] = NULL;
        }
    }
    pthread_mutex_lock(&j->lock);
    j->ready = 1;
    pthread_cond_broadcast(&j->cond);
    while (j->wait && !j->release)
        pthread_cond_wait(&j->cond, &j->lock);
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

static void total(const SYSTEM_POOLTAG *t, ULONG *a, ULONG *f, SIZE_T *u)
{
    *a = t->NonPagedAllocs + t->PagedAllocs;
    *f = t->NonPagedFrees + t->PagedFrees;
    *u = t->NonPagedUsed + t->PagedUsed;
}

START_TEST(counts_of_exited_and_live_threads_are_included)
{
    SYSTEM_POOLTAG t;
    ULONG a, f;
    SIZE_T u;
    static thread_job exited, alive;
    pthread_t th;

    /* a thread that allocates 20, frees 10 and exits */
    memset(&exited, 0, sizeof exited);
    pthread_mutex_init(&exited.lock, NULL);
    pthread_cond_init(&exited.cond, NULL);
    exited.count = 20;
    exited.free_half = 1;
    pthread_create(&th, NULL, allocating_thread, &exited);
    pthread_join(th, NULL);
    pt_tag_counts(TAG_T, &t);
    total(&t, &a, &f, &u);
    ck_assert_uint_eq(a, 20);
    ck_assert_uint_eq(f, 10);
    ck_assert_uint_eq(u, exited.charged);
    ck_assert_uint_eq(t.NonPagedAllocs, 10);
    ck_assert_uint_eq(t.PagedAllocs, 10);

    /* a thread that allocates 30 and stays alive while we look */
    memset(&alive, 0, sizeof alive);
    pthread_mutex_init(&alive.lock, NULL);
    pthread_cond_init(&alive.cond, NULL);
    alive.count = 30;
    alive.wait = 1;
    pthread_create(&th, NULL, allocating_thread, &alive);
    pthread_mutex_lock(&alive.lock);
    while (!alive.ready)
        pthread_cond_wait(&alive.cond, &alive.lock);
    pthread_mutex_unlock(&alive.lock);
    pt_tag_counts(TAG_T, &t);
    total(&t, &a, &f, &u);
    ck_assert_uint_eq(a, 50);
    ck_assert_uint_eq(f, 10);
    ck_assert_uint_eq(u, exited.charged + alive.charged);

    /* blocks freed here, allocated there: the free counts here, the totals still balance */
    for (int i = 0; i < 30; i++)
        ExFreePoolWithTag(alive.blocks[i], TAG_T);
    for (int i = 1; i < 20; i += 2)
        ExFreePoolWithTag(exited.blocks[i], TAG_T);
    pt_tag_counts(TAG_T, &t);
    total(&t, &a, &f, &u);
    ck_assert_uint_eq(a, 50);
    ck_assert_uint_eq(f, 50);
    ck_assert_uint_eq(u, 0);

    pthread_mutex_lock(&alive.lock);
    alive.release = 1;
    pthread_cond_broadcast(&alive.cond);
    pthread_mutex_unlock(&alive.lock);
    pthread_join(th, NULL);
    /* retiring the thread changes nothing */
    pt_tag_counts(TAG_T, &t);
    total(&t, &a, &f, &u);
    ck_assert_uint_eq(a, 50);
    ck_assert_uint_eq(f, 50);
    ck_assert_uint_eq(u, 0);
    ck_assert_uint_eq(t.NonPagedAllocs, t.NonPagedFrees);
    ck_assert_uint_eq(t.PagedAllocs, t.PagedFrees);
}
END_TEST

/* ---- many tags ----------------------------------------------------------------------------------- */

enum { MANY = 600 };

static ULONG many_tag(int i)
{
    return 'Mt00' + (ULONG)(i / 26) * 256 + (ULONG)(i % 26) + 0x10000 * (ULONG)(i % 7);
}

/* Allocates once with each of MANY tags in this thread; returns the first tag whose counters are off. */
static ULONG check_many_tags(int rounds)
{
    PVOID *p = malloc(MANY * sizeof *p);
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < MANY; i++) {
            p[i] = ExAllocatePoolWithTag(Pools[i & 1], 40, many_tag(i));
            if (r + 1 < rounds)
                ExFreePoolWithTag(p[i], many_tag(i));
        }
    PSYSTEM_POOLTAG_INFORMATION info = pt_query_tags();
    ULONG bad = 0;
    for (int i = 0; i < MANY && bad == 0; i++) {
        ULONG tag = many_tag(i);
        int found = 0;
        for (ULONG k = 0; k < info->Count; k++) {
            SYSTEM_POOLTAG *t = &info->TagInfo[k];
            if (t->TagUlong != tag)
                continue;
            found++;
            int pool = i & 1;
            if (allocs(t, pool) != (ULONG)rounds || frees(t, pool) != (ULONG)rounds - 1 || allocs(t, !pool) != 0 ||
                used(t, pool) != pt_charged_bytes(p[i], 40))
                bad = tag;
        }
        if (found != 1)
            bad = tag;
    }
    free(info);
    for (int i = 0; i < MANY; i++)
        ExFreePoolWithTag(p[i], many_tag(i));
    free(p);
    return bad;
}

/* More tags than a thread's table holds: the overflow is counted exactly too. */
START_TEST(many_distinct_tags_are_each_counted_exactly)
{
    ULONG bad = check_many_tags(3);
    ck_assert_msg(bad == 0, "tag 0x%08X miscounted", bad);
}
END_TEST

static void protected_only_tag_then_many(void *arg)
{
    (void)arg;
    PVOID p = ExAllocatePoolWithTag(NonPagedPool, 40, PROTECTED_POOL); /* the tag without the bit is 0 */
    ULONG bad = check_many_tags(1);
    if (bad != 0) {
        fprintf(stderr, "MISCOUNTED 0x%08X\n", bad);
        _exit(3);
    }
    ExFreePoolWithTag(p, PROTECTED_POOL);
    _exit(0);
}

/*
 * A tag that is only PROTECTED_POOL (0x80000000) is 0 once the bit is stripped. Whatever the pool does
 * with it (refusing it as a zero tag, 0xC2 0x9B, would be fair), it must not corrupt other tags'
 * counters.
 */
START_TEST(a_protected_only_tag_does_not_disturb_other_tags)
{
    static death_result r;
    death_run(protected_only_tag_then_many, NULL, &r);
    if (r.parsed) {
        ck_assert_msg(r.code == BAD_POOL_CALLER && r.p[0] == 0x9B, "%s", r.output);
    } else {
        ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status 0x%x: %s", r.status, r.output);
    }
}
END_TEST

/* ---- the report ---------------------------------------------------------------------------------- */

static char *read_all(int fd)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t n;
    while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (cap - len < 4096)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    return buf;
}

/* Finds the row of tag (as shown) and type ("Nonp" or "Paged"); returns its numbers. */
static int report_row(const char *text, const char *name, const char *type, unsigned long long v[5])
{
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        char n[16], t[16];
        if (sscanf(line, "%15s %15s %llu %llu %llu %llu %llu", n, t, &v[0], &v[1], &v[2], &v[3], &v[4]) == 7 &&
            strcmp(n, name) == 0 && strcmp(t, type) == 0)
            return 1;
    }
    return 0;
}

START_TEST(report_lists_tags_and_leaks)
{
    PVOID leak = ExAllocatePoolWithTag(PagedPool, 100, TAG_LEAK);
    PVOID leak2 = ExAllocatePoolWithTag(PagedPool, 3 * PAGE_SIZE, TAG_LEAK);
    SIZE_T leaked = pt_charged_bytes(leak, 100) + 3 * PAGE_SIZE;
    PVOID done = ExAllocatePoolWithTag(NonPagedPool, 50, TAG_DONE);
    ExFreePoolWithTag(done, TAG_DONE);

    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    ntmem_print_pool_report(fileno(f));
    fflush(f);
    lseek(fileno(f), 0, SEEK_SET);
    char *text = read_all(fileno(f));
    fclose(f);

    const char *header = text;
    ck_assert_msg(strstr(header, "Tag") && strstr(header, "Allocs") && strstr(header, "Frees") &&
                      strstr(header, "Diff") && strstr(header, "Bytes"),
                  "%s", text);
    ck_assert_msg(strstr(text, "Tag") < strstr(text, "Leak"), "%s", text);
    unsigned long long v[5];
    ck_assert_msg(report_row(text, "Leak", "Paged", v), "%s", text);
    ck_assert_uint_eq(v[0], 2);
    ck_assert_uint_eq(v[1], 0);
    ck_assert_uint_eq(v[2], 2);
    ck_assert_uint_eq(v[3], leaked);
    ck_assert_msg(report_row(text, "Done", "Nonp", v), "%s", text);
    ck_assert_uint_eq(v[0], 1);
    ck_assert_uint_eq(v[1], 1);
    ck_assert_uint_eq(v[2], 0);
    ck_assert_uint_eq(v[3], 0);
    const char *holding = strstr(text, "Tags still holding memory");
    ck_assert_msg(holding != NULL, "%s", text);
    ck_assert_msg(strstr(holding, "Leak") != NULL, "%s", text);
    ck_assert_msg(strstr(holding, "Done") == NULL, "%s", text);
    free(text);

    /* once everything is freed, nothing is listed as held */
    ExFreePoolWithTag(leak, TAG_LEAK);
    ExFreePoolWithTag(leak2, TAG_LEAK);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    ntmem_print_pool_report(fds[1]);
    close(fds[1]);
    text = read_all(fds[0]);
    close(fds[0]);
    ck_assert_msg(report_row(text, "Leak", "Paged", v), "%s", text);
    ck_assert_uint_eq(v[2], 0);
    ck_assert_msg(strstr(text, "Tags still holding memory") == NULL, "%s", text);
    free(text);
}
END_TEST

/* The test binary run again with NTMEM_POOL_REPORT=1 leaks one block and exits: stderr has the table. */
START_TEST(report_at_exit_with_ntmem_pool_report)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        setenv("NTMEM_POOL_REPORT", "1", 1);
        execl("/proc/self/exe", "test_pool_tags", "--leak-and-exit", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char *text = read_all(fds[0]);
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x\n%s", status, text);
    ck_assert_msg(strstr(text, "Allocs") && strstr(text, "Frees") && strstr(text, "Bytes"), "%s", text);
    unsigned long long v[5];
    ck_assert_msg(report_row(text, "Leak", "Nonp", v), "%s", text);
    ck_assert_uint_eq(v[0], 3);
    ck_assert_uint_eq(v[1], 2);
    ck_assert_msg(strstr(text, "Tags still holding memory") && strstr(text, "'Leak'"), "%s", text);
    free(text);

    /* without the variable, nothing is printed */
    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        unsetenv("NTMEM_POOL_REPORT");
        execl("/proc/self/exe", "test_pool_tags", "--leak-and-exit", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    text = read_all(fds[0]);
    close(fds[0]);
    waitpid(pid, &status, 0);
    ck_assert_msg(strstr(text, "Allocs") == NULL, "%s", text);
    free(text);
}
END_TEST

static Suite *pool_tags_suite(void)
{
    Suite *s = suite_create("pool_tags");
    TCase *t = tcase_create("query");
    tcase_add_test(t, zero_length_query_reports_the_length_needed);
    tcase_add_test(t, both_names_are_exported_and_agree);
    tcase_add_test(t, basic_information);
    tcase_add_test(t, unknown_class_is_invalid_info_class);
    suite_add_tcase(s, t);

    t = tcase_create("counters");
    tcase_add_loop_test(t, counters_are_exact, 0, 2);
    tcase_add_test(t, both_pools_counted_separately_under_one_tag);
    tcase_add_test(t, protected_tags_count_without_the_bit);
    tcase_add_test(t, counts_of_exited_and_live_threads_are_included);
    tcase_add_test(t, many_distinct_tags_are_each_counted_exactly);
    tcase_add_test(t, a_protected_only_tag_does_not_disturb_other_tags);
    suite_add_tcase(s, t);

    t = tcase_create("report");
    tcase_add_test(t, report_lists_tags_and_leaks);
    tcase_add_test(t, report_at_exit_with_ntmem_pool_report);
    suite_add_tcase(s, t);
    return s;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--leak-and-exit") == 0) {
        for (int i = 0; i < 3; i++) {
            PVOID p = ExAllocatePoolWithTag(NonPagedPool, 64, TAG_LEAK);
            if (i < 2)
                ExFreePoolWithTag(p, TAG_LEAK);
        }
        return 0;
    }
    SRunner *r = srunner_create(pool_tags_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
