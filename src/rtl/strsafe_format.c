/* strsafe_format.c - the printf engine behind ntstrsafe.h: Windows' conversions, narrow or wide output, bounded. */
#include "rtl/strsafe_format.h"

#include <stdio.h>
#include <string.h>

/*
 * Output goes unit by unit into a bounded buffer; the first unit that does not fit marks the
 * output truncated, and from then on the loops stop early (nothing more could be written, and a
 * huge width or string must not cost time). Text arrives as narrow bytes or UTF-16 units and is
 * converted to the output's width through the ANSI code page. Nothing here depends on the host's
 * wchar_t.
 */
static VOID RtlpEmitUnit(PRTLP_FORMAT_OUTPUT Out, ULONG Unit)
{
    if (Out->Used >= Out->Capacity) {
        Out->Truncated = TRUE;
        return;
    }
    if (Out->Buffer != NULL) /* else only counting */
        RtlpSetUnit(Out->Buffer, Out->Used, Out->Wide ? sizeof(WCHAR) : 1, Unit);
    Out->Used++;
}

static VOID RtlpEmitNarrow(PRTLP_FORMAT_OUTPUT Out, UCHAR Byte)
{
    RtlpEmitUnit(Out, Out->Wide ? RtlpAnsiToUnicode[Byte] : Byte);
}

static VOID RtlpEmitWide(PRTLP_FORMAT_OUTPUT Out, WCHAR Char)
{
    UCHAR Byte;

    if (Out->Wide) {
        RtlpEmitUnit(Out, Char);
        return;
    }
    RtlpUnicodeToCodePageChar(&RtlpAnsiCodePage, Char, &Byte);
    RtlpEmitUnit(Out, Byte);
}

static VOID RtlpPad(PRTLP_FORMAT_OUTPUT Out, SIZE_T Count, UCHAR Fill)
{
    while (Count-- > 0 && !Out->Truncated)
        RtlpEmitNarrow(Out, Fill);
}

typedef struct _RTLP_SPEC {
    BOOLEAN Left, Plus, Space, Alternate, Zero;
    LONG Width;
    LONG Precision; /* -1: none */
    UCHAR Size;     /* 0 int, 'h' short, 'H' char, 'l' 32-bit, 'L' 64-bit, 'P' pointer-sized, 'D' long double */
    BOOLEAN WideText, NarrowText;
} RTLP_SPEC;

/* Text of Count units (narrow bytes or UTF-16), cut to the precision, padded to the width. */
static VOID RtlpEmitText(PRTLP_FORMAT_OUTPUT Out, const RTLP_SPEC *Spec, const void *Text, SIZE_T Count, BOOLEAN Wide)
{
    SIZE_T Pad;

    if (Spec->Precision >= 0 && (SIZE_T)Spec->Precision < Count)
        Count = (SIZE_T)Spec->Precision;
    Pad = (SIZE_T)Spec->Width > Count ? (SIZE_T)Spec->Width - Count : 0;
    if (!Spec->Left)
        RtlpPad(Out, Pad, ' ');
    for (SIZE_T Index = 0; Index < Count && !Out->Truncated; Index++) {
        if (Wide)
            RtlpEmitWide(Out, ((PCWCH)Text)[Index]);
        else
            RtlpEmitNarrow(Out, ((const UCHAR *)Text)[Index]);
    }
    if (Spec->Left)
        RtlpPad(Out, Pad, ' ');
}

static VOID RtlpEmitNull(PRTLP_FORMAT_OUTPUT Out, const RTLP_SPEC *Spec)
{
    RtlpEmitText(Out, Spec, "(null)", 6, FALSE);
}

/* A NUL-terminated string whose length is not read past the precision. */
static VOID RtlpEmitString(PRTLP_FORMAT_OUTPUT Out, const RTLP_SPEC *Spec, const void *Text, BOOLEAN Wide)
{
    SIZE_T Count = 0, Limit = Spec->Precision >= 0 ? (SIZE_T)Spec->Precision : (SIZE_T)-1;

    if (Text == NULL) {
        RtlpEmitNull(Out, Spec);
        return;
    }
    if (Wide)
        while (Count < Limit && ((PCWCH)Text)[Count] != 0)
            Count++;
    else
        while (Count < Limit && ((const CHAR *)Text)[Count] != 0)
            Count++;
    RtlpEmitText(Out, Spec, Text, Count, Wide);
}

