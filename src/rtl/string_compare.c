/* string_compare.c - comparing, hashing and searching counted strings (case-insensitive through the upcase table). */
#include "rtl/rtlstring.h"

#include <string.h>

/*
 * Case-insensitive comparisons upcase both sides, as Windows does (so "a" < "_" when case is
 * ignored, because '_' lies between 'Z' and 'a'). The result's sign is what callers may rely on; the
 * value is the difference of the first differing characters, or of the lengths when one string is
 * a prefix of the other.
 */
LONG NTAPI RtlCompareUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2, BOOLEAN CaseInSensitive)
{
    SIZE_T Count1 = String1->Length / sizeof(WCHAR), Count2 = String2->Length / sizeof(WCHAR);
    SIZE_T Count = Count1 < Count2 ? Count1 : Count2;
    PCWCH Left = String1->Buffer, Right = String2->Buffer;

    if (CaseInSensitive) {
        /* Both sides upcased every time: a test for equal characters first would mispredict on
         * exactly the strings this is for, those that differ only in case. */
        for (SIZE_T Index = 0; Index < Count; Index++) {
            WCHAR A = RtlpUpcase(Left[Index]), B = RtlpUpcase(Right[Index]);
            if (A != B)
                return (LONG)A - (LONG)B;
        }
    } else {
        for (SIZE_T Index = 0; Index < Count; Index++)
            if (Left[Index] != Right[Index])
                return (LONG)Left[Index] - (LONG)Right[Index];
    }
    return (LONG)Count1 - (LONG)Count2;
}

LONG NTAPI RtlCompareString(const STRING *String1, const STRING *String2, BOOLEAN CaseInSensitive)
{
    SIZE_T Count = String1->Length < String2->Length ? String1->Length : String2->Length;
    const UCHAR *Left = (const UCHAR *)String1->Buffer, *Right = (const UCHAR *)String2->Buffer;

    for (SIZE_T Index = 0; Index < Count; Index++) {
        UCHAR A = Left[Index], B = Right[Index];
        if (A != B && CaseInSensitive) {
            A = (UCHAR)RtlUpperChar((CHAR)A);
            B = (UCHAR)RtlUpperChar((CHAR)B);
        }
        if (A != B)
            return (LONG)A - (LONG)B;
    }
    return (LONG)String1->Length - (LONG)String2->Length;
}

BOOLEAN NTAPI RtlEqualUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2, BOOLEAN CaseInSensitive)
{
    if (String1->Length != String2->Length)
        return FALSE;
    if (!CaseInSensitive)
        return String1->Length == 0 || memcmp(String1->Buffer, String2->Buffer, String1->Length) == 0;
    return RtlCompareUnicodeString(String1, String2, TRUE) == 0;
}

BOOLEAN NTAPI RtlEqualString(const STRING *String1, const STRING *String2, BOOLEAN CaseInSensitive)
{
    return String1->Length == String2->Length && RtlCompareString(String1, String2, CaseInSensitive) == 0;
}

/* TRUE when String1 is a prefix of String2 (equal strings included). */
BOOLEAN NTAPI RtlPrefixUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2, BOOLEAN CaseInSensitive)
{
    UNICODE_STRING Head;

    if (String1->Length > String2->Length)
        return FALSE;
    Head.Buffer = String2->Buffer;
    Head.Length = Head.MaximumLength = String1->Length;
    return RtlEqualUnicodeString(String1, &Head, CaseInSensitive);
}

BOOLEAN NTAPI RtlPrefixString(const STRING *String1, const STRING *String2, BOOLEAN CaseInSensitive)
{
    STRING Head;

    if (String1->Length > String2->Length)
        return FALSE;
    Head.Buffer = String2->Buffer;
    Head.Length = Head.MaximumLength = String1->Length;
    return RtlEqualString(String1, &Head, CaseInSensitive);
}

/*
 * x65599: Hash = Hash * 65599 + Char over the (upcased, when case is ignored) characters, in 32-bit
 * arithmetic. It is the only algorithm Windows defines, and the default.
 */
