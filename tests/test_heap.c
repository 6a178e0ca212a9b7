/* test_heap.c - the Win32 heap (heapapi.h) and its Rtl forms: the process heap and GetProcessHeaps,
 * HeapCreate/HeapDestroy (growable and fixed heaps, what VirtualQuery and the commit charge see),
 * HeapAlloc/HeapReAlloc/HeapFree/HeapSize (alignment, zero-size blocks, HEAP_ZERO_MEMORY, failures,
 * HEAP_GENERATE_EXCEPTIONS, big blocks in their own regions, HEAP_REALLOC_IN_PLACE_ONLY),
 * HeapValidate, HeapCompact, HeapLock/HeapUnlock (other threads wait), HeapWalk, HeapSummary,
 * Heap(Query|Set)Information, blocks freed on other threads, and a random reference-model test. */
#define _GNU_SOURCE
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ntmem.h>
#include <ntddk.h>
#include <windows.h>

#define KB ((SIZE_T)1024)
#define MB (1024 * KB)
#define BIG_THRESHOLD ((SIZE_T)0x7F000) /* the VirtualMemoryThreshold: 508 KB */
#define IS_ALIGNED16(p) ((((ULONG_PTR)(p)) & 15) == 0)
#define NO_SIZE ((SIZE_T)-1)

/* ---- helpers ------------------------------------------------------------------------------------ */

/* Pseudo-random bytes: a block filled with seed s holds noise[s * 256 ...], so blocks with different
 * seeds differ everywhere and a copy to the wrong offset is noticed. */
#define NOISE_SIZE (MB + 64 * KB)
static UCHAR noise[NOISE_SIZE];

static void make_noise(void)
{
    static int made;
    if (made)
        return;
    ULONG x = 2463534242u;
    for (SIZE_T i = 0; i < NOISE_SIZE; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise[i] = (UCHAR)(x >> 11);
    }
    made = 1;
}

static const UCHAR *pattern(UCHAR seed)
{
    make_noise();
    return noise + (SIZE_T)seed * 256;
}

static void fill(PVOID p, SIZE_T n, UCHAR seed)
{
    ck_assert_uint_le(n, MB);
    memcpy(p, pattern(seed), n);
}

/* The first byte of p[0..n) that is not seed's pattern, or NO_SIZE. */
static SIZE_T mismatch(const void *p, SIZE_T n, UCHAR seed)
{
    const UCHAR *want = pattern(seed);
    if (memcmp(p, want, n) == 0)
        return NO_SIZE;
    for (SIZE_T i = 0; i < n; i++)
        if (((const UCHAR *)p)[i] != want[i])
            return i;
    return NO_SIZE;
}

#define ck_assert_pattern(p, n, seed)                                                                  \
    do {                                                                                               \
        SIZE_T at_ = mismatch((p), (n), (seed));                                                       \
        ck_assert_msg(at_ == NO_SIZE, "block %p: byte %zu of %zu is 0x%02x, expected 0x%02x", (void *)(p), \
                      at_, (SIZE_T)(n), ((const UCHAR *)(p))[at_ == NO_SIZE ? 0 : at_],               \
                      pattern(seed)[at_ == NO_SIZE ? 0 : at_]);                                        \
    } while (0)

/* The first nonzero byte of p[0..n), or NO_SIZE. */
static SIZE_T nonzero_at(const void *p, SIZE_T n)
{
    const UCHAR *b = p;
    for (SIZE_T i = 0; i < n; i++)
        if (b[i] != 0)
            return i;
    return NO_SIZE;
}

#define ck_assert_zero(p, n)                                                                           \
    do {                                                                                               \
        SIZE_T at_ = nonzero_at((p), (n));                                                             \
        ck_assert_msg(at_ == NO_SIZE, "block %p: byte %zu of %zu is 0x%02x, expected 0", (void *)(p), at_, \
                      (SIZE_T)(n), ((const UCHAR *)(p))[at_ == NO_SIZE ? 0 : at_]);                    \
    } while (0)

static MEMORY_BASIC_INFORMATION query(const void *p)
{
    MEMORY_BASIC_INFORMATION info;
    memset(&info, 0xCC, sizeof info);
    ck_assert_uint_eq(VirtualQuery(p, &info, sizeof info), sizeof info);
    return info;
}

/* Walks the reservation that begins at base: its total size, and how much of it is committed. */
static SIZE_T reservation_size(PVOID base, SIZE_T *committed)
{
    SIZE_T total = 0, com = 0;
    PUCHAR a = base;
    for (;;) {
        MEMORY_BASIC_INFORMATION m;
        if (VirtualQuery(a, &m, sizeof m) != sizeof m || m.State == MEM_FREE || m.AllocationBase != base)
            break;
        total += m.RegionSize;
        if (m.State == MEM_COMMIT)
            com += m.RegionSize;
        a += m.RegionSize;
    }
    if (committed != NULL)
        *committed = com;
    return total;
}

static ULONGLONG avail_commit(void)
{
    MEMORYSTATUSEX m;
    memset(&m, 0, sizeof m);
    m.dwLength = sizeof m;
    ck_assert(GlobalMemoryStatusEx(&m));
    return m.ullAvailPageFile;
}

static HANDLE new_heap(DWORD flags, SIZE_T initial, SIZE_T max)
{
    HANDLE h = HeapCreate(flags, initial, max);
    ck_assert_msg(h != NULL, "HeapCreate(0x%x, %zu, %zu) failed, error %u", flags, initial, max, GetLastError());
    return h;
}

/* What a HeapWalk over a heap found about a set of blocks. */
typedef struct walk_result {
    int entries, regions, busy;
    int seen[64];         /* busy entries whose lpData was blocks[i] */
    int wrong_size[64];   /* ... with cbData other than sizes[i] */
    int freed_busy;       /* busy entries whose lpData is one of the freed pointers */
    DWORD end_error;      /* GetLastError() after the FALSE that ends the walk */
    int ended;            /* the walk ended (not cut by the loop guard) */
} walk_result;

static void walk_heap(HANDLE h, PVOID const *blocks, const SIZE_T *sizes, int count, PVOID const *freed,
                      int nfreed, walk_result *w)
{
    ck_assert_int_le(count, 64);
    memset(w, 0, sizeof *w);
    PROCESS_HEAP_ENTRY e;
    memset(&e, 0, sizeof e);
    e.lpData = NULL;
    SetLastError(0xDEAD);
    for (;;) {
        if (!HeapWalk(h, &e)) {
            w->ended = 1;
            w->end_error = GetLastError();
            break;
        }
        if (++w->entries > 4000000)
            break;
        if (e.wFlags & PROCESS_HEAP_REGION)
            w->regions++;
        if (e.wFlags & PROCESS_HEAP_ENTRY_BUSY) {
            w->busy++;
            for (int i = 0; i < count; i++)
                if (e.lpData == blocks[i]) {
                    w->seen[i]++;
                    if (e.cbData != sizes[i])
                        w->wrong_size[i]++;
                }
            for (int i = 0; i < nfreed; i++)
                if (e.lpData == freed[i])
                    w->freed_busy++;
        }
    }
}

/* ---- the process heap and GetProcessHeaps --------------------------------------------------------- */

START_TEST(the_process_heap_exists_from_the_start_and_cannot_be_destroyed)
{
    HANDLE h = GetProcessHeap();
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_eq(GetProcessHeap(), h);
    MEMORY_BASIC_INFORMATION m = query(h);
    ck_assert_uint_eq(m.State, MEM_COMMIT);
    ck_assert_uint_eq(m.Type, MEM_PRIVATE);
    ck_assert(HeapValidate(h, 0, NULL));

    PUCHAR p = HeapAlloc(h, 0, 100);
    ck_assert_ptr_nonnull(p);
    ck_assert(IS_ALIGNED16(p));
    fill(p, 100, 7);
    ck_assert_uint_eq(HeapSize(h, 0, p), 100);

    ck_assert(!HeapDestroy(h));
    /* still there and still working */
    ck_assert_pattern(p, 100, 7);
    ck_assert(HeapValidate(h, 0, NULL));
    PUCHAR q = HeapAlloc(h, 0, 5000);
    ck_assert_ptr_nonnull(q);
    fill(q, 5000, 8);
    ck_assert(HeapFree(h, 0, p));
    ck_assert_pattern(q, 5000, 8);
    ck_assert(HeapFree(h, 0, q));
    ck_assert(HeapValidate(h, 0, NULL));
}
END_TEST

#define SENTINEL ((HANDLE)(ULONG_PTR)0x5A5A5A5A5A5A5A5Aull)

static int count_in(HANDLE const *list, DWORD n, HANDLE h)
{
    int found = 0;
    for (DWORD i = 0; i < n; i++)
        found += list[i] == h;
    return found;
}

