/* driver_sections.h - a loaded driver image's PAGE and INIT sections (driver_sections.c). */
#ifndef NTMEM_MM_DRIVER_SECTIONS_H
#define NTMEM_MM_DRIVER_SECTIONS_H

#include "mm/pager.h"

#define MI_MAX_DRIVER_SECTIONS 32

typedef enum _MI_SECTION_KIND {
    MiSectionPage, /* "PAGE*": pageable */
    MiSectionInit  /* "INIT*": discarded when DriverEntry returns */
} MI_SECTION_KIND;

/* One section; its handle for MmLockPagableSectionByHandle is its address. Start and Bytes cover the
 * whole pages inside it. */
typedef struct _MI_DRIVER_SECTION {
    char Name[16];
    PUCHAR Start;
    SIZE_T Bytes;
    UCHAR Kind;        /* MI_SECTION_KIND */
    BOOLEAN Code;
    BOOLEAN Discarded;
    int Protection;    /* PROT_* from the section's flags */
    LONG LockCount;
    PVOID Pageable;    /* the pager's range handle (PAGE sections) */
    PVOID Saved;       /* a discarded INIT section's bytes, put back when the image is unloaded */
} MI_DRIVER_SECTION;

typedef struct _MI_DRIVER_IMAGE {
    struct _MI_DRIVER_IMAGE *Next;
    PVOID Base;
    SIZE_T Size;
    ULONG Count;
    MI_DRIVER_SECTION Sections[MI_MAX_DRIVER_SECTIONS];
    ULONG ExtraCount;  /* ranges MmPageEntireDriver made pageable */
    PVOID Extra[MI_MAX_DRIVER_SECTIONS];
} MI_DRIVER_IMAGE;

/* Reads the image's section headers from Path (LoadBias: where the file's address 0 was loaded) and
 * makes its PAGE sections pageable; NULL if the file cannot be read as ELF. */
NTMEM_HIDDEN MI_DRIVER_IMAGE *MiLoadDriverSections(const char *Path, PVOID Base, SIZE_T Size, ULONG_PTR LoadBias);
/* DriverEntry returned: INIT sections' memory is released and made inaccessible. */
NTMEM_HIDDEN void MiDiscardInitSections(MI_DRIVER_IMAGE *Image);
/* Brings pageable sections back, puts discarded INIT sections back as they were (so a later load of
 * the same, still mapped, image finds them), and forgets the image; LockedSections gets how many
 * sections were still locked. */
NTMEM_HIDDEN void MiUnloadDriverSections(MI_DRIVER_IMAGE *Image, PULONG LockedSections);
/* The fault path, kernel mode: a touch of a discarded INIT section is STOP 0x50; returns otherwise. */
NTMEM_HIDDEN void MiDriverSectionFault(const void *Address, ULONG_PTR How, PVOID Ip);

#endif /* NTMEM_MM_DRIVER_SECTIONS_H */
