/* string_integer.c - integers to and from strings: RtlIntegerToChar, RtlCharToInteger, and their Unicode forms. */
#include "rtl/rtlstring.h"

/* Base 0 means 10 when printing; only 2, 8, 10 and 16 are accepted, as documented. */
static BOOLEAN RtlpPrintBase(ULONG *Base)
{
    if (*Base == 0)
        *Base = 10;
    return *Base == 2 || *Base == 8 || *Base == 10 || *Base == 16;
}

/* Writes the digits (upper-case hex) at the end of Digits[64]; returns the first. */
static CHAR *RtlpFormatDigits(ULONGLONG Value, ULONG Base, CHAR Digits[64])
{
    CHAR *At = Digits + 64;

    do {
        *--At = "0123456789ABCDEF"[Value % Base];
        Value /= Base;
    } while (Value != 0);
    return At;
}

/*
 * OutputLength counts bytes including the NUL; a result exactly OutputLength digits long is
 * written without one, and a longer one is STATUS_BUFFER_OVERFLOW with nothing written. A negative
 * OutputLength asks for the digits zero-padded on the left to -OutputLength characters, without a
 * NUL (Windows' behaviour, kept for drivers that format fixed-width fields with it). A NULL String
 * is the access violation Windows catches and returns.
 */
NTSTATUS NTAPI RtlIntegerToChar(ULONG Value, ULONG Base, LONG OutputLength, PSZ String)
{
    CHAR Digits[64], *First;
    LONGLONG Count, Room = OutputLength < 0 ? -(LONGLONG)OutputLength : OutputLength;

    if (!RtlpPrintBase(&Base))
        return STATUS_INVALID_PARAMETER;
    First = RtlpFormatDigits(Value, Base, Digits);
    Count = Digits + 64 - First;
    if (Count > Room)
        return STATUS_BUFFER_OVERFLOW;
    if (String == NULL)
        return STATUS_ACCESS_VIOLATION;
    if (OutputLength < 0)
        while (Count < Room--)
            *String++ = '0';
    for (LONGLONG Index = 0; Index < Count; Index++)
        String[Index] = First[Index];
    if (Count < Room)
        String[Count] = ANSI_NULL;
    return STATUS_SUCCESS;
}

/*
 * Windows formats into a small char buffer (16 bytes for a ULONG, 32 for a ULONGLONG) and converts
 * that as an ANSI string, so a number with more digits than that (binary 0x10000 and up, for a
 * ULONG) is STATUS_BUFFER_OVERFLOW, "too large to convert" as documented; so is a String whose
 * MaximumLength cannot take the digits and a NUL. Nothing is written then.
 */
static NTSTATUS RtlpInt64ToUnicodeString(ULONGLONG Value, ULONG Base, PUNICODE_STRING String, SIZE_T MaxDigits)
{
    CHAR Digits[64], *First;
    SIZE_T Count;

    if (!RtlpPrintBase(&Base))
        return STATUS_INVALID_PARAMETER;
    First = RtlpFormatDigits(Value, Base, Digits);
    Count = (SIZE_T)(Digits + 64 - First);
    if (Count > MaxDigits || (Count + 1) * sizeof(WCHAR) > String->MaximumLength)
        return STATUS_BUFFER_OVERFLOW;
    for (SIZE_T Index = 0; Index < Count; Index++)
        String->Buffer[Index] = (WCHAR)First[Index];
    String->Buffer[Count] = UNICODE_NULL;
    String->Length = (USHORT)(Count * sizeof(WCHAR));
    return STATUS_SUCCESS;
}

NTSTATUS NTAPI RtlIntegerToUnicodeString(ULONG Value, ULONG Base, PUNICODE_STRING String)
{
    return RtlpInt64ToUnicodeString(Value, Base, String, 16);
}

NTSTATUS NTAPI RtlInt64ToUnicodeString(ULONGLONG Value, ULONG Base, PUNICODE_STRING String)
{
    return RtlpInt64ToUnicodeString(Value, Base, String, 32);
}

static ULONG RtlpDigitValue(ULONG Char)
{
    if (Char >= '0' && Char <= '9')
        return Char - '0';
    if (Char >= 'a' && Char <= 'f')
        return Char - 'a' + 10;
    if (Char >= 'A' && Char <= 'F')
        return Char - 'A' + 10;
    return 16;
}

/*
 * The parser both string forms share, over Count characters fetched by index. Leading white space
 * (anything up to ' ') is skipped, then one '+' or '-'; with Base 0 a "0x", "0o" or "0b" prefix
 * (lower case only, as on Windows) picks the base, else it is 10. Digits run until the first
 * character that is not one in the base; no digits at all is 0. The value wraps in 32 bits and a
 * '-' negates it, as Windows does. (The 8-bit form's white space includes the bytes 0x80-0xFF:
 * Windows compares them as negative CHARs.)
 */
static NTSTATUS RtlpParseInteger(ULONG (*Fetch)(const void *, SIZE_T), const void *Source, SIZE_T Count, ULONG Base,
                                 PULONG Value)
{
    SIZE_T At = 0;
    BOOLEAN Negative = FALSE;
    ULONG Result = 0;

    if (Base != 0 && Base != 2 && Base != 8 && Base != 10 && Base != 16)
        return STATUS_INVALID_PARAMETER;
    if (Value == NULL)
        return STATUS_ACCESS_VIOLATION;
    while (At < Count && Fetch(Source, At) <= ' ')
        At++;
    if (At < Count && (Fetch(Source, At) == '+' || Fetch(Source, At) == '-'))
        Negative = Fetch(Source, At++) == '-';
    if (Base == 0) {
        Base = 10;
        if (At + 1 < Count && Fetch(Source, At) == '0') {
            ULONG Prefix = Fetch(Source, At + 1);
            if (Prefix == 'x')
                Base = 16;
            else if (Prefix == 'o')
                Base = 8;
            else if (Prefix == 'b')
                Base = 2;
            if (Base != 10)
                At += 2;
        }
    }
    for (; At < Count; At++) {
        ULONG Digit = RtlpDigitValue(Fetch(Source, At));
        if (Digit >= Base)
            break;
        Result = Result * Base + Digit;
    }
    *Value = Negative ? 0u - Result : Result;
    return STATUS_SUCCESS;
}

/* Bytes above 0x7F read as control characters (white space to the parser), as signed CHARs do on Windows. */
static ULONG RtlpFetchChar(const void *Source, SIZE_T Index)
{
    UCHAR Byte = ((const UCHAR *)Source)[Index];
    return Byte < 0x80 ? Byte : 0x1F;
}

static ULONG RtlpFetchWide(const void *Source, SIZE_T Index)
{
    return ((PCWCH)Source)[Index];
}

NTSTATUS NTAPI RtlCharToInteger(PCSZ String, ULONG Base, PULONG Value)
{
    SIZE_T Count = 0;

    while (String[Count] != '\0')
        Count++;
    return RtlpParseInteger(RtlpFetchChar, String, Count, Base, Value);
}

NTSTATUS NTAPI RtlUnicodeStringToInteger(PCUNICODE_STRING String, ULONG Base, PULONG Value)
{
    if (!RtlpIsValidUnicodeString(String))
        return STATUS_INVALID_PARAMETER;
    return RtlpParseInteger(RtlpFetchWide, String->Buffer, String->Length / sizeof(WCHAR), Base, Value);
}