START_TEST(get_process_heaps_lists_the_process_heap_first_then_every_private_heap)
{
    HANDLE list[64];
    for (int i = 0; i < 64; i++)
        list[i] = SENTINEL;
    DWORD n0 = GetProcessHeaps(64, list);
    ck_assert_uint_ge(n0, 1);
    ck_assert_uint_le(n0, 48);
    ck_assert_ptr_eq(list[0], GetProcessHeap());
    ck_assert_ptr_eq(list[n0], SENTINEL);

    HANDLE mine[3] = {new_heap(0, 0, 0), new_heap(HEAP_NO_SERIALIZE, 0, 0), new_heap(0, 0, MB)};
    for (int i = 0; i < 64; i++)
        list[i] = SENTINEL;
    DWORD n = GetProcessHeaps(64, list);
    ck_assert_uint_eq(n, n0 + 3);
    ck_assert_ptr_eq(list[0], GetProcessHeap());
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(count_in(list, n, mine[i]), 1);
    ck_assert_ptr_eq(list[n], SENTINEL); /* nothing written past the count */
    ck_assert_int_eq(count_in(list, n, GetProcessHeap()), 1);

    /* too small a buffer: the total comes back and only that many handles are written */
    for (int i = 0; i < 64; i++)
        list[i] = SENTINEL;
    ck_assert_uint_eq(GetProcessHeaps(2, list), n0 + 3);
    ck_assert_ptr_eq(list[0], GetProcessHeap());
    ck_assert_ptr_ne(list[1], SENTINEL);
    ck_assert_ptr_ne(list[1], NULL);
    ck_assert_ptr_eq(list[2], SENTINEL);
    for (int i = 0; i < 64; i++)
        list[i] = SENTINEL;
    ck_assert_uint_eq(GetProcessHeaps(0, list), n0 + 3);
    ck_assert_ptr_eq(list[0], SENTINEL);

    /* destroyed heaps leave the list */
    ck_assert(HeapDestroy(mine[1]));
    for (int i = 0; i < 64; i++)
        list[i] = SENTINEL;
    n = GetProcessHeaps(64, list);
    ck_assert_uint_eq(n, n0 + 2);
    ck_assert_ptr_eq(list[0], GetProcessHeap());
    ck_assert_int_eq(count_in(list, n, mine[0]), 1);
    ck_assert_int_eq(count_in(list, n, mine[1]), 0);
    ck_assert_int_eq(count_in(list, n, mine[2]), 1);
    ck_assert(HeapDestroy(mine[0]));
    ck_assert(HeapDestroy(mine[2]));
    ck_assert_uint_eq(GetProcessHeaps(64, list), n0);
    ck_assert_ptr_eq(list[0], GetProcessHeap());
}
END_TEST

/* ---- HeapCreate and HeapDestroy ------------------------------------------------------------------- */

START_TEST(heap_create_gives_distinct_handles_in_private_committed_memory)
{
    static const struct {
        DWORD flags;
        SIZE_T initial, max;
    } kinds[] = {
        {0, 0, 0},
        {0, MB, 0},
        {0, 0, MB},
        {HEAP_NO_SERIALIZE, 0, 0},
        {HEAP_GENERATE_EXCEPTIONS, 4096, 0},
        {HEAP_CREATE_ENABLE_EXECUTE, 0, 0},
        {HEAP_GROWABLE, 0, 0},
        {0x7F000000u, 0, 0}, /* bits HeapCreate does not know: ignored, as on Windows */
        {0x7F000000u | HEAP_NO_SERIALIZE, 64 * KB, 2 * MB},
    };
    enum { N = sizeof kinds / sizeof kinds[0] };
    HANDLE h[N];
    for (int i = 0; i < N; i++) {
        h[i] = new_heap(kinds[i].flags, kinds[i].initial, kinds[i].max);
        for (int j = 0; j < i; j++)
            ck_assert_ptr_ne(h[i], h[j]);
        ck_assert_ptr_ne(h[i], GetProcessHeap());
        MEMORY_BASIC_INFORMATION m = query(h[i]);
        ck_assert_uint_eq(m.State, MEM_COMMIT);
        ck_assert_uint_eq(m.Type, MEM_PRIVATE);
        if (kinds[i].initial >= MB) { /* the initial size is committed at once */
            SIZE_T committed = 0;
            reservation_size(m.AllocationBase, &committed);
            ck_assert_uint_ge(committed, kinds[i].initial);
        }
        PUCHAR p = HeapAlloc(h[i], 0, 100);
        ck_assert_ptr_nonnull(p);
        fill(p, 100, (UCHAR)i);
        PUCHAR q = HeapAlloc(h[i], 0, 10000);
        ck_assert_ptr_nonnull(q);
        fill(q, 10000, (UCHAR)(i + 1));
        ck_assert(HeapValidate(h[i], 0, NULL));
        ck_assert_pattern(p, 100, (UCHAR)i);
        ck_assert(HeapFree(h[i], 0, p));
        ck_assert_pattern(q, 10000, (UCHAR)(i + 1)); /* q stays allocated: destroy frees it */
    }
    for (int i = 0; i < N; i++) {
        ck_assert(HeapDestroy(h[i]));
        ck_assert_uint_eq(query(h[i]).State, MEM_FREE);
    }
}
END_TEST

/* Allocates a mix of small, medium and big blocks, freeing some on the way. */
static void populate(HANDLE h, PVOID *big, int nbig)
{
    for (int i = 0; i < 2000; i++) {
        SIZE_T n = (SIZE_T)(i % 300);
        PUCHAR p = HeapAlloc(h, 0, n);
        ck_assert_ptr_nonnull(p);
        memset(p, 0x11, n);
        if (i % 3 == 0)
            ck_assert(HeapFree(h, 0, p));
    }
    for (int i = 0; i < 100; i++) {
        SIZE_T n = 4000 + (SIZE_T)i * 37;
        PUCHAR p = HeapAlloc(h, 0, n);
        ck_assert_ptr_nonnull(p);
        memset(p, 0x22, n);
    }
    for (int i = 0; i < nbig; i++) {
        big[i] = HeapAlloc(h, 0, 600 * KB);
        ck_assert_ptr_nonnull(big[i]);
        memset(big[i], 0x33, 600 * KB);
    }
}

START_TEST(heap_destroy_releases_every_segment_and_big_block_and_gives_back_the_commit)
{
    PVOID big[3];
    /* once first, so that anything made once per process or thread is already there */
    HANDLE warm = new_heap(0, 0, 0);
    populate(warm, big, 3);
    ck_assert(HeapDestroy(warm));

    ULONGLONG before = avail_commit();
    HANDLE h = new_heap(0, 0, 0);
    populate(h, big, 3);
    ULONGLONG loaded = avail_commit();
    ck_assert_uint_ge(before - loaded, 3 * 600 * KB);
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(query(big[i]).State, MEM_COMMIT);
    ck_assert(HeapDestroy(h));
    ck_assert_uint_eq(query(h).State, MEM_FREE);
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(query(big[i]).State, MEM_FREE);
    ULONGLONG after = avail_commit();
    ck_assert_msg(after >= before, "%llu bytes of commit not given back by HeapDestroy",
                  (unsigned long long)(before - after));
}
END_TEST

START_TEST(heap_destroy_refuses_unknown_handles_and_the_process_heap)
{
    /* memory that is not a heap, readable so that a check of a signature finds nothing */
    PUCHAR fake = VirtualAlloc(NULL, 64 * KB, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    ck_assert_ptr_nonnull(fake);
    SetLastError(0);
    ck_assert(!HeapDestroy(fake));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
    ck_assert_uint_eq(query(fake).State, MEM_COMMIT); /* left alone */
    fake[0] = 1;

    static UCHAR __attribute__((aligned(4096))) zeros[8192];
    SetLastError(0);
    ck_assert(!HeapDestroy(zeros + 4096));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);

    ck_assert(!HeapDestroy(GetProcessHeap()));
    PVOID p = HeapAlloc(GetProcessHeap(), 0, 64);
    ck_assert_ptr_nonnull(p);
    ck_assert(HeapFree(GetProcessHeap(), 0, p));
    ck_assert(VirtualFree(fake, 0, MEM_RELEASE));
}
END_TEST

