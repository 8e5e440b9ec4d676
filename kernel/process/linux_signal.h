// Linux x86-64 signal ABI structures (include/uapi/asm-generic/signal.h, arch/x86/include/uapi/asm/sigcontext.h,
// include/uapi/asm-generic/siginfo.h, arch/x86/include/asm/sigframe.h). Layouts are pinned with static_asserts:
// programs read and write these in their own memory.
#pragma once

#include <ktl/types.h>

namespace kernite::process {

inline constexpr int max_signal = 64;

enum Signal : int {
    SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGILL = 4, SIGTRAP = 5, SIGABRT = 6, SIGBUS = 7, SIGFPE = 8,
    SIGKILL = 9, SIGUSR1 = 10, SIGSEGV = 11, SIGUSR2 = 12, SIGPIPE = 13, SIGALRM = 14, SIGTERM = 15,
    SIGSTKFLT = 16, SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19, SIGTSTP = 20, SIGTTIN = 21, SIGTTOU = 22,
    SIGURG = 23, SIGXCPU = 24, SIGXFSZ = 25, SIGVTALRM = 26, SIGPROF = 27, SIGWINCH = 28, SIGIO = 29,
    SIGPWR = 30, SIGSYS = 31,
};

inline constexpr u64 signal_bit(int signal) { return 1ull << (signal - 1); }
inline constexpr u64 unblockable_signals = signal_bit(SIGKILL) | signal_bit(SIGSTOP);

// sigaction flags
inline constexpr u64 linux_sa_siginfo = 0x4;
inline constexpr u64 linux_sa_onstack = 0x08000000;
inline constexpr u64 linux_sa_restart = 0x10000000;
inline constexpr u64 linux_sa_nodefer = 0x40000000;
inline constexpr u64 linux_sa_resethand = 0x80000000;
inline constexpr u64 linux_sa_restorer = 0x04000000;
inline constexpr u64 linux_sig_dfl = 0;
inline constexpr u64 linux_sig_ign = 1;

// struct sigaction as the kernel sees it (kernel_sigaction: handler, flags, restorer, mask).
struct LinuxSigaction {
    u64 handler;
    u64 flags;
    u64 restorer;
    u64 mask;
};
static_assert(sizeof(LinuxSigaction) == 32);

inline constexpr int linux_ss_onstack = 1;
inline constexpr int linux_ss_disable = 2;
inline constexpr u64 linux_minsigstksz = 2048;

struct LinuxStack {
    u64 sp;
    i32 flags;
    u32 padding;
    u64 size;
};
static_assert(sizeof(LinuxStack) == 24);

// siginfo_t: 128 bytes; the fields used here (signo, errno, code, then a union at offset 16).
struct LinuxSiginfo {
    i32 signo;
    i32 error_number;
    i32 code;
    i32 padding;
    union {
        u64 address; // SIGSEGV, SIGBUS, SIGILL, SIGFPE: si_addr
        struct {
            i32 pid; // kill/tgkill: si_pid, si_uid
            u32 uid;
        } sender;
        u8 raw[112];
    };
};
static_assert(sizeof(LinuxSiginfo) == 128);

inline constexpr i32 linux_si_user = 0;
inline constexpr i32 linux_si_kernel = 0x80;
inline constexpr i32 linux_si_tkill = -6;
inline constexpr i32 linux_segv_maperr = 1;
inline constexpr i32 linux_segv_accerr = 2;
inline constexpr i32 linux_ill_illopn = 2;
inline constexpr i32 linux_fpe_intdiv = 1;
inline constexpr i32 linux_fpe_fltinv = 7;
inline constexpr i32 linux_bus_adraln = 1;

// struct sigcontext (uc_mcontext), arch/x86/include/uapi/asm/sigcontext.h.
struct LinuxSigcontext {
    u64 r8, r9, r10, r11, r12, r13, r14, r15;
    u64 rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
    u16 cs, gs, fs, ss;
    u64 err, trapno, oldmask, cr2;
    u64 fpstate; // user address of the FXSAVE area, or 0
    u64 reserved[8];
};
static_assert(sizeof(LinuxSigcontext) == 256);

struct LinuxUcontext {
    u64 flags;
    u64 link;
    LinuxStack stack;
    LinuxSigcontext mcontext;
    u64 sigmask;
};
static_assert(sizeof(LinuxUcontext) == 304);

// The frame a handler runs on (Linux struct rt_sigframe): the return address (sa_restorer), the ucontext, the
// siginfo; our FXSAVE area follows, 64-byte aligned.
struct LinuxRtSigframe {
    u64 return_address;
    LinuxUcontext ucontext;
    LinuxSiginfo info;
};
static_assert(sizeof(LinuxRtSigframe) == 8 + 304 + 128);

} // namespace kernite::process
