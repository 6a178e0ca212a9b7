/* crt_include_order.c - built with -fshort-wchar, C and C++: the Windows wide names reach ntmem's 16-bit routines in either include order. */
#ifdef NTMEM_TEST_WCHAR_FIRST
#ifdef __cplusplus
#include <cwchar> /* not <string>: its __try would clash with excpt.h's, a matter apart from this test */
#endif
#include <wchar.h>
#include <string.h>
#include <ntddk.h>
#else
#include <ntddk.h>
#include <wchar.h>
#include <string.h>
#ifdef __cplusplus
#include <cwchar>
#include <string>
#endif
#endif
#include <stdio.h>

#define CHECK(expr) (failures += !(expr) ? (fprintf(stderr, "failed: %s\n", #expr), 1) : 0)

int main(void)
{
    wchar_t buffer[32];
    const wchar_t *text = L"abcabc";
    int failures = 0;

    CHECK(wcslen(L"abcd") == 4);
    CHECK(wcscpy(buffer, L"ab") == buffer);
    CHECK(wcscat(buffer, L"cd") == buffer && wcscmp(buffer, L"abcd") == 0);
    CHECK(wcsncpy(buffer, L"xyz", 2) == buffer && wcsncmp(buffer, L"xycd", 5) == 0);
    CHECK(wcsncat(buffer, L"ef", 1) == buffer && wcscmp(buffer, L"xycde") == 0);
    CHECK(wcschr(text, L'c') == text + 2 && wcsrchr(text, L'c') == text + 5);
    CHECK(wcsspn(text, L"ab") == 2 && wcsstr(text, L"ca") == text + 2);
    CHECK(swprintf(buffer, L"%d%s%S", 12, L"ab", "cd") == 6 && wcscmp(buffer, L"12abcd") == 0);
    CHECK(_wcsicmp(L"ABC", L"abc") == 0 && _snwprintf(buffer, 2, L"xyz") == -1);
#ifdef __cplusplus
    CHECK(std::wcslen(L"abc") == 3 && std::wcscmp(L"a", L"b") < 0);
    CHECK(std::swprintf(buffer, L"%ls", L"q") == 1);
#endif
    return failures != 0;
}