START_TEST(a_fixed_heap_reserves_its_maximum_and_commits_on_demand)
{
    /* 200000 bytes: reserved as 256 KB (64 KB rounding), committed only as blocks need it */
    HANDLE h = new_heap(0, 0, 200000);
    PVOID base = query(h).AllocationBase;
    SIZE_T committed0 = 0;
    ck_assert_uint_eq(reservation_size(base, &committed0), 0x40000);
    ck_assert_uint_gt(committed0, 0);
    ck_assert_uint_lt(committed0, 0x40000);

    SetLastError(0);
    ck_assert_ptr_null(HeapAlloc(h, 0, 300 * KB));
    ck_assert_uint_eq(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);

    PVOID blocks[200];
    int n = 0;
    SetLastError(0);
    for (; n < 200; n++) {
        blocks[n] = HeapAlloc(h, 0, 4000);
        if (blocks[n] == NULL)
            break;
        ck_assert_ptr_eq(query(blocks[n]).AllocationBase, base); /* everything inside the reservation */
        fill(blocks[n], 4000, (UCHAR)n);
    }
    ck_assert_int_lt(n, 200);
    ck_assert_uint_eq(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    ck_assert_uint_le((SIZE_T)n * 4000, 0x40000);
    ck_assert_uint_ge((SIZE_T)n * 4000, 0x40000 / 2);
    SIZE_T committed1 = 0;
    ck_assert_uint_eq(reservation_size(base, &committed1), 0x40000); /* never grew */
    ck_assert_uint_gt(committed1, committed0);
    ck_assert(HeapValidate(h, 0, NULL));
    for (int i = 0; i < n; i++) {
        ck_assert_pattern(blocks[i], 4000, (UCHAR)i);
        ck_assert(HeapFree(h, 0, blocks[i]));
    }
    /* all free again: one large block fits */
    PVOID p = HeapAlloc(h, 0, 100000);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_eq(query(p).AllocationBase, base);
    ck_assert(HeapDestroy(h));

    /* a block a fixed heap cannot hold fails, one it can hold comes from its reservation */
    h = new_heap(0, 0, 4 * MB);
    base = query(h).AllocationBase;
    SetLastError(0);
    ck_assert_ptr_null(HeapAlloc(h, 0, MB));
    ck_assert_uint_eq(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    SetLastError(0);
    ck_assert_ptr_null(HeapAlloc(h, 0, 8 * MB));
    ck_assert_uint_eq(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    /* ntmem's limit is the VirtualMemoryThreshold (508 KB, 32-bit Windows' documented limit; 64-bit
     * Windows documents "slightly less than 1,024 KB") */
    SetLastError(0);
    ck_assert_ptr_null(HeapAlloc(h, 0, 600 * KB));
    ck_assert_uint_eq(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    p = HeapAlloc(h, 0, 400 * KB);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_eq(query(p).AllocationBase, base);
    memset(p, 0x5A, 400 * KB);
    ck_assert_uint_eq(reservation_size(base, NULL), 4 * MB);
    ck_assert(HeapValidate(h, 0, NULL));
    ck_assert(HeapDestroy(h));
}
END_TEST

/* ---- HeapAlloc ------------------------------------------------------------------------------------ */

static int compare_ptr(const void *a, const void *b)
{
    ULONG_PTR x = *(const ULONG_PTR *)a, y = *(const ULONG_PTR *)b;
    return x < y ? -1 : x > y;
}

typedef struct placed {
    ULONG_PTR p;
    SIZE_T n;
} placed;

/* Heaps for the tests that run on each kind: 0 process, 1 growable, 2 no-serialize, 3 fixed 8 MB. */
#define HEAP_KINDS 4
static HANDLE heap_of_kind(int kind)
{
    switch (kind) {
    case 0:
        return GetProcessHeap();
    case 1:
        return new_heap(0, 0, 0);
    case 2:
        return new_heap(HEAP_NO_SERIALIZE, 0, 0);
    default:
        return new_heap(0, 0, 8 * MB);
    }
}

static void done_with_kind(int kind, HANDLE h)
{
    ck_assert(HeapValidate(h, 0, NULL));
    if (kind != 0)
        ck_assert(HeapDestroy(h));
}

START_TEST(blocks_are_16_byte_aligned_sized_as_asked_and_never_overlap)
{
    HANDLE h = heap_of_kind(_i);
    static const SIZE_T more[] = {1000, 4096, 5000, 16384, 16385, 40000, 100000, BIG_THRESHOLD, 700 * KB};
    enum { NMORE = sizeof more / sizeof more[0], N = 257 + NMORE + 16 };
    static placed blocks[N];
    int count = 0;
    for (SIZE_T n = 0; n <= 256; n++)
        blocks[count++] = (placed){(ULONG_PTR)HeapAlloc(h, 0, n), n};
    for (int i = 0; i < NMORE; i++)
        if (_i != 3 || more[i] < BIG_THRESHOLD) /* a fixed heap holds no big blocks */
            blocks[count++] = (placed){(ULONG_PTR)HeapAlloc(h, 0, more[i]), more[i]};
    for (int i = 0; i < 16; i++) /* zero-size blocks are real, distinct blocks */
        blocks[count++] = (placed){(ULONG_PTR)HeapAlloc(h, 0, 0), 0};
    for (int i = 0; i < count; i++) {
        ck_assert_msg(blocks[i].p != 0, "HeapAlloc(%zu) failed", blocks[i].n);
        ck_assert_msg(IS_ALIGNED16(blocks[i].p), "HeapAlloc(%zu) = %p", blocks[i].n, (void *)blocks[i].p);
        ck_assert_uint_eq(HeapSize(h, 0, (PVOID)blocks[i].p), blocks[i].n);
        memset((PVOID)blocks[i].p, 0xA5, blocks[i].n);
    }
    qsort(blocks, (size_t)count, sizeof blocks[0], compare_ptr);
    for (int i = 1; i < count; i++) {
        ck_assert_msg(blocks[i - 1].p != blocks[i].p, "two blocks at %p", (void *)blocks[i].p);
        ck_assert_msg(blocks[i - 1].p + blocks[i - 1].n <= blocks[i].p, "block %p (%zu bytes) overlaps %p",
                      (void *)blocks[i - 1].p, blocks[i - 1].n, (void *)blocks[i].p);
    }
    ck_assert(HeapValidate(h, 0, NULL));
    for (int i = 0; i < count; i++)
        ck_assert(HeapFree(h, 0, (PVOID)blocks[i].p));
    done_with_kind(_i, h);
}
END_TEST

START_TEST(heap_zero_memory_zeroes_blocks_even_where_old_data_was)
{
    HANDLE h = heap_of_kind(_i);
    static const SIZE_T sizes[] = {1, 24, 100, 1000, 5000, 40000, 200000, BIG_THRESHOLD, 600 * KB};
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            SIZE_T n = sizes[i];
            if (_i == 3 && n >= BIG_THRESHOLD)
                continue;
            PUCHAR dirty = HeapAlloc(h, 0, n);
            ck_assert_ptr_nonnull(dirty);
            memset(dirty, 0xAA, n);
            ck_assert(HeapFree(h, 0, dirty));
            PUCHAR p = HeapAlloc(h, HEAP_ZERO_MEMORY, n);
            ck_assert_ptr_nonnull(p);
            ck_assert_uint_eq(HeapSize(h, 0, p), n);
            ck_assert_zero(p, n);
            memset(p, 0xBB, n);
            ck_assert(HeapFree(h, 0, p));
        }
    done_with_kind(_i, h);
}
END_TEST

START_TEST(failed_allocations_return_null_and_set_not_enough_memory)
{
    static const SIZE_T huge[] = {(SIZE_T)-1, (SIZE_T)-16, (SIZE_T)-4096, (SIZE_T)-0x10000,
                                  (SIZE_T)-1 >> 1, (SIZE_T)1 << 50};
    HANDLE heaps[2] = {GetProcessHeap(), new_heap(0, 0, 0)};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
            SetLastError(0);
            PVOID p = HeapAlloc(heaps[k], 0, huge[i]);
            ck_assert_msg(p == NULL, "HeapAlloc(0x%zx) = %p", huge[i], p);
            ck_assert_uint_eq(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
            SetLastError(0);
            ck_assert_ptr_null(HeapAlloc(heaps[k], HEAP_ZERO_MEMORY, huge[i]));
            ck_assert_uint_eq(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
        }
        ck_assert(HeapValidate(heaps[k], 0, NULL));
        PVOID p = HeapAlloc(heaps[k], 0, 100);
        ck_assert_ptr_nonnull(p);
        ck_assert(HeapFree(heaps[k], 0, p));
    }
    ck_assert(HeapDestroy(heaps[1]));

    HANDLE fixed = new_heap(0, 0, MB);
    SetLastError(0);
    ck_assert_ptr_null(HeapAlloc(fixed, 0, 2 * MB));
    ck_assert_uint_eq(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    SetLastError(0);
    ck_assert_ptr_null(HeapAlloc(fixed, 0, MB));
    ck_assert_uint_eq(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    ck_assert(HeapValidate(fixed, 0, NULL));
    ck_assert(HeapDestroy(fixed));
}
END_TEST

START_TEST(allocations_fail_cleanly_at_the_commit_limit)
{
    HANDLE h = new_heap(0, 0, 0);
    PVOID warm = HeapAlloc(h, 0, 60000);
    ck_assert_ptr_nonnull(warm);
    MEMORYSTATUSEX m;
    memset(&m, 0, sizeof m);
    m.dwLength = sizeof m;
    ck_assert(GlobalMemoryStatusEx(&m));
    SIZE_T charged = (SIZE_T)(m.ullTotalPageFile - m.ullAvailPageFile);
    SIZE_T previous = ntmem_set_commit_limit(charged + MB);

    PVOID blocks[200];
    int n = 0;
    DWORD error_small = 0, error_big;
    for (; n < 200; n++) {
        SetLastError(0);
        blocks[n] = HeapAlloc(h, 0, 60000);
        if (blocks[n] == NULL) {
            error_small = GetLastError();
            break;
        }
        memset(blocks[n], 0x44, 60000);
    }
    SetLastError(0);
    PVOID big = HeapAlloc(h, 0, 4 * MB);
    error_big = GetLastError();
    ntmem_set_commit_limit(previous);

    ck_assert_int_lt(n, 200);
    ck_assert_uint_eq(error_small, ERROR_NOT_ENOUGH_MEMORY);
    ck_assert_ptr_null(big);
    ck_assert_uint_eq(error_big, ERROR_NOT_ENOUGH_MEMORY);
    ck_assert(HeapValidate(h, 0, NULL));
    /* with the limit back, the same requests succeed */
    big = HeapAlloc(h, 0, 4 * MB);
    ck_assert_ptr_nonnull(big);
    PVOID more = HeapAlloc(h, 0, 60000);
    ck_assert_ptr_nonnull(more);
    for (int i = 0; i < n; i++)
        ck_assert(HeapFree(h, 0, blocks[i]));
    ck_assert(HeapFree(h, 0, big));
    ck_assert(HeapFree(h, 0, more));
    ck_assert(HeapFree(h, 0, warm));
    ck_assert(HeapValidate(h, 0, NULL));
    ck_assert(HeapDestroy(h));
}
END_TEST

static DWORD alloc_catching(HANDLE h, DWORD flags, SIZE_T n, PVOID *out)
{
    volatile DWORD code = 0;
    PVOID volatile result = (PVOID)(ULONG_PTR)1;
    __try {
        result = HeapAlloc(h, flags, n);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        code = (DWORD)GetExceptionCode();
    }
    *out = result;
    return code;
}

START_TEST(heap_generate_exceptions_raises_status_no_memory)
{
    PVOID p;
    /* per call */
    HANDLE h = new_heap(0, 0, 0);
    ck_assert_uint_eq(alloc_catching(h, HEAP_GENERATE_EXCEPTIONS, (SIZE_T)-1, &p), (DWORD)STATUS_NO_MEMORY);
    ck_assert_ptr_eq(p, (PVOID)(ULONG_PTR)1); /* HeapAlloc did not return */
    ck_assert_uint_eq(alloc_catching(h, HEAP_GENERATE_EXCEPTIONS, (SIZE_T)1 << 50, &p), (DWORD)STATUS_NO_MEMORY);
    ck_assert_uint_eq(alloc_catching(GetProcessHeap(), HEAP_GENERATE_EXCEPTIONS, (SIZE_T)-1, &p),
                      (DWORD)STATUS_NO_MEMORY);
    /* success raises nothing */
    ck_assert_uint_eq(alloc_catching(h, HEAP_GENERATE_EXCEPTIONS | HEAP_ZERO_MEMORY, 100, &p), 0);
    ck_assert_ptr_nonnull(p);
    ck_assert_zero(p, 100);
    ck_assert(HeapFree(h, 0, p));
    /* without the flag: NULL, no exception */
    ck_assert_uint_eq(alloc_catching(h, 0, (SIZE_T)-1, &p), 0);
    ck_assert_ptr_null(p);
    ck_assert(HeapValidate(h, 0, NULL));
    ck_assert(HeapDestroy(h));

    /* given at HeapCreate: every failing call raises */
    h = new_heap(HEAP_GENERATE_EXCEPTIONS, 0, MB);
    ck_assert_uint_eq(alloc_catching(h, 0, 2 * MB, &p), (DWORD)STATUS_NO_MEMORY);
    ck_assert_ptr_eq(p, (PVOID)(ULONG_PTR)1);
    ck_assert_uint_eq(alloc_catching(h, 0, 1000, &p), 0);
    ck_assert_ptr_nonnull(p);
    fill(p, 1000, 3);
    ck_assert(HeapValidate(h, 0, NULL));
    ck_assert_pattern(p, 1000, 3);
    ck_assert(HeapFree(h, 0, p));
    ck_assert(HeapDestroy(h));

    h = new_heap(HEAP_GENERATE_EXCEPTIONS, 0, 0);
    ck_assert_uint_eq(alloc_catching(h, 0, (SIZE_T)-1, &p), (DWORD)STATUS_NO_MEMORY);
    ck_assert(HeapDestroy(h));
}
END_TEST

START_TEST(big_blocks_get_their_own_region_which_heap_free_releases)
{
    static const SIZE_T sizes[] = {BIG_THRESHOLD, BIG_THRESHOLD + 1, 600 * KB, 3 * MB + 5};
    HANDLE heaps[2] = {new_heap(0, 0, 0), GetProcessHeap()};
    for (int k = 0; k < 2; k++) {
        HANDLE h = heaps[k];
        PVOID heap_base = query(h).AllocationBase;
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            SIZE_T n = sizes[i];
            PUCHAR p = HeapAlloc(h, 0, n);
            ck_assert_ptr_nonnull(p);
            ck_assert(IS_ALIGNED16(p));
            MEMORY_BASIC_INFORMATION m = query(p);
            PUCHAR base = m.AllocationBase;
            ck_assert_ptr_ne(base, heap_base);
            ck_assert_msg(base <= p && p - base < 64 * (LONG_PTR)KB, "block %p, its region at %p", (void *)p,
                          (void *)base);
            ck_assert_uint_eq(m.State, MEM_COMMIT);
            ck_assert_uint_eq(m.Type, MEM_PRIVATE);
            ck_assert_uint_eq(m.Protect, PAGE_READWRITE);
            ck_assert_uint_eq(query(p + n - 1).State, MEM_COMMIT);
            ck_assert_ptr_eq(query(p + n - 1).AllocationBase, base);
            ck_assert_uint_eq(HeapSize(h, 0, p), n);
            memset(p, 0x77, n);
            ck_assert(HeapValidate(h, 0, p));
            ck_assert(HeapValidate(h, 0, NULL));
            ck_assert(HeapFree(h, 0, p));
            ck_assert_uint_eq(query(base).State, MEM_FREE);
        }
    }
    ck_assert(HeapDestroy(heaps[0]));
}
END_TEST

START_TEST(heap_size_is_the_size_asked_for)
{
    static const SIZE_T sizes[] = {0, 1, 3, 15, 17, 100, 1000, 4095, 65537, 100001, 600 * KB + 3};
    HANDLE h = new_heap(0, 0, 0);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        PVOID p = HeapAlloc(h, 0, sizes[i]);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq(HeapSize(h, 0, p), sizes[i]);
        PVOID q = HeapAlloc(GetProcessHeap(), 0, sizes[i]);
        ck_assert_ptr_nonnull(q);
        ck_assert_uint_eq(HeapSize(GetProcessHeap(), 0, q), sizes[i]);
        ck_assert(HeapFree(h, 0, p));
        ck_assert(HeapFree(GetProcessHeap(), 0, q));
    }
    ck_assert_uint_eq(HeapSize(h, 0, NULL), NO_SIZE);
    ck_assert_uint_eq(HeapSize(GetProcessHeap(), 0, NULL), NO_SIZE);
    ck_assert(HeapDestroy(h));
}
END_TEST

/* ---- HeapReAlloc ---------------------------------------------------------------------------------- */

START_TEST(realloc_grows_and_shrinks_keeping_the_contents)
{
    HANDLE h = heap_of_kind(_i);
    static const SIZE_T steps[] = {10, 100, 5000, 100000, 700000, 3000, 0, 50, 16, 17, 900000, 800000, 40, 64000, 63000, 1};
    SIZE_T n = 7;
    PUCHAR p = HeapAlloc(h, 0, n);
    ck_assert_ptr_nonnull(p);
    UCHAR seed = 1;
    fill(p, n, seed);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        SIZE_T m = steps[i];
        if (_i == 3 && m >= BIG_THRESHOLD)
            continue;
        PUCHAR q = HeapReAlloc(h, 0, p, m);
        ck_assert_msg(q != NULL, "HeapReAlloc(%zu -> %zu) failed", n, m);
        ck_assert(IS_ALIGNED16(q));
        ck_assert_uint_eq(HeapSize(h, 0, q), m);
        ck_assert_pattern(q, n < m ? n : m, seed);
        p = q;
        n = m;
        seed++;
        fill(p, n, seed);
        ck_assert(HeapValidate(h, 0, p));
    }
    ck_assert(HeapFree(h, 0, p));
    done_with_kind(_i, h);
}
END_TEST

START_TEST(realloc_with_heap_zero_memory_zeroes_the_grown_part)
{
    HANDLE h = new_heap(0, 0, 0);
    static const SIZE_T from[] = {100, 1000, 20000, 600 * KB, 1, 0};
    static const SIZE_T to[] = {5000, 1001, 300000, 900 * KB, 700 * KB, 64};
    for (size_t i = 0; i < sizeof from / sizeof from[0]; i++) {
        PUCHAR p = HeapAlloc(h, 0, from[i]);
        ck_assert_ptr_nonnull(p);
        fill(p, from[i], (UCHAR)i);
        PUCHAR q = HeapReAlloc(h, HEAP_ZERO_MEMORY, p, to[i]);
        ck_assert_ptr_nonnull(q);
        ck_assert_uint_eq(HeapSize(h, 0, q), to[i]);
        ck_assert_pattern(q, from[i], (UCHAR)i);
        ck_assert_zero(q + from[i], to[i] - from[i]);
        ck_assert(HeapFree(h, 0, q));
    }
    /* shrink, then grow back with HEAP_ZERO_MEMORY: the old bytes must not come back */
    static const SIZE_T sizes[] = {1000, 30000, 600 * KB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        PUCHAR p = HeapAlloc(h, 0, sizes[i]);
        ck_assert_ptr_nonnull(p);
        memset(p, 0x77, sizes[i]);
        p = HeapReAlloc(h, 0, p, 10);
        ck_assert_ptr_nonnull(p);
        p = HeapReAlloc(h, HEAP_ZERO_MEMORY, p, sizes[i]);
        ck_assert_ptr_nonnull(p);
        for (int b = 0; b < 10; b++)
            ck_assert_uint_eq(p[b], 0x77);
        ck_assert_zero(p + 10, sizes[i] - 10);
        ck_assert(HeapFree(h, 0, p));
    }
    ck_assert(HeapValidate(h, 0, NULL));
    ck_assert(HeapDestroy(h));
}
END_TEST

START_TEST(realloc_in_place_only_never_moves_and_leaves_the_block_alone_when_it_cannot)
{
    HANDLE h = new_heap(0, 0, 0);
    PUCHAR a = HeapAlloc(h, 0, 64);
    PUCHAR b = HeapAlloc(h, 0, 64);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    fill(a, 64, 1);
    fill(b, 64, 2);
    /* shrinking can always be done in place */
    ck_assert_ptr_eq(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, a, 32), a);
    ck_assert_uint_eq(HeapSize(h, 0, a), 32);
    ck_assert_pattern(a, 32, 1);
    /* growing a lot with b after it cannot: NULL, and a is as it was */
    ck_assert_ptr_null(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, a, 256 * KB));
    ck_assert_uint_eq(HeapSize(h, 0, a), 32);
    ck_assert_pattern(a, 32, 1);
    ck_assert(HeapValidate(h, 0, a));
    ck_assert_ptr_null(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY | HEAP_ZERO_MEMORY, a, 2 * MB));
    ck_assert_uint_eq(HeapSize(h, 0, a), 32);
    ck_assert_pattern(a, 32, 1);
    ck_assert_pattern(b, 64, 2);
    ck_assert_uint_eq(HeapSize(h, 0, b), 64);

    /* a medium block: shrink in place, then grow in place (if it can, the same pointer) */
    PUCHAR c = HeapAlloc(h, 0, 20000);
    PUCHAR d = HeapAlloc(h, 0, 20000);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(d);
    fill(c, 20000, 3);
    fill(d, 20000, 4);
    ck_assert_ptr_eq(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, c, 10000), c);
    ck_assert_uint_eq(HeapSize(h, 0, c), 10000);
    ck_assert_pattern(c, 10000, 3);
    PUCHAR r = HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY | HEAP_ZERO_MEMORY, c, 15000);
    if (r != NULL) {
        ck_assert_ptr_eq(r, c);
        ck_assert_uint_eq(HeapSize(h, 0, c), 15000);
        ck_assert_pattern(c, 10000, 3);
        ck_assert_zero(c + 10000, 5000);
    } else {
        ck_assert_uint_eq(HeapSize(h, 0, c), 10000);
        ck_assert_pattern(c, 10000, 3);
    }
    ck_assert_pattern(d, 20000, 4);

    /* a big block: in place or NULL, never elsewhere */
    PUCHAR big = HeapAlloc(h, 0, 700 * KB);
    ck_assert_ptr_nonnull(big);
    fill(big, 700 * KB, 5);
    static const SIZE_T big_to[] = {600 * KB, 650 * KB, 64 * MB, 700 * KB};
    SIZE_T big_n = 700 * KB, patterned = 700 * KB; /* the pattern covers at most 1 MB */
    for (size_t i = 0; i < sizeof big_to / sizeof big_to[0]; i++) {
        r = HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, big, big_to[i]);
        if (r != NULL) {
            ck_assert_ptr_eq(r, big);
            ck_assert_pattern(big, patterned < big_to[i] ? patterned : big_to[i], 5);
            big_n = big_to[i];
            patterned = big_n < MB ? big_n : MB;
            fill(big, patterned, 5);
        }
        ck_assert_uint_eq(HeapSize(h, 0, big), big_n);
        ck_assert_pattern(big, patterned, 5);
    }
    ck_assert(HeapValidate(h, 0, NULL));
    ck_assert(HeapFree(h, 0, a));
    ck_assert(HeapFree(h, 0, b));
    ck_assert(HeapFree(h, 0, c));
    ck_assert(HeapFree(h, 0, d));
    ck_assert(HeapFree(h, 0, big));
    ck_assert(HeapDestroy(h));
}
END_TEST