/*
 * Digits, sign and prefix laid out the C way: precision is the minimum number of digits, the '0'
 * flag pads after the sign and prefix (and is ignored with a precision or '-'), '+' and ' ' apply
 * to signed conversions only, '#' gives hex a 0x/0X prefix (not for 0) and makes octal start with 0.
 */
static VOID RtlpEmitInteger(PRTLP_FORMAT_OUTPUT Out, const RTLP_SPEC *Spec, ULONGLONG Magnitude, BOOLEAN Negative,
                            BOOLEAN Signed, ULONG Base, BOOLEAN Upper)
{
    const char *Digits = Upper ? "0123456789ABCDEF" : "0123456789abcdef";
    const char *Prefix = "";
    char Buffer[72];
    LONG Count = 0, Zeros, Pad, Length, PrefixLength;
    char Sign = Negative ? '-' : !Signed ? 0 : Spec->Plus ? '+' : Spec->Space ? ' ' : 0;

    if (Spec->Alternate && Base == 16 && Magnitude != 0)
        Prefix = Upper ? "0X" : "0x";
    PrefixLength = (LONG)strlen(Prefix);
    while (Magnitude != 0) {
        Buffer[Count++] = Digits[Magnitude % Base];
        Magnitude /= Base;
    }
    if (Count == 0 && Spec->Precision != 0)
        Buffer[Count++] = '0';
    Zeros = Spec->Precision > Count ? Spec->Precision - Count : 0;
    if (Spec->Alternate && Base == 8 && Zeros == 0 && (Count == 0 || Buffer[Count - 1] != '0'))
        Zeros = 1;
    Length = Count + Zeros + (Sign != 0) + PrefixLength;
    Pad = Spec->Width > Length ? Spec->Width - Length : 0;
    if (Spec->Zero && !Spec->Left && Spec->Precision < 0) {
        Zeros += Pad;
        Pad = 0;
    }
    if (!Spec->Left)
        RtlpPad(Out, Pad, ' ');
    if (Sign != 0)
        RtlpEmitNarrow(Out, (UCHAR)Sign);
    for (LONG Index = 0; Index < PrefixLength; Index++)
        RtlpEmitNarrow(Out, (UCHAR)Prefix[Index]);
    RtlpPad(Out, Zeros, '0');
    while (Count > 0)
        RtlpEmitNarrow(Out, (UCHAR)Buffer[--Count]);
    if (Spec->Left)
        RtlpPad(Out, Pad, ' ');
}

static ULONGLONG RtlpUnsignedArgument(const RTLP_SPEC *Spec, va_list *Args)
{
    switch (Spec->Size) {
    case 'L': return va_arg(*Args, ULONGLONG);
    case 'P': return va_arg(*Args, SIZE_T);
    case 'h': return (USHORT)va_arg(*Args, unsigned int);
    case 'H': return (UCHAR)va_arg(*Args, unsigned int);
    default: return va_arg(*Args, unsigned int); /* int and 'l' (LONG is 32 bits on Windows) */
    }
}

static LONGLONG RtlpSignedArgument(const RTLP_SPEC *Spec, va_list *Args)
{
    switch (Spec->Size) {
    case 'L': return va_arg(*Args, LONGLONG);
    case 'P': return va_arg(*Args, SSIZE_T);
    case 'h': return (SHORT)va_arg(*Args, int);
    case 'H': return (SCHAR)va_arg(*Args, int);
    default: return va_arg(*Args, int);
    }
}

/*
 * Floating point goes through the C library into a narrow buffer; the digits are plain ASCII.
 * Width and precision are capped (400 and 100) to keep that buffer bounded: kernel code hardly
 * formats floats at all, let alone that wide.
 */
