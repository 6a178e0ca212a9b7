/* driver_sections.c - a loaded driver image's PAGE and INIT sections: which pages are pageable, INIT
 * discarded after DriverEntry, and MmLockPagable*, MmUnlockPagableImageSection, MmPageEntireDriver and
 * MmResetDriverPaging on them. */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h> /* PROT_* */
#include <unistd.h>

#include "mm/driver_sections.h"
#include "os/os.h"

static pthread_mutex_t MiDriverImagesLock = PTHREAD_MUTEX_INITIALIZER;
static MI_DRIVER_IMAGE *MiDriverImages;

static BOOLEAN MiSectionHolds(const MI_DRIVER_SECTION *s, const void *address)
{
    return (const UCHAR *)address >= s->Start && (const UCHAR *)address < s->Start + s->Bytes;
}

/* Reads the section headers of the ELF file at Path; the names we care about are the ones a port
 * gives with NTMEM_CODE_SEG/NTMEM_DATA_SEG: "PAGE*" and "INIT*". */
static BOOLEAN MiReadSections(MI_DRIVER_IMAGE *image, const char *path, ULONG_PTR load_bias)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return FALSE;
    BOOLEAN ok = FALSE;
    Elf64_Ehdr eh;
    Elf64_Shdr *sh = NULL;
    char *names = NULL;
    if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shstrndx >= eh.e_shnum)
        goto out;
    sh = calloc(eh.e_shnum, sizeof *sh);
    if (sh == NULL || pread(fd, sh, (size_t)eh.e_shnum * sizeof *sh, (off_t)eh.e_shoff) != (ssize_t)(eh.e_shnum * sizeof *sh))
        goto out;
    const Elf64_Shdr *strtab = &sh[eh.e_shstrndx];
    names = malloc(strtab->sh_size + 1);
    if (names == NULL || pread(fd, names, strtab->sh_size, (off_t)strtab->sh_offset) != (ssize_t)strtab->sh_size)
        goto out;
    names[strtab->sh_size] = '\0';
    for (unsigned i = 0; i < eh.e_shnum && image->Count < MI_MAX_DRIVER_SECTIONS; i++) {
        if (!(sh[i].sh_flags & SHF_ALLOC) || sh[i].sh_size == 0 || sh[i].sh_name >= strtab->sh_size)
            continue;
        const char *name = names + sh[i].sh_name;
        BOOLEAN paged = strncmp(name, "PAGE", 4) == 0, init = strncmp(name, "INIT", 4) == 0;
        if (!paged && !init)
            continue;
        /* Only whole pages can be paged or discarded; driver.ld makes the sections whole pages. */
        ULONG_PTR start = ROUND_TO_PAGES(load_bias + sh[i].sh_addr);
        ULONG_PTR end = (load_bias + sh[i].sh_addr + sh[i].sh_size) & ~(ULONG_PTR)(PAGE_SIZE - 1);
        MI_DRIVER_SECTION *s = &image->Sections[image->Count++];
        memset(s, 0, sizeof *s);
        snprintf(s->Name, sizeof s->Name, "%s", name);
        s->Start = (PUCHAR)start;
        s->Bytes = end > start ? end - start : 0;
        s->Kind = init ? MiSectionInit : MiSectionPage;
        s->Code = (sh[i].sh_flags & SHF_EXECINSTR) != 0;
        s->Protection = PROT_READ | (s->Code ? PROT_EXEC : 0) | ((sh[i].sh_flags & SHF_WRITE) ? PROT_WRITE : 0);
    }
    ok = TRUE;
out:
    free(names);
    free(sh);
    close(fd);
    return ok;
}

MI_DRIVER_IMAGE *MiLoadDriverSections(const char *path, PVOID base, SIZE_T size, ULONG_PTR load_bias)
{
    MI_DRIVER_IMAGE *image = calloc(1, sizeof *image);
    if (image == NULL)
        return NULL;
    image->Base = base;
    image->Size = size;
    if (!MiReadSections(image, path, load_bias)) {
        free(image);
        return NULL;
    }
    for (ULONG i = 0; i < image->Count; i++) {
        MI_DRIVER_SECTION *s = &image->Sections[i];
        if (s->Kind == MiSectionPage && s->Bytes != 0)
            s->Pageable = MiRegisterPageableRange(s->Start, s->Bytes, s->Name);
    }
    pthread_mutex_lock(&MiDriverImagesLock);
    image->Next = MiDriverImages;
    MiDriverImages = image;
    pthread_mutex_unlock(&MiDriverImagesLock);
    return image;
}