START_TEST(realloc_of_null_returns_null_and_a_failed_realloc_keeps_the_block)
{
    HANDLE h = new_heap(0, 0, 0);
    ck_assert_ptr_null(HeapReAlloc(h, 0, NULL, 10));
    ck_assert_ptr_null(HeapReAlloc(h, HEAP_ZERO_MEMORY, NULL, 1000));
    ck_assert_ptr_null(HeapReAlloc(GetProcessHeap(), 0, NULL, 10));
    PUCHAR p = HeapAlloc(h, 0, 300);
    ck_assert_ptr_nonnull(p);
    fill(p, 300, 9);
    ck_assert_ptr_null(HeapReAlloc(h, 0, p, (SIZE_T)-1));
    ck_assert_ptr_null(HeapReAlloc(h, 0, p, (SIZE_T)1 << 50));
    ck_assert_uint_eq(HeapSize(h, 0, p), 300);
    ck_assert_pattern(p, 300, 9);
    ck_assert(HeapValidate(h, 0, p));
    ck_assert(HeapFree(h, 0, p));
    ck_assert(HeapDestroy(h));
}
END_TEST

/* ---- HeapFree and HeapValidate -------------------------------------------------------------------- */

START_TEST(heap_free_of_null_succeeds_and_unknown_heaps_are_refused)
{
    HANDLE h = new_heap(0, 0, 0);
    ck_assert(HeapFree(h, 0, NULL));
    ck_assert(HeapFree(GetProcessHeap(), 0, NULL));
    PUCHAR p = HeapAlloc(h, 0, 128);
    ck_assert_ptr_nonnull(p);
    fill(p, 128, 4);

    PUCHAR fake = VirtualAlloc(NULL, 64 * KB, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    ck_assert_ptr_nonnull(fake);
    SetLastError(0);
    ck_assert(!HeapFree(fake, 0, p));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
    /* p is untouched and still p's heap's */
    ck_assert_uint_eq(HeapSize(h, 0, p), 128);
    ck_assert_pattern(p, 128, 4);
    ck_assert(HeapValidate(h, 0, p));
    ck_assert(HeapFree(h, 0, p));
    ck_assert(VirtualFree(fake, 0, MEM_RELEASE));
    ck_assert(HeapDestroy(h));
}
END_TEST

START_TEST(heap_validate_accepts_busy_blocks_only)
{
    HANDLE h = heap_of_kind(_i);
    HANDLE other = new_heap(0, 0, 0);
    ck_assert(HeapValidate(h, 0, NULL));
    static const SIZE_T sizes[] = {64, 3000, 40000, 700 * KB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (_i == 3 && sizes[i] >= BIG_THRESHOLD)
            continue;
        PUCHAR p = HeapAlloc(h, 0, sizes[i]);
        PUCHAR keep = HeapAlloc(h, 0, sizes[i]); /* so p's neighbourhood stays busy */
        ck_assert_ptr_nonnull(p);
        ck_assert_ptr_nonnull(keep);
        memset(p, 0xC3, sizes[i]);
        ck_assert(HeapValidate(h, 0, p));
        ck_assert(HeapValidate(h, 0, keep));
        ck_assert_msg(!HeapValidate(h, 0, p + 16), "HeapValidate accepts the inside of a %zu-byte block", sizes[i]);
        ck_assert(HeapValidate(h, 0, NULL));
        if (sizes[i] < BIG_THRESHOLD) { /* a freed big block's region is gone: not read */
            ck_assert(HeapFree(h, 0, p));
            ck_assert_msg(!HeapValidate(h, 0, p), "HeapValidate accepts a freed %zu-byte block", sizes[i]);
        } else {
            ck_assert(HeapFree(h, 0, p));
        }
        ck_assert(HeapValidate(h, 0, keep));
        ck_assert(HeapValidate(h, 0, NULL));
        ck_assert(HeapFree(h, 0, keep));
    }
    /* a block of another heap, or memory of no heap at all */
    PUCHAR theirs = HeapAlloc(other, 0, 200);
    ck_assert_ptr_nonnull(theirs);
    ck_assert(!HeapValidate(h, 0, theirs));
    ck_assert(HeapValidate(other, 0, theirs));
    UCHAR __attribute__((aligned(16))) local[256];
    memset(local, 0, sizeof local);
    ck_assert(!HeapValidate(h, 0, local + 128));
    ck_assert(HeapValidate(h, 0, NULL));
    ck_assert(HeapFree(other, 0, theirs));
    ck_assert(HeapDestroy(other));
    done_with_kind(_i, h);
}
END_TEST

/* ---- HeapCompact ---------------------------------------------------------------------------------- */

START_TEST(heap_compact_reports_the_largest_free_block)
{
    HANDLE h = new_heap(0, 0, 0);
    (void)HeapCompact(h, 0); /* an empty heap: whatever it has, no trouble */
    PVOID a = HeapAlloc(h, 0, 200 * KB);
    PVOID b = HeapAlloc(h, 0, 100);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    memset(a, 1, 200 * KB);
    ck_assert(HeapFree(h, 0, a));
    ck_assert_uint_gt(HeapCompact(h, 0), 0);
    ck_assert(HeapValidate(h, 0, NULL));
    ck_assert(HeapFree(h, 0, b));
    ck_assert(HeapDestroy(h));
    (void)HeapCompact(GetProcessHeap(), 0);
    ck_assert(HeapValidate(GetProcessHeap(), 0, NULL));
}
END_TEST

START_TEST(heap_compact_decommits_free_pages)
{
    enum { N = 128 };
    HANDLE h = new_heap(0, 0, 0);
    static PVOID blocks[N];
    ULONGLONG empty = avail_commit();
    for (int i = 0; i < N; i++) {
        SIZE_T n = 60000 + (SIZE_T)(i % 8) * 1000;
        blocks[i] = HeapAlloc(h, 0, n);
        ck_assert_ptr_nonnull(blocks[i]);
        memset(blocks[i], 0x66, n);
    }
    ULONGLONG full = avail_commit();
    ck_assert_uint_ge(empty - full, 7 * MB);
    for (int i = 0; i < N; i++)
        ck_assert(HeapFree(h, 0, blocks[i]));
    ULONGLONG freed = avail_commit();
    (void)HeapCompact(h, 0);
    ULONGLONG compacted = avail_commit();
    ck_assert_uint_ge(compacted, freed);
    ck_assert_msg(compacted - full >= 4 * MB,
                  "after freeing ~8 MB and HeapCompact only %llu KB of commit came back (%llu KB by HeapFree)",
                  (unsigned long long)(compacted - full) / 1024, (unsigned long long)(freed - full) / 1024);
    ck_assert(HeapValidate(h, 0, NULL));
    /* and the heap commits again on demand */
    for (int i = 0; i < N; i++) {
        blocks[i] = HeapAlloc(h, 0, 64000);
        ck_assert_ptr_nonnull(blocks[i]);
        memset(blocks[i], 0x67, 64000);
    }
    ck_assert(HeapValidate(h, 0, NULL));
    ck_assert(HeapDestroy(h));
}
END_TEST

/* ---- HeapLock and HeapUnlock ---------------------------------------------------------------------- */

START_TEST(the_lock_owner_keeps_using_its_locked_heap)
{
    HANDLE h = new_heap(0, 0, 0);
    ck_assert(HeapLock(h));
    ck_assert(HeapLock(h)); /* the lock is recursive, as a critical section is */
    PVOID small = HeapAlloc(h, 0, 48);
    PVOID medium = HeapAlloc(h, 0, 40000);
    PVOID big = HeapAlloc(h, 0, 600 * KB);
    ck_assert_ptr_nonnull(small);
    ck_assert_ptr_nonnull(medium);
    ck_assert_ptr_nonnull(big);
    small = HeapReAlloc(h, 0, small, 3000);
    ck_assert_ptr_nonnull(small);
    ck_assert(HeapValidate(h, 0, NULL));
    HEAP_SUMMARY s;
    memset(&s, 0, sizeof s);
    s.cb = sizeof s;
    ck_assert(HeapSummary(h, 0, &s));
    (void)HeapCompact(h, 0);
    ck_assert(HeapFree(h, 0, small));
    ck_assert(HeapFree(h, 0, medium));
    ck_assert(HeapFree(h, 0, big));
    ck_assert(HeapUnlock(h));
    ck_assert(HeapUnlock(h));
    ck_assert(HeapLock(GetProcessHeap()));
    PVOID p = HeapAlloc(GetProcessHeap(), 0, 100);
    ck_assert_ptr_nonnull(p);
    ck_assert(HeapFree(GetProcessHeap(), 0, p));
    ck_assert(HeapUnlock(GetProcessHeap()));
    ck_assert(HeapDestroy(h));
}
END_TEST

typedef struct lock_probe {
    HANDLE heap;
    SIZE_T size;
    int free_it;   /* free `block` instead of allocating */
    PVOID block;
    int ready, go, done;
    PVOID result;
    BOOL freed;
} lock_probe;

static void *locked_out(void *arg)
{
    lock_probe *lp = arg;
    for (int i = 0; i < 32; i++) { /* warm this thread's caches for the size first */
        PVOID w = HeapAlloc(lp->heap, 0, lp->size);
        if (w != NULL)
            HeapFree(lp->heap, 0, w);
    }
    __atomic_store_n(&lp->ready, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&lp->go, __ATOMIC_ACQUIRE))
        sched_yield();
    if (lp->free_it)
        lp->freed = HeapFree(lp->heap, 0, lp->block);
    else
        lp->result = HeapAlloc(lp->heap, 0, lp->size);
    __atomic_store_n(&lp->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* _i: 0 a 32 KB allocation, 1 a 64-byte allocation, 2 freeing a 64-byte block, 3 freeing 32 KB. */
START_TEST(other_threads_wait_while_a_heap_is_locked)
{
    static const char *what[] = {"HeapAlloc(32 KB)", "HeapAlloc(64)", "HeapFree(64-byte block)",
                                 "HeapFree(32 KB block)"};
    HANDLE h = new_heap(0, 0, 0);
    lock_probe lp;
    memset(&lp, 0, sizeof lp);
    lp.heap = h;
    lp.size = (_i == 0 || _i == 3) ? 32 * KB : 64;
    lp.free_it = _i >= 2;
    if (lp.free_it) {
        lp.block = HeapAlloc(h, 0, lp.size);
        ck_assert_ptr_nonnull(lp.block);
    }
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, locked_out, &lp), 0);
    while (!__atomic_load_n(&lp.ready, __ATOMIC_ACQUIRE))
        sched_yield();
    ck_assert(HeapLock(h));
    __atomic_store_n(&lp.go, 1, __ATOMIC_RELEASE);
    usleep(50 * 1000);
    int done_while_locked = __atomic_load_n(&lp.done, __ATOMIC_ACQUIRE);
    /* the owner itself is not held up */
    PVOID mine = HeapAlloc(h, 0, lp.size);
    ck_assert(HeapUnlock(h));
    pthread_join(t, NULL);
    ck_assert_msg(!done_while_locked, "%s on another thread completed while the heap was locked", what[_i]);
    ck_assert_int_eq(lp.done, 1);
    if (lp.free_it)
        ck_assert(lp.freed);
    else {
        ck_assert_ptr_nonnull(lp.result);
        ck_assert(HeapFree(h, 0, lp.result));
    }
    ck_assert_ptr_nonnull(mine);
    ck_assert(HeapFree(h, 0, mine));
    ck_assert(HeapValidate(h, 0, NULL));
    ck_assert(HeapDestroy(h));
}
END_TEST

