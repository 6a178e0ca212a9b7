/* strsafe.c - the ntstrsafe.h routines: bounded copy, concatenation, length and printf, for C strings and UNICODE_STRINGs. */
#include "rtl/strsafe_format.h"

#include <ntstrsafe.h>
#include <string.h>

/* ---- C strings: cch counts units of Unit bytes; a result always ends in a NUL ------------------ */

static NTSTATUS RtlpValidateDestination(const void *Destination, SIZE_T Count)
{
    return Destination == NULL || Count == 0 || Count > NTSTRSAFE_MAX_CCH ? STATUS_INVALID_PARAMETER : STATUS_SUCCESS;
}

/* Length of String within Max units; STATUS_INVALID_PARAMETER when no NUL is found there. */
static NTSTATUS RtlpLength(const void *String, SIZE_T Max, SIZE_T Unit, SIZE_T *Length)
{
    SIZE_T Count = 0;

    while (Count < Max && RtlpUnitAt(String, Count, Unit) != 0)
        Count++;
    *Length = Count;
    return Count < Max ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

/*
 * Copies Source into the Room units at Destination, stopping one short to leave the NUL: as much as
 * fits and STATUS_BUFFER_OVERFLOW when Source is longer. A NULL source copies as "".
 */
static NTSTATUS RtlpCopy(void *Destination, SIZE_T Room, const void *Source, SIZE_T Unit)
{
    SIZE_T Count = 0;

    if (Source != NULL)
        while (Count + 1 < Room && RtlpUnitAt(Source, Count, Unit) != 0) {
            RtlpSetUnit(Destination, Count, Unit, RtlpUnitAt(Source, Count, Unit));
            Count++;
        }
    RtlpSetUnit(Destination, Count, Unit, 0);
    return Source != NULL && RtlpUnitAt(Source, Count, Unit) != 0 ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
}

static NTSTATUS RtlpCopyChecked(void *Destination, SIZE_T Count, const void *Source, SIZE_T Unit)
{
    NTSTATUS Status = RtlpValidateDestination(Destination, Count);
    return NT_SUCCESS(Status) ? RtlpCopy(Destination, Count, Source, Unit) : Status;
}

/* The destination must already be a NUL-terminated string within its Count units. */
static NTSTATUS RtlpCat(void *Destination, SIZE_T Count, const void *Source, SIZE_T Unit)
{
    SIZE_T Length;
    NTSTATUS Status = RtlpValidateDestination(Destination, Count);

    if (!NT_SUCCESS(Status) || !NT_SUCCESS(Status = RtlpLength(Destination, Count, Unit, &Length)))
        return Status;
    return RtlpCopy((PUCHAR)Destination + Length * Unit, Count - Length, Source, Unit);
}

/* The eight entry points differ only in unit (A: bytes, W: WCHARs) and in how the size is counted. */
#define RTLP_COPY_ENTRY(Name, Worker, DestType, SourceType, Unit, BytesPerCount)                               \
    NTSTATUS NTAPI Name(DestType pszDest, size_t Size, SourceType pszSrc)                                     \
    {                                                                                                          \
        return Worker(pszDest, Size / (BytesPerCount), pszSrc, Unit);                                          \
    }

RTLP_COPY_ENTRY(RtlStringCchCopyA, RtlpCopyChecked, NTSTRSAFE_PSTR, NTSTRSAFE_PCSTR, 1, 1)
RTLP_COPY_ENTRY(RtlStringCchCopyW, RtlpCopyChecked, NTSTRSAFE_PWSTR, NTSTRSAFE_PCWSTR, sizeof(WCHAR), 1)
RTLP_COPY_ENTRY(RtlStringCbCopyA, RtlpCopyChecked, NTSTRSAFE_PSTR, NTSTRSAFE_PCSTR, 1, 1)
RTLP_COPY_ENTRY(RtlStringCbCopyW, RtlpCopyChecked, NTSTRSAFE_PWSTR, NTSTRSAFE_PCWSTR, sizeof(WCHAR), sizeof(WCHAR))
RTLP_COPY_ENTRY(RtlStringCchCatA, RtlpCat, NTSTRSAFE_PSTR, NTSTRSAFE_PCSTR, 1, 1)
RTLP_COPY_ENTRY(RtlStringCchCatW, RtlpCat, NTSTRSAFE_PWSTR, NTSTRSAFE_PCWSTR, sizeof(WCHAR), 1)
RTLP_COPY_ENTRY(RtlStringCbCatA, RtlpCat, NTSTRSAFE_PSTR, NTSTRSAFE_PCSTR, 1, 1)
RTLP_COPY_ENTRY(RtlStringCbCatW, RtlpCat, NTSTRSAFE_PWSTR, NTSTRSAFE_PCWSTR, sizeof(WCHAR), sizeof(WCHAR))

/* Length without the NUL; STATUS_INVALID_PARAMETER (and 0) when there is no NUL within Max. */
static NTSTATUS RtlpLengthChecked(const void *String, SIZE_T Max, SIZE_T Unit, size_t *Length)
{
    SIZE_T Count = 0;
    NTSTATUS Status = RtlpValidateDestination(String, Max);

    if (NT_SUCCESS(Status))
        Status = RtlpLength(String, Max, Unit, &Count);
    if (Length != NULL)
        *Length = NT_SUCCESS(Status) ? Count : 0;
    return Status;
}

NTSTATUS NTAPI RtlStringCchLengthA(NTSTRSAFE_PCSTR psz, size_t cchMax, size_t *pcchLength)
{
    return RtlpLengthChecked(psz, cchMax, 1, pcchLength);
}

NTSTATUS NTAPI RtlStringCchLengthW(NTSTRSAFE_PCWSTR psz, size_t cchMax, size_t *pcchLength)
{
    return RtlpLengthChecked(psz, cchMax, sizeof(WCHAR), pcchLength);
}

NTSTATUS NTAPI RtlStringCbLengthA(NTSTRSAFE_PCSTR psz, size_t cbMax, size_t *pcbLength)
{
    return RtlpLengthChecked(psz, cbMax, 1, pcbLength);
}

NTSTATUS NTAPI RtlStringCbLengthW(NTSTRSAFE_PCWSTR psz, size_t cbMax, size_t *pcbLength)
{
    NTSTATUS Status = RtlpLengthChecked(psz, cbMax / sizeof(WCHAR), sizeof(WCHAR), pcbLength);
    if (pcbLength != NULL)
        *pcbLength *= sizeof(WCHAR);
    return Status;
}

/* ---- printf into C strings ------------------------------------------------------------------- */
static NTSTATUS RtlpPrintf(void *Destination, SIZE_T Count, BOOLEAN Wide, const void *Format, va_list Args)
{
    RTLP_FORMAT_OUTPUT Out = {Destination, Wide, FALSE, Count - 1, 0};
    NTSTATUS Status = RtlpValidateDestination(Destination, Count);
    va_list Copy;

    if (!NT_SUCCESS(Status))
        return Status;
    if (Format == NULL) {
        RtlpSetUnit(Destination, 0, Wide ? sizeof(WCHAR) : 1, 0);
        return STATUS_INVALID_PARAMETER;
    }
    va_copy(Copy, Args);
    RtlpFormat(&Out, Format, &Copy);
    va_end(Copy);
    RtlpSetUnit(Destination, Out.Used, Wide ? sizeof(WCHAR) : 1, 0);
    return Out.Truncated ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
}

NTSTATUS NTAPI RtlStringCchVPrintfA(NTSTRSAFE_PSTR pszDest, size_t cchDest, NTSTRSAFE_PCSTR pszFormat, va_list argList)
{
    return RtlpPrintf(pszDest, cchDest, FALSE, pszFormat, argList);
}

NTSTATUS NTAPI RtlStringCchVPrintfW(NTSTRSAFE_PWSTR pszDest, size_t cchDest, NTSTRSAFE_PCWSTR pszFormat,
                                    va_list argList)
{
    return RtlpPrintf(pszDest, cchDest, TRUE, pszFormat, argList);
}

NTSTATUS NTAPI RtlStringCbVPrintfA(NTSTRSAFE_PSTR pszDest, size_t cbDest, NTSTRSAFE_PCSTR pszFormat, va_list argList)
{
    return RtlpPrintf(pszDest, cbDest, FALSE, pszFormat, argList);
}

NTSTATUS NTAPI RtlStringCbVPrintfW(NTSTRSAFE_PWSTR pszDest, size_t cbDest, NTSTRSAFE_PCWSTR pszFormat, va_list argList)
{
    return RtlpPrintf(pszDest, cbDest / sizeof(WCHAR), TRUE, pszFormat, argList);
}

RTLP_VARIADIC_ENTRY(NTSTATUS, RtlStringCchPrintfA, NTSTRSAFE_PSTR, NTSTRSAFE_PCSTR, RtlStringCchVPrintfA)
RTLP_VARIADIC_ENTRY(NTSTATUS, RtlStringCchPrintfW, NTSTRSAFE_PWSTR, NTSTRSAFE_PCWSTR, RtlStringCchVPrintfW)
RTLP_VARIADIC_ENTRY(NTSTATUS, RtlStringCbPrintfA, NTSTRSAFE_PSTR, NTSTRSAFE_PCSTR, RtlStringCbVPrintfA)
RTLP_VARIADIC_ENTRY(NTSTATUS, RtlStringCbPrintfW, NTSTRSAFE_PWSTR, NTSTRSAFE_PCWSTR, RtlStringCbVPrintfW)

/* ---- UNICODE_STRING destinations: bounded by MaximumLength, no NUL ---------------------------- */

/* What ntstrsafe accepts: even lengths, Length within MaximumLength, at most 32767 characters. */
static BOOLEAN RtlpIsSafeUnicodeString(PCUNICODE_STRING String)
{
    return String != NULL && RtlpIsValidUnicodeString(String) && (String->MaximumLength & 1) == 0 &&
           String->MaximumLength <= NTSTRSAFE_UNICODE_STRING_MAX_CCH * sizeof(WCHAR) &&
           (String->Buffer != NULL || String->MaximumLength == 0);
}

/* The destination is emptied first, so it is a valid empty string even when the source is refused. */
NTSTATUS NTAPI RtlUnicodeStringInit(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszSrc)
{
    SIZE_T Count = 0;

    if (DestinationString == NULL)
        return STATUS_INVALID_PARAMETER;
    memset(DestinationString, 0, sizeof *DestinationString);
    if (pszSrc != NULL && !NT_SUCCESS(RtlpLength(pszSrc, NTSTRSAFE_UNICODE_STRING_MAX_CCH, sizeof(WCHAR), &Count)))
        return STATUS_INVALID_PARAMETER;
    DestinationString->Buffer = (PWSTR)pszSrc;
    DestinationString->Length = (USHORT)(Count * sizeof(WCHAR));
    DestinationString->MaximumLength = pszSrc != NULL ? (USHORT)((Count + 1) * sizeof(WCHAR)) : 0;
    return STATUS_SUCCESS;
}

/* Puts Count characters after Destination's first Keep characters: what fits, and overflow if not all. */
static NTSTATUS RtlpUnicodeStringPut(PUNICODE_STRING Destination, SIZE_T Keep, PCWCH Source, SIZE_T Count)
{
    SIZE_T Room = Destination->MaximumLength / sizeof(WCHAR) - Keep;
    SIZE_T Take = Count < Room ? Count : Room;

    if (Take != 0)
        memmove(Destination->Buffer + Keep, Source, Take * sizeof(WCHAR));
    Destination->Length = (USHORT)((Keep + Take) * sizeof(WCHAR));
    return Take < Count ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
}

static NTSTATUS RtlpUnicodeStringAppend(PUNICODE_STRING Destination, BOOLEAN Append, PCWCH Source, SIZE_T Count)
{
    if (!RtlpIsSafeUnicodeString(Destination) || Count > NTSTRSAFE_UNICODE_STRING_MAX_CCH)
        return STATUS_INVALID_PARAMETER;
    return RtlpUnicodeStringPut(Destination, Append ? Destination->Length / sizeof(WCHAR) : 0, Source, Count);
}

NTSTATUS NTAPI RtlUnicodeStringCopy(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString)
{
    if (!RtlpIsSafeUnicodeString(SourceString))
        return STATUS_INVALID_PARAMETER;
    return RtlpUnicodeStringAppend(DestinationString, FALSE, SourceString->Buffer, SourceString->Length / sizeof(WCHAR));
}

NTSTATUS NTAPI RtlUnicodeStringCat(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString)
{
    if (!RtlpIsSafeUnicodeString(SourceString))
        return STATUS_INVALID_PARAMETER;
    return RtlpUnicodeStringAppend(DestinationString, TRUE, SourceString->Buffer, SourceString->Length / sizeof(WCHAR));
}

NTSTATUS NTAPI RtlUnicodeStringCopyString(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszSrc)
{
    return RtlpUnicodeStringAppend(DestinationString, FALSE, pszSrc, pszSrc != NULL ? RtlpWideLength(pszSrc) : 0);
}

NTSTATUS NTAPI RtlUnicodeStringCatString(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszSrc)
{
    return RtlpUnicodeStringAppend(DestinationString, TRUE, pszSrc, pszSrc != NULL ? RtlpWideLength(pszSrc) : 0);
}

NTSTATUS NTAPI RtlUnicodeStringVPrintf(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszFormat, va_list argList)
{
    RTLP_FORMAT_OUTPUT Out;
    va_list Copy;

    if (!RtlpIsSafeUnicodeString(DestinationString) || pszFormat == NULL)
        return STATUS_INVALID_PARAMETER;
    Out.Buffer = DestinationString->Buffer;
    Out.Wide = TRUE;
    Out.Truncated = FALSE;
    Out.Capacity = DestinationString->MaximumLength / sizeof(WCHAR);
    Out.Used = 0;
    va_copy(Copy, argList);
    RtlpFormat(&Out, pszFormat, &Copy);
    va_end(Copy);
    DestinationString->Length = (USHORT)(Out.Used * sizeof(WCHAR));
    return Out.Truncated ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
}

NTSTATUS NTAPI RtlUnicodeStringPrintf(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszFormat, ...)
{
    va_list Args;
    NTSTATUS Status;

    va_start(Args, pszFormat);
    Status = RtlUnicodeStringVPrintf(DestinationString, pszFormat, Args);
    va_end(Args);
    return Status;
}
