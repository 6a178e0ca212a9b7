/* string_copy.c - copying and appending counted strings: RtlCopy*String, RtlAppend*. */
#include "rtl/rtlstring.h"

#include <string.h>

/*
 * The copies cannot fail: they take what fits in the destination's MaximumLength. A NULL source
 * gives an empty destination. RtlCopyUnicodeString adds a NUL when a whole character fits after
 * the copy; RtlCopyString never does (Windows' does not: an 8-bit counted string is not a C
 * string). A Unicode destination whose MaximumLength is odd holds whole characters only.
 */
VOID NTAPI RtlCopyString(PSTRING DestinationString, const STRING *SourceString)
{
    USHORT Length;

    if (SourceString == NULL) {
        DestinationString->Length = 0;
        return;
    }
    Length = SourceString->Length < DestinationString->MaximumLength ? SourceString->Length
                                                                      : DestinationString->MaximumLength;
    memmove(DestinationString->Buffer, SourceString->Buffer, Length);
    DestinationString->Length = Length;
}

VOID NTAPI RtlCopyUnicodeString(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString)
{
    USHORT Room = DestinationString->MaximumLength & ~1u, Length;

    if (SourceString == NULL) {
        DestinationString->Length = 0;
        return;
    }
    Length = (SourceString->Length & ~1u) < Room ? (SourceString->Length & ~1u) : Room;
    memmove(DestinationString->Buffer, SourceString->Buffer, Length);
    if (Length + sizeof(WCHAR) <= Room)
        DestinationString->Buffer[Length / sizeof(WCHAR)] = UNICODE_NULL;
    DestinationString->Length = Length;
}

/*
 * Appends Bytes bytes after Destination's Length, all or nothing: STATUS_BUFFER_TOO_SMALL leaves
 * the destination as it was. A destination that is not a valid counted string (Length beyond
 * MaximumLength) is STATUS_INVALID_PARAMETER rather than a write past its buffer. Unit is the
 * character size, for the NUL Unicode destinations get when there is room (8-bit STRINGs get none,
 * as on Windows).
 */
static NTSTATUS RtlpAppend(USHORT *Length, USHORT MaximumLength, PVOID Buffer, const void *Source, SIZE_T Bytes,
                           SIZE_T Unit)
{
    SIZE_T End;

    if (*Length > MaximumLength || (*Length % Unit) != 0)
        return STATUS_INVALID_PARAMETER;
    End = (SIZE_T)*Length + Bytes;
    if (End > MaximumLength)
        return STATUS_BUFFER_TOO_SMALL;
    if (Bytes != 0)
        memmove((PUCHAR)Buffer + *Length, Source, Bytes);
    if (Unit == sizeof(WCHAR) && End + sizeof(WCHAR) <= MaximumLength)
        ((PWCH)Buffer)[End / sizeof(WCHAR)] = UNICODE_NULL;
    *Length = (USHORT)End;
    return STATUS_SUCCESS;
}

NTSTATUS NTAPI RtlAppendStringToString(PSTRING Destination, const STRING *Source)
{
    if (Source == NULL || Source->Length == 0)
        return STATUS_SUCCESS;
    return RtlpAppend(&Destination->Length, Destination->MaximumLength, Destination->Buffer, Source->Buffer,
                      Source->Length, 1);
}

NTSTATUS NTAPI RtlAppendUnicodeStringToString(PUNICODE_STRING Destination, PCUNICODE_STRING Source)
{
    if (Source == NULL || Source->Length == 0)
        return STATUS_SUCCESS;
    if (!RtlpIsValidUnicodeString(Source))
        return STATUS_INVALID_PARAMETER;
    return RtlpAppend(&Destination->Length, Destination->MaximumLength, Destination->Buffer, Source->Buffer,
                      Source->Length, sizeof(WCHAR));
}

NTSTATUS NTAPI RtlAppendUnicodeToString(PUNICODE_STRING Destination, PCWSTR Source)
{
    if (Source == NULL)
        return STATUS_SUCCESS;
    return RtlpAppend(&Destination->Length, Destination->MaximumLength, Destination->Buffer, Source,
                      RtlpWideLength(Source) * sizeof(WCHAR), sizeof(WCHAR));
}
