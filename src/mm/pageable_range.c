/* pageable_range.c - making other memory pageable: registering ranges (driver images' pageable
 * sections), locking pages in, paging a range out, and giving it back as it was. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mm/pager.h"
#include "os/os.h"

/* Lock held: the quick bounds the fault path tests before it takes the lock. */
static void MiRecomputeRegisteredBounds(void)
{
    ULONG_PTR low = ~(ULONG_PTR)0, high = 0;
    ULONG limit = 1;
    for (ULONG i = MI_PAGED_POOL_RANGE + 1; i < MI_MAX_PAGEABLE_RANGES; i++) {
        const MI_PAGEABLE_RANGE *r = &MiPager.Ranges[i];
        if (!r->InUse)
            continue;
        if ((ULONG_PTR)r->Base < low)
            low = (ULONG_PTR)r->Base;
        if ((ULONG_PTR)r->Base + (r->Pages << PAGE_SHIFT) > high)
            high = (ULONG_PTR)r->Base + (r->Pages << PAGE_SHIFT);
        limit = i + 1;
    }
    MiPager.RangeLimit = limit;
    __atomic_store_n(&MiPager.RegisteredLow, high != 0 ? low : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&MiPager.RegisteredHigh, high, __ATOMIC_RELAXED);
}

PVOID MiRegisterPageableRange(PVOID base, SIZE_T bytes, PCSTR name)
{
    if (base == NULL || bytes == 0 || BYTE_OFFSET(base) != 0 || BYTE_OFFSET(bytes) != 0)
        return NULL;
    MiInitializePager();
    SIZE_T pages = bytes >> PAGE_SHIFT;
    UCHAR *prot = malloc(pages);
    MI_PAGER_PTE *ptes = calloc(pages, sizeof *ptes);
    if (prot == NULL || ptes == NULL || OsQueryProtection(base, pages, prot) != 0) {
        free(prot);
        free(ptes);
        return NULL;
    }
    SIZE_T resident = 0;
    for (SIZE_T p = 0; p < pages; p++) {
        /* A page that cannot be read cannot be written out either: it stays as it is. */
        if (prot[p] & PROT_READ) {
            ptes[p] = (MI_PAGER_PTE){.State = MiPteResident, .Protect = prot[p]};
            resident++;
        }
    }
    free(prot);
    MI_PAGEABLE_RANGE *range = NULL;
    PUCHAR start = base, end = start + bytes;
    pthread_mutex_lock(&MiPager.Lock);
    BOOLEAN overlap = FALSE;
    for (ULONG i = 0; i < MI_MAX_PAGEABLE_RANGES; i++) {
        MI_PAGEABLE_RANGE *r = &MiPager.Ranges[i];
        if (r->InUse && start < r->Base + (r->Pages << PAGE_SHIFT) && r->Base < end)
            overlap = TRUE;
        else if (!r->InUse && range == NULL && i != MI_PAGED_POOL_RANGE)
            range = r;
    }
    if (overlap || range == NULL) {
        pthread_mutex_unlock(&MiPager.Lock);
        free(ptes);
        return NULL;
    }
    range->Base = start;
    range->Pages = pages;
    range->Ptes = ptes;
    range->LockedPages = 0;
    range->PagedPool = FALSE;
    snprintf(range->Name, sizeof range->Name, "%s", name != NULL ? name : "pageable range");
    range->InUse = TRUE;
    MiPager.Counters.ResidentPageablePages += resident;
    MiRecomputeRegisteredBounds();
    MiWorkingSetGrew();
    pthread_mutex_unlock(&MiPager.Lock);
    return range;
}