static VOID RtlpEmitFloat(PRTLP_FORMAT_OUTPUT Out, const RTLP_SPEC *Spec, char Conversion, va_list *Args)
{
    char Format[32], Text[512];
    int Length, Used = 0;
    LONG Precision = Spec->Precision > 100 ? 100 : Spec->Precision;
    LONG Width = Spec->Width > 400 ? 400 : Spec->Width;

    Format[Used++] = '%';
    if (Spec->Left)
        Format[Used++] = '-';
    if (Spec->Plus)
        Format[Used++] = '+';
    if (Spec->Space)
        Format[Used++] = ' ';
    if (Spec->Alternate)
        Format[Used++] = '#';
    if (Spec->Zero)
        Format[Used++] = '0';
    Used += snprintf(Format + Used, sizeof Format - (size_t)Used, "%d", (int)Width);
    if (Precision >= 0)
        Used += snprintf(Format + Used, sizeof Format - (size_t)Used, ".%d", (int)Precision);
    if (Spec->Size == 'D') {
        Format[Used++] = 'L';
        Format[Used++] = Conversion;
        Format[Used] = 0;
        Length = snprintf(Text, sizeof Text, Format, va_arg(*Args, long double));
    } else {
        Format[Used++] = Conversion;
        Format[Used] = 0;
        Length = snprintf(Text, sizeof Text, Format, va_arg(*Args, double));
    }
    if (Length < 0)
        return;
    if ((size_t)Length >= sizeof Text)
        Length = (int)sizeof Text - 1;
    for (int Index = 0; Index < Length; Index++)
        RtlpEmitNarrow(Out, (UCHAR)Text[Index]);
}

/* Reads a width or precision: digits or '*' (an int argument). */
static LONG RtlpReadCount(ULONG (*Peek)(const void *, SIZE_T), const void *Format, SIZE_T *At, va_list *Args)
{
    LONG Value = 0;

    if (Peek(Format, *At) == '*') {
        (*At)++;
        return va_arg(*Args, int);
    }
    while (Peek(Format, *At) >= '0' && Peek(Format, *At) <= '9') {
        if (Value < 100000000)
            Value = Value * 10 + (LONG)(Peek(Format, *At) - '0');
        (*At)++;
    }
    return Value;
}

static ULONG RtlpPeekNarrow(const void *Format, SIZE_T At)
{
    return ((const UCHAR *)Format)[At];
}

static ULONG RtlpPeekWide(const void *Format, SIZE_T At)
{
    return ((PCWCH)Format)[At];
}

/* One conversion after its flags, width, precision and size have been read. */
static VOID RtlpConvert(PRTLP_FORMAT_OUTPUT Out, RTLP_SPEC *Spec, ULONG Conversion, va_list *Args)
{
    /* Which width a %s/%c argument has: the prefix decides, else the routine's own width, flipped by upper case. */
    BOOLEAN WideArgument = Spec->WideText ? TRUE : Spec->NarrowText ? FALSE : (Out->Wide != (Conversion == 'S' || Conversion == 'C'));

    switch (Conversion) {
    case 'd':
    case 'i': {
        LONGLONG Value = RtlpSignedArgument(Spec, Args);
        RtlpEmitInteger(Out, Spec, Value < 0 ? 0ull - (ULONGLONG)Value : (ULONGLONG)Value, Value < 0, TRUE, 10, FALSE);
        break;
    }
    case 'u':
        RtlpEmitInteger(Out, Spec, RtlpUnsignedArgument(Spec, Args), FALSE, FALSE, 10, FALSE);
        break;
    case 'o':
        RtlpEmitInteger(Out, Spec, RtlpUnsignedArgument(Spec, Args), FALSE, FALSE, 8, FALSE);
        break;
    case 'x':
    case 'X':
        RtlpEmitInteger(Out, Spec, RtlpUnsignedArgument(Spec, Args), FALSE, FALSE, 16, Conversion == 'X');
        break;
    case 'p':
        /* Windows prints a pointer as all its hex digits, upper case, no prefix. */
        Spec->Precision = (LONG)(2 * sizeof(PVOID));
        Spec->Alternate = FALSE;
        RtlpEmitInteger(Out, Spec, (ULONG_PTR)va_arg(*Args, PVOID), FALSE, FALSE, 16, TRUE);
        break;
    case 'c':
    case 'C':
        if (WideArgument) {
            WCHAR Char = (WCHAR)va_arg(*Args, int);
            RtlpEmitText(Out, Spec, &Char, 1, TRUE);
        } else {
            CHAR Char = (CHAR)va_arg(*Args, int);
            RtlpEmitText(Out, Spec, &Char, 1, FALSE);
        }
        break;
    case 's':
    case 'S':
        RtlpEmitString(Out, Spec, va_arg(*Args, const void *), WideArgument);
        break;
    case 'Z':
        if (Spec->WideText) {
            PCUNICODE_STRING String = va_arg(*Args, PCUNICODE_STRING);
            if (String == NULL || String->Buffer == NULL)
                RtlpEmitNull(Out, Spec);
            else
                RtlpEmitText(Out, Spec, String->Buffer, String->Length / sizeof(WCHAR), TRUE);
        } else {
            const STRING *String = va_arg(*Args, const STRING *);
            if (String == NULL || String->Buffer == NULL)
                RtlpEmitNull(Out, Spec);
            else
                RtlpEmitText(Out, Spec, String->Buffer, String->Length, FALSE);
        }
        break;
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
    case 'a':
    case 'A':
        RtlpEmitFloat(Out, Spec, (char)Conversion, Args);
        break;
    case 'n':
        (void)va_arg(*Args, PVOID); /* refused, as the Windows CRT refuses it by default */
        break;
    default:
        RtlpEmitUnit(Out, Conversion); /* "%%" and unknown conversions print the character itself */
        break;
    }
}