NTSTATUS NTAPI RtlHashUnicodeString(PCUNICODE_STRING String, BOOLEAN CaseInSensitive, ULONG HashAlgorithm,
                                    PULONG HashValue)
{
    ULONG Hash = 0;

    if (String == NULL || HashValue == NULL)
        return STATUS_INVALID_PARAMETER;
    *HashValue = 0; /* what Windows leaves behind for an unknown algorithm */
    if ((HashAlgorithm != HASH_STRING_ALGORITHM_DEFAULT && HashAlgorithm != HASH_STRING_ALGORITHM_X65599) ||
        !RtlpIsValidUnicodeString(String))
        return STATUS_INVALID_PARAMETER;
    for (SIZE_T Index = 0; Index < String->Length / sizeof(WCHAR); Index++) {
        WCHAR Char = String->Buffer[Index];
        Hash = Hash * 65599u + (CaseInSensitive ? RtlpUpcase(Char) : Char);
    }
    *HashValue = Hash;
    return STATUS_SUCCESS;
}

/* Ignoring case, this search compares downcased characters (Windows' choice here, unlike the compares). */
static BOOLEAN RtlpInCharSet(WCHAR Char, PCUNICODE_STRING CharSet, BOOLEAN CaseInSensitive)
{
    if (CaseInSensitive)
        Char = RtlpDowncase(Char);
    for (SIZE_T Index = 0; Index < CharSet->Length / sizeof(WCHAR); Index++) {
        WCHAR Member = CaseInSensitive ? RtlpDowncase(CharSet->Buffer[Index]) : CharSet->Buffer[Index];
        if (Member == Char)
            return TRUE;
    }
    return FALSE;
}

/*
 * Looks for the first (or, with START_AT_END, the last) character that is in CharSet (or, with
 * COMPLEMENT_CHAR_SET, that is not). The position reported is Windows': searching forward, the byte
 * length of the prefix up to and including the match; searching from the end, the byte length of
 * the prefix before it ("NonInclusive"), which is what splitting a path at its last separator
 * wants. Not found: STATUS_NOT_FOUND and position 0.
 */
NTSTATUS NTAPI RtlFindCharInUnicodeString(ULONG Flags, PCUNICODE_STRING StringToSearch, PCUNICODE_STRING CharSet,
                                          PUSHORT NonInclusivePrefixLength)
{
    const ULONG Known = RTL_FIND_CHAR_IN_UNICODE_STRING_START_AT_END |
                        RTL_FIND_CHAR_IN_UNICODE_STRING_COMPLEMENT_CHAR_SET |
                        RTL_FIND_CHAR_IN_UNICODE_STRING_CASE_INSENSITIVE;
    BOOLEAN Complement = (Flags & RTL_FIND_CHAR_IN_UNICODE_STRING_COMPLEMENT_CHAR_SET) != 0;
    BOOLEAN CaseInSensitive = (Flags & RTL_FIND_CHAR_IN_UNICODE_STRING_CASE_INSENSITIVE) != 0;
    SIZE_T Count;

    if (NonInclusivePrefixLength != NULL)
        *NonInclusivePrefixLength = 0;
    if ((Flags & ~Known) != 0 || StringToSearch == NULL || CharSet == NULL || NonInclusivePrefixLength == NULL ||
        !NT_SUCCESS(RtlValidateUnicodeString(0, StringToSearch)) || !NT_SUCCESS(RtlValidateUnicodeString(0, CharSet)))
        return STATUS_INVALID_PARAMETER;
    Count = StringToSearch->Length / sizeof(WCHAR);
    if (Flags & RTL_FIND_CHAR_IN_UNICODE_STRING_START_AT_END) {
        for (SIZE_T Index = Count; Index-- > 0;) {
            if (RtlpInCharSet(StringToSearch->Buffer[Index], CharSet, CaseInSensitive) != Complement) {
                *NonInclusivePrefixLength = (USHORT)(Index * sizeof(WCHAR));
                return STATUS_SUCCESS;
            }
        }
    } else {
        for (SIZE_T Index = 0; Index < Count; Index++) {
            if (RtlpInCharSet(StringToSearch->Buffer[Index], CharSet, CaseInSensitive) != Complement) {
                *NonInclusivePrefixLength = (USHORT)((Index + 1) * sizeof(WCHAR));
                return STATUS_SUCCESS;
            }
        }
    }
    return STATUS_NOT_FOUND;
}
