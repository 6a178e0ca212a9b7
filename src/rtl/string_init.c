/* string_init.c - RtlInit*String: counted strings over NUL-terminated buffers (Ex forms refuse long ones); RtlValidateUnicodeString. */
#include "rtl/rtlstring.h"

#include <string.h>

/*
 * The plain forms cannot fail, so a source longer than a counted string can describe is cut short:
 * Length stops at the largest value below the maximum (0xFFFE bytes for 8-bit strings, 0xFFFC for
 * Unicode) and MaximumLength one character later, which is what Windows does. The Ex forms return
 * STATUS_NAME_TOO_LONG instead, with the destination pointing at the source but empty (lengths 0),
 * again as Windows leaves it, so a caller that ignores the status sees an empty string.
 */
static NTSTATUS RtlpInitString(PSTRING DestinationString, PCSZ SourceString, BOOLEAN Strict)
{
    SIZE_T Length = SourceString != NULL ? strlen(SourceString) : 0;

    DestinationString->Buffer = (PCHAR)SourceString;
    DestinationString->Length = DestinationString->MaximumLength = 0;
    if (Length >= RTLP_MAX_ASTRING) {
        if (Strict)
            return STATUS_NAME_TOO_LONG;
        Length = RTLP_MAX_ASTRING - 1;
    }
    DestinationString->Length = (USHORT)Length;
    DestinationString->MaximumLength = SourceString != NULL ? (USHORT)(Length + 1) : 0;
    return STATUS_SUCCESS;
}

VOID NTAPI RtlInitString(PSTRING DestinationString, PCSZ SourceString)
{
    RtlpInitString(DestinationString, SourceString, FALSE);
}

VOID NTAPI RtlInitAnsiString(PANSI_STRING DestinationString, PCSZ SourceString)
{
    RtlpInitString(DestinationString, SourceString, FALSE);
}

NTSTATUS NTAPI RtlInitStringEx(PSTRING DestinationString, PCSZ SourceString)
{
    return RtlpInitString(DestinationString, SourceString, TRUE);
}

NTSTATUS NTAPI RtlInitAnsiStringEx(PANSI_STRING DestinationString, PCSZ SourceString)
{
    return RtlpInitString(DestinationString, SourceString, TRUE);
}

static NTSTATUS RtlpInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString, BOOLEAN Strict)
{
    SIZE_T Bytes = SourceString != NULL ? RtlpWideLength(SourceString) * sizeof(WCHAR) : 0;

    DestinationString->Buffer = (PWSTR)SourceString;
    DestinationString->Length = DestinationString->MaximumLength = 0;
    if (Bytes >= RTLP_MAX_USTRING) {
        if (Strict)
            return STATUS_NAME_TOO_LONG;
        Bytes = RTLP_MAX_USTRING - sizeof(WCHAR);
    }
    DestinationString->Length = (USHORT)Bytes;
    DestinationString->MaximumLength = SourceString != NULL ? (USHORT)(Bytes + sizeof(WCHAR)) : 0;
    return STATUS_SUCCESS;
}

VOID NTAPI RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString)
{
    RtlpInitUnicodeString(DestinationString, SourceString, FALSE);
}

NTSTATUS NTAPI RtlInitUnicodeStringEx(PUNICODE_STRING DestinationString, PCWSTR SourceString)
{
    return RtlpInitUnicodeString(DestinationString, SourceString, TRUE);
}

/*
 * What Windows calls a well-formed UNICODE_STRING: both lengths even, Length within MaximumLength,
 * a Buffer unless both lengths are 0. A NULL String is valid (an absent string); Flags must be 0.
 */
NTSTATUS NTAPI RtlValidateUnicodeString(ULONG Flags, PCUNICODE_STRING String)
{
    if (Flags != 0)
        return STATUS_INVALID_PARAMETER;
    if (String == NULL)
        return STATUS_SUCCESS;
    if ((String->Length & 1) != 0 || (String->MaximumLength & 1) != 0 || String->Length > String->MaximumLength ||
        ((String->Length != 0 || String->MaximumLength != 0) && String->Buffer == NULL))
        return STATUS_INVALID_PARAMETER;
    return STATUS_SUCCESS;
}