/* ---- HeapWalk ------------------------------------------------------------------------------------- */

START_TEST(heap_walk_shows_regions_and_every_busy_block_once)
{
    HANDLE h = heap_of_kind(_i);
    enum { N = 40 };
    PVOID blocks[N], freed[N];
    SIZE_T sizes[N];
    int nfreed = 0;
    for (int i = 0; i < N; i++) {
        sizes[i] = i % 10 == 9 ? (_i == 3 ? 300 * KB : 600 * KB + (SIZE_T)i) : (SIZE_T)(i * 97 % 5000);
        blocks[i] = HeapAlloc(h, 0, sizes[i]);
        ck_assert_ptr_nonnull(blocks[i]);
        memset(blocks[i], 0x3C, sizes[i]);
    }
    /* free every third block */
    int live = 0;
    for (int i = 0; i < N; i++) {
        if (i % 3 == 1) {
            ck_assert(HeapFree(h, 0, blocks[i]));
            freed[nfreed++] = blocks[i];
        } else {
            blocks[live] = blocks[i];
            sizes[live] = sizes[i];
            live++;
        }
    }
    walk_result w;
    for (int locked = 0; locked < 2; locked++) {
        if (locked)
            ck_assert(HeapLock(h));
        walk_heap(h, blocks, sizes, live, freed, nfreed, &w);
        if (locked)
            ck_assert(HeapUnlock(h));
        ck_assert(w.ended);
        ck_assert_uint_eq(w.end_error, ERROR_NO_MORE_ITEMS);
        ck_assert_int_ge(w.regions, 1);
        ck_assert_int_ge(w.busy, live);
        for (int i = 0; i < live; i++) {
            ck_assert_msg(w.seen[i] == 1, "block %p (%zu bytes) seen %d times", blocks[i], sizes[i], w.seen[i]);
            ck_assert_msg(w.wrong_size[i] == 0, "block %p (%zu bytes) walked with another size", blocks[i],
                          sizes[i]);
        }
        ck_assert_int_eq(w.freed_busy, 0);
    }
    for (int i = 0; i < live; i++)
        ck_assert(HeapFree(h, 0, blocks[i]));
    /* all freed: none of them busy any more */
    walk_heap(h, NULL, NULL, 0, blocks, live, &w);
    ck_assert(w.ended);
    ck_assert_uint_eq(w.end_error, ERROR_NO_MORE_ITEMS);
    ck_assert_int_eq(w.freed_busy, 0);
    done_with_kind(_i, h);
}
END_TEST