void MiUnregisterPageableRange(PVOID handle)
{
    MI_PAGEABLE_RANGE *r = handle;
    if (r == NULL)
        return;
    pthread_mutex_lock(&MiPager.Lock);
    for (SIZE_T p = 0; p < r->Pages; p++) {
        MI_PAGER_PTE *pte = &r->Ptes[p];
        if (pte->State == MiPtePagedOut && MiPageInLocked(r, p) != 0)
            continue; /* unreadable: left inaccessible, as the data is lost */
        if (pte->State == MiPteUnused)
            continue;
        if (pte->State == MiPteTransition)
            MiPager.Counters.TransitionPages--;
        MiPager.Counters.ResidentPageablePages--;
        OsProtect(r->Base + (p << PAGE_SHIFT), PAGE_SIZE, pte->Protect);
    }
    r->InUse = FALSE;
    MI_PAGER_PTE *ptes = r->Ptes;
    r->Ptes = NULL;
    MiRecomputeRegisteredBounds();
    pthread_mutex_unlock(&MiPager.Lock);
    free(ptes);
}

/* Calls Action on every page of [Base, Base + Bytes) that lies in a range, with the lock held and
 * given up now and then; returns the sum of what Action returned. */
static SIZE_T MiForEachPage(PVOID base, SIZE_T bytes, SIZE_T (*action)(MI_PAGEABLE_RANGE *, SIZE_T))
{
    SIZE_T sum = 0;
    PUCHAR start = PAGE_ALIGN(base), end = (PUCHAR)base + bytes;
    MiInitializePager();
    pthread_mutex_lock(&MiPager.Lock);
    for (PUCHAR va = start; va < end; va += PAGE_SIZE) {
        for (ULONG i = 0; i < MiPager.RangeLimit; i++) {
            MI_PAGEABLE_RANGE *r = &MiPager.Ranges[i];
            if (r->InUse && va >= r->Base && va < r->Base + (r->Pages << PAGE_SHIFT)) {
                sum += action(r, (SIZE_T)(va - r->Base) >> PAGE_SHIFT);
                break;
            }
        }
        if ((((ULONG_PTR)va >> PAGE_SHIFT) & 31) == 31) {
            pthread_mutex_unlock(&MiPager.Lock); /* let faulting threads in */
            pthread_mutex_lock(&MiPager.Lock);
        }
    }
    pthread_mutex_unlock(&MiPager.Lock);
    return sum;
}

static SIZE_T MiLockPage(MI_PAGEABLE_RANGE *r, SIZE_T page)
{
    MI_PAGER_PTE *pte = &r->Ptes[page];
    if (pte->State == MiPteUnused || pte->LockCount == 0xFFFF)
        return 0;
    if (pte->LockCount++ != 0)
        return 0;
    r->LockedPages++;
    if (pte->State == MiPtePagedOut && MiPageInLocked(r, page) != 0)
        return 0;
    if (pte->State == MiPteTransition) {
        pte->State = MiPteResident;
        MiPager.Counters.TransitionPages--;
    }
    /* Open in case IRQL checking hid it: a locked page is usable at any IRQL. */
    OsProtect(r->Base + (page << PAGE_SHIFT), PAGE_SIZE, pte->Protect);
    return 1;
}

static SIZE_T MiUnlockPage(MI_PAGEABLE_RANGE *r, SIZE_T page)
{
    MI_PAGER_PTE *pte = &r->Ptes[page];
    if (pte->LockCount == 0)
        return 0;
    if (--pte->LockCount == 0)
        r->LockedPages--;
    return 1;
}

static SIZE_T MiPageOutPage(MI_PAGEABLE_RANGE *r, SIZE_T page)
{
    return MiPageOutLocked(r, page) == MiPageOutWritten;
}

void MiLockPageableRange(PVOID base, SIZE_T bytes)
{
    MiForEachPage(base, bytes, MiLockPage);
}

void MiUnlockPageableRange(PVOID base, SIZE_T bytes)
{
    MiForEachPage(base, bytes, MiUnlockPage);
}

SIZE_T MiPageOutRange(PVOID base, SIZE_T bytes)
{
    return MiForEachPage(base, bytes, MiPageOutPage);
}
