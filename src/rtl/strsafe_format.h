/* strsafe_format.h - the bounded printf engine strsafe.c (and any Rtl printer) calls. */
#ifndef NTMEM_RTL_STRSAFE_FORMAT_H
#define NTMEM_RTL_STRSAFE_FORMAT_H

#include "rtl/rtlstring.h"

#include <stdarg.h>

typedef struct _RTLP_FORMAT_OUTPUT {
    PVOID Buffer;      /* CHAR or WCHAR units, as Wide says; the format string is of the same width.
                        * NULL: nothing is written and Used counts what would be (the CRT's sizing call) */
    BOOLEAN Wide;
    BOOLEAN Truncated; /* something did not fit */
    SIZE_T Capacity;   /* units that may be written (no NUL is added here) */
    SIZE_T Used;       /* units written */
} RTLP_FORMAT_OUTPUT, *PRTLP_FORMAT_OUTPUT;

VOID RtlpFormat(PRTLP_FORMAT_OUTPUT Out, const void *Format, va_list *Args);

/* A printf routine's variadic form: hands its arguments to the va_list form, Forward. */
#define RTLP_VARIADIC_ENTRY(ReturnType, Name, DestinationType, FormatType, Forward)                            \
    ReturnType Name(DestinationType Destination, size_t Size, FormatType Format, ...)                         \
    {                                                                                                          \
        va_list Args;                                                                                          \
        ReturnType Result;                                                                                     \
        va_start(Args, Format);                                                                                \
        Result = Forward(Destination, Size, Format, Args);                                                     \
        va_end(Args);                                                                                          \
        return Result;                                                                                         \
    }

#endif /* NTMEM_RTL_STRSAFE_FORMAT_H */
