/* string_alloc.c - string buffers the Rtl routines allocate for callers, and the routines that free them. */
#include "rtl/rtlstring.h"

#include <string.h>

/*
 * Paged pool, as Windows allocates these: the routines that allocate run at PASSIVE_LEVEL, and a
 * driver that reads the result at DISPATCH_LEVEL gets the same bug check it would on Windows.
 */
PVOID RtlpAllocateStringBuffer(SIZE_T Bytes)
{
    return ExAllocatePoolWithTag(PagedPool, Bytes, RTLP_STRING_TAG);
}

/*
 * Windows frees these with ExFreePool, no tag given, so a driver that hands RtlFreeUnicodeString a
 * buffer it allocated under its own tag gets away with it there; so it does here. Anything that is
 * not a live pool block still ends in the pool's bug checks (BAD_POOL_CALLER 0x07, 0x40, ...).
 */
VOID RtlpFreeStringBuffer(PVOID Buffer)
{
    if (Buffer != NULL)
        ExFreePool(Buffer);
}

/*
 * RtlFreeUnicodeString and RtlFreeAnsiString clear the structure, so a second free of the same
 * string is harmless. RtlFreeOemString does not (nor does Windows'): freeing an OEM string twice is
 * the double free it is on Windows.
 */
VOID NTAPI RtlFreeUnicodeString(PUNICODE_STRING UnicodeString)
{
    RtlpFreeStringBuffer(UnicodeString->Buffer);
    UnicodeString->Buffer = NULL;
    UnicodeString->Length = UnicodeString->MaximumLength = 0;
}

VOID NTAPI RtlFreeAnsiString(PANSI_STRING AnsiString)
{
    RtlpFreeStringBuffer(AnsiString->Buffer);
    AnsiString->Buffer = NULL;
    AnsiString->Length = AnsiString->MaximumLength = 0;
}

VOID NTAPI RtlFreeOemString(POEM_STRING OemString)
{
    RtlpFreeStringBuffer(OemString->Buffer);
}

VOID NTAPI RtlFreeUTF8String(PUTF8_STRING Utf8String)
{
    RtlFreeAnsiString(Utf8String);
}

/*
 * A pool copy of a NUL-terminated string, NUL included (MaximumLength counts it). FALSE when the
 * string does not fit a UNICODE_STRING with its NUL or the pool is out of memory.
 */
BOOLEAN NTAPI RtlCreateUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString)
{
    SIZE_T Bytes = (RtlpWideLength(SourceString) + 1) * sizeof(WCHAR);

    if (Bytes > RTLP_MAX_USTRING)
        return FALSE;
    DestinationString->Buffer = RtlpAllocateStringBuffer(Bytes);
    if (DestinationString->Buffer == NULL)
        return FALSE;
    memcpy(DestinationString->Buffer, SourceString, Bytes);
    DestinationString->MaximumLength = (USHORT)Bytes;
    DestinationString->Length = (USHORT)(Bytes - sizeof(WCHAR));
    return TRUE;
}

/*
 * Flags: NULL_TERMINATE adds a NUL after the copy; ALLOCATE_NULL_STRING (only with NULL_TERMINATE,
 * as on Windows) makes an empty source give a one-character buffer holding just the NUL instead of
 * a NULL Buffer. A NULL StringIn is an empty string. A source RtlValidateUnicodeString refuses,
 * unknown flags or ALLOCATE_NULL_STRING alone are STATUS_INVALID_PARAMETER; a source of 0xFFFE
 * bytes cannot take a NUL: STATUS_NAME_TOO_LONG.
 */
NTSTATUS NTAPI RtlDuplicateUnicodeString(ULONG Flags, PCUNICODE_STRING StringIn, PUNICODE_STRING StringOut)
{
    const ULONG Known = RTL_DUPLICATE_UNICODE_STRING_NULL_TERMINATE | RTL_DUPLICATE_UNICODE_STRING_ALLOCATE_NULL_STRING;
    static const UNICODE_STRING Empty = {0, 0, NULL};
    BOOLEAN Terminate = (Flags & RTL_DUPLICATE_UNICODE_STRING_NULL_TERMINATE) != 0;
    SIZE_T Bytes;

    if (StringOut == NULL || (Flags & ~Known) != 0 || Flags == RTL_DUPLICATE_UNICODE_STRING_ALLOCATE_NULL_STRING ||
        !NT_SUCCESS(RtlValidateUnicodeString(0, StringIn)))
        return STATUS_INVALID_PARAMETER;
    if (StringIn == NULL)
        StringIn = &Empty;
    if (StringIn->Length == 0 && Flags != Known) {
        StringOut->Buffer = NULL;
        StringOut->Length = StringOut->MaximumLength = 0;
        return STATUS_SUCCESS;
    }
    Bytes = (SIZE_T)StringIn->Length + (Terminate ? sizeof(WCHAR) : 0);
    if (Bytes > RTLP_MAX_USTRING)
        return STATUS_NAME_TOO_LONG;
    StringOut->Buffer = RtlpAllocateStringBuffer(Bytes);
    if (StringOut->Buffer == NULL)
        return STATUS_NO_MEMORY;
    if (StringIn->Length != 0)
        memcpy(StringOut->Buffer, StringIn->Buffer, StringIn->Length);
    if (Terminate)
        StringOut->Buffer[StringIn->Length / sizeof(WCHAR)] = UNICODE_NULL;
    StringOut->Length = StringIn->Length;
    StringOut->MaximumLength = (USHORT)Bytes;
    return STATUS_SUCCESS;
}
