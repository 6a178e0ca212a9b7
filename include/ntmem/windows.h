/* windows.h - the Win32 surface: base types, last-error, and (as issues land) memory APIs. */
#ifndef NTMEM_WINDOWS_H
#define NTMEM_WINDOWS_H

#include "ntdef.h"
#include "winerror.h"
#include "excpt.h"

NTMEM_BEGIN_DECLS

typedef int BOOL, *PBOOL, *LPBOOL;
typedef void *LPVOID;
typedef const void *LPCVOID;
typedef DWORD *LPDWORD;
typedef BYTE *LPBYTE;
typedef WORD *PWORD, *LPWORD;
#define WINBASEAPI NTMEM_API
#define CALLBACK
#define APIENTRY

WINBASEAPI DWORD WINAPI GetLastError(VOID);
WINBASEAPI VOID WINAPI SetLastError(DWORD dwErrCode);

NTMEM_END_DECLS

#endif /* NTMEM_WINDOWS_H */
