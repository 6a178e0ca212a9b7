/* strsafe_format.h - the bounded printf engine strsafe.c (and any Rtl printer) calls. */
#ifndef NTMEM_RTL_STRSAFE_FORMAT_H
#define NTMEM_RTL_STRSAFE_FORMAT_H

#include "rtl/rtlstring.h"

#include <stdarg.h>

typedef struct _RTLP_FORMAT_OUTPUT {
    PVOID Buffer;      /* CHAR or WCHAR units, as Wide says; the format string is of the same width */
    BOOLEAN Wide;
    BOOLEAN Truncated; /* something did not fit */
    SIZE_T Capacity;   /* units that may be written (no NUL is added here) */
    SIZE_T Used;       /* units written */
} RTLP_FORMAT_OUTPUT, *PRTLP_FORMAT_OUTPUT;

VOID RtlpFormat(PRTLP_FORMAT_OUTPUT Out, const void *Format, va_list *Args);

#endif /* NTMEM_RTL_STRSAFE_FORMAT_H */
