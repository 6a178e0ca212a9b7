/* rtlstring.h - what the Rtl string files share: the string pool tag, validation, case and code-page tables. */
#ifndef NTMEM_RTL_RTLSTRING_H
#define NTMEM_RTL_RTLSTRING_H

#include <wdm.h>

/*
 * Strings the Rtl routines allocate for their callers come from paged pool under the tag Windows'
 * own string allocator (ExpAllocateStringRoutine) uses, 'Strg', so they show up in the pool tag
 * table where poolmon users expect them. The Rtl*Free*String routines free them (untagged, as Windows).
 */
#define RTLP_STRING_TAG 'grtS'

#define RTLP_MAX_USTRING 0xFFFEu /* the largest even USHORT: the most bytes a UNICODE_STRING holds */
#define RTLP_MAX_ASTRING 0xFFFFu

PVOID RtlpAllocateStringBuffer(SIZE_T Bytes);
VOID RtlpFreeStringBuffer(PVOID Buffer);

/* Length even and within MaximumLength, and a Buffer behind any characters. */
static inline BOOLEAN RtlpIsValidUnicodeString(PCUNICODE_STRING String)
{
    return (String->Length & 1) == 0 && String->Length <= String->MaximumLength &&
           (String->Buffer != NULL || String->Length == 0);
}

static inline BOOLEAN RtlpIsValidString(PCSTRING String)
{
    return String->Length <= String->MaximumLength && (String->Buffer != NULL || String->Length == 0);
}

/* Counts UTF-16 units up to the terminating NUL (the library does not assume wchar_t is 16 bits). */
static inline SIZE_T RtlpWideLength(PCWSTR String)
{
    SIZE_T Count = 0;
    while (String[Count] != 0)
        Count++;
    return Count;
}

/* One unit of a string that is narrow (Unit 1) or UTF-16 (Unit sizeof(WCHAR)), for the routines
 * that serve both widths with one body (ntstrsafe.h, the CRT's _str and _wcs twins). */
static inline ULONG RtlpUnitAt(const void *String, SIZE_T Index, SIZE_T Unit)
{
    return Unit == 1 ? ((const UCHAR *)String)[Index] : ((PCWCH)String)[Index];
}

static inline VOID RtlpSetUnit(void *String, SIZE_T Index, SIZE_T Unit, ULONG Value)
{
    if (Unit == 1)
        ((PUCHAR)String)[Index] = (UCHAR)Value;
    else
        ((PWCH)String)[Index] = (WCHAR)Value;
}

/* ---- case tables (string_case_table.c, generated) ---------------------------------------------- */
#define RTLP_CASE_SHIFT 6
#define RTLP_CASE_MASK ((1u << RTLP_CASE_SHIFT) - 1)
extern const USHORT RtlpUpcaseIndex[0x10000 >> RTLP_CASE_SHIFT];
extern const USHORT RtlpUpcaseDelta[];
extern const USHORT RtlpDowncaseIndex[0x10000 >> RTLP_CASE_SHIFT];
extern const USHORT RtlpDowncaseDelta[];

/*
 * No ASCII shortcut: text that mixes ASCII with other letters would mispredict it, while the two
 * loads hit the same few cache lines (the blocks in use) every time.
 */
static inline WCHAR RtlpUpcase(WCHAR Char)
{
    return (WCHAR)(Char + RtlpUpcaseDelta[RtlpUpcaseIndex[Char >> RTLP_CASE_SHIFT] + (Char & RTLP_CASE_MASK)]);
}

static inline WCHAR RtlpDowncase(WCHAR Char)
{
    return (WCHAR)(Char + RtlpDowncaseDelta[RtlpDowncaseIndex[Char >> RTLP_CASE_SHIFT] + (Char & RTLP_CASE_MASK)]);
}

/* ---- code pages (string_codepage_table.c, generated; string_convert.c) ------------------------- */
typedef struct _RTLP_CODEPAGE_PAIR {
    WCHAR Unicode;
    UCHAR Byte;
} RTLP_CODEPAGE_PAIR;

typedef struct _RTLP_CODEPAGE {
    const WCHAR *ToUnicode;              /* 256 entries */
    const RTLP_CODEPAGE_PAIR *FromUnicode; /* the upper 128 bytes, sorted by Unicode */
} RTLP_CODEPAGE;

extern const WCHAR RtlpAnsiToUnicode[256];
extern const RTLP_CODEPAGE_PAIR RtlpAnsiFromUnicode[128];
extern const WCHAR RtlpOemToUnicode[256];
extern const RTLP_CODEPAGE_PAIR RtlpOemFromUnicode[128];
extern const RTLP_CODEPAGE RtlpAnsiCodePage; /* Windows-1252 */
extern const RTLP_CODEPAGE RtlpOemCodePage;  /* 437 */

#define RTLP_DEFAULT_CHAR '?' /* what an unmappable character becomes, as in Windows' code pages */

/* One character to a byte of the code page; FALSE (and the default char) when it has none. */
BOOLEAN RtlpUnicodeToCodePageChar(const RTLP_CODEPAGE *CodePage, WCHAR Char, PUCHAR Byte);

/* Converts Count characters; the caller has checked the destination's size. */
VOID RtlpCodePageToUnicode(const RTLP_CODEPAGE *CodePage, PWCH Destination, const UCHAR *Source, SIZE_T Count);
VOID RtlpUnicodeToCodePage(const RTLP_CODEPAGE *CodePage, PCHAR Destination, PCWCH Source, SIZE_T Count);

#endif /* NTMEM_RTL_RTLSTRING_H */