void MiDiscardInitSections(MI_DRIVER_IMAGE *image)
{
    pthread_mutex_lock(&MiDriverImagesLock);
    for (ULONG i = 0; i < image->Count; i++) {
        MI_DRIVER_SECTION *s = &image->Sections[i];
        if (s->Kind != MiSectionInit || s->Discarded || s->Bytes == 0)
            continue;
        /* The memory is given back (its contents are gone) and stays reserved, so a late call into
         * INIT code or a read of INIT data faults and is reported instead of running stale bytes.
         * A private copy, as relocated, puts it back at unload: the image may be loaded again. */
        s->Saved = malloc(s->Bytes);
        if (s->Saved == NULL)
            continue; /* not discarded, then: it stays as it is */
        memcpy(s->Saved, s->Start, s->Bytes);
        OsDecommit(s->Start, s->Bytes);
        s->Discarded = TRUE;
    }
    pthread_mutex_unlock(&MiDriverImagesLock);
}

void MiUnloadDriverSections(MI_DRIVER_IMAGE *image, PULONG LockedSections)
{
    ULONG locked = 0;
    pthread_mutex_lock(&MiDriverImagesLock);
    for (MI_DRIVER_IMAGE **p = &MiDriverImages; *p != NULL; p = &(*p)->Next) {
        if (*p == image) {
            *p = image->Next;
            break;
        }
    }
    pthread_mutex_unlock(&MiDriverImagesLock);
    for (ULONG i = 0; i < image->Count; i++) {
        MI_DRIVER_SECTION *s = &image->Sections[i];
        locked += s->LockCount != 0;
        if (s->Pageable != NULL)
            MiUnregisterPageableRange(s->Pageable);
        if (s->Discarded && OsCommit(s->Start, s->Bytes) == 0) {
            memcpy(s->Start, s->Saved, s->Bytes);
            OsProtect(s->Start, s->Bytes, s->Protection);
        }
        free(s->Saved);
    }
    for (ULONG i = 0; i < image->ExtraCount; i++)
        MiUnregisterPageableRange(image->Extra[i]);
    if (LockedSections != NULL)
        *LockedSections = locked;
    free(image);
}

/* The section of a loaded driver holding Address; lock held. */
static MI_DRIVER_SECTION *MiFindSection(const void *address, MI_DRIVER_IMAGE **owner)
{
    for (MI_DRIVER_IMAGE *image = MiDriverImages; image != NULL; image = image->Next) {
        if ((const UCHAR *)address < (PUCHAR)image->Base || (const UCHAR *)address >= (PUCHAR)image->Base + image->Size)
            continue;
        if (owner != NULL)
            *owner = image;
        for (ULONG i = 0; i < image->Count; i++)
            if (MiSectionHolds(&image->Sections[i], address))
                return &image->Sections[i];
        return NULL;
    }
    return NULL;
}

void MiDriverSectionFault(const void *address, ULONG_PTR how, PVOID ip)
{
    if (__atomic_load_n(&MiDriverImages, __ATOMIC_ACQUIRE) == NULL)
        return;
    /* From a signal handler: if this very thread faulted while holding the lock, say nothing. */
    if (pthread_mutex_trylock(&MiDriverImagesLock) != 0)
        return;
    MI_DRIVER_SECTION *s = MiFindSection(address, NULL);
    BOOLEAN discarded = s != NULL && s->Discarded;
    char name[sizeof s->Name];
    if (discarded)
        memcpy(name, s->Name, sizeof name);
    pthread_mutex_unlock(&MiDriverImagesLock);
    if (discarded)
        KiBugCheckWithReason(PAGE_FAULT_IN_NONPAGED_AREA, (ULONG_PTR)address, how == 1 ? 1 : how == 8 ? 0x10 : 0,
                             (ULONG_PTR)ip, 0,
                             "%s %p in the driver's %s section, which was discarded when DriverEntry returned",
                             how == 1 ? "write to" : how == 8 ? "call into" : "read from", address, name);
}

/* ---- the Mm routines ------------------------------------------------------------------------------ */

