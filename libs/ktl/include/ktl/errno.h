// Error codes are Linux's errno values (asm-generic/errno-base.h, errno.h), used as the usual macros
// (`Error::from_errno(EINVAL, "...")`), so the system-call layer hands them to programs unchanged. On the
// host the C library defines the same macros with the same values (x86-64 Linux); the kernel, which has no C
// library, gets them from here. Write `EINVAL`, never a number.
#pragma once

#if __STDC_HOSTED__
#    include <errno.h>
#endif

#ifndef EPERM
#    define EPERM 1
#    define ENOENT 2
#    define ESRCH 3
#    define EINTR 4
#    define EIO 5
#    define ENXIO 6
#    define E2BIG 7
#    define ENOEXEC 8
#    define EBADF 9
#    define ECHILD 10
#    define EAGAIN 11
#    define ENOMEM 12
#    define EACCES 13
#    define EFAULT 14
#    define EBUSY 16
#    define EEXIST 17
#    define ENODEV 19
#    define ENOTDIR 20
#    define EISDIR 21
#    define EINVAL 22
#    define ENFILE 23
#    define EMFILE 24
#    define ENOTTY 25
#    define EFBIG 27
#    define ENOSPC 28
#    define ESPIPE 29
#    define EROFS 30
#    define EPIPE 32
#    define EDOM 33
#    define ERANGE 34
#    define ENAMETOOLONG 36
#    define ENOSYS 38
#    define ENOTEMPTY 39
#    define ELOOP 40
#    define EOVERFLOW 75
#    define ENOTSUP 95
#    define ETIMEDOUT 110
#endif

static_assert(EINVAL == 22 && ENOMEM == 12 && ENOSYS == 38, "errno values must be Linux's");

namespace ktl {
// Name of an errno value ("EINVAL"), or "E?" for one this table does not know.
char const* errno_name(int code);
} // namespace ktl
