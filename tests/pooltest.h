/* pooltest.h - helpers shared by the pool tests: one tag's poolmon counters, expected block sizes. */
#ifndef NTMEM_TESTS_POOLTEST_H
#define NTMEM_TESTS_POOLTEST_H

#include <check.h>
#include <stdlib.h>
#include <ntddk.h>
#include <ntmem.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
/* Misuse tests scribble on bytes the pool has poisoned for ASan (headers of neighbours, freed
 * blocks); they unpoison them first so that the pool's own diagnosis is what fires. */
#define pt_unpoison(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define pt_unpoison(p, n) ((void)(p), (void)(n))
#endif

/* Bytes a small block of n requested bytes occupies, header included: rounded up to 16, at least 32.
 * (The pool may give one more 16-byte unit when a page's last remainder is too small to keep.) */
static inline SIZE_T pt_small_block_bytes(SIZE_T n)
{
    SIZE_T b = (n + 16 + 15) & ~(SIZE_T)15;
    return b < 32 ? 32 : b;
}

/* The whole SYSTEM_POOLTAG_INFORMATION, sized by asking first; the caller frees it. */
static inline PSYSTEM_POOLTAG_INFORMATION pt_query_tags(void)
{
    ULONG need = 0;
    NTSTATUS s = ZwQuerySystemInformation(SystemPoolTagInformation, NULL, 0, &need);
    ck_assert_uint_eq((ULONG)s, (ULONG)STATUS_INFO_LENGTH_MISMATCH);
    for (;;) {
        ULONG size = need + 16 * sizeof(SYSTEM_POOLTAG);
        PSYSTEM_POOLTAG_INFORMATION info = malloc(size);
        ck_assert_ptr_nonnull(info);
        s = ZwQuerySystemInformation(SystemPoolTagInformation, info, size, &need);
        if (s == STATUS_SUCCESS)
            return info;
        ck_assert_uint_eq((ULONG)s, (ULONG)STATUS_INFO_LENGTH_MISMATCH);
        free(info);
    }
}

/* One tag's counters (all zero when the tag was never used). Returns whether it was listed. */
static inline int pt_tag_counts(ULONG tag, SYSTEM_POOLTAG *out)
{
    PSYSTEM_POOLTAG_INFORMATION info = pt_query_tags();
    int found = 0;
    memset(out, 0, sizeof *out);
    for (ULONG i = 0; i < info->Count; i++) {
        if (info->TagInfo[i].TagUlong == tag) {
            ck_assert_msg(!found, "tag 0x%08X listed twice", tag);
            *out = info->TagInfo[i];
            found = 1;
        }
    }
    free(info);
    return found;
}

static inline NTMEM_POOL_USAGE pt_usage(POOL_TYPE type)
{
    NTMEM_POOL_USAGE u;
    ck_assert_uint_eq((ULONG)ntmem_query_pool_usage(type, &u), (ULONG)STATUS_SUCCESS);
    return u;
}

/* Bytes a live block was charged as (header included): what poolmon and quotas count. */
static inline SIZE_T pt_charged_bytes(PVOID p, SIZE_T n)
{
    SIZE_T data = ExQueryPoolBlockSize(p, NULL);
    if (n > 4048)
        return data;
    return data + 16;
}

/* A tiny deterministic generator, so failures reproduce. */
static inline ULONG pt_rand(ULONG64 *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (ULONG)(*state >> 33);
}

#endif /* NTMEM_TESTS_POOLTEST_H */
