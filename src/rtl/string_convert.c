/* string_convert.c - ANSI (Windows-1252) and OEM (437) strings to and from Unicode. */
#include "rtl/rtlstring.h"

#include <string.h>

const RTLP_CODEPAGE RtlpAnsiCodePage = {RtlpAnsiToUnicode, RtlpAnsiFromUnicode};
const RTLP_CODEPAGE RtlpOemCodePage = {RtlpOemToUnicode, RtlpOemFromUnicode};

/* Both code pages are ASCII below 0x80; above it, a binary search over the 128 sorted pairs. */
BOOLEAN RtlpUnicodeToCodePageChar(const RTLP_CODEPAGE *CodePage, WCHAR Char, PUCHAR Byte)
{
    SIZE_T Low = 0, High = 128;

    if (Char < 0x80) {
        *Byte = (UCHAR)Char;
        return TRUE;
    }
    while (Low < High) {
        SIZE_T Middle = (Low + High) / 2;
        if (CodePage->FromUnicode[Middle].Unicode < Char)
            Low = Middle + 1;
        else
            High = Middle;
    }
    if (Low < 128 && CodePage->FromUnicode[Low].Unicode == Char) {
        *Byte = CodePage->FromUnicode[Low].Byte;
        return TRUE;
    }
    *Byte = RTLP_DEFAULT_CHAR;
    return FALSE;
}

VOID RtlpCodePageToUnicode(const RTLP_CODEPAGE *CodePage, PWCH Destination, const UCHAR *Source, SIZE_T Count)
{
    for (SIZE_T Index = 0; Index < Count; Index++)
        Destination[Index] = CodePage->ToUnicode[Source[Index]];
}

VOID RtlpUnicodeToCodePage(const RTLP_CODEPAGE *CodePage, PCHAR Destination, PCWCH Source, SIZE_T Count)
{
    for (SIZE_T Index = 0; Index < Count; Index++) {
        UCHAR Byte;
        RtlpUnicodeToCodePageChar(CodePage, Source[Index], &Byte);
        Destination[Index] = (CHAR)Byte;
    }
}

/* ---- sizes: single-byte code pages, one UTF-16 unit per byte; the NUL counted ------------------ */
ULONG NTAPI RtlxAnsiStringToUnicodeSize(PCANSI_STRING AnsiString)
{
    return ((ULONG)AnsiString->Length + 1) * sizeof(WCHAR);
}

ULONG NTAPI RtlxOemStringToUnicodeSize(PCOEM_STRING OemString)
{
    return RtlxAnsiStringToUnicodeSize(OemString);
}

ULONG NTAPI RtlxUnicodeStringToAnsiSize(PCUNICODE_STRING UnicodeString)
{
    return ((ULONG)UnicodeString->Length + sizeof(WCHAR)) / sizeof(WCHAR);
}

ULONG NTAPI RtlxUnicodeStringToOemSize(PCUNICODE_STRING UnicodeString)
{
    return RtlxUnicodeStringToAnsiSize(UnicodeString);
}

/* ---- counted strings ------------------------------------------------------------------------- */

/*
 * 8-bit to Unicode. The result, with its NUL, must fit a UNICODE_STRING (0xFFFE bytes):
 * STATUS_INVALID_PARAMETER_2 otherwise. Allocating: an exact-size 'Strg' paged buffer. Not
 * allocating: STATUS_BUFFER_OVERFLOW, nothing written, when the string and its NUL do not fit.
 */