static PVOID MiLockSection(PVOID address)
{
    pthread_mutex_lock(&MiDriverImagesLock);
    MI_DRIVER_SECTION *s = MiFindSection(address, NULL);
    if (s != NULL && s->Kind == MiSectionPage) {
        if (s->LockCount++ == 0 && s->Bytes != 0)
            MiLockPageableRange(s->Start, s->Bytes);
    } else {
        s = NULL; /* not in a pageable section of a loaded driver: nothing to lock */
    }
    pthread_mutex_unlock(&MiDriverImagesLock);
    return s;
}

NTKERNELAPI PVOID NTAPI MmLockPagableCodeSection(PVOID address)
{
    PAGED_CODE();
    return MiLockSection(address);
}

NTKERNELAPI PVOID NTAPI MmLockPagableDataSection(PVOID address)
{
    PAGED_CODE();
    return MiLockSection(address);
}

NTKERNELAPI VOID NTAPI MmLockPagableSectionByHandle(PVOID handle)
{
    if (handle == NULL)
        return;
    MI_DRIVER_SECTION *s = handle;
    pthread_mutex_lock(&MiDriverImagesLock);
    if (s->LockCount++ == 0 && s->Bytes != 0)
        MiLockPageableRange(s->Start, s->Bytes);
    pthread_mutex_unlock(&MiDriverImagesLock);
}

NTKERNELAPI VOID NTAPI MmUnlockPagableImageSection(PVOID handle)
{
    if (handle == NULL)
        return;
    MI_DRIVER_SECTION *s = handle;
    pthread_mutex_lock(&MiDriverImagesLock);
    LONG count = s->LockCount;
    if (count > 0 && --s->LockCount == 0 && s->Bytes != 0)
        MiUnlockPageableRange(s->Start, s->Bytes);
    pthread_mutex_unlock(&MiDriverImagesLock);
    if (count <= 0) {
        /* Windows documents no result for it; the count stays at zero rather than going negative. */
        char line[160];
        int n = snprintf(line, sizeof line, "ntmem: MmUnlockPagableImageSection: section %s was not locked; "
                         "the unlock is ignored\n", s->Name);
        OsWriteStderr(line, (size_t)n);
    }
}

/* Every page of the image outside its PAGE and INIT sections, registered as pageable too. */
static void MiRegisterRestOfImage(MI_DRIVER_IMAGE *image)
{
    ULONG_PTR at = ROUND_TO_PAGES((ULONG_PTR)image->Base), end = (ULONG_PTR)image->Base + image->Size;
    end &= ~(ULONG_PTR)(PAGE_SIZE - 1);
    while (at < end && image->ExtraCount < MI_MAX_DRIVER_SECTIONS) {
        /* The next run of pages up to the nearest section start at or after `at`. */
        ULONG_PTR stop = end;
        BOOLEAN inside = FALSE;
        for (ULONG i = 0; i < image->Count; i++) {
            const MI_DRIVER_SECTION *s = &image->Sections[i];
            ULONG_PTR a = (ULONG_PTR)s->Start, b = a + s->Bytes;
            if (s->Bytes != 0 && at >= a && at < b) {
                at = b;
                inside = TRUE;
                break;
            }
            if (s->Bytes != 0 && a > at && a < stop)
                stop = a;
        }
        if (inside)
            continue;
        if (stop > at)
            image->Extra[image->ExtraCount++] = MiRegisterPageableRange((PVOID)at, stop - at, "image");
        at = stop;
    }
}

NTKERNELAPI PVOID NTAPI MmPageEntireDriver(PVOID address)
{
    PAGED_CODE();
    PVOID base = NULL;
    pthread_mutex_lock(&MiDriverImagesLock);
    MI_DRIVER_IMAGE *image = NULL;
    MiFindSection(address, &image);
    if (image != NULL) {
        if (image->ExtraCount == 0)
            MiRegisterRestOfImage(image);
        base = image->Base;
    }
    pthread_mutex_unlock(&MiDriverImagesLock);
    return base;
}

NTKERNELAPI VOID NTAPI MmResetDriverPaging(PVOID address)
{
    PAGED_CODE();
    pthread_mutex_lock(&MiDriverImagesLock);
    MI_DRIVER_IMAGE *image = NULL;
    MiFindSection(address, &image);
    if (image != NULL) {
        for (ULONG i = 0; i < image->ExtraCount; i++)
            MiUnregisterPageableRange(image->Extra[i]);
        image->ExtraCount = 0;
    }
    pthread_mutex_unlock(&MiDriverImagesLock);
}
