/* ntmem-run.c - the driver host: loads a driver built against ntmem's headers, runs DriverEntry, its
 * test hook and DriverUnload in a child process, and reports what it left behind and what the
 * verifier found. With no driver it runs the bundled sample drivers and the faulty one. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ntmem.h>

/* Exit codes (documented in the README). */
enum {
    RUN_CLEAN = 0,
    RUN_USAGE = 1,    /* bad arguments, or the driver could not be loaded */
    RUN_LEAK = 2,     /* the driver left pool behind (without pool tracking, which makes it a STOP) */
    RUN_BUGCHECK = 3, /* a bug check */
    RUN_CRASH = 4,    /* the child died otherwise (a signal no bug check explains) */
};
#define RUN_CHILD_BASE 100

typedef struct _RUN_OPTIONS {
    const char *Verifier;      /* switches in NTMEM_VERIFIER's syntax, for ntmem_configure_verifier */
    BOOLEAN NoTest;
    BOOLEAN Quiet;
    ULONG64 FailAt;            /* the fail sweep's k (0: none) */
} RUN_OPTIONS;

/* What the child tells the parent, in memory both see. */
typedef struct _RUN_SHARED {
    volatile int BugChecked;
    ULONG Code;
    ULONG_PTR P[4];
    ULONG64 Injected;          /* requests the fail sweep failed in this run */
} RUN_SHARED;

static RUN_SHARED *Shared;

static VOID RecordBugCheck(ULONG code, ULONG_PTR p1, ULONG_PTR p2, ULONG_PTR p3, ULONG_PTR p4)
{
    Shared->Code = code;
    Shared->P[0] = p1;
    Shared->P[1] = p2;
    Shared->P[2] = p3;
    Shared->P[3] = p4;
    Shared->BugChecked = 1;
    /* Returning lets the bug check go on: the STOP report, then SIGABRT. */
}

static const char *PoolName(ULONG paged)
{
    return paged ? "Paged" : "Nonp";
}

static void PrintSummary(const char *name, const NTMEM_DRIVER_REPORT *r)
{
    printf("--- %s: DriverEntry 0x%08X", name, (unsigned)r->EntryStatus);
    if (r->TestRan)
        printf(", test hook 0x%08X", (unsigned)r->TestStatus);
    printf(", DriverUnload %s\n", r->UnloadCalled ? "called" : r->NoUnloadRoutine ? "not set (Windows could not unload it)"
                                                                                 : "not called (DriverEntry failed)");
    const NTMEM_DRIVER_POOL_INFO *p = &r->Pool;
    printf("    pool: %llu allocation(s), %llu free(s), peak %zu bytes, left at unload %llu (%zu bytes)\n",
           (unsigned long long)p->Allocations, (unsigned long long)p->Frees, (size_t)p->PeakBytes,
           (unsigned long long)p->Outstanding, (size_t)p->CurrentBytes);
    if (p->TagCount != 0)
        printf("    %-6s %-5s %8s %8s %10s %10s\n", "tag", "pool", "allocs", "frees", "peak", "left");
    for (ULONG i = 0; i < p->TagCount; i++) {
        const NTMEM_DRIVER_TAG_USAGE *t = &p->Tags[i];
        char tag[5];
        memcpy(tag, &t->Tag, 4);
        tag[4] = '\0';
        for (int k = 0; k < 4; k++)
            if (tag[k] < 0x20 || tag[k] > 0x7E)
                tag[k] = '.';
        printf("    %-6s %-5s %8llu %8llu %10zu %10zu\n", tag, PoolName(t->Paged), (unsigned long long)t->Allocations,
               (unsigned long long)t->Frees, (size_t)t->PeakBytes, (size_t)t->CurrentBytes);
    }
    NTMEM_VERIFIER_COUNTERS v;
    ntmem_query_verifier_counters(&v);
    ULONG flags = ntmem_get_verifier_flags();
    if (flags != 0 || p->FailuresInjected != 0)
        printf("    verifier: %llu pool request(s), %llu succeeded, %llu in special pool (of %llu considered), "
               "%llu failed on purpose (low resources) + %llu (sweep)\n",
               (unsigned long long)v.AllocationsAttempted, (unsigned long long)v.AllocationsSucceeded,
               (unsigned long long)v.SpecialPoolAllocations, (unsigned long long)v.SpecialPoolConsidered,
               (unsigned long long)v.FaultsInjected, (unsigned long long)p->FailuresInjected);
    if (r->LockedSections != 0)
        printf("    warning: %u pageable section(s) still locked at unload\n", r->LockedSections);
}