static NTSTATUS RtlpCodePageStringToUnicode(const RTLP_CODEPAGE *CodePage, PUNICODE_STRING Destination,
                                            const STRING *Source, BOOLEAN Allocate)
{
    ULONG Size;
    PWCH Target;

    if (!RtlpIsValidString(Source))
        return STATUS_INVALID_PARAMETER_2;
    Size = RtlxAnsiStringToUnicodeSize(Source);
    if (Size > RTLP_MAX_USTRING)
        return STATUS_INVALID_PARAMETER_2;
    if (Allocate) {
        Target = RtlpAllocateStringBuffer(Size);
        if (Target == NULL)
            return STATUS_NO_MEMORY;
        Destination->Buffer = Target;
        Destination->MaximumLength = (USHORT)Size;
    } else {
        if (Size > Destination->MaximumLength)
            return STATUS_BUFFER_OVERFLOW;
        Target = Destination->Buffer;
    }
    RtlpCodePageToUnicode(CodePage, Target, (const UCHAR *)Source->Buffer, Source->Length);
    Target[Source->Length] = UNICODE_NULL;
    Destination->Length = (USHORT)(Size - sizeof(WCHAR));
    return STATUS_SUCCESS;
}

/*
 * Unicode to 8-bit; unmappable characters become '?'. Allocating: an exact-size 'Strg' paged
 * buffer. Not allocating and too small: STATUS_BUFFER_OVERFLOW. For ANSI, Windows first converts
 * as much as fits (MaximumLength - 1 characters and a NUL: the warning then means "cut short"),
 * which GetProfileStringA-style callers rely on; for OEM it writes nothing. A destination with no
 * room at all gets nothing either way.
 */
static NTSTATUS RtlpUnicodeStringToCodePage(const RTLP_CODEPAGE *CodePage, PSTRING Destination,
                                            PCUNICODE_STRING Source, BOOLEAN Allocate, BOOLEAN Truncate)
{
    ULONG Size;
    SIZE_T Count;
    NTSTATUS Status = STATUS_SUCCESS;
    PCHAR Target;

    if (!RtlpIsValidUnicodeString(Source))
        return STATUS_INVALID_PARAMETER_2;
    Size = RtlxUnicodeStringToAnsiSize(Source);
    if (Size > RTLP_MAX_ASTRING)
        return STATUS_INVALID_PARAMETER_2;
    Count = Size - 1;
    if (Allocate) {
        Target = RtlpAllocateStringBuffer(Size);
        if (Target == NULL)
            return STATUS_NO_MEMORY;
        Destination->Buffer = Target;
        Destination->MaximumLength = (USHORT)Size;
    } else {
        if (Destination->MaximumLength == 0 || (Size > Destination->MaximumLength && !Truncate))
            return STATUS_BUFFER_OVERFLOW;
        if (Size > Destination->MaximumLength) {
            Count = Destination->MaximumLength - 1u;
            Status = STATUS_BUFFER_OVERFLOW;
        }
        Target = Destination->Buffer;
    }
    RtlpUnicodeToCodePage(CodePage, Target, Source->Buffer, Count);
    Target[Count] = ANSI_NULL;
    Destination->Length = (USHORT)Count;
    return Status;
}

NTSTATUS NTAPI RtlAnsiStringToUnicodeString(PUNICODE_STRING DestinationString, PCANSI_STRING SourceString,
                                            BOOLEAN AllocateDestinationString)
{
    return RtlpCodePageStringToUnicode(&RtlpAnsiCodePage, DestinationString, SourceString, AllocateDestinationString);
}

NTSTATUS NTAPI RtlOemStringToUnicodeString(PUNICODE_STRING DestinationString, PCOEM_STRING SourceString,
                                           BOOLEAN AllocateDestinationString)
{
    return RtlpCodePageStringToUnicode(&RtlpOemCodePage, DestinationString, SourceString, AllocateDestinationString);
}

NTSTATUS NTAPI RtlUnicodeStringToAnsiString(PANSI_STRING DestinationString, PCUNICODE_STRING SourceString,
                                            BOOLEAN AllocateDestinationString)
{
    return RtlpUnicodeStringToCodePage(&RtlpAnsiCodePage, DestinationString, SourceString, AllocateDestinationString,
                                       TRUE);
}

NTSTATUS NTAPI RtlUnicodeStringToOemString(POEM_STRING DestinationString, PCUNICODE_STRING SourceString,
                                           BOOLEAN AllocateDestinationString)
{
    return RtlpUnicodeStringToCodePage(&RtlpOemCodePage, DestinationString, SourceString, AllocateDestinationString,
                                       FALSE);
}

