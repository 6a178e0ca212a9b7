/* crt_string.c - the kernel CRT's Microsoft-only string routines, narrow and wide: _strrev/_wcsrev, _stricmp, _strset, _strlwr and kin. */
#include "rtl/rtlstring.h"

/*
 * Each _str routine has a _wcs twin that differs only in the width of its characters, so one
 * body serves both, reading and writing through RtlpUnitAt/RtlpSetUnit (Unit 1 or sizeof(WCHAR)).
 *
 * Case follows the "C" locale, which is the only one the kernel CRT has: 'A'-'Z' and 'a'-'z'
 * change, nothing else does, in the wide routines too. The NT CRT's towlower/towupper stop at
 * ASCII (so _wcslwr leaves U+00C9 alone and _wcsicmp tells it from U+00E9): ReactOS's NT CRT
 * tests, written against Windows, expect exactly that for every character 1-0xFFFF, and Wine's
 * ntdll does the same.
 */
static ULONG RtlpAsciiLower(ULONG Char)
{
    return Char >= 'A' && Char <= 'Z' ? Char + ('a' - 'A') : Char;
}

static ULONG RtlpAsciiUpper(ULONG Char)
{
    return Char >= 'a' && Char <= 'z' ? Char - ('a' - 'A') : Char;
}

static SIZE_T RtlpUnitLength(const void *String, SIZE_T Unit)
{
    SIZE_T Length = 0;

    while (RtlpUnitAt(String, Length, Unit) != 0)
        Length++;
    return Length;
}

static void *RtlpReverse(void *String, SIZE_T Unit)
{
    SIZE_T Length = RtlpUnitLength(String, Unit);

    for (SIZE_T Low = 0, High = Length; Low + 1 < High; Low++, High--) {
        ULONG Saved = RtlpUnitAt(String, Low, Unit);
        RtlpSetUnit(String, Low, Unit, RtlpUnitAt(String, High - 1, Unit));
        RtlpSetUnit(String, High - 1, Unit, Saved);
    }
    return String;
}

/*
 * Compares at most Count characters after lowering both (so '_' sorts before letters, unlike a
 * compare that raises them), as unsigned values; the sign of the result is what callers may use.
 */
static int RtlpCompareIgnoreCase(const void *String1, const void *String2, SIZE_T Count, SIZE_T Unit)
{
    for (SIZE_T Index = 0; Index < Count; Index++) {
        ULONG Char1 = RtlpAsciiLower(RtlpUnitAt(String1, Index, Unit));
        ULONG Char2 = RtlpAsciiLower(RtlpUnitAt(String2, Index, Unit));
        if (Char1 != Char2)
            return (int)Char1 - (int)Char2;
        if (Char1 == 0)
            break;
    }
    return 0;
}

/* Sets the first Count characters (all of them for (SIZE_T)-1), never the terminating NUL. */
static void *RtlpSet(void *String, ULONG Char, SIZE_T Count, SIZE_T Unit)
{
    for (SIZE_T Index = 0; Index < Count && RtlpUnitAt(String, Index, Unit) != 0; Index++)
        RtlpSetUnit(String, Index, Unit, Char);
    return String;
}

static void *RtlpMapCase(void *String, ULONG (*Map)(ULONG), SIZE_T Unit)
{
    for (SIZE_T Index = 0; RtlpUnitAt(String, Index, Unit) != 0; Index++)
        RtlpSetUnit(String, Index, Unit, Map(RtlpUnitAt(String, Index, Unit)));
    return String;
}

PCHAR _strrev(PCHAR String)
{
    return RtlpReverse(String, 1);
}

PWCHAR _wcsrev(PWCHAR String)
{
    return RtlpReverse(String, sizeof(WCHAR));
}

int _stricmp(PCSTR String1, PCSTR String2)
{
    return RtlpCompareIgnoreCase(String1, String2, (SIZE_T)-1, 1);
}

int _wcsicmp(PCWSTR String1, PCWSTR String2)
{
    return RtlpCompareIgnoreCase(String1, String2, (SIZE_T)-1, sizeof(WCHAR));
}

int _strnicmp(PCSTR String1, PCSTR String2, size_t Count)
{
    return RtlpCompareIgnoreCase(String1, String2, Count, 1);
}

int _wcsnicmp(PCWSTR String1, PCWSTR String2, size_t Count)
{
    return RtlpCompareIgnoreCase(String1, String2, Count, sizeof(WCHAR));
}

/* _strset takes an int and stores it as a char, as the CRT does. */
PCHAR _strset(PCHAR String, int Char)
{
    return RtlpSet(String, (UCHAR)Char, (SIZE_T)-1, 1);
}

PWCHAR _wcsset(PWCHAR String, WCHAR Char)
{
    return RtlpSet(String, Char, (SIZE_T)-1, sizeof(WCHAR));
}

PCHAR _strnset(PCHAR String, int Char, size_t Count)
{
    return RtlpSet(String, (UCHAR)Char, Count, 1);
}

PWCHAR _wcsnset(PWCHAR String, WCHAR Char, size_t Count)
{
    return RtlpSet(String, Char, Count, sizeof(WCHAR));
}

PCHAR _strlwr(PCHAR String)
{
    return RtlpMapCase(String, RtlpAsciiLower, 1);
}

PCHAR _strupr(PCHAR String)
{
    return RtlpMapCase(String, RtlpAsciiUpper, 1);
}

PWCHAR _wcsupr(PWCHAR String)
{
    return RtlpMapCase(String, RtlpAsciiUpper, sizeof(WCHAR));
}

/* NT's _wcslwr (since Vista) returns NULL for NULL where its _wcsupr faults; ReactOS's tests record both. */
PWCHAR _wcslwr(PWCHAR String)
{
    return String == NULL ? NULL : RtlpMapCase(String, RtlpAsciiLower, sizeof(WCHAR));
}
