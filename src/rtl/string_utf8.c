/* string_utf8.c - UTF-8 to and from UTF-16: RtlUTF8ToUnicodeN and RtlUnicodeToUTF8N. */
#include "rtl/rtlstring.h"

#define RTLP_REPLACEMENT_CHAR 0xFFFDu

/*
 * Decodes one character at Source[*Index]. Ill-formed input (a stray continuation byte, an
 * overlong form, an encoded surrogate, a value above U+10FFFF, a sequence cut short) yields
 * U+FFFD for its maximal ill-formed subpart, the Unicode-recommended practice, and *Bad is set.
 */
static ULONG RtlpDecodeUtf8(const UCHAR *Source, ULONG Count, ULONG *Index, BOOLEAN *Bad)
{
    ULONG At = *Index, Need, Value;
    UCHAR Lead = Source[At++], Low = 0x80, High = 0xBF;

    if (Lead < 0x80) {
        *Index = At;
        return Lead;
    }
    if (Lead >= 0xC2 && Lead <= 0xDF) {
        Need = 1;
        Value = Lead & 0x1F;
    } else if (Lead >= 0xE0 && Lead <= 0xEF) {
        Need = 2;
        Value = Lead & 0x0F;
        if (Lead == 0xE0)
            Low = 0xA0; /* no overlong forms */
        else if (Lead == 0xED)
            High = 0x9F; /* no surrogates */
    } else if (Lead >= 0xF0 && Lead <= 0xF4) {
        Need = 3;
        Value = Lead & 0x07;
        if (Lead == 0xF0)
            Low = 0x90;
        else if (Lead == 0xF4)
            High = 0x8F; /* nothing above U+10FFFF */
    } else {
        *Index = At;
        *Bad = TRUE;
        return RTLP_REPLACEMENT_CHAR;
    }
    for (ULONG Taken = 0; Taken < Need; Taken++) {
        if (At >= Count || Source[At] < Low || Source[At] > High) {
            *Index = At; /* the bytes so far are the ill-formed subpart; the next byte starts afresh */
            *Bad = TRUE;
            return RTLP_REPLACEMENT_CHAR;
        }
        Value = (Value << 6) | (Source[At++] & 0x3F);
        Low = 0x80;
        High = 0xBF;
    }
    *Index = At;
    return Value;
}

/*
 * With a NULL destination, reports the bytes the whole result needs. Otherwise writes whole
 * characters while they fit (a surrogate pair is never split) and returns STATUS_BUFFER_TOO_SMALL
 * when not all did, with the count of what was written. STATUS_SOME_NOT_MAPPED (a success) when
 * ill-formed input was replaced. The count may be NULL when there is a destination; both NULL is
 * STATUS_INVALID_PARAMETER, as documented.
 */
NTSTATUS NTAPI RtlUTF8ToUnicodeN(PWSTR UnicodeStringDestination, ULONG UnicodeStringMaxByteCount,
                                 PULONG UnicodeStringActualByteCount, PCCH UTF8StringSource, ULONG UTF8StringByteCount)
{
    const UCHAR *Source = (const UCHAR *)UTF8StringSource;
    ULONG Index = 0, Written = 0, Room = UnicodeStringMaxByteCount / sizeof(WCHAR);
    BOOLEAN Bad = FALSE;

    if (UTF8StringSource == NULL)
        return STATUS_INVALID_PARAMETER_4;
    if (UnicodeStringDestination == NULL && UnicodeStringActualByteCount == NULL)
        return STATUS_INVALID_PARAMETER;
    while (Index < UTF8StringByteCount) {
        ULONG Char = RtlpDecodeUtf8(Source, UTF8StringByteCount, &Index, &Bad);
        ULONG Units = Char >= 0x10000 ? 2 : 1;

        if (UnicodeStringDestination != NULL) {
            if (Written + Units > Room) {
                if (UnicodeStringActualByteCount != NULL)
                    *UnicodeStringActualByteCount = Written * sizeof(WCHAR);
                return STATUS_BUFFER_TOO_SMALL;
            }
            if (Units == 2) {
                UnicodeStringDestination[Written] = (WCHAR)(0xD800 + ((Char - 0x10000) >> 10));
                UnicodeStringDestination[Written + 1] = (WCHAR)(0xDC00 + ((Char - 0x10000) & 0x3FF));
            } else {
                UnicodeStringDestination[Written] = (WCHAR)Char;
            }
        }
        Written += Units;
    }
    if (UnicodeStringActualByteCount != NULL)
        *UnicodeStringActualByteCount = Written * sizeof(WCHAR);
    return Bad ? STATUS_SOME_NOT_MAPPED : STATUS_SUCCESS;
}

