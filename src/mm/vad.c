/* vad.c - the VAD tree (AVL, keyed by start address) and each VAD's page runs. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mm/vad.h"
#include "os/os.h"

static MI_VAD *MiVadRoot;
static SIZE_T MiVadTotal;
static volatile LONG MiVadLockWord;

/* A spin lock rather than a mutex: the fault handler takes it, and holders only do bookkeeping and
 * mprotect/mmap calls, so waits are short. */
void MiLockVads(void)
{
    for (;;) {
        if (!__atomic_exchange_n(&MiVadLockWord, 1, __ATOMIC_ACQUIRE))
            return;
        for (int spins = 0; __atomic_load_n(&MiVadLockWord, __ATOMIC_RELAXED); spins++)
            if (spins > 64)
                sched_yield();
            else
                __builtin_ia32_pause();
    }
}

void MiUnlockVads(void)
{
    __atomic_store_n(&MiVadLockWord, 0, __ATOMIC_RELEASE);
}

/* ---- the tree ----------------------------------------------------------------------------------- */

static int MiHeight(const MI_VAD *v)
{
    return v != NULL ? v->Height : 0;
}

static void MiUpdate(MI_VAD *v)
{
    int l = MiHeight(v->Left), r = MiHeight(v->Right);
    v->Height = 1 + (l > r ? l : r);
}

static MI_VAD *MiRotateRight(MI_VAD *v)
{
    MI_VAD *l = v->Left;
    v->Left = l->Right;
    l->Right = v;
    MiUpdate(v);
    MiUpdate(l);
    return l;
}

static MI_VAD *MiRotateLeft(MI_VAD *v)
{
    MI_VAD *r = v->Right;
    v->Right = r->Left;
    r->Left = v;
    MiUpdate(v);
    MiUpdate(r);
    return r;
}

static MI_VAD *MiBalance(MI_VAD *v)
{
    MiUpdate(v);
    int balance = MiHeight(v->Left) - MiHeight(v->Right);
    if (balance > 1) {
        if (MiHeight(v->Left->Left) < MiHeight(v->Left->Right))
            v->Left = MiRotateLeft(v->Left);
        return MiRotateRight(v);
    }
    if (balance < -1) {
        if (MiHeight(v->Right->Right) < MiHeight(v->Right->Left))
            v->Right = MiRotateRight(v->Right);
        return MiRotateLeft(v);
    }
    return v;
}

static MI_VAD *MiInsert(MI_VAD *root, MI_VAD *v)
{
    if (root == NULL)
        return v;
    if (v->Start < root->Start)
        root->Left = MiInsert(root->Left, v);
    else
        root->Right = MiInsert(root->Right, v);
    return MiBalance(root);
}

static MI_VAD *MiRemoveMin(MI_VAD *root, MI_VAD **min)
{
    if (root->Left == NULL) {
        *min = root;
        return root->Right;
    }
    root->Left = MiRemoveMin(root->Left, min);
    return MiBalance(root);
}

static MI_VAD *MiRemove(MI_VAD *root, MI_VAD *v)
{
    if (root == NULL)
        return NULL;
    if (v->Start < root->Start) {
        root->Left = MiRemove(root->Left, v);
    } else if (v->Start > root->Start) {
        root->Right = MiRemove(root->Right, v);
    } else {
        MI_VAD *l = root->Left, *r = root->Right;
        if (r == NULL)
            return l;
        MI_VAD *min;
        r = MiRemoveMin(r, &min);
        min->Left = l;
        min->Right = r;
        return MiBalance(min);
    }
    return MiBalance(root);
}

MI_VAD *MiFindVad(const void *address)
{
    const UCHAR *a = address;
    for (MI_VAD *v = MiVadRoot; v != NULL;) {
        if (a < v->Start)
            v = v->Left;
        else if (a >= v->Start + (v->Pages << PAGE_SHIFT))
            v = v->Right;
        else
            return v;
    }
    return NULL;
}

MI_VAD *MiFindVadAtOrAfter(const void *address)
{
    const UCHAR *a = address;
    MI_VAD *best = NULL;
    for (MI_VAD *v = MiVadRoot; v != NULL;) {
        if (a < v->Start + (v->Pages << PAGE_SHIFT)) {
            best = v;
            v = v->Left;
        } else {
            v = v->Right;
        }
    }
    return best;
}

