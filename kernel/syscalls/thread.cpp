// Threads and the process: clone (threads only), exit, exit_group, set_tid_address, robust lists, arch_prctl,
// futex, scheduling queries, and the fork/exec family that a single-program VM cannot offer (ENOSYS).
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/interrupts_disabled.h>
#include <kernel/process/futex.h>
#include <kernel/process/process.h>
#include <kernel/process/user_memory.h>
#include <kernel/sched/scheduler.h>
#include <kernel/syscalls/handlers.h>
#include <kernel/time/clock.h>

namespace kernite::syscalls {

using namespace process;

namespace {

// clone flags (include/uapi/linux/sched.h)
constexpr u64 clone_vm = 0x100, clone_fs = 0x200, clone_files = 0x400, clone_sighand = 0x800,
              clone_pidfd = 0x1000, clone_ptrace = 0x2000, clone_vfork = 0x4000, clone_parent = 0x8000,
              clone_thread = 0x10000, clone_newns = 0x20000, clone_sysvsem = 0x40000, clone_settls = 0x80000,
              clone_parent_settid = 0x100000, clone_child_cleartid = 0x200000, clone_detached = 0x400000,
              clone_untraced = 0x800000, clone_child_settid = 0x1000000;
constexpr u64 thread_flags_required = clone_vm | clone_fs | clone_files | clone_sighand | clone_thread;
constexpr u64 thread_flags_allowed = thread_flags_required | clone_sysvsem | clone_settls | clone_parent_settid
    | clone_child_cleartid | clone_detached | clone_untraced | clone_child_settid | 0xff /* exit signal */;

// futex operations (include/uapi/linux/futex.h)
constexpr u64 futex_wait_op = 0, futex_wake_op = 1, futex_requeue_op = 3, futex_cmp_requeue_op = 4,
              futex_wake_op_op = 5, futex_wait_bitset_op = 9, futex_wake_bitset_op = 10;
constexpr u64 futex_private_flag = 128, futex_clock_realtime = 256;

constexpr u64 arch_set_gs = 0x1001, arch_set_fs = 0x1002, arch_get_fs = 0x1003, arch_get_gs = 0x1004;

struct LinuxTimespec {
    i64 seconds;
    i64 nanoseconds;
};

// How a futex timeout is given (futex(2)): FUTEX_WAIT takes a relative duration; FUTEX_WAIT_BITSET an absolute
// time on CLOCK_MONOTONIC, or on CLOCK_REALTIME with FUTEX_CLOCK_REALTIME (glibc's pthread_cond_timedwait).
enum class TimeoutKind { Relative, AbsoluteMonotonic, AbsoluteRealtime };

ErrorOr<u64> timeout_to_deadline(u64 address, TimeoutKind kind)
{
    if (address == 0)
        return u64(0);
    auto timeout = TRY(UserPtr<LinuxTimespec>(address).read());
    if (timeout.seconds < 0 || timeout.nanoseconds < 0 || timeout.nanoseconds >= 1'000'000'000)
        return Error::from_errno(EINVAL, "bad timeout");
    u64 ns = static_cast<u64>(timeout.seconds) > ~u64(0) / 1'000'000'000 / 2
        ? ~u64(0) / 2
        : static_cast<u64>(timeout.seconds) * 1'000'000'000 + static_cast<u64>(timeout.nanoseconds);
    if (kind != TimeoutKind::Relative) {
        // Our monotonic clock counts from boot; the realtime clock is the host's wall clock plus it.
        u64 now = kind == TimeoutKind::AbsoluteRealtime ? time::realtime_ns() : time::monotonic_ns();
        ns = ns > now ? ns - now : 0;
    }
    u64 deadline = time::tsc_deadline_after_ns(ns);
    return deadline == 0 ? 1 : deadline;
}

} // namespace

Result sys_clone(Arguments& arguments)
{
    u64 flags = arguments.a0;
    u64 stack = arguments.a1;
    u64 parent_tid = arguments.a2;
    u64 child_tid = arguments.a3;
    u64 tls = arguments.a4;
    if ((flags & thread_flags_required) != thread_flags_required)
        return Error::from_errno(ENOSYS, "only threads: a single-program VM has no fork");
    if (flags & ~thread_flags_allowed)
        return Error::from_errno(EINVAL, "unsupported clone flag");
    arch::TrapFrame child = arguments.frame;
    child.rax = 0;
    if (stack)
        child.rsp = stack;
    u64 fs_base = (flags & clone_settls) ? tls : sched::current_thread()->fs_base();
    auto& parent = current_thread();
    // The child must not run before it is complete: once spawn_thread has made it runnable, a timer interrupt
    // could switch to it, and a short thread could even exit and free its UserThread while we still write to it
    // (the use-after-free in fpu_save that program.threads.glibc hit), or exit before clear_child_tid is set
    // (pthread_join would wait for ever). Interrupts stay off until it is.
    arch::InterruptsDisabled guard;
    auto* thread = TRY(spawn_thread(child, fs_base, parent.signal_mask));
    // The child has not run: its FPU state starts as a copy of the parent's (Linux copies it too).
    arch::fpu_save(thread->fpu);
    u32 tid = static_cast<u32>(thread->tid);
    if (flags & clone_child_cleartid)
        thread->clear_child_tid = child_tid;
    if (flags & clone_parent_settid)
        (void)UserPtr<u32>(parent_tid).write(tid);
    if (flags & clone_child_settid)
        (void)UserPtr<u32>(child_tid).write(tid);
    return u64(tid);
}

Result sys_clone3(Arguments&) { return Error::from_errno(ENOSYS, "clone3: libc falls back to clone"); }
Result sys_fork(Arguments&) { return Error::from_errno(ENOSYS, "fork: a single-program VM has one process"); }
Result sys_vfork(Arguments&) { return Error::from_errno(ENOSYS, "vfork: a single-program VM has one process"); }
Result sys_execve(Arguments&) { return Error::from_errno(ENOSYS, "execve: a single-program VM runs one program"); }
Result sys_execveat(Arguments&) { return Error::from_errno(ENOSYS, "execveat: a single-program VM runs one program"); }
Result sys_wait4(Arguments&) { return Error::from_errno(ECHILD, "no child processes"); }

Result sys_exit(Arguments& arguments) { process::exit_thread(static_cast<int>(arguments.a0)); }
Result sys_exit_group(Arguments& arguments) { process::exit_group(static_cast<int>(arguments.a0)); }

Result sys_set_tid_address(Arguments& arguments)
{
    auto& thread = current_thread();
    thread.clear_child_tid = arguments.a0;
    return thread.tid;
}

Result sys_set_robust_list(Arguments& arguments)
{
    if (arguments.a1 != 24) // sizeof(struct robust_list_head)
        return Error::from_errno(EINVAL, "robust list head size");
    auto& thread = current_thread();
    thread.robust_list = arguments.a0;
    thread.robust_list_length = arguments.a1;
    return u64(0);
}

Result sys_gettid(Arguments&) { return current_thread().tid; }

Result sys_arch_prctl(Arguments& arguments)
{
    switch (arguments.a0) {
    case arch_set_fs:
        if (arguments.a1 >= arch::user_space_end)
            return Error::from_errno(EPERM, "TLS base outside the program's half");
        sched::set_fs_base(arguments.a1);
        return u64(0);
    case arch_get_fs:
        TRY(UserPtr<u64>(arguments.a1).write(sched::current_thread()->fs_base()));
        return u64(0);
    case arch_set_gs:
    case arch_get_gs:
        return Error::from_errno(EINVAL, "GS is not available to programs");
    default:
        return Error::from_errno(EINVAL, "unknown arch_prctl code");
    }
}

Result sys_futex(Arguments& arguments)
{
    u64 address = arguments.a0;
    u64 op = arguments.a1 & ~(futex_private_flag | futex_clock_realtime);
    bool realtime = arguments.a1 & futex_clock_realtime;
    u32 value = static_cast<u32>(arguments.a2);
    // FUTEX_CLOCK_REALTIME goes with the waits only (Linux: ENOSYS with any other operation).
    if (realtime && op != futex_wait_op && op != futex_wait_bitset_op)
        return Error::from_errno(ENOSYS, "FUTEX_CLOCK_REALTIME with an operation that takes no timeout");
    switch (op) {
    case futex_wait_op: {
        // FUTEX_WAIT's timeout is relative whichever clock it names.
        u64 deadline = TRY(timeout_to_deadline(arguments.a3, TimeoutKind::Relative));
        TRY(futex::wait(address, value, ~u32(0), deadline));
        return u64(0);
    }
    case futex_wait_bitset_op: {
        u64 deadline = TRY(timeout_to_deadline(arguments.a3,
            realtime ? TimeoutKind::AbsoluteRealtime : TimeoutKind::AbsoluteMonotonic));
        TRY(futex::wait(address, value, static_cast<u32>(arguments.a5), deadline));
        return u64(0);
    }
    case futex_wake_op:
        return futex::wake(address, value, ~u32(0));
    case futex_wake_bitset_op:
        if (static_cast<u32>(arguments.a5) == 0)
            return Error::from_errno(EINVAL, "empty futex bitset");
        return futex::wake(address, value, static_cast<u32>(arguments.a5));
    case futex_requeue_op:
        return futex::requeue(address, value, arguments.a4, arguments.a3, false);
    case futex_cmp_requeue_op: {
        u32 current = TRY(UserPtr<u32>(address).read());
        if (current != static_cast<u32>(arguments.a5))
            return Error::from_errno(EAGAIN, "futex value changed");
        return futex::requeue(address, value, arguments.a4, arguments.a3, true);
    }
    case futex_wake_op_op:
    default:
        return Error::from_errno(ENOSYS, "futex operation not supported");
    }
}

Result sys_sched_yield(Arguments&)
{
    sched::yield();
    return u64(0);
}

Result sys_sched_getaffinity(Arguments& arguments)
{
    // One CPU: mask with bit 0. Linux returns the size it wrote (a multiple of 8).
    if (arguments.a1 < 8 || arguments.a1 % 8 != 0)
        return Error::from_errno(EINVAL, "cpu set size");
    u64 mask = 1;
    TRY(UserPtr<u64>(arguments.a2).write(mask));
    return u64(8);
}

Result sys_sched_setaffinity(Arguments&) { return u64(0); }
Result sys_rseq(Arguments&) { return Error::from_errno(ENOSYS, "rseq"); }

} // namespace kernite::syscalls