/* A lone surrogate (either half) is replaced by U+FFFD, as documented. */
NTSTATUS NTAPI RtlUnicodeToUTF8N(PCHAR UTF8StringDestination, ULONG UTF8StringMaxByteCount,
                                 PULONG UTF8StringActualByteCount, PCWCH UnicodeStringSource,
                                 ULONG UnicodeStringByteCount)
{
    ULONG Count = UnicodeStringByteCount / sizeof(WCHAR), Written = 0;
    BOOLEAN Bad = FALSE;

    if (UnicodeStringSource == NULL)
        return STATUS_INVALID_PARAMETER_4;
    if (UTF8StringDestination == NULL && UTF8StringActualByteCount == NULL)
        return STATUS_INVALID_PARAMETER;
    if (UnicodeStringByteCount % sizeof(WCHAR) != 0)
        return STATUS_INVALID_PARAMETER_5;
    for (ULONG Index = 0; Index < Count; Index++) {
        ULONG Char = UnicodeStringSource[Index], Bytes;
        UCHAR Encoded[4];

        if (Char >= 0xD800 && Char <= 0xDBFF && Index + 1 < Count && UnicodeStringSource[Index + 1] >= 0xDC00 &&
            UnicodeStringSource[Index + 1] <= 0xDFFF) {
            Char = 0x10000 + ((Char - 0xD800) << 10) + (UnicodeStringSource[Index + 1] - 0xDC00u);
            Index++;
        } else if (Char >= 0xD800 && Char <= 0xDFFF) {
            Char = RTLP_REPLACEMENT_CHAR;
            Bad = TRUE;
        }
        if (Char < 0x80) {
            Encoded[0] = (UCHAR)Char;
            Bytes = 1;
        } else if (Char < 0x800) {
            Encoded[0] = (UCHAR)(0xC0 | (Char >> 6));
            Encoded[1] = (UCHAR)(0x80 | (Char & 0x3F));
            Bytes = 2;
        } else if (Char < 0x10000) {
            Encoded[0] = (UCHAR)(0xE0 | (Char >> 12));
            Encoded[1] = (UCHAR)(0x80 | ((Char >> 6) & 0x3F));
            Encoded[2] = (UCHAR)(0x80 | (Char & 0x3F));
            Bytes = 3;
        } else {
            Encoded[0] = (UCHAR)(0xF0 | (Char >> 18));
            Encoded[1] = (UCHAR)(0x80 | ((Char >> 12) & 0x3F));
            Encoded[2] = (UCHAR)(0x80 | ((Char >> 6) & 0x3F));
            Encoded[3] = (UCHAR)(0x80 | (Char & 0x3F));
            Bytes = 4;
        }
        if (UTF8StringDestination != NULL) {
            if (Written + Bytes > UTF8StringMaxByteCount) {
                if (UTF8StringActualByteCount != NULL)
                    *UTF8StringActualByteCount = Written;
                return STATUS_BUFFER_TOO_SMALL;
            }
            for (ULONG Byte = 0; Byte < Bytes; Byte++)
                UTF8StringDestination[Written + Byte] = (CHAR)Encoded[Byte];
        }
        Written += Bytes;
    }
    if (UTF8StringActualByteCount != NULL)
        *UTF8StringActualByteCount = Written;
    return Bad ? STATUS_SOME_NOT_MAPPED : STATUS_SUCCESS;
}
