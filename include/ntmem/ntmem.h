/* ntmem.h - ntmem's own extras: configuration, bug-check hook, pool inspection and statistics. */
#ifndef NTMEM_NTMEM_H
#define NTMEM_NTMEM_H

#include "wdm.h"

NTMEM_BEGIN_DECLS

#define NTMEM_VERSION_MAJOR 0
#define NTMEM_VERSION_MINOR 1

/*
 * Environment variables read once, at initialisation:
 *   NTMEM_NONPAGED_POOL_MAX, NTMEM_PAGED_POOL_MAX   pool maxima in bytes (suffix K, M or G allowed)
 *   NTMEM_POOL_REPORT=1                              print the poolmon-style table at process exit
 *   NTMEM_PAGEFILE=path, NTMEM_PAGEFILE_SIZE=bytes    the page file (default $TMPDIR/ntmem-pagefile-<pid>, 256M)
 *   NTMEM_PAGED_POOL_WS=bytes                        resident pageable memory the balance set keeps to
 */

/* ---- bug checks ------------------------------------------------------------------------------- */
/*
 * A hook receives every bug check instead of the STOP report and SIGABRT. It is meant for tests: it
 * may longjmp out or exit the process. If it returns, the bug check proceeds as if no hook were set.
 * Returns the previous hook; NULL removes the hook.
 */
typedef VOID (*NTMEM_BUGCHECK_HOOK)(ULONG BugCheckCode, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3,
                                    ULONG_PTR P4);
NTMEM_API NTMEM_BUGCHECK_HOOK ntmem_set_bugcheck_hook(NTMEM_BUGCHECK_HOOK Hook);
/* The symbolic name of a bug-check code ("BAD_POOL_CALLER"), or "UNKNOWN_BUGCHECK". */
NTMEM_API PCSTR ntmem_bugcheck_name(ULONG BugCheckCode);

/* ---- exceptions -------------------------------------------------------------------------------- */
/*
 * Whether the calling thread runs "kernel" or "user" code decides what an unhandled exception does:
 * KernelMode (the default, or NTMEM_MODE=kernel) ends in STOP 0x1E; UserMode (NTMEM_MODE=user) goes
 * to the unhandled-exception filter and then to a report and SIGABRT, as a Win32 process would.
 */
NTMEM_API VOID ntmem_set_thread_mode(KPROCESSOR_MODE Mode);
NTMEM_API KPROCESSOR_MODE ntmem_get_thread_mode(VOID);

/* ---- pool limits and usage -------------------------------------------------------------------- */
/* Sets the maximum bytes the nonpaged or paged pool may commit (PoolType's base type decides which).
 * Values above the reserved size of the pool's region are clipped to it. */
NTMEM_API NTSTATUS ntmem_set_pool_limit(POOL_TYPE PoolType, SIZE_T MaximumBytes);

typedef struct _NTMEM_POOL_USAGE {
    SIZE_T LimitBytes;        /* current maximum */
    SIZE_T ReservedBytes;     /* size of the region reserved for this pool */
    SIZE_T CommittedBytes;    /* pages committed to the pool, in bytes */
    SIZE_T PeakCommittedBytes;
    SIZE_T UsedBytes;         /* bytes in allocated blocks, headers included (poolmon's Bytes) */
    SIZE_T BigAllocations;    /* live allocations of a page or more */
} NTMEM_POOL_USAGE, *PNTMEM_POOL_USAGE;
NTMEM_API NTSTATUS ntmem_query_pool_usage(POOL_TYPE PoolType, PNTMEM_POOL_USAGE Usage);

/* Returns the calling thread's cached free pool blocks to the shared pool (as thread exit does). */
NTMEM_API VOID ntmem_flush_thread_pool_cache(VOID);

