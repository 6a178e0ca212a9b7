/* lasterror.c - Win32 GetLastError/SetLastError, kept per thread as the TEB keeps it. */
#include "ke/ke.h"

#include <windows.h>

DWORD WINAPI GetLastError(VOID)
{
    return KiThread.LastError;
}

VOID WINAPI SetLastError(DWORD dwErrCode)
{
    KiThread.LastError = dwErrCode;
}