BOOLEAN MiRangeOverlapsVad(const void *start, SIZE_T bytes)
{
    MI_VAD *v = MiFindVadAtOrAfter(start);
    return v != NULL && v->Start < (const UCHAR *)start + bytes;
}

MI_VAD *MiCreateVad(PUCHAR start, SIZE_T pages, ULONG protect, ULONG flags)
{
    MI_VAD *v = calloc(1, sizeof *v);
    if (v == NULL)
        return NULL;
    if (flags & MI_VAD_WRITE_WATCH) {
        v->Dirty = calloc((pages + 63) / 64, sizeof(ULONG64));
        if (v->Dirty == NULL) {
            free(v);
            return NULL;
        }
    }
    v->Start = start;
    v->Pages = pages;
    v->AllocationProtect = protect;
    v->Flags = flags;
    v->Height = 1;
    v->Runs = v->InlineRuns;
    v->RunCapacity = sizeof v->InlineRuns / sizeof v->InlineRuns[0];
    v->RunCount = 1;
    v->Runs[0] = (MI_RUN){0, 0, 0};
    MiVadRoot = MiInsert(MiVadRoot, v);
    MiVadTotal++;
    return v;
}

void MiDeleteVad(MI_VAD *v)
{
    MiVadRoot = MiRemove(MiVadRoot, v);
    MiVadTotal--;
    if (v->Runs != v->InlineRuns)
        munmap(v->Runs, ALIGN_UP_BY(v->RunCapacity * sizeof(MI_RUN), PAGE_SIZE));
    free(v->Dirty);
    free(v->Locked);
    free(v);
}

SIZE_T MiVadCount(void)
{
    return MiVadTotal;
}

/* ---- page runs ------------------------------------------------------------------------------------ */