/* ---- !pool: what is at an address ------------------------------------------------------------- */
typedef struct _NTMEM_POOL_BLOCK_INFO {
    PVOID Header;          /* the block's POOL_HEADER, or NULL for page-sized (big) allocations */
    PVOID Block;           /* the address the allocator returned */
    SIZE_T BlockSize;      /* bytes in the block, header included (whole pages for big blocks) */
    ULONG Tag;             /* as allocated, PROTECTED_POOL bit included */
    POOL_TYPE PoolType;    /* base pool type */
    BOOLEAN Allocated;     /* FALSE for free blocks (including ones held in per-thread caches) */
    BOOLEAN QuotaCharged;
    PEPROCESS ProcessBilled;
} NTMEM_POOL_BLOCK_INFO, *PNTMEM_POOL_BLOCK_INFO;
/* Finds the pool block containing Address (any byte of it). STATUS_INVALID_ADDRESS if none. */
NTMEM_API NTSTATUS ntmem_pool_lookup(PVOID Address, PNTMEM_POOL_BLOCK_INFO Info);

/* Writes the poolmon-style table (Tag Type Allocs Frees Diff Bytes PerAlloc) to a file descriptor. */
NTMEM_API VOID ntmem_print_pool_report(int Fd);

/* ---- process quotas --------------------------------------------------------------------------- */
typedef struct _NTMEM_QUOTA_USAGE {
    SIZE_T PagedPoolLimit;
    SIZE_T NonPagedPoolLimit;
    SIZE_T QuotaPagedPoolUsage;
    SIZE_T QuotaPeakPagedPoolUsage;
    SIZE_T QuotaNonPagedPoolUsage;
    SIZE_T QuotaPeakNonPagedPoolUsage;
} NTMEM_QUOTA_USAGE, *PNTMEM_QUOTA_USAGE;
/* Limits of (SIZE_T)-1 mean unlimited, the default. */
NTMEM_API NTSTATUS ntmem_set_process_quota_limits(PEPROCESS Process, SIZE_T PagedPoolLimit,
                                                  SIZE_T NonPagedPoolLimit);
NTMEM_API NTSTATUS ntmem_query_process_quota(PEPROCESS Process, PNTMEM_QUOTA_USAGE Usage);

/* ---- lookaside lists ------------------------------------------------------------------------- */
/* One registered lookaside list, with exact statistics summed over every thread's cache. */
typedef struct _NTMEM_LOOKASIDE_INFO {
    PVOID List;              /* the NPAGED_/PAGED_LOOKASIDE_LIST or LOOKASIDE_LIST_EX */
    POOL_TYPE Type;
    ULONG Tag;
    ULONG Size;
    USHORT Depth;
    USHORT MaximumDepth;
    BOOLEAN Ex;              /* initialised by ExInitializeLookasideListEx */
    ULONG64 TotalAllocates;
    ULONG64 AllocateMisses;  /* allocations the list's Allocate routine had to serve */
    ULONG64 TotalFrees;
    ULONG64 FreeMisses;      /* frees the list's Free routine had to take */
    ULONG64 HeldBlocks;      /* blocks held by the list and its per-thread caches */
} NTMEM_LOOKASIDE_INFO, *PNTMEM_LOOKASIDE_INFO;

/* Fills up to Count entries (also refreshing each list's GENERAL_LOOKASIDE counters) and returns the
 * number of registered lists in *Total. STATUS_BUFFER_TOO_SMALL when Count < *Total. */
NTMEM_API NTSTATUS ntmem_query_lookaside_lists(PNTMEM_LOOKASIDE_INFO Info, ULONG Count, PULONG Total);
/* Runs one balance-set pass now (what the balance set thread does once a second). */
NTMEM_API VOID ntmem_adjust_lookaside_depths(VOID);
/* The balance set thread's period in milliseconds (default 1000, also NTMEM_LOOKASIDE_PERIOD_MS);
 * 0 stops the thread's adjustments. */
NTMEM_API VOID ntmem_set_lookaside_period(ULONG Milliseconds);

