/* bench_peer.c - plain malloc/free on the shared workloads; built as bench_jemalloc and bench_tcmalloc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BENCH_PEER_JEMALLOC)
#include <jemalloc/jemalloc.h>

/* jemalloc's estimate of physically resident bytes (active and dirty pages plus metadata). */
static size_t bench_peer_footprint(void)
{
    uint64_t epoch = 1;
    size_t resident = 0, len = sizeof resident;
    mallctl("epoch", NULL, NULL, &epoch, sizeof epoch);
    if (mallctl("stats.resident", &resident, &len, NULL, 0) != 0)
        return 0;
    return resident;
}

static void bench_peer_trim(void)
{
    mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
}

#define BENCH_PEER_NAME jemalloc
#define WL_FOOTPRINT_NAME "stats.resident after thread.tcache.flush"

#elif defined(BENCH_PEER_TCMALLOC)
#include <gperftools/malloc_extension_c.h>

/* Heap bytes tcmalloc holds mapped (its heap minus what it has returned to the OS). */
static size_t bench_peer_footprint(void)
{
    size_t heap = 0, unmapped = 0;
    if (!MallocExtension_GetNumericProperty("generic.heap_size", &heap))
        return 0;
    MallocExtension_GetNumericProperty("tcmalloc.pageheap_unmapped_bytes", &unmapped);
    return heap - unmapped;
}

static void bench_peer_trim(void)
{
    MallocExtension_MarkThreadIdle();  /* returns this thread's cache to the central lists */
}

#define BENCH_PEER_NAME tcmalloc
#define WL_FOOTPRINT_NAME "generic.heap_size - pageheap_unmapped_bytes after MarkThreadIdle"

#else
#error "define BENCH_PEER_JEMALLOC or BENCH_PEER_TCMALLOC"
#endif

#define WL_NAME BENCH_PEER_NAME
#define WL_ALLOC(n) malloc(n)
#define WL_FREE(p) free(p)
#define WL_USABLE(p) malloc_usable_size(p)
#define WL_TRIM() bench_peer_trim()
#define WL_FOOTPRINT() bench_peer_footprint()
#include "workloads.h"

/* ---- control: per-thread free lists, nothing shared (see workloads.h) ------------------------------- */
#define WL_NAME control
#define WL_ALLOC(n) wl_ctl_alloc(n)
#define WL_FREE(p) wl_ctl_free(p)
#define WL_NO_CROSS 1
#define WL_NO_CHURN 1
#include "workloads.h"

int main(int argc, char **argv)
{
    /* Say which library really serves malloc, so a silently dropped -l shows in the output. */
    Dl_info info;
    void *malloc_sym = dlsym(RTLD_DEFAULT, "malloc");
    printf("# bench_%s: process malloc is %s\n", WL_STR(BENCH_PEER_NAME),
           malloc_sym && dladdr(malloc_sym, &info) && info.dli_fname ? info.dli_fname : "unknown");
    const struct wl_allocator *const allocators[] = {&WL_CAT(wl_, BENCH_PEER_NAME), &wl_control};
    return wl_main(argc, argv, allocators, 2);
}