/* ---- buffers: convert what fits, report how many bytes were written, never fail ---------------- */
static NTSTATUS RtlpToUnicodeN(const RTLP_CODEPAGE *CodePage, PWCH UnicodeString, ULONG MaxBytes, PULONG BytesOut,
                               const CHAR *Source, ULONG SourceBytes)
{
    ULONG Count = MaxBytes / sizeof(WCHAR) < SourceBytes ? MaxBytes / sizeof(WCHAR) : SourceBytes;

    RtlpCodePageToUnicode(CodePage, UnicodeString, (const UCHAR *)Source, Count);
    if (BytesOut != NULL)
        *BytesOut = Count * sizeof(WCHAR);
    return STATUS_SUCCESS;
}

static NTSTATUS RtlpFromUnicodeN(const RTLP_CODEPAGE *CodePage, PCHAR Target, ULONG MaxBytes, PULONG BytesOut,
                                 PCWCH UnicodeString, ULONG UnicodeBytes)
{
    ULONG Count = UnicodeBytes / sizeof(WCHAR) < MaxBytes ? UnicodeBytes / sizeof(WCHAR) : MaxBytes;

    RtlpUnicodeToCodePage(CodePage, Target, UnicodeString, Count);
    if (BytesOut != NULL)
        *BytesOut = Count;
    return STATUS_SUCCESS;
}

NTSTATUS NTAPI RtlMultiByteToUnicodeN(PWCH UnicodeString, ULONG MaxBytesInUnicodeString, PULONG BytesInUnicodeString,
                                      const CHAR *MultiByteString, ULONG BytesInMultiByteString)
{
    return RtlpToUnicodeN(&RtlpAnsiCodePage, UnicodeString, MaxBytesInUnicodeString, BytesInUnicodeString,
                          MultiByteString, BytesInMultiByteString);
}

NTSTATUS NTAPI RtlOemToUnicodeN(PWCH UnicodeString, ULONG MaxBytesInUnicodeString, PULONG BytesInUnicodeString,
                                PCCH OemString, ULONG BytesInOemString)
{
    return RtlpToUnicodeN(&RtlpOemCodePage, UnicodeString, MaxBytesInUnicodeString, BytesInUnicodeString, OemString,
                          BytesInOemString);
}

NTSTATUS NTAPI RtlUnicodeToMultiByteN(PCHAR MultiByteString, ULONG MaxBytesInMultiByteString,
                                      PULONG BytesInMultiByteString, PCWCH UnicodeString, ULONG BytesInUnicodeString)
{
    return RtlpFromUnicodeN(&RtlpAnsiCodePage, MultiByteString, MaxBytesInMultiByteString, BytesInMultiByteString,
                            UnicodeString, BytesInUnicodeString);
}

NTSTATUS NTAPI RtlUnicodeToOemN(PCHAR OemString, ULONG MaxBytesInOemString, PULONG BytesInOemString,
                                PCWCH UnicodeString, ULONG BytesInUnicodeString)
{
    return RtlpFromUnicodeN(&RtlpOemCodePage, OemString, MaxBytesInOemString, BytesInOemString, UnicodeString,
                            BytesInUnicodeString);
}

NTSTATUS NTAPI RtlMultiByteToUnicodeSize(PULONG BytesInUnicodeString, const CHAR *MultiByteString,
                                         ULONG BytesInMultiByteString)
{
    UNREFERENCED_PARAMETER(MultiByteString);
    *BytesInUnicodeString = BytesInMultiByteString * sizeof(WCHAR);
    return STATUS_SUCCESS;
}

NTSTATUS NTAPI RtlUnicodeToMultiByteSize(PULONG BytesInMultiByteString, PCWCH UnicodeString,
                                         ULONG BytesInUnicodeString)
{
    UNREFERENCED_PARAMETER(UnicodeString);
    *BytesInMultiByteString = BytesInUnicodeString / sizeof(WCHAR);
    return STATUS_SUCCESS;
}
