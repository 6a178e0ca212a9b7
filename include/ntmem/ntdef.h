/* ntdef.h - Windows-sized base types, NTSTATUS, lists and counted strings (ntmem). */
#ifndef NTMEM_NTDEF_H
#define NTMEM_NTDEF_H

#include <stddef.h>
#include <stdint.h>

/* ---- calling conventions, annotations, export ------------------------------------------------- */
#define NTAPI
#define WINAPI
#define NTSYSAPI NTMEM_API
#define NTKERNELAPI NTMEM_API
#define NTHALAPI NTMEM_API
#define IN
#define OUT
#define OPTIONAL
#define UNALIGNED
#define CONST const
#define VOID void
#define FASTCALL
#define FORCEINLINE static inline __attribute__((always_inline))
#define DECLSPEC_NORETURN __attribute__((noreturn))
#define DECLSPEC_RESTRICT
#define DECLSPEC_ALIGN(x) __attribute__((aligned(x)))
#define DECLSPEC_SELECTANY __attribute__((weak))
#define _In_
#define _In_opt_
#define _Out_
#define _Out_opt_
#define _Inout_
#define _Inout_opt_
#define _IRQL_requires_max_(x)
#define _When_(a, b)
#define __drv_aliasesMem
#define UNREFERENCED_PARAMETER(P) ((void)(P))

#ifdef __cplusplus
#define NTMEM_EXTERN_C extern "C"
#define NTMEM_BEGIN_DECLS extern "C" {
#define NTMEM_END_DECLS }
#else
#define NTMEM_EXTERN_C
#define NTMEM_BEGIN_DECLS
#define NTMEM_END_DECLS
#endif
#define NTMEM_API __attribute__((visibility("default")))
#define EXTERN_C NTMEM_EXTERN_C

/* ---- base types: Windows sizes on LP64 --------------------------------------------------------- */
typedef void *PVOID, **PPVOID;
typedef const void *PCVOID;
typedef char CHAR, *PCHAR, *PSTR, *LPSTR;
typedef const char *PCSTR, *LPCSTR, *PCCH;
typedef signed char SCHAR;
typedef unsigned char UCHAR, *PUCHAR, BYTE, *PBYTE;
typedef short SHORT, *PSHORT, CSHORT;
typedef unsigned short USHORT, *PUSHORT, WORD;
typedef int32_t LONG, *PLONG, INT32;
typedef uint32_t ULONG, *PULONG, ULONG32, DWORD, *PDWORD, UINT32;
typedef int INT;
typedef unsigned int UINT;
typedef int64_t LONGLONG, *PLONGLONG, LONG64, *PLONG64, INT64;
typedef uint64_t ULONGLONG, *PULONGLONG, ULONG64, *PULONG64, DWORD64, UINT64;
typedef intptr_t LONG_PTR, *PLONG_PTR, INT_PTR;
typedef uintptr_t ULONG_PTR, *PULONG_PTR, UINT_PTR, DWORD_PTR;
typedef size_t SIZE_T, *PSIZE_T;
typedef intptr_t SSIZE_T;
typedef unsigned char BOOLEAN, *PBOOLEAN;
typedef char CCHAR;
typedef PVOID HANDLE, *PHANDLE;
typedef LONG NTSTATUS, *PNTSTATUS;
typedef ULONG LOGICAL;
typedef LONG KPRIORITY;

/* WCHAR is 16 bits whatever the host's wchar_t; L"" literals need -fshort-wchar (see README). */
#if defined(__cplusplus)
#if __SIZEOF_WCHAR_T__ == 2
typedef wchar_t WCHAR;
#else
typedef char16_t WCHAR;
#endif
#else
typedef uint16_t WCHAR; /* the same type as C's char16_t and gcc's -fshort-wchar wchar_t */
#endif
typedef WCHAR *PWCHAR, *PWSTR, *LPWSTR;
typedef const WCHAR *PCWSTR, *LPCWSTR;
/* TCHAR follows UNICODE as in the Windows headers; kernel code is normally built without it. */
#ifdef UNICODE
typedef WCHAR TCHAR;
#else
typedef char TCHAR;
#endif
typedef TCHAR *PTSTR, *LPTSTR, *PTCHAR;
typedef const TCHAR *PCTSTR, *LPCTSTR;

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif
#ifndef NULL
#define NULL ((void *)0)
#endif