/* ---- Driver Verifier switches (the checks that exist so far use them) ----------------------------- */
#define NTMEM_VERIFIER_SPECIAL_POOL 0x00000001
#define NTMEM_VERIFIER_IRQL_CHECKING 0x00000002
#define NTMEM_VERIFIER_LOW_RESOURCES 0x00000004
#define NTMEM_VERIFIER_POOL_TRACKING 0x00000008
/* Replaces the verifier switches; NTMEM_VERIFIER in the environment sets them at start-up. Returns
 * the previous switches. With any switch on, lookaside misuse is STOP 0xC4 (0xCA-0xCD). */
/* The commit limit for virtual memory, in bytes (default: physical memory plus swap, or
 * NTMEM_COMMIT_LIMIT); returns the previous one. Commits beyond it fail with STATUS_COMMITMENT_LIMIT
 * (ERROR_COMMITMENT_LIMIT). */
NTMEM_API SIZE_T ntmem_set_commit_limit(SIZE_T Bytes);

/* Heap debugging, like PageHeap: NTMEM_HEAP_DEBUG=fill,tail,free,fullpage at start-up, or this call;
 * it applies to heaps created afterwards (the process heap is created at load). Debug heaps do not
 * use the front end. fill: new blocks hold 0xBAADF00D, freed ones 0xFEEEFEEE. tail: the bytes after
 * each block are filled and checked at free, realloc and validate. free: a freed block must still
 * hold its fill when reused. fullpage: every block ends at an inaccessible page and freed blocks stay
 * inaccessible for a while, so overruns and uses after free fault at once. Returns the old flags. */
#define NTMEM_HEAP_DEBUG_FILL 0x1
#define NTMEM_HEAP_DEBUG_TAIL 0x2
#define NTMEM_HEAP_DEBUG_FREE 0x4
#define NTMEM_HEAP_DEBUG_FULLPAGE 0x8
NTMEM_API ULONG ntmem_set_heap_debug(ULONG Flags);

NTMEM_API ULONG ntmem_set_verifier_flags(ULONG Flags);
/* Applies a switch list in NTMEM_VERIFIER's syntax - "special_pool=tag:Tag1+size:16-64+start,
 * pool_tracking,irql_checking,low_resources=percent:seed:grace" - as the flags, special pool and low
 * resources settings (the flags replace the current ones). STATUS_INVALID_PARAMETER, with nothing
 * changed, for a switch or parameter it cannot read. NTMEM_VERIFIER itself is applied this way at
 * start-up. */
NTMEM_API NTSTATUS ntmem_configure_verifier(PCSTR Text);

/* Special pool (NTMEM_VERIFIER=special_pool, or ntmem_set_verifier_flags): each selected allocation
 * of up to a page sits alone on a page next to an inaccessible one - at the end of its page (an
 * overrun faults at once: STOP 0xD6) or, with VerifyStart, at the start (an underrun faults). The
 * rest of the page holds a pattern checked at free (STOP 0xC1, P4 0x20-0x24 as documented), and freed
 * blocks stay inaccessible for a while (a use after free is STOP 0xD5). Selection: Tag (0: any; as
 * written in code, e.g. 'gaT1'), and a size range. From the environment:
 * special_pool=tag:Tag1+size:16-64+start. When special pool is exhausted, normal pool serves. */
typedef struct _NTMEM_SPECIAL_POOL_SETTINGS {
    ULONG Tag;
    SIZE_T MinSize;
    SIZE_T MaxSize;
    BOOLEAN VerifyStart;
} NTMEM_SPECIAL_POOL_SETTINGS, *PNTMEM_SPECIAL_POOL_SETTINGS;
typedef const NTMEM_SPECIAL_POOL_SETTINGS *PCNTMEM_SPECIAL_POOL_SETTINGS;

