/* string_case.c - case mapping: characters and strings, Unicode through the generated tables, 8-bit through the ANSI code page. */
#include "rtl/rtlstring.h"

#include <string.h>

/* The whole BMP, one character to one (see tools/gen-stringtables.py for Windows' exceptions). */
WCHAR NTAPI RtlUpcaseUnicodeChar(WCHAR SourceCharacter)
{
    return RtlpUpcase(SourceCharacter);
}

WCHAR NTAPI RtlDowncaseUnicodeChar(WCHAR SourceCharacter)
{
    return RtlpDowncase(SourceCharacter);
}

/*
 * Only 'a'..'z' change. Windows' RtlUpperChar sends characters above 'z' through the code page's
 * tables, but it compares a signed CHAR with 'z', so the bytes 0x80-0xFF (negative) come back
 * unchanged before reaching them, and 0x7B-0x7F have no case. So on Windows RtlUpperString leaves
 * "\xE9" (e acute) alone and RtlEqualString(.., TRUE) tells e acute from E acute; ntmem keeps that.
 */
CHAR NTAPI RtlUpperChar(CHAR Character)
{
    return (CHAR)((Character >= 'a' && Character <= 'z') ? Character - ('a' - 'A') : Character);
}

/* Copies what fits of SourceString, upcased, into DestinationString (which may be the source). */
VOID NTAPI RtlUpperString(PSTRING DestinationString, const STRING *SourceString)
{
    USHORT Length = SourceString->Length < DestinationString->MaximumLength ? SourceString->Length
                                                                             : DestinationString->MaximumLength;

    for (USHORT Index = 0; Index < Length; Index++)
        DestinationString->Buffer[Index] = RtlUpperChar(SourceString->Buffer[Index]);
    DestinationString->Length = Length;
}

/*
 * Shared by upcase and downcase. Allocating: a buffer of exactly Source->Length bytes ('Strg',
 * paged). Not allocating: STATUS_BUFFER_OVERFLOW when the source does not fit, nothing written.
 * Destination and source may be the same string.
 */
static NTSTATUS RtlpMapUnicodeString(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString,
                                     BOOLEAN AllocateDestinationString, BOOLEAN Upcase)
{
    SIZE_T Count;
    PWCH Target;

    if (!RtlpIsValidUnicodeString(SourceString))
        return STATUS_INVALID_PARAMETER;
    Count = SourceString->Length / sizeof(WCHAR);
    if (AllocateDestinationString) {
        Target = RtlpAllocateStringBuffer(SourceString->Length != 0 ? SourceString->Length : sizeof(WCHAR));
        if (Target == NULL)
            return STATUS_NO_MEMORY;
        DestinationString->Buffer = Target;
        DestinationString->MaximumLength = SourceString->Length;
    } else {
        if (SourceString->Length > DestinationString->MaximumLength)
            return STATUS_BUFFER_OVERFLOW;
        Target = DestinationString->Buffer;
    }
    if (Upcase) {
        for (SIZE_T Index = 0; Index < Count; Index++)
            Target[Index] = RtlpUpcase(SourceString->Buffer[Index]);
    } else {
        for (SIZE_T Index = 0; Index < Count; Index++)
            Target[Index] = RtlpDowncase(SourceString->Buffer[Index]);
    }
    DestinationString->Length = SourceString->Length;
    return STATUS_SUCCESS;
}

NTSTATUS NTAPI RtlUpcaseUnicodeString(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString,
                                      BOOLEAN AllocateDestinationString)
{
    return RtlpMapUnicodeString(DestinationString, SourceString, AllocateDestinationString, TRUE);
}

NTSTATUS NTAPI RtlDowncaseUnicodeString(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString,
                                        BOOLEAN AllocateDestinationString)
{
    return RtlpMapUnicodeString(DestinationString, SourceString, AllocateDestinationString, FALSE);
}