/* The child's work: load, run, unload; returns its exit code (a bug check never returns). */
static int RunDriverChild(const char *path, const char *registry, const RUN_OPTIONS *o)
{
    ntmem_set_bugcheck_hook(RecordBugCheck);
    setvbuf(stdout, NULL, _IOLBF, 0); /* in step with the driver's KdPrint lines on stderr */
    ntmem_configure_verifier(o->Verifier); /* checked by main already */
    if (o->FailAt != 0)
        ntmem_verifier_fail_driver_allocation(NULL, o->FailAt);
    PNTMEM_DRIVER driver;
    NTSTATUS entry;
    NTSTATUS status = ntmem_load_driver(path, NULL, registry, &driver, &entry);
    if (!NT_SUCCESS(status)) {
        fprintf(stderr, "ntmem-run: %s: load failed, status 0x%08X\n", path, (unsigned)status);
        return RUN_USAGE;
    }
    if (!o->NoTest && NT_SUCCESS(entry))
        ntmem_run_driver_test(driver);
    NTMEM_DRIVER_REPORT report;
    ntmem_unload_driver(driver, &report);
    Shared->Injected = report.Pool.FailuresInjected;
    if (!o->Quiet) {
        const char *base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
        PrintSummary(base, &report);
    }
    fflush(stdout);
    return report.LeakedAllocations != 0 ? RUN_LEAK : RUN_CLEAN;
}

/* Runs one driver in a child process; returns the outcome code and fills Shared. */
static int RunDriver(const char *path, const char *registry, const RUN_OPTIONS *o)
{
    memset(Shared, 0, sizeof *Shared);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("ntmem-run: fork");
        return RUN_CRASH;
    }
    /* The child's own verdicts are offset, so that any other exit status (a sanitizer's, an exit()
     * in the driver) is told apart and counted as a crash. */
    if (pid == 0)
        _exit(RUN_CHILD_BASE + RunDriverChild(path, registry, o));
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) >= RUN_CHILD_BASE && WEXITSTATUS(status) <= RUN_CHILD_BASE + RUN_CRASH)
        return WEXITSTATUS(status) - RUN_CHILD_BASE;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && Shared->BugChecked)
        return RUN_BUGCHECK;
    return RUN_CRASH;
}

static const char *Verdict(int code, char *buffer, size_t size)
{
    switch (code) {
    case RUN_CLEAN:
        return "clean";
    case RUN_LEAK:
        return "leaked pool";
    case RUN_BUGCHECK:
        snprintf(buffer, size, "STOP 0x%08X (%s, P1 0x%llX)", (unsigned)Shared->Code, ntmem_bugcheck_name(Shared->Code),
                 (unsigned long long)Shared->P[0]);
        return buffer;
    case RUN_USAGE:
        return "could not be loaded";
    default:
        return "crashed";
    }
}

/* --fail-sweep: run k = 1, 2, ... failing the k-th allocation request of the driver, until a run
 * makes fewer than k requests; every failure path runs once. */
static int FailSweep(const char *path, const char *registry, RUN_OPTIONS o, ULONG64 max_runs)
{
    int worst = RUN_CLEAN;
    ULONG64 problems = 0, runs = 0;
    o.Quiet = TRUE;
    for (ULONG64 k = 1; k <= max_runs; k++) {
        o.FailAt = k;
        int code = RunDriver(path, registry, &o);
        runs++;
        if ((code == RUN_CLEAN || code == RUN_LEAK) && Shared->Injected == 0)
            break; /* the driver made fewer than k requests: every path has been failed once */
        char buffer[160];
        if (code != RUN_CLEAN) {
            problems++;
            printf("    sweep: failing allocation request %llu -> %s\n", (unsigned long long)k, Verdict(code, buffer, sizeof buffer));
            if (code > worst)
                worst = code;
        }
    }
    printf("--- fail sweep of %s: %llu run(s), %llu allocation request(s) failed one at a time, %llu problem(s)\n", path,
           (unsigned long long)runs, (unsigned long long)(runs > 0 ? runs - 1 : 0), (unsigned long long)problems);
    return worst;
}

/* ---- the bundled demonstration ------------------------------------------------------------------- */

typedef struct _DEMO {
    const char *Driver;     /* file in the drivers directory */
    const char *Mode;       /* last registry element (the faulty driver's choice), or NULL */
    const char *Verifier;   /* NTMEM_VERIFIER's syntax */
    ULONG Expect;           /* 0: clean; RUN_LEAK; or a bug-check code */
    ULONG_PTR ExpectP1;
    BOOLEAN Sweep;
    const char *What;
} DEMO;

