/* DisplayItsProcessName.c - seed 001's process-context sample, ported to 64-bit pointer arithmetic. */
#include <ntddk.h>

VOID DisplayItsProcessName()

{

//得到当前进程

PEPROCESS pEProcess = PsGetCurrentProcess();

//得到当前进程名称
/* ntmem port: (ULONG) truncates a 64-bit pointer, so the cast is (ULONG_PTR); the name sits at the
 * offset 32-bit Windows XP used, 0x174, in ntmem's EPROCESS. */
PTSTR ProcessName = (PTSTR)((ULONG_PTR)pEProcess+0x174);

KdPrint(("%s\n",ProcessName));

}

int main(void)
{
	DisplayItsProcessName();
	return 0;
}
