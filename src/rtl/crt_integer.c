/* crt_integer.c - the kernel CRT's integer-to-text routines of the seeds' table: _itoa and _itow. */
#include "rtl/rtlstring.h"

/*
 * Microsoft's contract: digits in lower case for radixes above 10; a '-' only in radix 10, every
 * other radix shows the value's 32 bits as unsigned (so _itoa(-1, b, 16) is "ffffffff"). The buffer
 * must hold 33 characters, the most radix 2 needs. A radix outside 2-36 is the caller's error;
 * ntmem answers it with an empty string rather than guess at digits.
 */
static void *RtlpIntegerToText(int Value, void *Buffer, int Radix, SIZE_T Unit)
{
    char Digits[33];
    SIZE_T Count = 0, At = 0;
    ULONG Magnitude = (ULONG)Value;

    if (Radix < 2 || Radix > 36) {
        RtlpSetUnit(Buffer, 0, Unit, 0);
        return Buffer;
    }
    if (Radix == 10 && Value < 0) {
        RtlpSetUnit(Buffer, At++, Unit, '-');
        Magnitude = 0u - Magnitude;
    }
    do {
        Digits[Count++] = "0123456789abcdefghijklmnopqrstuvwxyz"[Magnitude % (ULONG)Radix];
        Magnitude /= (ULONG)Radix;
    } while (Magnitude != 0);
    while (Count > 0)
        RtlpSetUnit(Buffer, At++, Unit, (UCHAR)Digits[--Count]);
    RtlpSetUnit(Buffer, At, Unit, 0);
    return Buffer;
}

PCHAR _itoa(int Value, PCHAR Buffer, int Radix)
{
    return RtlpIntegerToText(Value, Buffer, Radix, 1);
}

PWCHAR _itow(int Value, PWCHAR Buffer, int Radix)
{
    return RtlpIntegerToText(Value, Buffer, Radix, sizeof(WCHAR));
}