VOID RtlpFormat(PRTLP_FORMAT_OUTPUT Out, const void *Format, va_list *Args)
{
    ULONG (*Peek)(const void *, SIZE_T) = Out->Wide ? RtlpPeekWide : RtlpPeekNarrow;
    SIZE_T At = 0;

    for (;;) {
        ULONG Char = Peek(Format, At++);
        RTLP_SPEC Spec;

        if (Char == 0 || Out->Truncated)
            return;
        if (Char != '%') {
            RtlpEmitUnit(Out, Char);
            continue;
        }
        memset(&Spec, 0, sizeof Spec);
        Spec.Precision = -1;
        for (;; At++) {
            Char = Peek(Format, At);
            if (Char == '-')
                Spec.Left = TRUE;
            else if (Char == '+')
                Spec.Plus = TRUE;
            else if (Char == ' ')
                Spec.Space = TRUE;
            else if (Char == '#')
                Spec.Alternate = TRUE;
            else if (Char == '0')
                Spec.Zero = TRUE;
            else
                break;
        }
        Spec.Width = RtlpReadCount(Peek, Format, &At, Args);
        if (Spec.Width < 0) {
            Spec.Left = TRUE;
            Spec.Width = Spec.Width == (LONG)0x80000000 ? 0 : -Spec.Width;
        }
        if (Peek(Format, At) == '.') {
            At++;
            Spec.Precision = RtlpReadCount(Peek, Format, &At, Args);
            if (Spec.Precision < 0)
                Spec.Precision = -1;
        }
        Char = Peek(Format, At);
        if (Char == 'h') {
            At++;
            Spec.NarrowText = TRUE;
            Spec.Size = 'h';
            if (Peek(Format, At) == 'h') {
                At++;
                Spec.Size = 'H';
            }
        } else if (Char == 'l') {
            At++;
            Spec.WideText = TRUE;
            Spec.Size = 'l';
            if (Peek(Format, At) == 'l') {
                At++;
                Spec.Size = 'L';
            }
        } else if (Char == 'w') {
            At++;
            Spec.WideText = TRUE;
        } else if (Char == 'q') {
            At++;
            Spec.Size = 'L';
        } else if (Char == 'L') {
            At++;
            Spec.Size = 'D';
        } else if (Char == 'z' || Char == 'j' || Char == 't') {
            At++;
            Spec.Size = Char == 'j' ? 'L' : 'P';
        } else if (Char == 'I') {
            At++;
            Spec.Size = 'P';
            if (Peek(Format, At) == '6' && Peek(Format, At + 1) == '4') {
                At += 2;
                Spec.Size = 'L';
            } else if (Peek(Format, At) == '3' && Peek(Format, At + 1) == '2') {
                At += 2;
                Spec.Size = 'l';
            }
        }
        Char = Peek(Format, At);
        if (Char == 0)
            return; /* a lone '%' at the end prints nothing */
        At++;
        RtlpConvert(Out, &Spec, Char, Args);
    }
}