START_TEST(heap_walk_of_a_new_heap_ends_with_no_more_items)
{
    HANDLE h = new_heap(0, 0, 0);
    walk_result w;
    walk_heap(h, NULL, NULL, 0, NULL, 0, &w);
    ck_assert(w.ended);
    ck_assert_uint_eq(w.end_error, ERROR_NO_MORE_ITEMS);
    ck_assert_int_ge(w.regions, 1);
    ck_assert_int_eq(w.busy, 0);
    /* walking again from the start gives the same */
    walk_result again;
    walk_heap(h, NULL, NULL, 0, NULL, 0, &again);
    ck_assert_int_eq(again.entries, w.entries);
    ck_assert(HeapDestroy(h));
}
END_TEST

/* ---- HeapSummary ---------------------------------------------------------------------------------- */

static HEAP_SUMMARY summary(HANDLE h)
{
    HEAP_SUMMARY s;
    memset(&s, 0xCC, sizeof s);
    s.cb = sizeof s;
    ck_assert(HeapSummary(h, 0, &s));
    ck_assert_uint_ge(s.cbCommitted, s.cbAllocated);
    ck_assert_uint_ge(s.cbReserved, s.cbCommitted);
    return s;
}

START_TEST(heap_summary_counts_allocated_committed_and_reserved_bytes)
{
    HANDLE h = new_heap(0, 0, 0);
    HEAP_SUMMARY s0 = summary(h);
    ck_assert_uint_gt(s0.cbReserved, 0);
    PVOID a = HeapAlloc(h, 0, 100000);
    ck_assert_ptr_nonnull(a);
    HEAP_SUMMARY s1 = summary(h);
    SIZE_T grew = s1.cbAllocated - s0.cbAllocated;
    ck_assert_msg(s1.cbAllocated >= s0.cbAllocated && grew >= 100000 && grew < 100000 + 16 * KB,
                  "cbAllocated went from %zu to %zu after HeapAlloc(100000)", s0.cbAllocated, s1.cbAllocated);

    SIZE_T live = 100000;
    PVOID small[50];
    for (int i = 0; i < 50; i++) {
        small[i] = HeapAlloc(h, 0, 1000);
        ck_assert_ptr_nonnull(small[i]);
        live += 1000;
    }
    PVOID big = HeapAlloc(h, 0, 700 * KB);
    ck_assert_ptr_nonnull(big);
    live += 700 * KB;
    HEAP_SUMMARY s2 = summary(h);
    ck_assert_msg(s2.cbAllocated >= live, "cbAllocated %zu < %zu bytes live", s2.cbAllocated, live);
    ck_assert_uint_ge(s2.cbCommitted, live);

    /* a wrong cb */
    static const DWORD wrong[] = {0, sizeof(HEAP_SUMMARY) - 1, sizeof(HEAP_SUMMARY) + 8, 4};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        HEAP_SUMMARY s;
        memset(&s, 0, sizeof s);
        s.cb = wrong[i];
        SetLastError(0);
        ck_assert_msg(!HeapSummary(h, 0, &s), "HeapSummary accepts cb %u", wrong[i]);
        ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
    }
    HEAP_SUMMARY sp = summary(GetProcessHeap());
    ck_assert_uint_gt(sp.cbReserved, 0);

    for (int i = 0; i < 50; i++)
        ck_assert(HeapFree(h, 0, small[i]));
    ck_assert(HeapFree(h, 0, a));
    ck_assert(HeapFree(h, 0, big));
    (void)summary(h);
    ck_assert(HeapDestroy(h));
}
END_TEST

