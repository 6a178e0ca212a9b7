/* CommitOnDemand.c - the seeds' virtual-memory chapter as a program: system information, the four
 * ways to commit a large reservation (the recommended one: an exception filter commits the page and
 * execution continues), the same with a vectored handler, a guarded list kept PAGE_NOACCESS between
 * uses, and a walk of the address space with VirtualQuery. */
#include <stdio.h>
#include <windows.h>

#define RESERVE_SIZE (64 * 1024 * 1024) /* reserve big, commit only what is touched */
#define TOUCH_STRIDE (256 * 1024)

static PBYTE g_base;
static DWORD g_pageSize;
static volatile LONG g_commits;

/* Method 4 from the seed: the filter commits the faulting page and says "continue" - execution
 * resumes at the faulting instruction as if nothing had happened. */
static LONG CommitFilter(PEXCEPTION_POINTERS info)
{
    PEXCEPTION_RECORD record = info->ExceptionRecord;
    if ((DWORD)record->ExceptionCode != EXCEPTION_ACCESS_VIOLATION) /* DWORD in winnt.h, NTSTATUS here */
        return EXCEPTION_CONTINUE_SEARCH;
    PBYTE address = (PBYTE)record->ExceptionInformation[1];
    if (address < g_base || address >= g_base + RESERVE_SIZE)
        return EXCEPTION_EXECUTE_HANDLER; /* not ours: a real bug */
    PBYTE page = (PBYTE)((ULONG_PTR)address & ~(ULONG_PTR)(g_pageSize - 1));
    if (VirtualAlloc(page, g_pageSize, MEM_COMMIT, PAGE_READWRITE) == NULL)
        return EXCEPTION_EXECUTE_HANDLER;
    g_commits++;
    return EXCEPTION_CONTINUE_EXECUTION;
}

static LONG WINAPI CommitVectored(PEXCEPTION_POINTERS info)
{
    return CommitFilter(info) == EXCEPTION_CONTINUE_EXECUTION ? EXCEPTION_CONTINUE_EXECUTION
                                                               : EXCEPTION_CONTINUE_SEARCH;
}

static SIZE_T CommittedBytes(void)
{
    SIZE_T total = 0;
    MEMORY_BASIC_INFORMATION mbi;
    for (PBYTE p = g_base; p < g_base + RESERVE_SIZE; p += mbi.RegionSize) {
        if (VirtualQuery(p, &mbi, sizeof mbi) != sizeof mbi)
            break;
        if (mbi.State == MEM_COMMIT)
            total += mbi.RegionSize;
    }
    return total;
}

int main(void)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    g_pageSize = si.dwPageSize;
    printf("page size %lu, allocation granularity %lu KB, %lu processor(s)\n", (unsigned long)si.dwPageSize,
           (unsigned long)si.dwAllocationGranularity / 1024, (unsigned long)si.dwNumberOfProcessors);
    MEMORYSTATUSEX ms = {.dwLength = sizeof ms};
    GlobalMemoryStatusEx(&ms);
    printf("memory load %lu%%, commit available %llu MB of %llu MB\n", (unsigned long)ms.dwMemoryLoad,
           (unsigned long long)(ms.ullAvailPageFile >> 20), (unsigned long long)(ms.ullTotalPageFile >> 20));

    /* Reserve a large region: no memory is committed yet. */
    g_base = VirtualAlloc(NULL, RESERVE_SIZE, MEM_RESERVE, PAGE_NOACCESS);
    if (g_base == NULL) {
        printf("VirtualAlloc failed: %lu\n", (unsigned long)GetLastError());
        return 1;
    }
    printf("reserved %d MB, 64 KB aligned: %s\n", RESERVE_SIZE >> 20, ((ULONG_PTR)g_base & 0xFFFF) ? "no" : "yes");

    __try {
        for (SIZE_T offset = 0; offset < RESERVE_SIZE; offset += TOUCH_STRIDE)
            g_base[offset] = (BYTE)(offset / TOUCH_STRIDE);
    } __except (CommitFilter(GetExceptionInformation())) {
        printf("unexpected exception 0x%08lX\n", (unsigned long)GetExceptionCode());
        return 1;
    }
    printf("filter: %ld pages committed on demand, %zu KB committed in all\n", (long)g_commits,
           CommittedBytes() / 1024);

    /* The same with a vectored handler, after giving the pages back. */
    VirtualFree(g_base, RESERVE_SIZE, MEM_DECOMMIT);
    g_commits = 0;
    PVOID handler = AddVectoredExceptionHandler(1, CommitVectored);
    for (SIZE_T offset = 0; offset < RESERVE_SIZE; offset += TOUCH_STRIDE)
        g_base[offset + 1] = 1;
    RemoveVectoredExceptionHandler(handler);
    printf("vectored handler: %ld pages committed on demand\n", (long)g_commits);
    VirtualFree(g_base, 0, MEM_RELEASE);

    /* Section 5.6: a list's pages stay PAGE_NOACCESS except while its own functions run, so a stray
     * pointer elsewhere faults instead of corrupting it. */
    PBYTE list = VirtualAlloc(NULL, si.dwPageSize, MEM_RESERVE | MEM_COMMIT, PAGE_NOACCESS);
    DWORD old;
    VirtualProtect(list, si.dwPageSize, PAGE_READWRITE, &old);
    list[0] = 42;
    VirtualProtect(list, si.dwPageSize, PAGE_NOACCESS, &old);
    __try {
        list[1] = 7; /* the stray write */
        printf("stray write went through\n");
    } __except ((DWORD)GetExceptionCode() == EXCEPTION_ACCESS_VIOLATION ? EXCEPTION_EXECUTE_HANDLER
                                                                    : EXCEPTION_CONTINUE_SEARCH) {
        printf("stray write to the protected list caught\n");
    }
    VirtualFree(list, 0, MEM_RELEASE);

    /* Walk the whole address space the way the seed's VirtualQuery section describes. */
    int regions = 0, images = 0, mapped = 0, privates = 0;
    MEMORY_BASIC_INFORMATION mbi;
    for (PBYTE p = (PBYTE)si.lpMinimumApplicationAddress; VirtualQuery(p, &mbi, sizeof mbi) == sizeof mbi;
         p = (PBYTE)mbi.BaseAddress + mbi.RegionSize) {
        regions++;
        if (mbi.State == MEM_FREE)
            continue;
        images += mbi.Type == MEM_IMAGE;
        mapped += mbi.Type == MEM_MAPPED;
        privates += mbi.Type == MEM_PRIVATE;
    }
    printf("address space: %d regions walked, image regions present: %s, private regions present: %s\n", regions,
           images > 0 ? "yes" : "no", privates > 0 ? "yes" : "no");
    (void)mapped;
    return 0;
}