ULONG MiRunIndex(const MI_VAD *v, SIZE_T page)
{
    ULONG lo = 0, hi = v->RunCount - 1;
    while (lo < hi) {
        ULONG mid = (lo + hi + 1) / 2;
        if (v->Runs[mid].First <= page)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* Room for Need runs. Run arrays past the VAD's inline four come from mmap, not malloc: the fault
 * handler splits runs too, and mmap is safe in a signal handler. */
static BOOLEAN MiGrowRuns(MI_VAD *v, ULONG need)
{
    if (need <= v->RunCapacity)
        return TRUE;
    SIZE_T bytes = ALIGN_UP_BY((SIZE_T)need * 2 * sizeof(MI_RUN), PAGE_SIZE);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return FALSE;
    memcpy(p, v->Runs, v->RunCount * sizeof(MI_RUN));
    if (v->Runs != v->InlineRuns)
        munmap(v->Runs, ALIGN_UP_BY(v->RunCapacity * sizeof(MI_RUN), PAGE_SIZE));
    v->Runs = p;
    v->RunCapacity = (ULONG)(bytes / sizeof(MI_RUN));
    return TRUE;
}

static void MiRemoveRun(MI_VAD *v, ULONG i)
{
    memmove(&v->Runs[i], &v->Runs[i + 1], (v->RunCount - i - 1) * sizeof(MI_RUN));
    v->RunCount--;
}

/* Makes a run start at Page (inside the VAD) and returns its index. */
static ULONG MiSplitRun(MI_VAD *v, SIZE_T page)
{
    ULONG i = MiRunIndex(v, page);
    if (v->Runs[i].First == page)
        return i;
    memmove(&v->Runs[i + 2], &v->Runs[i + 1], (v->RunCount - i - 1) * sizeof(MI_RUN));
    v->Runs[i + 1] = v->Runs[i];
    v->Runs[i + 1].First = page;
    v->RunCount++;
    return i + 1;
}

static BOOLEAN MiSameState(const MI_RUN *a, const MI_RUN *b)
{
    return a->Committed == b->Committed && a->Protect == b->Protect;
}

BOOLEAN MiSetRunState(MI_VAD *v, SIZE_T first, SIZE_T count, ULONG committed, ULONG protect)
{
    if (!MiGrowRuns(v, v->RunCount + 2))
        return FALSE;
    SIZE_T end = first + count;
    ULONG a = MiSplitRun(v, first);
    ULONG b = end < v->Pages ? MiSplitRun(v, end) : v->RunCount;
    /* Runs a..b-1 become one run with the new state, then merge with equal neighbours. */
    v->Runs[a].Committed = committed;
    v->Runs[a].Protect = protect;
    memmove(&v->Runs[a + 1], &v->Runs[b], (v->RunCount - b) * sizeof(MI_RUN));
    v->RunCount -= b - a - 1;
    if (a + 1 < v->RunCount && MiSameState(&v->Runs[a], &v->Runs[a + 1]))
        MiRemoveRun(v, a + 1);
    if (a > 0 && MiSameState(&v->Runs[a - 1], &v->Runs[a]))
        MiRemoveRun(v, a);
    return TRUE;
}

int MiHostProtection(const MI_VAD *v, SIZE_T page, ULONG committed, ULONG protect)
{
    if (!committed || (protect & PAGE_GUARD))
        return PROT_NONE;
    int prot;
    switch (protect & 0xFF) {
    case PAGE_READONLY: prot = PROT_READ; break;
    case PAGE_READWRITE:
    case PAGE_WRITECOPY: prot = PROT_READ | PROT_WRITE; break;
    case PAGE_EXECUTE: prot = PROT_EXEC; break;
    case PAGE_EXECUTE_READ: prot = PROT_READ | PROT_EXEC; break;
    case PAGE_EXECUTE_READWRITE:
    case PAGE_EXECUTE_WRITECOPY: prot = PROT_READ | PROT_WRITE | PROT_EXEC; break;
    default: prot = PROT_NONE; break;
    }
    /* A write-watched page stays read-only until its first write, which the fault records. */
    if ((v->Flags & MI_VAD_WRITE_WATCH) && !MiPageDirty(v, page))
        prot &= ~PROT_WRITE;
    return prot;
}

int MiApplyProtection(MI_VAD *v, SIZE_T first, SIZE_T count)
{
    SIZE_T page = first, end = first + count;
    while (page < end) {
        ULONG i = MiRunIndex(v, page);
        SIZE_T stop = v->Runs[i].First + MiRunPages(v, i);
        if (stop > end)
            stop = end;
        /* Within a run only write-watch bits can differ: group pages by host protection. */
        int prot = MiHostProtection(v, page, v->Runs[i].Committed, v->Runs[i].Protect);
        SIZE_T span = page + 1;
        while (span < stop && MiHostProtection(v, span, v->Runs[i].Committed, v->Runs[i].Protect) == prot)
            span++;
        int rc = OsProtect(v->Start + (page << PAGE_SHIFT), (span - page) << PAGE_SHIFT, prot);
        if (rc != 0)
            return rc;
        page = span;
    }
    return 0;
}

/* ---- faults on VAD memory ------------------------------------------------------------------------ */

MI_FAULT_RESULT MiResolveUserFault(const void *address, BOOLEAN write)
{
    MI_FAULT_RESULT result = MI_FAULT_NONE;
    MiLockVads();
    MI_VAD *v = MiFindVad(address);
    if (v != NULL) {
        SIZE_T page = (SIZE_T)((const UCHAR *)address - v->Start) >> PAGE_SHIFT;
        MI_RUN r = v->Runs[MiRunIndex(v, page)];
        if (r.Committed && (r.Protect & PAGE_GUARD)) {
            /* The guard goes with the first touch, as on Windows; the exception reports it. */
            if (MiSetRunState(v, page, 1, 1, r.Protect & ~PAGE_GUARD) && MiApplyProtection(v, page, 1) == 0)
                result = MI_FAULT_GUARD;
        } else if (r.Committed && write && (v->Flags & MI_VAD_WRITE_WATCH) && !MiPageDirty(v, page) &&
                   (MiHostProtection(v, page, 1, r.Protect) != PROT_NONE)) {
            int full = MiHostProtection(v, page, 1, r.Protect) | PROT_WRITE;
            ULONG base = r.Protect & 0xFF;
            BOOLEAN writable = base == PAGE_READWRITE || base == PAGE_WRITECOPY || base == PAGE_EXECUTE_READWRITE ||
                               base == PAGE_EXECUTE_WRITECOPY;
            if (writable) {
                v->Dirty[page / 64] |= 1ULL << (page % 64);
                if (OsProtect(v->Start + (page << PAGE_SHIFT), PAGE_SIZE, full) == 0)
                    result = MI_FAULT_RESOLVED;
            }
        }
    }
    MiUnlockVads();
    return result;
}
