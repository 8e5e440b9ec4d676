// Every system call Kernite serves, by family (one .cpp per family). Each X(name, arguments) entry declares
// `Result sys_<name>(Arguments&)` and becomes a table entry for number sys_<name>. `arguments` tells --strace how
// to print each argument: d signed, u unsigned, x hex, p pointer, s string (path), o octal (mode), f fd.
#pragma once

#include <kernel/syscalls/numbers.h>
#include <kernel/syscalls/syscall.h>

#define KERNITE_SYSCALLS_THREAD(X)                                                                           \
    X(clone, "xppppx") X(clone3, "pu") X(fork, "") X(vfork, "") X(execve, "spp") X(execveat, "fsppx")         \
    X(wait4, "dpxp") X(exit, "d") X(exit_group, "d") X(set_tid_address, "p") X(set_robust_list, "pu")        \
    X(gettid, "") X(arch_prctl, "xp") X(futex, "pxupux") X(sched_yield, "") X(sched_getaffinity, "dup")      \
    X(sched_setaffinity, "dup") X(rseq, "puxx")

#define KERNITE_SYSCALLS_SIGNAL(X)                                                                           \
    X(rt_sigaction, "dppu") X(rt_sigprocmask, "dppu") X(rt_sigpending, "pu") X(rt_sigreturn, "")              \
    X(sigaltstack, "pp") X(kill, "dd") X(tgkill, "ddd") X(tkill, "dd")

#define KERNITE_SYSCALLS_TIME(X)                                                                             \
    X(clock_gettime, "dp") X(clock_getres, "dp") X(gettimeofday, "pp") X(time, "p") X(nanosleep, "pp")       \
    X(clock_nanosleep, "dxpp") X(times, "p")

#define KERNITE_SYSCALLS_INFO(X)                                                                             \
    X(getpid, "") X(getppid, "") X(getuid, "") X(getpgrp, "") X(setsid, "") X(setpgid, "dd") X(setuid, "u")  \
    X(getresuid, "ppp") X(getgroups, "dp") X(uname, "p") X(sysinfo, "p") X(prlimit64, "ddpp")                \
    X(getrlimit, "dp") X(setrlimit, "dp") X(getrandom, "pux") X(umask, "o") X(prctl, "dxxxx")               \
    X(getrusage, "dp") X(getcpu, "ppp")

// Aliases: numbers served by another family member's handler.
#define KERNITE_SYSCALL_ALIASES(X)                                                                           \
    X(geteuid, getuid) X(getgid, getuid) X(getegid, getuid) X(getresgid, getresuid) X(setgid, setuid)        \
    X(getpgid, getpgrp) X(getsid, getpgrp)

#if __has_include(<kernel/syscalls/handlers_fs.h>)
#    include <kernel/syscalls/handlers_fs.h>
#else
#    define KERNITE_SYSCALLS_FS(X)
#endif
#if __has_include(<kernel/syscalls/handlers_memory.h>)
#    include <kernel/syscalls/handlers_memory.h>
#else
#    define KERNITE_SYSCALLS_MEMORY(X)
#endif

#define KERNITE_SYSCALLS_ALL(X)                                                                              \
    KERNITE_SYSCALLS_THREAD(X) KERNITE_SYSCALLS_SIGNAL(X) KERNITE_SYSCALLS_TIME(X) KERNITE_SYSCALLS_INFO(X)   \
    KERNITE_SYSCALLS_FS(X) KERNITE_SYSCALLS_MEMORY(X)

namespace kernite::syscalls {

#define KERNITE_DECLARE_SYSCALL(name, arguments) Result sys_##name(Arguments&);
KERNITE_SYSCALLS_ALL(KERNITE_DECLARE_SYSCALL)
#undef KERNITE_DECLARE_SYSCALL

// Shared state other families read.
u64 stack_limit();   // RLIMIT_STACK (info.cpp)
u32 current_umask(); // (info.cpp)

} // namespace kernite::syscalls
