/* track.h - tells ASan and Valgrind memcheck which pool bytes are allocations and which are not. */
#ifndef NTMEM_EX_TRACK_H
#define NTMEM_EX_TRACK_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define ExpAsanPoison(p, n) __asan_poison_memory_region((p), (n))
#define ExpAsanUnpoison(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define ExpAsanPoison(p, n) ((void)(p), (void)(n))
#define ExpAsanUnpoison(p, n) ((void)(p), (void)(n))
#endif

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__) && !defined(NTMEM_NO_VALGRIND)
#include <valgrind/memcheck.h>
#define NTMEM_HAVE_VALGRIND 1
#endif
#endif

#ifdef NTMEM_HAVE_VALGRIND
/* Read once at start-up; the client requests themselves live out of line (pool_track.c) so that
 * native runs pay one predictable branch and no stack frame on the fast paths. */
extern __attribute__((visibility("hidden"))) int ExpUnderValgrind;
__attribute__((visibility("hidden"), cold)) void ExpValgrindMalloc(void *p, size_t n);
__attribute__((visibility("hidden"), cold)) void ExpValgrindFree(void *p);
__attribute__((visibility("hidden"), cold)) void ExpValgrindAccess(void *p, size_t n, int accessible);
#define ExpVgMalloc(p, n) do { if (__builtin_expect(ExpUnderValgrind, 0)) ExpValgrindMalloc((p), (n)); } while (0)
#define ExpVgFree(p) do { if (__builtin_expect(ExpUnderValgrind, 0)) ExpValgrindFree(p); } while (0)
#define ExpVgAccess(p, n) do { if (__builtin_expect(ExpUnderValgrind, 0)) ExpValgrindAccess((p), (n), 1); } while (0)
#define ExpVgNoAccess(p, n) do { if (__builtin_expect(ExpUnderValgrind, 0)) ExpValgrindAccess((p), (n), 0); } while (0)
#else
#define ExpVgMalloc(p, n) ((void)(p), (void)(n))
#define ExpVgFree(p) ((void)(p))
#define ExpVgAccess(p, n) ((void)(p), (void)(n))
#define ExpVgNoAccess(p, n) ((void)(p), (void)(n))
#endif

/* True when a tool watches the pool: the fast paths then step aside for the tracked slow paths. */
#if defined(__SANITIZE_ADDRESS__)
#define ExpTrackingActive() 1
#elif defined(NTMEM_HAVE_VALGRIND)
#define ExpTrackingActive() __builtin_expect(ExpUnderValgrind, 0)
#else
#define ExpTrackingActive() 0
#endif

/* A block becomes the caller's: Bytes are usable, the rest of the block's data is a red zone. */
#define ExpTrackAlloc(p, Bytes, DataSize)                                            \
    do {                                                                             \
        ExpAsanUnpoison((p), (Bytes));                                               \
        ExpVgMalloc((p), (Bytes));                                                   \
        if ((DataSize) > (Bytes)) {                                                  \
            ExpAsanPoison((char *)(p) + (Bytes), (DataSize) - (Bytes));              \
            ExpVgNoAccess((char *)(p) + (Bytes), (DataSize) - (Bytes));              \
        }                                                                            \
    } while (0)

/* A block goes back to the pool: all of its data becomes inaccessible to the caller. */
#define ExpTrackFree(p, DataSize)                                                    \
    do {                                                                             \
        ExpVgFree(p);                                                                \
        ExpAsanPoison((p), (DataSize));                                              \
    } while (0)

/* The pool itself reads or writes the link words of a free block. */
#define ExpTrackInternal(p, n) do { ExpAsanUnpoison((p), (n)); ExpVgAccess((p), (n)); } while (0)
#define ExpTrackInternalDone(p, n) do { ExpAsanPoison((p), (n)); ExpVgNoAccess((p), (n)); } while (0)

#endif /* NTMEM_EX_TRACK_H */
