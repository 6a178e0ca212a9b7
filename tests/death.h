/* death.h - death-test helper: run misuse in a forked child, read its STOP report, check SIGABRT. */
#ifndef NTMEM_TESTS_DEATH_H
#define NTMEM_TESTS_DEATH_H

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct death_result {
    int aborted;                 /* the child died by SIGABRT */
    int status;                  /* raw wait status */
    int parsed;                  /* a STOP line was found */
    unsigned code;
    unsigned long long p[4];
    char output[32768];          /* everything the child wrote to stderr (truncated) */
} death_result;

static inline void death_run(void (*fn)(void *), void *arg, death_result *r)
{
    int fds[2];
    memset(r, 0, sizeof *r);
    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        fn(arg);
        _exit(0); /* no bug check happened */
    }
    close(fds[1]);
    size_t used = 0;
    for (;;) {
        char chunk[4096];
        ssize_t n = read(fds[0], chunk, sizeof chunk);
        if (n <= 0)
            break;
        size_t room = sizeof r->output - 1 - used;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(r->output + used, chunk, take);
        used += take;
    }
    close(fds[0]);
    waitpid(pid, &r->status, 0);
    r->aborted = WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGABRT;
    const char *stop = strstr(r->output, "*** STOP: ");
    if (stop != NULL)
        r->parsed = sscanf(stop, "*** STOP: 0x%08X (0x%016llX,0x%016llX,0x%016llX,0x%016llX)", &r->code,
                           &r->p[0], &r->p[1], &r->p[2], &r->p[3]) == 5;
}

/* Asserts that fn(arg) ends in bug check `code` with parameter 1 `p1`, reported and aborted. */
#define ck_assert_bugcheck(fn, arg, expect_code, expect_p1)                                          \
    do {                                                                                             \
        static death_result dr_;                                                                     \
        death_run((fn), (arg), &dr_);                                                                \
        ck_assert_msg(dr_.parsed, "no STOP report; child wrote:\n%s", dr_.output);                   \
        ck_assert_msg(dr_.code == (unsigned)(expect_code), "STOP 0x%08X, expected 0x%08X\n%s",       \
                      dr_.code, (unsigned)(expect_code), dr_.output);                                \
        ck_assert_msg(dr_.p[0] == (unsigned long long)(expect_p1), "P1 0x%llX, expected 0x%llX\n%s", \
                      dr_.p[0], (unsigned long long)(expect_p1), dr_.output);                        \
        ck_assert_msg(dr_.aborted, "child did not die by SIGABRT (status 0x%x)", dr_.status);        \
    } while (0)

/* The last death_result checked by ck_assert_bugcheck is not reachable; tests needing P2..P4 call
 * death_run themselves. */

/* Under TSan, a hardware fault no handler takes goes on to TSan's own deadly-signal handler (ntmem
 * passes faults it does not handle to the handler installed before it), and even with TSan's
 * handle_segv=0 the STOP report made inside the signal handler trips TSan's signal-unsafe-call check
 * (the symbolised backtrace allocates and loads libraries), so the child dies by TSan's report, not
 * SIGABRT. The TSan build is for the stress tests; hardware-fault death tests run in the other builds. */
#if defined(__SANITIZE_THREAD__)
#define SKIP_HARDWARE_DEATH_UNDER_TSAN() return
#else
#define SKIP_HARDWARE_DEATH_UNDER_TSAN() ((void)0)
#endif

#endif /* NTMEM_TESTS_DEATH_H */