typedef struct _NTMEM_SPECIAL_POOL_INFO {
    ULONG64 Considered;  /* allocations looked at while special pool was on */
    ULONG64 Allocations; /* served from special pool: Allocations / Considered is the fraction */
    ULONG64 Fallbacks;   /* selected, but special pool was exhausted */
    ULONG64 Frees;
    ULONG64 Outstanding;
} NTMEM_SPECIAL_POOL_INFO, *PNTMEM_SPECIAL_POOL_INFO;

NTMEM_API VOID ntmem_set_special_pool(PCNTMEM_SPECIAL_POOL_SETTINGS Settings);
/* How much system PTE space special pool may commit (two pages a block, counting blocks freed but
 * still held inaccessible); 0 restores the whole region. Returns the previous limit. For exercising
 * the fallback to normal pool when special pool is exhausted. */
NTMEM_API SIZE_T ntmem_set_special_pool_limit(SIZE_T Bytes);

/* Low resources simulation (NTMEM_VERIFIER=low_resources=percent:seed:grace): after Grace pool
 * allocations, each one fails with Percent% probability, from one seeded sequence per process (a
 * seed replays a single-threaded run exactly). A failing allocation behaves as pool exhaustion: NULL,
 * or the documented raise. Blocks already in lookaside and per-thread caches are not affected. */
NTMEM_API VOID ntmem_set_low_resources(ULONG Percent, ULONG64 Seed, ULONG64 Grace);

/* Pool attributed to drivers, and pool tracking (NTMEM_VERIFIER=pool_tracking): while a driver image
 * is registered, allocations whose call stack passes through it belong to that driver (as Windows
 * attributes them, by the calling image) and are counted per driver and tag. Unloading a driver that
 * still owns pool prints its allocations grouped by tag with their stacks and returns how many there
 * are; under pool tracking it is then STOP 0xC4 (P1 0x62, P2 the driver's name, P4 how many). The
 * driver host registers the images it loads; tests and hosts can register any address range. */
NTMEM_API PVOID ntmem_verifier_register_driver(PCSTR Name, PVOID ImageBase, SIZE_T ImageSize);
NTMEM_API ULONG64 ntmem_verifier_unload_driver(PVOID Driver);
NTMEM_API ULONG64 ntmem_verifier_driver_allocations(PVOID Driver);

typedef struct _NTMEM_DRIVER_TAG_USAGE {
    ULONG Tag;           /* as stored in memory; PROTECTED_POOL cleared */
    ULONG Paged;         /* 1 paged pool, 0 nonpaged */
    ULONG64 Allocations;
    ULONG64 Frees;
    SIZE_T CurrentBytes;
    SIZE_T PeakBytes;
} NTMEM_DRIVER_TAG_USAGE, *PNTMEM_DRIVER_TAG_USAGE;

#define NTMEM_DRIVER_MAX_TAGS 64
typedef struct _NTMEM_DRIVER_POOL_INFO {
    ULONG64 Allocations;
    ULONG64 Frees;
    ULONG64 Outstanding;
    SIZE_T CurrentBytes;
    SIZE_T PeakBytes;
    ULONG64 AllocationRequests; /* requests counted by the fail sweep while it was armed */
    ULONG64 FailuresInjected;   /* requests the fail sweep failed */
    ULONG TagCount;
    NTMEM_DRIVER_TAG_USAGE Tags[NTMEM_DRIVER_MAX_TAGS];
} NTMEM_DRIVER_POOL_INFO, *PNTMEM_DRIVER_POOL_INFO;
/* Current and peak pool of a registered driver, in total and by tag. */
NTMEM_API NTSTATUS ntmem_query_driver_pool(PVOID Driver, PNTMEM_DRIVER_POOL_INFO Info);
/* The fail sweep's primitive: the Number-th pool request (1-based, counted from now) the driver makes
 * fails as if pool were exhausted; 0 disarms. Driver NULL: the same for every driver registered from
 * now on, counted from its registration (so DriverEntry's requests count). */
