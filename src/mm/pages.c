/* pages.c - the system range's page allocator: first-fit over a bitmap, commit on allocation. */
#include "mm/mm.h"
#include "mm/pager.h"
#include "os/os.h"
#include "ex/track.h"

static BOOLEAN MiTestBit(const ULONG64 *map, SIZE_T i)
{
    return (map[i >> 6] >> (i & 63)) & 1;
}

static void MiSetBits(ULONG64 *map, SIZE_T first, SIZE_T count, BOOLEAN value)
{
    for (SIZE_T i = first; i < first + count; i++) {
        if (value)
            map[i >> 6] |= 1ULL << (i & 63);
        else
            map[i >> 6] &= ~(1ULL << (i & 63));
    }
}

/* First run of Count clear bits at or after From; Pages if none. Whole words are skipped at once. */
static SIZE_T MiFindClearRun(const MI_REGION *r, SIZE_T from, SIZE_T count)
{
    SIZE_T run = 0, start = from;
    for (SIZE_T i = from; i < r->Pages;) {
        if ((i & 63) == 0 && r->Bitmap[i >> 6] == ~0ULL) {
            run = 0;
            i += 64;
            start = i;
            continue;
        }
        if (MiTestBit(r->Bitmap, i)) {
            run = 0;
            start = i + 1;
        } else if (++run == count) {
            return start;
        }
        i++;
    }
    return r->Pages;
}

PVOID MiAllocatePages(MI_REGION_ID id, SIZE_T pages, ULONG limit_percent)
{
    MI_REGION *r = &MiSystemSpace.Regions[id];
    PVOID va = NULL;
    pthread_mutex_lock(&r->Lock);
    SIZE_T limit = limit_percent >= 100 ? r->LimitPages : r->LimitPages * limit_percent / 100;
    if (pages != 0 && pages <= r->Pages && r->CommittedPages + pages <= limit) {
        SIZE_T first = MiFindClearRun(r, r->Hint, pages);
        if (first < r->Pages) {
            va = r->Base + (first << PAGE_SHIFT);
            if (OsCommit(va, pages << PAGE_SHIFT) == 0) {
                ExpAsanUnpoison(va, pages << PAGE_SHIFT); /* forget what earlier owners poisoned */
                MiSetBits(r->Bitmap, first, pages, TRUE);
                if (first == r->Hint)
                    r->Hint = first + pages;
                r->CommittedPages += pages;
                if (r->CommittedPages > r->PeakCommittedPages)
                    r->PeakCommittedPages = r->CommittedPages;
            } else {
                va = NULL; /* the host refused (out of mappings or memory): an ordinary failure */
            }
        }
    }
    pthread_mutex_unlock(&r->Lock);
    if (va != NULL)
        MiPagerPagesCommitted(id, va, pages); /* paged: trimmable from now on; nonpaged: locked */
    return va;
}

void MiFreePages(MI_REGION_ID id, PVOID base, SIZE_T pages, MI_PAGE_STATE first_state)
{
    MI_PFN *pfn = MiPfnOf(base);
    /* States change before the pages go back to the bitmap, so no new owner's state is overwritten. */
    MiSetPageState(&pfn[0], first_state);
    for (SIZE_T i = 1; i < pages; i++)
        MiSetPageState(&pfn[i], MiPageFree);
    MiReleaseRegionPages(id, base, pages);
}

void MiReleaseRegionPages(MI_REGION_ID id, PVOID base, SIZE_T pages)
{
    MI_REGION *r = &MiSystemSpace.Regions[id];
    SIZE_T first = ((PUCHAR)base - r->Base) >> PAGE_SHIFT;
    MiPagerPagesReleased(id, base, pages); /* page-file slots and pager states go first */
    OsDecommit(base, pages << PAGE_SHIFT);
    pthread_mutex_lock(&r->Lock);
    MiSetBits(r->Bitmap, first, pages, FALSE);
    if (first < r->Hint)
        r->Hint = first;
    r->CommittedPages -= pages;
    pthread_mutex_unlock(&r->Lock);
}
