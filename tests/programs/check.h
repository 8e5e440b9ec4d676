// Self-checks for the differential test programs (tests/programs/*.c).
//
// Each program runs a list of checks and prints one line per group of them. Output must be deterministic: the
// differential runner compares a native run with a Kernite run byte for byte, so the programs print what they
// found (counts, errno names, flags), never addresses, pids, times or anything else that varies between runs.
// A failed check prints a FAIL line (with the source line) and makes the program exit 1 at the end, so a
// program that is wrong natively fails its test even before Kernite runs it.
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int check_count;

// CHECK(condition, "format", ...): count a check; on failure print what was expected.
#define CHECK(condition, ...) check_result((condition) ? 1 : 0, __LINE__, #condition, __VA_ARGS__)

// The symbolic name of an errno value: the same on every libc, unlike strerror()'s text.
static inline char const* errno_name(int error)
{
    switch (error) {
    case 0: return "0";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EEXIST: return "EEXIST";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case EMFILE: return "EMFILE";
    case ENOSPC: return "ENOSPC";
    case ESPIPE: return "ESPIPE";
    case EPIPE: return "EPIPE";
    case ERANGE: return "ERANGE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOSYS: return "ENOSYS";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ELOOP: return "ELOOP";
    case ETIMEDOUT: return "ETIMEDOUT";
    default: return "E?";
    }
}

static inline void check_result(int ok, int line, char const* expression, char const* format, ...)
{
    int const saved_errno = errno;
    ++check_count;
    if (ok)
        return;
    ++check_failures;
    printf("FAIL line %d: %s: ", line, expression);
    va_list arguments;
    va_start(arguments, format);
    vprintf(format, arguments);
    va_end(arguments);
    printf(" (errno %s)\n", errno_name(saved_errno));
}

// Prints the summary line and returns the exit status: 0 when every check passed, 1 otherwise.
static inline int check_summary(char const* program)
{
    if (check_failures == 0)
        printf("%s: all %d checks passed\n", program, check_count);
    else
        printf("%s: %d of %d checks FAILED\n", program, check_failures, check_count);
    fflush(stdout);
    return check_failures == 0 ? 0 : 1;
}
