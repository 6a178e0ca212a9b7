/* crt_format.c - the kernel CRT's printf family: _snprintf, _vsnprintf, _snwprintf, _vsnwprintf and the legacy swprintf. */
#include "rtl/strsafe_format.h"

#include <limits.h>

/*
 * Microsoft's legacy rule, not C99's: with len the length of the whole output,
 *   len < Count  -> len characters and a NUL, returns len;
 *   len == Count -> Count characters, no NUL, returns Count;
 *   len > Count  -> Count characters, no NUL, returns -1.
 * The formatter writes at most Count units and says whether anything was left over, which is
 * exactly the test between the last two cases.
 *
 * Argument checks follow what the NT CRT does (ntdll and ntoskrnl share it), as ReactOS's tests
 * record it against Windows: a NULL Buffer with Count 0 is a sizing call and returns len; a NULL
 * Buffer with a nonzero Count, or a NULL Format, returns -1 and writes nothing.
 */
static int RtlpCrtPrintf(void *Buffer, SIZE_T Count, BOOLEAN Wide, const void *Format, va_list Args)
{
    RTLP_FORMAT_OUTPUT Out = {Buffer, Wide, FALSE, Buffer == NULL ? (SIZE_T)INT_MAX + 1 : Count, 0};
    va_list Copy;

    if (Format == NULL || (Buffer == NULL && Count != 0))
        return -1;
    va_copy(Copy, Args);
    RtlpFormat(&Out, Format, &Copy);
    va_end(Copy);
    if (Out.Truncated || Out.Used > INT_MAX)
        return -1;
    if (Buffer != NULL && Out.Used < Count)
        RtlpSetUnit(Buffer, Out.Used, Wide ? sizeof(WCHAR) : 1, 0);
    return (int)Out.Used;
}

int _vsnprintf(PCHAR Buffer, size_t Count, PCSTR Format, va_list ArgList)
{
    return RtlpCrtPrintf(Buffer, Count, FALSE, Format, ArgList);
}

int _vsnwprintf(PWCHAR Buffer, size_t Count, PCWSTR Format, va_list ArgList)
{
    return RtlpCrtPrintf(Buffer, Count, TRUE, Format, ArgList);
}

RTLP_VARIADIC_ENTRY(int, _snprintf, PCHAR, PCSTR, _vsnprintf)
RTLP_VARIADIC_ENTRY(int, _snwprintf, PWCHAR, PCWSTR, _vsnwprintf)

/*
 * The kernel's swprintf has no count: the buffer is trusted to be large enough, as on Windows.
 * INT_MAX units bound it only so the result fits the int it returns; the output always ends in a NUL.
 */
int ntmem_swprintf(PWCHAR Buffer, PCWSTR Format, ...)
{
    va_list Args;
    int Length;

    if (Buffer == NULL)
        return -1;
    va_start(Args, Format);
    Length = RtlpCrtPrintf(Buffer, INT_MAX, TRUE, Format, Args);
    va_end(Args);
    return Length;
}