static const DEMO Demos[] = {
    {"allocation_snippets", NULL, "pool_tracking", 0, 0, FALSE, "seed 000: allocate and free with tags"},
    {"LinkListTest", NULL, "pool_tracking", 0, 0, FALSE, "seed 001: a LIST_ENTRY list of pool nodes"},
    {"LookasideTest", NULL, "pool_tracking", 0, 0, FALSE, "seed 001: a paged lookaside list"},
    {"RtTest", NULL, "", RUN_LEAK, 0, FALSE, "seed 001: Rtl memory routines (the sample leaks two buffers)"},
    {"DisplayItsProcessName", NULL, "", 0, 0, FALSE, "seed 001: DriverEntry runs in the System process"},
    {"PagedSections", NULL, "", 0, 0, FALSE, "seeds 001/002: PAGE, INIT and locked sections, MmLockPagable*"},
    {"Faulty", "leak", "pool_tracking", 0xC4, 0x62, FALSE, "pool tracking: leaked pool at unload"},
    {"Faulty", "overrun", "special_pool", 0xD6, 0, FALSE, "special pool: a write past the end"},
    {"Faulty", "corrupt", "special_pool", 0xC1, 0, FALSE, "special pool: the slack after a block overwritten"},
    {"Faulty", "use-after-free", "special_pool", 0xD5, 0, FALSE, "special pool: a read after free"},
    {"Faulty", "paged-at-dispatch", "irql_checking", 0xD1, 0, FALSE, "IRQL checking: paged pool at DISPATCH_LEVEL"},
    {"Faulty", "paged-code-at-dispatch", "irql_checking", 0xD1, 0, FALSE, "IRQL checking: PAGE code run at DISPATCH_LEVEL"},
    {"Faulty", "init-after-discard", "", 0x50, 0, FALSE, "a call into INIT code after DriverEntry returned"},
    {"Faulty", "zero-byte", "pool_tracking", 0xC4, 0x00, FALSE, "a zero-byte allocation under the verifier"},
    {"Faulty", "double-free", "", 0xC2, 0x07, FALSE, "a double free"},
    {"Faulty", "wrong-tag", "", 0xC2, 0x0A, FALSE, "a free with the wrong tag"},
    {"Faulty", "lookaside", "", 0xCE, 0, FALSE, "a lookaside list never deleted"},
    {"Faulty", "spinlock", "", 0xE1, 0, FALSE, "DriverEntry returns holding a spin lock"},
    {"Faulty", "sweep", "", RUN_LEAK, 0, TRUE, "fail sweep: a failure path that leaks"},
};

/* The bundled drivers: next to the executable (the build tree), or where `make install` puts them. */
static void DriversDirectory(char *out, size_t size)
{
    char self[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
            snprintf(out, size, "%s/drivers", self);
            if (access(out, R_OK) == 0)
                return;
            snprintf(out, size, "%s/../lib/ntmem/drivers", self);
            if (access(out, R_OK) == 0)
                return;
        }
    }
    snprintf(out, size, "%s", NTMEM_DRIVERS_DIR);
}

static int RunDemos(void)
{
    char dir[PATH_MAX], path[PATH_MAX + 64], registry[256], buffer[160];
    DriversDirectory(dir, sizeof dir);
    int mismatches = 0;
    for (size_t i = 0; i < sizeof Demos / sizeof Demos[0]; i++) {
        const DEMO *d = &Demos[i];
        snprintf(path, sizeof path, "%s/%s.so", dir, d->Driver);
        snprintf(registry, sizeof registry, "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\%s%s%s", d->Driver,
                 d->Mode != NULL ? "\\" : "", d->Mode != NULL ? d->Mode : "");
        printf("=== %s%s%s: %s\n", d->Driver, d->Mode != NULL ? " " : "", d->Mode != NULL ? d->Mode : "", d->What);
        RUN_OPTIONS o = {.Verifier = d->Verifier};
        int code = d->Sweep ? FailSweep(path, registry, o, 100) : RunDriver(path, registry, &o);
        BOOLEAN as_expected = d->Expect == 0 || d->Expect == RUN_LEAK
                                  ? code == (int)d->Expect
                                  : code == RUN_BUGCHECK && Shared->Code == d->Expect && (d->ExpectP1 == 0 || Shared->P[0] == d->ExpectP1);
        printf("=== %s%s%s: %s%s\n\n", d->Driver, d->Mode != NULL ? " " : "", d->Mode != NULL ? d->Mode : "",
               d->Sweep && code == RUN_LEAK ? "the sweep found a leaking failure path" : Verdict(code, buffer, sizeof buffer),
               as_expected ? " (as expected)" : " (NOT AS EXPECTED)");
        mismatches += !as_expected;
    }
    printf("ntmem-run: %zu bundled runs, %d not as expected\n", sizeof Demos / sizeof Demos[0], mismatches);
    return mismatches != 0 ? RUN_CRASH : RUN_CLEAN;
}