/* ---- HeapQueryInformation and HeapSetInformation -------------------------------------------------- */

START_TEST(heap_information_reports_the_low_fragmentation_heap)
{
    HANDLE normal = new_heap(0, 0, 0);
    HANDLE unserialized = new_heap(HEAP_NO_SERIALIZE, 0, 0);
    HANDLE heaps[2] = {normal, GetProcessHeap()};
    for (int i = 0; i < 2; i++) {
        ULONG v = 0xFFFF;
        SIZE_T len = 0;
        ck_assert(HeapQueryInformation(heaps[i], HeapCompatibilityInformation, &v, sizeof v, &len));
        ck_assert_uint_eq(v, 2);
        ck_assert_uint_eq(len, sizeof(ULONG));
    }
    ULONG v = 0xFFFF;
    SIZE_T len = 0;
    ck_assert(HeapQueryInformation(unserialized, HeapCompatibilityInformation, &v, sizeof v, &len));
    ck_assert_uint_eq(v, 0);
    ck_assert_uint_eq(len, sizeof(ULONG));
    /* NULL for ReturnLength is allowed */
    v = 0xFFFF;
    ck_assert(HeapQueryInformation(normal, HeapCompatibilityInformation, &v, sizeof v, NULL));
    ck_assert_uint_eq(v, 2);

    ULONG two = 2;
    ck_assert(HeapSetInformation(normal, HeapCompatibilityInformation, &two, sizeof two));
    v = 0xFFFF;
    ck_assert(HeapQueryInformation(normal, HeapCompatibilityInformation, &v, sizeof v, &len));
    ck_assert_uint_eq(v, 2);
    ck_assert(HeapSetInformation(GetProcessHeap(), HeapCompatibilityInformation, &two, sizeof two));
    ck_assert(HeapSetInformation(NULL, HeapEnableTerminationOnCorruption, NULL, 0));

    /* a buffer too small */
    USHORT tiny = 0;
    ck_assert(!HeapQueryInformation(normal, HeapCompatibilityInformation, &tiny, sizeof tiny, &len));

    /* and the heaps still work */
    PVOID p = HeapAlloc(normal, 0, 100);
    ck_assert_ptr_nonnull(p);
    ck_assert(HeapFree(normal, 0, p));
    ck_assert(HeapDestroy(normal));
    ck_assert(HeapDestroy(unserialized));
}
END_TEST

/* ---- the Rtl forms ---------------------------------------------------------------------------------- */

START_TEST(rtl_heap_routines_create_allocate_size_free_and_destroy)
{
    PVOID h = RtlCreateHeap(HEAP_GROWABLE, NULL, 0, 0, NULL, NULL);
    ck_assert_ptr_nonnull(h);
    PUCHAR p = RtlAllocateHeap(h, HEAP_ZERO_MEMORY, 300);
    ck_assert_ptr_nonnull(p);
    ck_assert(IS_ALIGNED16(p));
    ck_assert_zero(p, 300);
    ck_assert_uint_eq(RtlSizeHeap(h, 0, p), 300);
    fill(p, 300, 12);
    PUCHAR big = RtlAllocateHeap(h, 0, 600 * KB);
    ck_assert_ptr_nonnull(big);
    memset(big, 0x12, 600 * KB);
    ck_assert_uint_eq(RtlSizeHeap(h, 0, big), 600 * KB);
    /* the same heap through the Win32 names */
    ck_assert_uint_eq(HeapSize(h, 0, p), 300);
    PVOID w = HeapAlloc(h, 0, 40);
    ck_assert_ptr_nonnull(w);
    ck_assert_uint_eq(RtlSizeHeap(h, 0, w), 40);
    ck_assert(RtlFreeHeap(h, 0, w));
    ck_assert(HeapValidate(h, 0, NULL));
    ck_assert_pattern(p, 300, 12);
    ck_assert(RtlFreeHeap(h, 0, p));
    ck_assert(RtlFreeHeap(h, 0, big));
    ck_assert_ptr_null(RtlDestroyHeap(h));

    /* the process heap through the Rtl names */
    PVOID q = RtlAllocateHeap(GetProcessHeap(), 0, 77);
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_eq(RtlSizeHeap(GetProcessHeap(), 0, q), 77);
    ck_assert(RtlFreeHeap(GetProcessHeap(), 0, q));
}
END_TEST

/* ---- threads ---------------------------------------------------------------------------------------- */

#define HANDOFF 600

typedef struct handoff {
    HANDLE heap;
    PUCHAR p[HANDOFF];
    SIZE_T n[HANDOFF];
    int bad, failed;
} handoff;

static SIZE_T handoff_size(int i)
{
    return i % 100 == 99 ? 600 * KB : (SIZE_T)(i * 37 % 3000);
}

static void *alloc_all(void *arg)
{
    handoff *ho = arg;
    for (int i = 0; i < HANDOFF; i++) {
        ho->n[i] = handoff_size(i);
        ho->p[i] = HeapAlloc(ho->heap, 0, ho->n[i]);
        if (ho->p[i] == NULL) {
            ho->failed++;
            continue;
        }
        memcpy(ho->p[i], pattern((UCHAR)i), ho->n[i]);
    }
    return NULL;
}

static void *free_all(void *arg)
{
    handoff *ho = arg;
    for (int i = 0; i < HANDOFF; i++) {
        if (ho->p[i] == NULL)
            continue;
        if (memcmp(ho->p[i], pattern((UCHAR)i), ho->n[i]) != 0)
            ho->bad++;
        if (!HeapFree(ho->heap, 0, ho->p[i]))
            ho->failed++;
        ho->p[i] = NULL;
    }
    return NULL;
}

static void run_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, fn, arg), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
}

START_TEST(blocks_allocated_on_one_thread_are_freed_on_another)
{
    make_noise();
    static handoff ho;
    HANDLE heaps[3] = {GetProcessHeap(), new_heap(0, 0, 0), new_heap(0, 0, 0)};
    for (int k = 0; k < 3; k++) {
        memset(&ho, 0, sizeof ho);
        ho.heap = heaps[k];
        /* another thread allocates, this one frees */
        run_thread(alloc_all, &ho);
        free_all(&ho);
        ck_assert_int_eq(ho.bad, 0);
        ck_assert_int_eq(ho.failed, 0);
        ck_assert(HeapValidate(heaps[k], 0, NULL));
        /* this one allocates, another thread frees */
        alloc_all(&ho);
        run_thread(free_all, &ho);
        ck_assert_int_eq(ho.bad, 0);
        ck_assert_int_eq(ho.failed, 0);
        ck_assert(HeapValidate(heaps[k], 0, NULL));
        /* the memory comes back into use here */
        alloc_all(&ho);
        free_all(&ho);
        ck_assert_int_eq(ho.bad, 0);
        ck_assert_int_eq(ho.failed, 0);
        ck_assert(HeapValidate(heaps[k], 0, NULL));
    }
    ck_assert(HeapDestroy(heaps[1]));
    /* a heap is destroyed with blocks another thread allocated still in it */
    memset(&ho, 0, sizeof ho);
    ho.heap = heaps[2];
    run_thread(alloc_all, &ho);
    ck_assert(HeapDestroy(heaps[2]));
}
END_TEST

START_TEST(blocks_of_threads_that_have_exited_stay_valid_and_can_be_freed)
{
    make_noise();
    enum { GENERATIONS = 8 };
    static handoff ho[GENERATIONS];
    HANDLE h = new_heap(0, 0, 0);
    for (int g = 0; g < GENERATIONS; g++) {
        memset(&ho[g], 0, sizeof ho[g]);
        ho[g].heap = g % 2 ? h : GetProcessHeap();
        run_thread(alloc_all, &ho[g]); /* the thread is gone once this returns */
        ck_assert_int_eq(ho[g].failed, 0);
    }
    ck_assert(HeapValidate(h, 0, NULL));
    ck_assert(HeapValidate(GetProcessHeap(), 0, NULL));
    for (int g = 0; g < GENERATIONS; g += 2) /* some here, some on yet another thread */
        free_all(&ho[g]);
    for (int g = 1; g < GENERATIONS; g += 2)
        run_thread(free_all, &ho[g]);
    for (int g = 0; g < GENERATIONS; g++) {
        ck_assert_int_eq(ho[g].bad, 0);
        ck_assert_int_eq(ho[g].failed, 0);
    }
    ck_assert(HeapValidate(h, 0, NULL));
    ck_assert(HeapValidate(GetProcessHeap(), 0, NULL));
    memset(&ho[0], 0, sizeof ho[0]);
    ho[0].heap = h;
    alloc_all(&ho[0]);
    free_all(&ho[0]);
    ck_assert_int_eq(ho[0].bad, 0);
    ck_assert_int_eq(ho[0].failed, 0);
    ck_assert(HeapDestroy(h));
}
END_TEST

/* ---- the random reference-model test ---------------------------------------------------------------- */

#define MODEL_SLOTS 256
#define MODEL_OPS 20000

typedef struct model_block {
    PUCHAR p;
    SIZE_T n;
    UCHAR seed;
} model_block;

static SIZE_T model_size(int big_ok)
{
    if (big_ok && rand() % 100 == 0)
        return 600 * KB + (SIZE_T)(rand() % 8192);
    return (SIZE_T)(rand() % 2049);
}