NTMEM_API VOID ntmem_verifier_fail_driver_allocation(PVOID Driver, ULONG64 Number);

/* Requests are counted while a verifier switch is on or a driver image is registered. */
typedef struct _NTMEM_VERIFIER_COUNTERS {
    ULONG64 AllocationsAttempted;
    ULONG64 AllocationsSucceeded;
    ULONG64 SpecialPoolConsidered;
    ULONG64 SpecialPoolAllocations;
    ULONG64 LowResourcesConsidered;
    ULONG64 FaultsInjected; /* by low resources simulation (the fail sweep's are per driver) */
} NTMEM_VERIFIER_COUNTERS, *PNTMEM_VERIFIER_COUNTERS;
NTMEM_API VOID ntmem_query_verifier_counters(PNTMEM_VERIFIER_COUNTERS Counters);
NTMEM_API VOID ntmem_query_special_pool(PNTMEM_SPECIAL_POOL_INFO Info);
NTMEM_API ULONG ntmem_get_verifier_flags(VOID);

/* ---- the pager: paged pool that really pages --------------------------------------------------- */
/*
 * Paged pool pages that are not locked can be written to a page file and their memory released; the
 * next touch at or below APC_LEVEL reads them back, one at or above DISPATCH_LEVEL is STOP 0x0A
 * (0xD1 from a registered driver image). Nonpaged pool is never paged (and is mlocked where the host
 * allows). The page file is created on the first page-out and deleted at exit.
 */
/* Where the page file goes and how big it is (NULL / 0 keep the current choice). Only before the
 * file exists: STATUS_ALREADY_COMMITTED afterwards. */
NTMEM_API NTSTATUS ntmem_set_pagefile(PCSTR Path, SIZE_T Bytes);
/* The working-set limit: resident pageable memory (paged pool and registered pageable ranges) the
 * balance set thread trims down to, least recently used first. (SIZE_T)-1, the default, is
 * unlimited. Returns the previous limit. */
NTMEM_API SIZE_T ntmem_set_paged_pool_working_set(SIZE_T Bytes);
/* Pages out, now and synchronously, until at most TargetBytes of pageable memory are resident;
 * returns the pages written. ntmem_page_out_all writes every unlocked pageable page. */
NTMEM_API SIZE_T ntmem_trim_working_set(SIZE_T TargetBytes);
NTMEM_API SIZE_T ntmem_page_out_all(VOID);

typedef struct _NTMEM_PAGER_COUNTERS {
    ULONG64 ResidentPagedPoolPages; /* paged pool pages in memory (valid or in transition) */
    ULONG64 ResidentPageablePages;  /* the same for all pageable memory: what the limit applies to */
    ULONG64 TransitionPages;        /* trimmed but still in memory: a touch is a soft fault */
    ULONG64 PagedOutPages;          /* in the page file now */
    ULONG64 PageOuts;               /* pages written to the page file */
    ULONG64 PageIns;                /* hard faults: pages read back */
    ULONG64 SoftFaults;             /* transition pages touched again */
    ULONG64 PageFileSlots;          /* the page file's size in pages */
    ULONG64 PageFileSlotsInUse;
    ULONG64 PageFileSlotsPeak;
    ULONG64 PageFileFull;           /* page-outs refused for want of a slot (the pages stayed resident) */
    ULONG64 FailedWrites;           /* page-outs that failed (I/O error, file could not be created) */
    ULONG64 WorkingSetLimitPages;   /* (ULONG64)-1 when unlimited */
    ULONG64 BalancePasses;          /* passes of the balance set thread that found the limit exceeded */
    ULONG64 NonPagedLockedPages;    /* nonpaged pool pages the host locked in memory */
    ULONG64 NonPagedLockFailures;   /* commits the host refused to lock (RLIMIT_MEMLOCK): resident anyway */
} NTMEM_PAGER_COUNTERS, *PNTMEM_PAGER_COUNTERS;
NTMEM_API VOID ntmem_query_pager_counters(PNTMEM_PAGER_COUNTERS Counters);