/* ---- command line ------------------------------------------------------------------------------- */

static void Usage(FILE *f)
{
    fprintf(f,
            "usage: ntmem-run [options] [DRIVER.so [registry-path]]\n"
            "  Loads DRIVER.so, calls DriverEntry at PASSIVE_LEVEL on a system thread, its test hook\n"
            "  (ntmem_driver_test) if it exports one, and DriverUnload; then reports the pool it used and\n"
            "  what it left behind. With no DRIVER, runs the bundled sample drivers and the faulty one.\n"
            "options:\n"
            "  --verifier=LIST        special_pool,pool_tracking,irql_checking,low_resources (as NTMEM_VERIFIER)\n"
            "  --special-pool=SPEC    which requests special pool takes: tag:Tag1+size:16-64+start\n"
            "  --low-resources=P[:SEED[:GRACE]]  fail P%% of the driver's pool requests after GRACE\n"
            "                         (default 1000) requests, from SEED (default 0)\n"
            "  --fail-sweep[=MAX]     run the driver again and again, failing its 1st, 2nd, ... allocation\n"
            "  --no-test              do not call the test hook\n"
            "exit codes: 0 clean, 1 usage or load error, 2 pool leaked, 3 bug check, 4 crash\n");
}

/* Adds one switch (with its parameters) to the list, in NTMEM_VERIFIER's syntax. */
static void AddSwitch(char *list, size_t size, const char *prefix, const char *text)
{
    size_t used = strlen(list);
    snprintf(list + used, size - used, "%s%s%s", used != 0 ? "," : "", prefix, text);
}

int main(int argc, char **argv)
{
    Shared = mmap(NULL, sizeof *Shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (Shared == MAP_FAILED)
        return RUN_CRASH;
    /* NTMEM_VERIFIER, then the options, as one switch list. */
    static char verifier[1024];
    const char *env = getenv("NTMEM_VERIFIER");
    snprintf(verifier, sizeof verifier, "%s", env != NULL ? env : "");
    RUN_OPTIONS o = {.Verifier = verifier};
    BOOLEAN sweep = FALSE;
    ULONG64 sweep_max = 1000;
    static const struct option options[] = {
        {"verifier", required_argument, NULL, 'v'},   {"special-pool", required_argument, NULL, 's'},
        {"low-resources", required_argument, NULL, 'l'}, {"fail-sweep", optional_argument, NULL, 'f'},
        {"no-test", no_argument, NULL, 'n'},          {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'v':
            AddSwitch(verifier, sizeof verifier, "", optarg);
            break;
        case 's':
            AddSwitch(verifier, sizeof verifier, "special_pool=", optarg);
            break;
        case 'l':
            AddSwitch(verifier, sizeof verifier, "low_resources=", optarg);
            break;
        case 'f':
            sweep = TRUE;
            if (optarg != NULL)
                sweep_max = strtoull(optarg, NULL, 0);
            break;
        case 'n':
            o.NoTest = TRUE;
            break;
        case 'h':
            Usage(stdout);
            return RUN_CLEAN;
        default:
            Usage(stderr);
            return RUN_USAGE;
        }
    }
    /* Read here, where a mistake is a usage error; each child applies the list again for itself. */
    if (!NT_SUCCESS(ntmem_configure_verifier(verifier))) {
        fprintf(stderr, "ntmem-run: cannot read the verifier settings '%s'\n", verifier);
        return RUN_USAGE;
    }
    ntmem_set_verifier_flags(0);
    if (optind == argc)
        return RunDemos();
    if (argc - optind > 2) {
        Usage(stderr);
        return RUN_USAGE;
    }
    const char *path = argv[optind], *registry = optind + 1 < argc ? argv[optind + 1] : NULL;
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "ntmem-run: %s: %s\n", path, strerror(errno));
        return RUN_USAGE;
    }
    if (sweep)
        return FailSweep(path, registry, o, sweep_max);
    char buffer[160];
    int code = RunDriver(path, registry, &o);
    printf("--- verdict: %s\n", Verdict(code, buffer, sizeof buffer));
    return code;
}
