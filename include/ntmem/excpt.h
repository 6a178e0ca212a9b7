/* excpt.h - exception filter results shared by the kernel and Win32 surfaces. */
#ifndef NTMEM_EXCPT_H
#define NTMEM_EXCPT_H

#define EXCEPTION_EXECUTE_HANDLER 1
#define EXCEPTION_CONTINUE_SEARCH 0
#define EXCEPTION_CONTINUE_EXECUTION (-1)

typedef enum _EXCEPTION_DISPOSITION {
    ExceptionContinueExecution,
    ExceptionContinueSearch,
    ExceptionNestedException,
    ExceptionCollidedUnwind
} EXCEPTION_DISPOSITION;

#endif /* NTMEM_EXCPT_H */