/* _i: 0 a growable heap, 1 a HEAP_NO_SERIALIZE heap, 2 a fixed 32 MB heap (no big blocks). */
START_TEST(random_operations_match_a_reference_model)
{
    static const DWORD flags[] = {0, HEAP_NO_SERIALIZE, 0};
    static const SIZE_T max[] = {0, 0, 32 * MB};
    static const int ops[] = {MODEL_OPS, MODEL_OPS / 4, MODEL_OPS / 4};
    int big_ok = _i != 2;
    srand(20240601u + (unsigned)_i);
    HANDLE h = new_heap(flags[_i], 0, max[_i]);
    static model_block m[MODEL_SLOTS];
    memset(m, 0, sizeof m);
    int live = 0, reallocs = 0, in_place_refused = 0;
    for (int op = 0; op < ops[_i]; op++) {
        model_block *b = &m[rand() % MODEL_SLOTS];
        int r = rand() % 100;
        if (b->p == NULL) {
            int zero = rand() % 4 == 0;
            SIZE_T n = model_size(big_ok);
            PUCHAR p = HeapAlloc(h, zero ? HEAP_ZERO_MEMORY : 0, n);
            ck_assert_msg(p != NULL, "op %d: HeapAlloc(%zu) failed", op, n);
            ck_assert_msg(IS_ALIGNED16(p), "op %d: HeapAlloc(%zu) = %p", op, n, (void *)p);
            if (zero)
                ck_assert_zero(p, n);
            ck_assert_uint_eq(HeapSize(h, 0, p), n);
            b->p = p;
            b->n = n;
            b->seed = (UCHAR)rand();
            fill(p, n, b->seed);
            live++;
        } else if (r < 35) {
            ck_assert_pattern(b->p, b->n, b->seed);
            ck_assert_msg(HeapFree(h, 0, b->p), "op %d: HeapFree(%p) failed", op, (void *)b->p);
            b->p = NULL;
            live--;
        } else if (r < 70) {
            int in_place = rand() % 4 == 0, zero = rand() % 4 == 0;
            SIZE_T n = model_size(big_ok);
            DWORD fl = (in_place ? HEAP_REALLOC_IN_PLACE_ONLY : 0) | (zero ? HEAP_ZERO_MEMORY : 0);
            ck_assert_pattern(b->p, b->n, b->seed);
            PUCHAR q = HeapReAlloc(h, fl, b->p, n);
            reallocs++;
            if (in_place && q == NULL) { /* refused: the block is exactly as it was */
                in_place_refused++;
                ck_assert_uint_eq(HeapSize(h, 0, b->p), b->n);
                ck_assert_pattern(b->p, b->n, b->seed);
                continue;
            }
            ck_assert_msg(q != NULL, "op %d: HeapReAlloc(%zu -> %zu, 0x%x) failed", op, b->n, n, fl);
            if (in_place)
                ck_assert_msg(q == b->p, "op %d: in-place HeapReAlloc moved %p to %p", op, (void *)b->p, (void *)q);
            ck_assert(IS_ALIGNED16(q));
            ck_assert_uint_eq(HeapSize(h, 0, q), n);
            ck_assert_pattern(q, b->n < n ? b->n : n, b->seed);
            if (zero && n > b->n)
                ck_assert_zero(q + b->n, n - b->n);
            b->p = q;
            b->n = n;
            b->seed = (UCHAR)rand();
            fill(q, n, b->seed);
        } else if (r < 90) {
            ck_assert_uint_eq(HeapSize(h, 0, b->p), b->n);
            ck_assert_pattern(b->p, b->n, b->seed);
        } else {
            ck_assert_msg(HeapValidate(h, 0, b->p), "op %d: HeapValidate(%p) failed", op, (void *)b->p);
        }
        if (op % 1000 == 999)
            ck_assert_msg(HeapValidate(h, 0, NULL), "op %d: HeapValidate(heap) failed", op);
    }
    ck_assert_int_gt(reallocs, 0);
    (void)in_place_refused;

    /* the walk shows exactly the model's live blocks as busy, each once */
    SIZE_T total = 0;
    int seen_live = 0;
    PROCESS_HEAP_ENTRY e;
    memset(&e, 0, sizeof e);
    static int seen[MODEL_SLOTS];
    memset(seen, 0, sizeof seen);
    int guard = 0;
    while (HeapWalk(h, &e) && ++guard < 4000000) {
        if (!(e.wFlags & PROCESS_HEAP_ENTRY_BUSY))
            continue;
        for (int i = 0; i < MODEL_SLOTS; i++)
            if (m[i].p != NULL && e.lpData == m[i].p) {
                seen[i]++;
                ck_assert_uint_eq(e.cbData, m[i].n);
            }
    }
    ck_assert_uint_eq(GetLastError(), ERROR_NO_MORE_ITEMS);
    for (int i = 0; i < MODEL_SLOTS; i++)
        if (m[i].p != NULL) {
            ck_assert_msg(seen[i] == 1, "live block %p (%zu bytes) walked %d times", (void *)m[i].p, m[i].n, seen[i]);
            total += m[i].n;
            seen_live++;
        }
    ck_assert_int_eq(seen_live, live);
    HEAP_SUMMARY s = summary(h);
    ck_assert_uint_ge(s.cbAllocated, total);

    /* free half, check the rest, destroy with the rest still allocated */
    for (int i = 0; i < MODEL_SLOTS; i += 2)
        if (m[i].p != NULL) {
            ck_assert_pattern(m[i].p, m[i].n, m[i].seed);
            ck_assert(HeapFree(h, 0, m[i].p));
        }
    for (int i = 1; i < MODEL_SLOTS; i += 2)
        if (m[i].p != NULL)
            ck_assert_pattern(m[i].p, m[i].n, m[i].seed);
    ck_assert(HeapValidate(h, 0, NULL));
    ck_assert(HeapDestroy(h));
}
END_TEST

/* ---- the suite ---------------------------------------------------------------------------------- */

static Suite *heap_suite(void)
{
    Suite *s = suite_create("heap");
    TCase *t = tcase_create("create and destroy");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, the_process_heap_exists_from_the_start_and_cannot_be_destroyed);
    tcase_add_test(t, get_process_heaps_lists_the_process_heap_first_then_every_private_heap);
    tcase_add_test(t, heap_create_gives_distinct_handles_in_private_committed_memory);
    tcase_add_test(t, heap_destroy_releases_every_segment_and_big_block_and_gives_back_the_commit);
    tcase_add_test(t, heap_destroy_refuses_unknown_handles_and_the_process_heap);
    tcase_add_test(t, a_fixed_heap_reserves_its_maximum_and_commits_on_demand);
    suite_add_tcase(s, t);

    t = tcase_create("alloc");
    tcase_set_timeout(t, 60);
    tcase_add_loop_test(t, blocks_are_16_byte_aligned_sized_as_asked_and_never_overlap, 0, HEAP_KINDS);
    tcase_add_loop_test(t, heap_zero_memory_zeroes_blocks_even_where_old_data_was, 0, HEAP_KINDS);
    tcase_add_test(t, failed_allocations_return_null_and_set_not_enough_memory);
    tcase_add_test(t, allocations_fail_cleanly_at_the_commit_limit);
    tcase_add_test(t, heap_generate_exceptions_raises_status_no_memory);
    tcase_add_test(t, big_blocks_get_their_own_region_which_heap_free_releases);
    tcase_add_test(t, heap_size_is_the_size_asked_for);
    suite_add_tcase(s, t);

    t = tcase_create("realloc");
    tcase_set_timeout(t, 60);
    tcase_add_loop_test(t, realloc_grows_and_shrinks_keeping_the_contents, 0, HEAP_KINDS);
    tcase_add_test(t, realloc_with_heap_zero_memory_zeroes_the_grown_part);
    tcase_add_test(t, realloc_in_place_only_never_moves_and_leaves_the_block_alone_when_it_cannot);
    tcase_add_test(t, realloc_of_null_returns_null_and_a_failed_realloc_keeps_the_block);
    suite_add_tcase(s, t);

    t = tcase_create("free validate compact");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, heap_free_of_null_succeeds_and_unknown_heaps_are_refused);
    tcase_add_loop_test(t, heap_validate_accepts_busy_blocks_only, 0, HEAP_KINDS);
    tcase_add_test(t, heap_compact_reports_the_largest_free_block);
    tcase_add_test(t, heap_compact_decommits_free_pages);
    suite_add_tcase(s, t);

    t = tcase_create("lock walk summary information");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, the_lock_owner_keeps_using_its_locked_heap);
    tcase_add_loop_test(t, other_threads_wait_while_a_heap_is_locked, 0, 4);
    tcase_add_loop_test(t, heap_walk_shows_regions_and_every_busy_block_once, 0, HEAP_KINDS);
    tcase_add_test(t, heap_walk_of_a_new_heap_ends_with_no_more_items);
    tcase_add_test(t, heap_summary_counts_allocated_committed_and_reserved_bytes);
    tcase_add_test(t, heap_information_reports_the_low_fragmentation_heap);
    tcase_add_test(t, rtl_heap_routines_create_allocate_size_free_and_destroy);
    suite_add_tcase(s, t);

    t = tcase_create("threads and model");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, blocks_allocated_on_one_thread_are_freed_on_another);
    tcase_add_test(t, blocks_of_threads_that_have_exited_stay_valid_and_can_be_freed);
    tcase_add_loop_test(t, random_operations_match_a_reference_model, 0, 3);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    make_noise();
    SRunner *r = srunner_create(heap_suite());
    srunner_run_all(r, CK_NORMAL);
    int failures = srunner_ntests_failed(r);
    srunner_free(r);
    return failures != 0;
}
