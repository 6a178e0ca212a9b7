/* hostmaps.c - the host's own mappings (/proc/self/maps) as Windows regions, and free-gap searches. */
#include <stdio.h>
#include <string.h>

#include "mm/hostmaps.h"

/* One line of /proc/self/maps. */
typedef struct _MI_HOST_MAP {
    ULONG_PTR Start, End;
    char Perms[5];
    unsigned long Inode;
    char Path[256];
} MI_HOST_MAP;

static BOOLEAN MiReadMap(FILE *f, MI_HOST_MAP *m)
{
    char line[512];
    if (fgets(line, sizeof line, f) == NULL)
        return FALSE;
    unsigned long long start, end, offset;
    int path_at = 0;
    m->Path[0] = '\0';
    if (sscanf(line, "%llx-%llx %4s %llx %*s %lu %n", &start, &end, m->Perms, &offset, &m->Inode, &path_at) < 5)
        return FALSE;
    m->Start = (ULONG_PTR)start;
    m->End = (ULONG_PTR)end;
    if (path_at > 0) {
        size_t n = strcspn(line + path_at, "\n");
        if (n >= sizeof m->Path)
            n = sizeof m->Path - 1;
        memcpy(m->Path, line + path_at, n);
        m->Path[n] = '\0';
    }
    return TRUE;
}

/* Windows' view of a host mapping: file mappings of executables and libraries are images, other
 * file mappings are mapped views, the rest is private; inaccessible anonymous space is reserved. */
static void MiDescribe(const MI_HOST_MAP *m, BOOLEAN image, ULONG *state, ULONG *protect, ULONG *type)
{
    BOOLEAN r = m->Perms[0] == 'r', w = m->Perms[1] == 'w', x = m->Perms[2] == 'x';
    BOOLEAN file = m->Inode != 0 && m->Path[0] == '/';
    *type = !file ? MEM_PRIVATE : image ? MEM_IMAGE : MEM_MAPPED;
    if (!r && !w && !x) {
        *state = file ? MEM_COMMIT : MEM_RESERVE;
        *protect = file ? PAGE_NOACCESS : 0;
        return;
    }
    *state = MEM_COMMIT;
    BOOLEAN copy = file && m->Perms[3] == 'p' && w; /* a private writable file view is copy-on-write */
    if (x)
        *protect = w ? (copy ? PAGE_EXECUTE_WRITECOPY : PAGE_EXECUTE_READWRITE) : r ? PAGE_EXECUTE_READ : PAGE_EXECUTE;
    else
        *protect = w ? (copy ? PAGE_WRITECOPY : PAGE_READWRITE) : PAGE_READONLY;
}

/* Whether any mapping of Path is executable: then the file is an image (a program or library). */
static BOOLEAN MiIsImage(const char *path)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (f == NULL)
        return FALSE;
    MI_HOST_MAP m;
    BOOLEAN image = FALSE;
    while (!image && MiReadMap(f, &m))
        image = m.Perms[2] == 'x' && strcmp(m.Path, path) == 0;
    fclose(f);
    return image;
}

NTSTATUS MiQueryHostRegion(const void *address, ULONG_PTR limit, PMEMORY_BASIC_INFORMATION info)
{
    ULONG_PTR a = (ULONG_PTR)address & ~(ULONG_PTR)(PAGE_SIZE - 1);
    FILE *f = fopen("/proc/self/maps", "re");
    if (f == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    MI_HOST_MAP m, found;
    BOOLEAN have = FALSE;
    ULONG_PTR gap_end = limit;
    while (MiReadMap(f, &m)) {
        if (m.End <= a)
            continue;
        if (m.Start <= a) {
            found = m;
            have = TRUE;
        } else if (m.Start < gap_end) {
            gap_end = m.Start;
        }
        break;
    }
    fclose(f);
    memset(info, 0, sizeof *info);
    info->BaseAddress = (PVOID)a;
    if (!have) {
        info->RegionSize = gap_end > a ? gap_end - a : PAGE_SIZE;
        info->State = MEM_FREE;
        info->Protect = PAGE_NOACCESS;
        return STATUS_SUCCESS;
    }
    BOOLEAN file = found.Inode != 0 && found.Path[0] == '/';
    MiDescribe(&found, file && MiIsImage(found.Path), &info->State, &info->Protect, &info->Type);
    info->AllocationBase = (PVOID)found.Start;
    info->AllocationProtect = info->Protect != 0 ? info->Protect : PAGE_NOACCESS;
    ULONG_PTR end = found.End < limit ? found.End : limit;
    info->RegionSize = end > a ? end - a : PAGE_SIZE;
    return STATUS_SUCCESS;
}

PVOID MiFindFreeGap(ULONG_PTR low, ULONG_PTR high, SIZE_T size, SIZE_T alignment, BOOLEAN top_down)
{
    /* Walks the host's mappings (which include every VAD) for the lowest, or highest, free stretch
     * in [low, high) that holds an aligned block of Size bytes. */
    FILE *f = fopen("/proc/self/maps", "re");
    if (f == NULL)
        return NULL;
    MI_HOST_MAP m;
    ULONG_PTR cursor = low, best = 0;
    BOOLEAN have = FALSE;
    for (;;) {
        BOOLEAN more = MiReadMap(f, &m);
        ULONG_PTR gap_end = more ? (m.Start < high ? m.Start : high) : high;
        if (gap_end > cursor) {
            ULONG_PTR first = ALIGN_UP_BY(cursor, alignment);
            if (first >= cursor && first + size > first && first + size <= gap_end) {
                if (!top_down) {
                    best = first;
                    have = TRUE;
                    break;
                }
                best = ALIGN_DOWN_BY(gap_end - size, alignment); /* the highest fit in this gap */
                have = TRUE;
            }
        }
        if (!more || m.Start >= high)
            break;
        if (m.End > cursor)
            cursor = m.End;
    }
    fclose(f);
    return have ? (PVOID)best : NULL;
}
