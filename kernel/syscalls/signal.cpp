// Signal system calls: rt_sigaction, rt_sigprocmask, rt_sigreturn, sigaltstack, kill/tkill/tgkill (to the
// program itself), rt_sigpending.
#include <kernel/process/process.h>
#include <kernel/process/signals.h>
#include <kernel/process/user_memory.h>
#include <kernel/syscalls/handlers.h>

namespace kernite::syscalls {

using namespace process;

namespace {
constexpr u64 sig_block = 0, sig_unblock = 1, sig_setmask = 2;

LinuxSiginfo sender_info(int signal, i32 code)
{
    LinuxSiginfo info {};
    info.signo = signal;
    info.code = code;
    info.sender.pid = static_cast<i32>(process_id);
    info.sender.uid = 0;
    return info;
}
} // namespace

Result sys_rt_sigaction(Arguments& arguments)
{
    if (arguments.a3 != 8)
        return Error::from_errno(EINVAL, "sigset size");
    int signal = static_cast<int>(arguments.a0);
    LinuxSigaction new_action {};
    LinuxSigaction old_action {};
    if (arguments.a1)
        new_action = TRY(UserPtr<LinuxSigaction>(arguments.a1).read());
    TRY(signals::set_action(signal, arguments.a1 ? &new_action : nullptr, &old_action));
    if (arguments.a2)
        TRY(UserPtr<LinuxSigaction>(arguments.a2).write(old_action));
    return u64(0);
}

Result sys_rt_sigprocmask(Arguments& arguments)
{
    if (arguments.a3 != 8)
        return Error::from_errno(EINVAL, "sigset size");
    auto& thread = current_thread();
    u64 old_mask = thread.signal_mask;
    if (arguments.a1) {
        u64 set = TRY(UserPtr<u64>(arguments.a1).read());
        switch (arguments.a0) {
        case sig_block: thread.signal_mask |= set; break;
        case sig_unblock: thread.signal_mask &= ~set; break;
        case sig_setmask: thread.signal_mask = set; break;
        default: return Error::from_errno(EINVAL, "sigprocmask how");
        }
        thread.signal_mask &= ~unblockable_signals;
    }
    if (arguments.a2)
        TRY(UserPtr<u64>(arguments.a2).write(old_mask));
    return u64(0);
}

Result sys_rt_sigpending(Arguments& arguments)
{
    if (arguments.a1 != 8)
        return Error::from_errno(EINVAL, "sigset size");
    TRY(UserPtr<u64>(arguments.a0).write(current_thread().pending));
    return u64(0);
}

Result sys_rt_sigreturn(Arguments& arguments) { return signals::return_from_handler(arguments.frame); }

Result sys_sigaltstack(Arguments& arguments)
{
    auto& thread = current_thread();
    u64 sp = arguments.frame.rsp;
    bool on_stack = thread.alternate_stack.flags != linux_ss_disable && thread.alternate_stack.size != 0
        && sp - thread.alternate_stack.sp <= thread.alternate_stack.size;
    LinuxStack old_stack = thread.alternate_stack;
    old_stack.flags = thread.alternate_stack.flags == linux_ss_disable ? linux_ss_disable : (on_stack ? linux_ss_onstack : 0);
    if (arguments.a0) {
        auto new_stack = TRY(UserPtr<LinuxStack>(arguments.a0).read());
        if (on_stack)
            return Error::from_errno(EPERM, "on the alternate stack");
        if (new_stack.flags & ~(linux_ss_disable | (1 << 31) /* SS_AUTODISARM */))
            return Error::from_errno(EINVAL, "sigaltstack flags");
        if (new_stack.flags & linux_ss_disable) {
            thread.alternate_stack = { 0, linux_ss_disable, 0, 0 };
        } else {
            if (new_stack.size < linux_minsigstksz)
                return Error::from_errno(ENOMEM, "alternate stack too small");
            thread.alternate_stack = { new_stack.sp, 0, 0, new_stack.size };
        }
    }
    if (arguments.a1)
        TRY(UserPtr<LinuxStack>(arguments.a1).write(old_stack));
    return u64(0);
}

Result sys_kill(Arguments& arguments)
{
    i64 pid = static_cast<i64>(arguments.a0);
    if (pid != static_cast<i64>(process_id) && pid != 0 && pid != -1)
        return Error::from_errno(ESRCH, "no such process: the VM runs one program");
    int signal = static_cast<int>(arguments.a1);
    TRY(signals::send(signal, nullptr, sender_info(signal, linux_si_user)));
    return u64(0);
}

static ErrorOr<UserThread*> find_thread(u64 tid)
{
    for (auto* thread = thread_list(); thread; thread = thread->next) {
        if (thread->tid == tid)
            return thread;
    }
    return Error::from_errno(ESRCH, "no such thread");
}

Result sys_tgkill(Arguments& arguments)
{
    if (arguments.a0 != process_id)
        return Error::from_errno(ESRCH, "no such process: the VM runs one program");
    int signal = static_cast<int>(arguments.a2);
    auto* thread = TRY(find_thread(arguments.a1));
    TRY(signals::send(signal, thread, sender_info(signal, linux_si_tkill)));
    return u64(0);
}

Result sys_tkill(Arguments& arguments)
{
    int signal = static_cast<int>(arguments.a1);
    auto* thread = TRY(find_thread(arguments.a0));
    TRY(signals::send(signal, thread, sender_info(signal, linux_si_tkill)));
    return u64(0);
}

} // namespace kernite::syscalls
