/* crt_wide.c - the C library's wide string routines on 16-bit WCHARs (ntmem_wcs*, the Windows names under -fshort-wchar). */
#include "rtl/rtlstring.h"

/*
 * glibc has all of these, but for its 32-bit wchar_t, so they are written again for UTF-16 units
 * and exported as ntmem_*: exporting glibc's names would replace glibc's own functions for the
 * whole host process. Contracts are ISO C's, which the Windows CRT shares; characters compare as
 * unsigned 16-bit values. Each routine walks its strings once and reads nothing past a NUL.
 */

size_t ntmem_wcslen(PCWSTR String)
{
    return RtlpWideLength(String);
}

PWCHAR ntmem_wcscpy(PWCHAR Destination, PCWSTR Source)
{
    SIZE_T Index = 0;

    do
        Destination[Index] = Source[Index];
    while (Source[Index++] != 0);
    return Destination;
}

/* Count characters exactly: the rest filled with NULs, and no NUL at all when Source is that long. */
PWCHAR ntmem_wcsncpy(PWCHAR Destination, PCWSTR Source, size_t Count)
{
    SIZE_T Index = 0;

    for (; Index < Count && Source[Index] != 0; Index++)
        Destination[Index] = Source[Index];
    for (; Index < Count; Index++)
        Destination[Index] = 0;
    return Destination;
}

PWCHAR ntmem_wcscat(PWCHAR Destination, PCWSTR Source)
{
    ntmem_wcscpy(Destination + RtlpWideLength(Destination), Source);
    return Destination;
}

/* At most Count characters of Source, then always a NUL. */
PWCHAR ntmem_wcsncat(PWCHAR Destination, PCWSTR Source, size_t Count)
{
    PWCHAR Tail = Destination + RtlpWideLength(Destination);
    SIZE_T Index = 0;

    for (; Index < Count && Source[Index] != 0; Index++)
        Tail[Index] = Source[Index];
    Tail[Index] = 0;
    return Destination;
}

int ntmem_wcsncmp(PCWSTR String1, PCWSTR String2, size_t Count)
{
    for (SIZE_T Index = 0; Index < Count; Index++) {
        if (String1[Index] != String2[Index])
            return String1[Index] < String2[Index] ? -1 : 1;
        if (String1[Index] == 0)
            break;
    }
    return 0;
}

int ntmem_wcscmp(PCWSTR String1, PCWSTR String2)
{
    return ntmem_wcsncmp(String1, String2, (size_t)-1);
}

/* The terminating NUL is part of the string: looking for 0 finds it. */
PWCHAR ntmem_wcschr(PCWSTR String, WCHAR Char)
{
    for (;; String++) {
        if (*String == Char)
            return (PWCHAR)String;
        if (*String == 0)
            return NULL;
    }
}

PWCHAR ntmem_wcsrchr(PCWSTR String, WCHAR Char)
{
    PCWSTR Found = NULL;

    for (;; String++) {
        if (*String == Char)
            Found = String;
        if (*String == 0)
            return (PWCHAR)Found;
    }
}

/* The length of the leading run of characters that all appear in Accept. */
size_t ntmem_wcsspn(PCWSTR String, PCWSTR Accept)
{
    SIZE_T Length = 0;

    while (String[Length] != 0 && ntmem_wcschr(Accept, String[Length]) != NULL)
        Length++;
    return Length;
}

/* An empty Search is found at the start of String. */
PWCHAR ntmem_wcsstr(PCWSTR String, PCWSTR Search)
{
    SIZE_T Length = RtlpWideLength(Search);

    for (;; String++) {
        if (ntmem_wcsncmp(String, Search, Length) == 0)
            return (PWCHAR)String;
        if (*String == 0)
            return NULL;
    }
}
