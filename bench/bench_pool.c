/* bench_pool.c - ntmem's pool against mimalloc and glibc malloc, in one binary, on identical workloads. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef BENCH_NO_NTMEM
#include <wdm.h>
#include <ntmem.h>
#endif
#ifdef BENCH_HAVE_MIMALLOC
#include <mimalloc.h>
#endif

#include "workloads.h"

/* ---- glibc ---------------------------------------------------------------------------------------- */
/*
 * Linking libmimalloc makes its malloc/free the process's malloc/free; it also defines __libc_malloc
 * and __libc_free, so even those names bind to mimalloc here. glibc's own functions are therefore
 * looked up inside libc.so.6 itself (dlsym on its handle searches that object first) and called
 * through pointers; main() checks where they live before anything runs.
 */
static void *(*bench_libc_malloc)(size_t);
static void (*bench_libc_free)(void *);
static size_t (*bench_libc_usable_size)(void *);
static struct mallinfo2 (*bench_libc_mallinfo2)(void);

static void *bench_libc_symbol(void *libc, const char *name)
{
    void *sym = dlsym(libc, name);
    Dl_info info;
    if (sym == NULL || dladdr(sym, &info) == 0 || info.dli_fname == NULL ||
        strstr(info.dli_fname, "libc.so") == NULL) {
        fprintf(stderr, "bench_pool: cannot find glibc's %s inside libc.so.6\n", name);
        exit(2);
    }
    return sym;
}

static void bench_resolve_glibc(void)
{
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    if (libc == NULL) {
        fprintf(stderr, "bench_pool: libc.so.6 is not loaded: %s\n", dlerror());
        exit(2);
    }
    *(void **)&bench_libc_malloc = bench_libc_symbol(libc, "__libc_malloc");
    *(void **)&bench_libc_free = bench_libc_symbol(libc, "__libc_free");
    *(void **)&bench_libc_usable_size = bench_libc_symbol(libc, "malloc_usable_size");
    *(void **)&bench_libc_mallinfo2 = bench_libc_symbol(libc, "mallinfo2");
    /* With malloc taken over, nothing else initialises glibc's allocator on the main thread. glibc
     * treats its first caller as the main thread and attaches it to main_arena uncounted; if that
     * were a worker, its exit would break the arena's thread count and glibc would abort
     * ("a->attached_threads > 0" in __malloc_arena_thread_freeres). So the main thread goes first. */
    bench_libc_free(bench_libc_malloc(1));
}

/* Bytes in glibc's arenas, used and free: what the process holds for these blocks. */
static size_t bench_glibc_arena(void)
{
    struct mallinfo2 m = bench_libc_mallinfo2();
    return m.uordblks + m.fordblks;
}

#define WL_NAME glibc
#define WL_ALLOC(n) bench_libc_malloc(n)
#define WL_FREE(p) bench_libc_free(p)
#define WL_USABLE(p) bench_libc_usable_size(p)
#define WL_FOOTPRINT() bench_glibc_arena()
#define WL_FOOTPRINT_NAME "mallinfo2 uordblks+fordblks"
#include "workloads.h"

/* ---- mimalloc ------------------------------------------------------------------------------------- */
#ifdef BENCH_HAVE_MIMALLOC
/* mimalloc's own commit figure moves in whole 32 MiB arenas, too coarse to say anything here, so its
 * footprint is the growth of the process's resident set across the churn (WL_FOOTPRINT_DELTA); the
 * harness's arrays are touched before the first reading. */