/* ---- the driver host (ntmem-run's engine) ----------------------------------------------------------
 * A driver is a shared object built against these headers that exports DriverEntry. Loading it makes
 * its DRIVER_OBJECT and RegistryPath, registers its image so its pool is attributed to it, treats its
 * PAGE sections as pageable, and calls DriverEntry on a system thread at PASSIVE_LEVEL; INIT sections
 * are discarded when DriverEntry returns. A routine run there that returns above PASSIVE_LEVEL (an
 * IRQL raised or a spin lock held) is STOP 0xE1, as for a Windows worker thread. If the driver exports
 * ntmem_driver_test (NTMEM_DRIVER_TEST), ntmem_run_driver_test calls it the same way, so a driver can
 * exercise its own paths. Unloading calls DriverUnload and then checks what the driver left behind:
 * a lookaside list it initialised and never deleted is STOP 0xCE (Windows would touch it later, in
 * freed memory); pool it still owns is reported by tag with stacks, and is STOP 0xC4/0x62 under
 * Driver Verifier's pool tracking. */
typedef struct _NTMEM_DRIVER NTMEM_DRIVER, *PNTMEM_DRIVER;
typedef NTSTATUS NTMEM_DRIVER_TEST(PDRIVER_OBJECT DriverObject);
#define NTMEM_DRIVER_TEST_EXPORT "ntmem_driver_test"

typedef struct _NTMEM_DRIVER_REPORT {
    NTSTATUS EntryStatus;      /* what DriverEntry returned */
    NTSTATUS TestStatus;       /* what ntmem_driver_test returned, if it ran */
    BOOLEAN TestRan;
    BOOLEAN UnloadCalled;      /* DriverEntry succeeded and set DriverUnload */
    BOOLEAN NoUnloadRoutine;   /* DriverEntry succeeded without setting DriverUnload */
    ULONG LockedSections;      /* pageable sections still locked at unload */
    ULONG64 LeakedAllocations; /* pool the driver still owned after unloading */
    NTMEM_DRIVER_POOL_INFO Pool;
} NTMEM_DRIVER_REPORT, *PNTMEM_DRIVER_REPORT;

/* Loads Path and runs DriverEntry. ServiceName NULL: the file name without its extension; RegistryPath
 * NULL: \Registry\Machine\System\CurrentControlSet\Services\<ServiceName>. Returns
 * STATUS_OBJECT_NAME_NOT_FOUND (no such file), STATUS_INVALID_IMAGE_FORMAT (not loadable),
 * STATUS_PROCEDURE_NOT_FOUND (no DriverEntry) or STATUS_SUCCESS, with DriverEntry's own status in
 * *EntryStatus. On success *Driver is set even when DriverEntry failed: unload it to see what it left. */
NTMEM_API NTSTATUS ntmem_load_driver(PCSTR Path, PCSTR ServiceName, PCSTR RegistryPath, PNTMEM_DRIVER *Driver,
                                     NTSTATUS *EntryStatus);
NTMEM_API PDRIVER_OBJECT ntmem_driver_object(PNTMEM_DRIVER Driver);
/* The driver's pool-attribution handle (for ntmem_query_driver_pool and the fail sweep). */
NTMEM_API PVOID ntmem_driver_pool_handle(PNTMEM_DRIVER Driver);
/* STATUS_NOT_SUPPORTED when the driver exports no test hook or DriverEntry failed. */
NTMEM_API NTSTATUS ntmem_run_driver_test(PNTMEM_DRIVER Driver);
/* Unloads the driver (see above) and frees Driver; Report may be NULL. */
NTMEM_API VOID ntmem_unload_driver(PNTMEM_DRIVER Driver, PNTMEM_DRIVER_REPORT Report);

NTMEM_END_DECLS

#endif /* NTMEM_NTMEM_H */
