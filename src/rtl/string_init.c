/* string_init.c - RtlInit*String: counted strings over NUL-terminated buffers, with the Ex forms that refuse long ones. */
#include "rtl/rtlstring.h"

#include <string.h>

/*
 * The plain forms cannot fail, so a source longer than a counted string can describe is cut short:
 * Length stops at the largest value below the maximum (0xFFFE bytes for 8-bit strings, 0xFFFC for
 * Unicode) and MaximumLength one character later, which is what Windows does. The Ex forms return
 * STATUS_NAME_TOO_LONG instead and leave the destination alone.
 */
static NTSTATUS RtlpInitString(PSTRING DestinationString, PCSZ SourceString, BOOLEAN Strict)
{
    SIZE_T Length = SourceString != NULL ? strlen(SourceString) : 0;

    if (Length >= RTLP_MAX_ASTRING) {
        if (Strict)
            return STATUS_NAME_TOO_LONG;
        Length = RTLP_MAX_ASTRING - 1;
    }
    DestinationString->Buffer = (PCHAR)SourceString;
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

    if (Bytes >= RTLP_MAX_USTRING) {
        if (Strict)
            return STATUS_NAME_TOO_LONG;
        Bytes = RTLP_MAX_USTRING - sizeof(WCHAR);
    }
    DestinationString->Buffer = (PWSTR)SourceString;
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