static size_t bench_rss_bytes(void)
{
    unsigned long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%lu %lu", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

#define WL_NAME mimalloc
#define WL_ALLOC(n) mi_malloc(n)
#define WL_FREE(p) mi_free(p)
#define WL_USABLE(p) mi_usable_size(p)
#define WL_TRIM() mi_collect(false)
#define WL_FOOTPRINT() bench_rss_bytes()
#define WL_FOOTPRINT_NAME "growth of process RSS, after mi_collect(false)"
#define WL_FOOTPRINT_DELTA 1
#include "workloads.h"
#endif

/* ---- ntmem ---------------------------------------------------------------------------------------- */
#ifndef BENCH_NO_NTMEM
#define BENCH_TAG 'hcnB'              /* shows as "Bnch" in poolmon (little-endian) */
#define BENCH_POOL_GRANULE 16u        /* x64 pool block granularity */
#define BENCH_POOL_HEADER 16u         /* sizeof(POOL_HEADER) on x64 */

static size_t bench_ntmem_used(void)
{
    NTMEM_POOL_USAGE u;
    if (!NT_SUCCESS(ntmem_query_pool_usage(NonPagedPool, &u)))
        return 0;
    return u.UsedBytes;
}

static size_t bench_ntmem_committed(void)
{
    NTMEM_POOL_USAGE u;
    if (!NT_SUCCESS(ntmem_query_pool_usage(NonPagedPool, &u)))
        return 0;
    return u.CommittedBytes;
}

static size_t bench_ntmem_usable(void *p)
{
    BOOLEAN quota;
    return ExQueryPoolBlockSize(p, &quota);
}

/*
 * Header overhead: for every request size 16..256, UsedBytes (headers included) must grow by exactly
 * the rounded block, i.e. round_up(n, 16) + the 16-byte POOL_HEADER. Reports the header so derived
 * (UsedBytes delta - round_up(n, 16)) and lists the sizes where the delta is not the expected one.
 */
static void bench_ntmem_header(void)
{
    long header = -2;                 /* -2: none seen yet, -1: differs between sizes */
    unsigned mismatches = 0;
    for (size_t n = WL_MIN_SIZE; n <= WL_MAX_SIZE; n++) {
        size_t before = bench_ntmem_used();
        void *p = ExAllocatePoolWithTag(NonPagedPool, n, BENCH_TAG);
        size_t after = bench_ntmem_used();
        if (p == NULL)
            wl_oom("ntmem", n);
        size_t usable = bench_ntmem_usable(p);
        ExFreePoolWithTag(p, BENCH_TAG);
        size_t rounded = (n + BENCH_POOL_GRANULE - 1) & ~(size_t)(BENCH_POOL_GRANULE - 1);
        size_t delta = after - before;
        long h = (long)delta - (long)rounded;
        header = header == -2 ? h : header == h ? h : -1;
        if (delta != rounded + BENCH_POOL_HEADER) {
            mismatches++;
            printf("header-detail ntmem size=%zu used_delta=%zu expected=%zu usable=%zu MISMATCH\n", n,
                   delta, rounded + BENCH_POOL_HEADER, usable);
        } else if (n % 16 == 0 || n == WL_MIN_SIZE + 1) {
            printf("header-detail ntmem size=%zu used_delta=%zu usable=%zu slack=%zu header=%ld\n", n,
                   delta, usable, usable - n, h);
        }
    }
    printf("header ntmem %ld B\n", header);
    printf("header-check ntmem %s: UsedBytes grew by round_up(n,16)+16 for %u of %d sizes\n",
           mismatches ? "MISMATCH" : "ok", (unsigned)(WL_MAX_SIZE - WL_MIN_SIZE + 1) - mismatches,
           WL_MAX_SIZE - WL_MIN_SIZE + 1);
}

#define WL_NAME ntmem
#define WL_ALLOC(n) ExAllocatePoolWithTag(NonPagedPool, (n), BENCH_TAG)
#define WL_FREE(p) ExFreePoolWithTag((p), BENCH_TAG)
#define WL_USABLE(p) bench_ntmem_usable(p)
#define WL_TRIM() ntmem_flush_thread_pool_cache()
#define WL_FOOTPRINT() bench_ntmem_committed()
#define WL_FOOTPRINT_NAME "NonPagedPool CommittedBytes after ntmem_flush_thread_pool_cache()"
#define WL_MEMORY_EXTRA bench_ntmem_header
#include "workloads.h"
#endif

/* ---- control: per-thread free lists, nothing shared (see workloads.h) ------------------------------- */
#define WL_NAME control
#define WL_ALLOC(n) wl_ctl_alloc(n)
#define WL_FREE(p) wl_ctl_free(p)
#define WL_NO_CROSS 1
#define WL_NO_CHURN 1
#include "workloads.h"

int main(int argc, char **argv)
{
    bench_resolve_glibc();
    const struct wl_allocator *const allocators[] = {
#ifndef BENCH_NO_NTMEM
        &wl_ntmem,
#endif
#ifdef BENCH_HAVE_MIMALLOC
        &wl_mimalloc,
#endif
        &wl_glibc,
        &wl_control,
    };
    Dl_info info;
    void *malloc_sym = dlsym(RTLD_DEFAULT, "malloc");
    printf("# bench_pool: process malloc is %s\n",
           malloc_sym && dladdr(malloc_sym, &info) && info.dli_fname ? info.dli_fname : "unknown");
    return wl_main(argc, argv, allocators, (int)(sizeof allocators / sizeof allocators[0]));
}