typedef union _LARGE_INTEGER {
    struct {
        ULONG LowPart;
        LONG HighPart;
    } u;
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef union _ULARGE_INTEGER {
    struct {
        ULONG LowPart;
        ULONG HighPart;
    } u;
    ULONGLONG QuadPart;
} ULARGE_INTEGER, *PULARGE_INTEGER;

typedef LARGE_INTEGER PHYSICAL_ADDRESS, *PPHYSICAL_ADDRESS;

/* ---- NTSTATUS helpers ------------------------------------------------------------------------- */
#define NT_SUCCESS(Status) (((NTSTATUS)(Status)) >= 0)
#define NT_INFORMATION(Status) ((((ULONG)(Status)) >> 30) == 1)
#define NT_WARNING(Status) ((((ULONG)(Status)) >> 30) == 2)
#define NT_ERROR(Status) ((((ULONG)(Status)) >> 30) == 3)

/* ---- structure helpers ------------------------------------------------------------------------ */
#define FIELD_OFFSET(type, field) ((LONG)offsetof(type, field))
#define RTL_FIELD_SIZE(type, field) (sizeof(((type *)0)->field))
#define RTL_SIZEOF_THROUGH_FIELD(type, field) (FIELD_OFFSET(type, field) + RTL_FIELD_SIZE(type, field))
#define RTL_NUMBER_OF(A) (sizeof(A) / sizeof((A)[0]))
#define ARRAYSIZE(A) RTL_NUMBER_OF(A)
#define CONTAINING_RECORD(address, type, field) \
    ((type *)((PCHAR)(address) - (ULONG_PTR)(&((type *)0)->field)))
#define ALIGN_DOWN_BY(length, alignment) ((ULONG_PTR)(length) & ~((ULONG_PTR)(alignment) - 1))
#define ALIGN_UP_BY(length, alignment) (ALIGN_DOWN_BY(((ULONG_PTR)(length) + (alignment) - 1), alignment))
#define MAKELONG(a, b) ((LONG)(((USHORT)(a)) | ((ULONG)((USHORT)(b))) << 16))

/* ---- lists (the inline routines that operate on them live in wdm.h) ----------------------------- */
typedef struct _LIST_ENTRY {
    struct _LIST_ENTRY *Flink;
    struct _LIST_ENTRY *Blink;
} LIST_ENTRY, *PLIST_ENTRY, *PRLIST_ENTRY;

typedef struct _SINGLE_LIST_ENTRY {
    struct _SINGLE_LIST_ENTRY *Next;
} SINGLE_LIST_ENTRY, *PSINGLE_LIST_ENTRY;

/* ---- counted strings -------------------------------------------------------------------------- */
typedef struct _STRING {
    USHORT Length;
    USHORT MaximumLength;
    PCHAR Buffer;
} STRING, *PSTRING, ANSI_STRING, *PANSI_STRING, OEM_STRING, *POEM_STRING;
typedef const STRING *PCSTRING, *PCANSI_STRING, *PCOEM_STRING;

typedef STRING UTF8_STRING, *PUTF8_STRING;
typedef const char *PCSZ;
typedef char *PSZ;
typedef WCHAR *PWCH;
typedef const WCHAR *PCWCH;
typedef CHAR *PCH;

typedef struct _UNICODE_STRING {
    USHORT Length;
    USHORT MaximumLength;
    PWSTR Buffer;
} UNICODE_STRING, *PUNICODE_STRING;
typedef const UNICODE_STRING *PCUNICODE_STRING;
#define UNICODE_NULL ((WCHAR)0)
#define ANSI_NULL ((CHAR)0)
#define UNICODE_STRING_MAX_BYTES ((USHORT)65534)
#define UNICODE_STRING_MAX_CHARS (32767)
#define MAXUSHORT 0xffff
#define MAXULONG 0xffffffffUL

/*
 * Counted strings over literals: RTL_CONSTANT_STRING("abc") for a STRING, RTL_CONSTANT_STRING(u"abc")
 * (or L"abc" with -fshort-wchar) for a UNICODE_STRING. Length leaves out the NUL, MaximumLength
 * counts it. In C++ the literal is const, so an overload hands back the non-const pointer the
 * structures hold, as the WDK's C++ form does.
 */
#ifdef __cplusplus
inline PCHAR RtlpConstantStringBuffer(const CHAR *String) { return const_cast<PCHAR>(String); }
inline PWCH RtlpConstantStringBuffer(const WCHAR *String) { return const_cast<PWCH>(String); }
#define RTL_CONSTANT_STRING(s) {sizeof(s) - sizeof((s)[0]), sizeof(s), RtlpConstantStringBuffer(s)}
#else
#define RTL_CONSTANT_STRING(s) {sizeof(s) - sizeof((s)[0]), sizeof(s), (s)}
#endif

#define DECLARE_CONST_UNICODE_STRING(_var, _string)                                                  \
    const WCHAR _var##_buffer[] = _string;                                                           \
    const UNICODE_STRING _var = {sizeof(_string) - sizeof(WCHAR), sizeof(_string), (PWCH)_var##_buffer}
#ifdef __cplusplus
#define DECLARE_GLOBAL_CONST_UNICODE_STRING(_var, _str) \
    extern const DECLSPEC_SELECTANY UNICODE_STRING _var = RTL_CONSTANT_STRING(_str)
#else
#define DECLARE_GLOBAL_CONST_UNICODE_STRING(_var, _str) \
    const DECLSPEC_SELECTANY UNICODE_STRING _var = RTL_CONSTANT_STRING(_str)
#endif
#define DECLARE_UNICODE_STRING_SIZE(_var, _size)                                                     \
    WCHAR _var##_buffer[_size];                                                                      \
    UNICODE_STRING _var = {0, (_size) * sizeof(WCHAR), _var##_buffer}

/* ---- virtual memory: protections, allocation types, region information (winnt.h / wdm.h) ---- */
#define PAGE_NOACCESS 0x01
#define PAGE_READONLY 0x02
#define PAGE_READWRITE 0x04
#define PAGE_WRITECOPY 0x08
#define PAGE_EXECUTE 0x10
#define PAGE_EXECUTE_READ 0x20
#define PAGE_EXECUTE_READWRITE 0x40
#define PAGE_EXECUTE_WRITECOPY 0x80
#define PAGE_GUARD 0x100
#define PAGE_NOCACHE 0x200
#define PAGE_WRITECOMBINE 0x400

#define MEM_COMMIT 0x00001000
#define MEM_RESERVE 0x00002000
#define MEM_REPLACE_PLACEHOLDER 0x00004000
#define MEM_DECOMMIT 0x00004000
#define MEM_RELEASE 0x00008000
#define MEM_FREE 0x00010000
#define MEM_PRIVATE 0x00020000
#define MEM_MAPPED 0x00040000
#define MEM_RESET 0x00080000
#define MEM_TOP_DOWN 0x00100000
#define MEM_WRITE_WATCH 0x00200000
#define MEM_PHYSICAL 0x00400000
#define MEM_RESET_UNDO 0x01000000
#define MEM_LARGE_PAGES 0x20000000
#define MEM_IMAGE 0x01000000
#define SEC_IMAGE 0x01000000

typedef struct _MEMORY_BASIC_INFORMATION {
    PVOID BaseAddress;
    PVOID AllocationBase;
    ULONG AllocationProtect;
    USHORT PartitionId;
    SIZE_T RegionSize;
    ULONG State;
    ULONG Protect;
    ULONG Type;
} MEMORY_BASIC_INFORMATION, *PMEMORY_BASIC_INFORMATION;

#include "ntstatus.h"

#endif /* NTMEM_NTDEF_H */
