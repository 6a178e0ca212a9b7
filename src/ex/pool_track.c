/* pool_track.c - the Valgrind client requests behind track.h, out of the fast paths. */
#include "ex/track.h"

#ifdef NTMEM_HAVE_VALGRIND
int ExpUnderValgrind;

__attribute__((constructor)) static void ExpDetectValgrind(void)
{
    ExpUnderValgrind = RUNNING_ON_VALGRIND ? 1 : 0;
}

void ExpValgrindMalloc(void *p, size_t n)
{
    VALGRIND_MALLOCLIKE_BLOCK(p, n, 0, 0);
}

void ExpValgrindFree(void *p)
{
    VALGRIND_FREELIKE_BLOCK(p, 0);
}

void ExpValgrindAccess(void *p, size_t n, int accessible)
{
    if (accessible)
        VALGRIND_MAKE_MEM_DEFINED(p, n);
    else
        VALGRIND_MAKE_MEM_NOACCESS(p, n);
}
#endif
