#include <arch/x86_64/cpu.h>
#include <arch/x86_64/interrupts_disabled.h>
#include <kernel/lib/format.h>
#include <kernel/lib/log.h>
#include <kernel/process/program_symbols.h>
#include <kernel/process/signals.h>
#include <kernel/process/user_memory.h>
#include <kernel/sched/scheduler.h>
#include <kernel/security/events.h>

namespace kernite::process::signals {

namespace {

LinuxSigaction g_actions[max_signal + 1];
u64 g_process_pending; // sent to the process, not to one thread
LinuxSiginfo g_process_info[max_signal + 1];

bool default_is_ignore(int signal)
{
    switch (signal) {
    case SIGCHLD:
    case SIGCONT:
    case SIGURG:
    case SIGWINCH:
    case SIGSTOP: // no job control in a single-program VM
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
        return true;
    default:
        return false;
    }
}

bool is_ignored(int signal)
{
    auto const& action = g_actions[signal];
    return action.handler == linux_sig_ign || (action.handler == linux_sig_dfl && default_is_ignore(signal));
}

[[noreturn]] void die(int signal)
{
    char message[abi::event_message_size];
    // A fault already reported which protection fired (raise_fault); this is the death by a signal with no
    // such event: abort() after libc's own check failed (glibc's canary, FORTIFY, malloc), kill, ...
    char const* name = signal == SIGABRT ? " (SIGABRT)" : signal == SIGKILL ? " (SIGKILL)" : signal == SIGSEGV ? " (SIGSEGV)" : "";
    format(message, sizeof(message), "the program was killed by signal %d%s", signal, name);
    security::report(abi::EventType::ProgramKilled, message);
    kill_with_signal(signal);
}

// Builds the rt_sigframe on the user stack and points the frame at the handler (Linux's setup_rt_frame).
ErrorOr<void> setup_frame(arch::TrapFrame& frame, UserThread& thread, int signal, LinuxSiginfo const& info)
{
    auto const& action = g_actions[signal];
    u64 sp = frame.rsp;
    bool on_alternate = thread.alternate_stack.flags != linux_ss_disable && thread.alternate_stack.size != 0
        && sp - thread.alternate_stack.sp <= thread.alternate_stack.size;
    if ((action.flags & linux_sa_onstack) && thread.alternate_stack.flags != linux_ss_disable && !on_alternate
        && thread.alternate_stack.size != 0) {
        sp = thread.alternate_stack.sp + thread.alternate_stack.size;
    } else {
        sp -= 128; // the red zone of the interrupted code (psABI §3.2.2)
    }
    // The FPU/SSE state, 64-byte aligned, then the frame, so that the handler starts with (rsp + 8) % 16 == 0.
    sp = ktl::align_down(sp - arch::fpu_state_size, 64);
    u64 fpstate = sp;
    arch::fpu_save(thread.fpu);
    TRY(copy_to_user(fpstate, thread.fpu, arch::fpu_state_size));
    sp = ktl::align_down(sp - sizeof(LinuxRtSigframe), 16) - 8;

    LinuxRtSigframe sigframe {};
    sigframe.return_address = action.restorer;
    sigframe.ucontext.flags = 0x2 | 0x4; // UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS, as Linux sets them
    sigframe.ucontext.stack = thread.alternate_stack;
    if (thread.alternate_stack.flags != linux_ss_disable && on_alternate)
        sigframe.ucontext.stack.flags = linux_ss_onstack;
    auto& m = sigframe.ucontext.mcontext;
    m.r8 = frame.r8, m.r9 = frame.r9, m.r10 = frame.r10, m.r11 = frame.r11;
    m.r12 = frame.r12, m.r13 = frame.r13, m.r14 = frame.r14, m.r15 = frame.r15;
    m.rdi = frame.rdi, m.rsi = frame.rsi, m.rbp = frame.rbp, m.rbx = frame.rbx;
    m.rdx = frame.rdx, m.rax = frame.rax, m.rcx = frame.rcx, m.rsp = frame.rsp;
    m.rip = frame.rip, m.eflags = frame.rflags;
    m.cs = static_cast<u16>(frame.cs), m.ss = static_cast<u16>(frame.ss);
    m.err = frame.vector < 32 ? frame.error_code : 0;
    m.trapno = frame.vector < 32 ? frame.vector : 0;
    m.oldmask = thread.signal_mask;
    m.cr2 = signal == SIGSEGV || signal == SIGBUS ? info.address : 0;
    m.fpstate = fpstate;
    sigframe.ucontext.sigmask = thread.signal_mask;
    sigframe.info = info;
    TRY(copy_to_user(sp, &sigframe, sizeof(sigframe)));

    frame.rip = action.handler;
    frame.rsp = sp;
    frame.rdi = static_cast<u64>(signal);
    frame.rsi = sp + __builtin_offsetof(LinuxRtSigframe, info);
    frame.rdx = sp + __builtin_offsetof(LinuxRtSigframe, ucontext);
    frame.rax = 0;
    frame.rflags &= ~((1ull << 10) | (1ull << 8)); // DF and TF clear in the handler, as Linux
    thread.signal_mask |= action.mask | ((action.flags & linux_sa_nodefer) ? 0 : signal_bit(signal));
    thread.signal_mask &= ~unblockable_signals;
    if (action.flags & linux_sa_resethand)
        g_actions[signal] = {};
    return {};
}

void deliver(arch::TrapFrame& frame, UserThread& thread, int signal, LinuxSiginfo const& info)
{
    auto const& action = g_actions[signal];
    if (is_ignored(signal))
        return;
    if (action.handler == linux_sig_dfl)
        die(signal);
    if (!(action.flags & linux_sa_restorer) || action.restorer == 0) {
        klog("signal %d: the handler has no sa_restorer (every libc sets one): killing the program", signal);
        die(SIGSEGV);
    }
    if (setup_frame(frame, thread, signal, info).is_error()) {
        // No room for the frame (a stack overflow, say): Linux's force_sigsegv, which cannot be handled: the
        // program dies of SIGSEGV whichever signal it was being given.
        die(SIGSEGV);
    }
}

int lowest_signal(u64 set) { return set ? __builtin_ctzll(set) + 1 : 0; }

} // namespace

namespace {

// Out of line: the 128-byte siginfo below is zeroed on entry in the hardened profile
// (-ftrivial-auto-var-init=zero), which the return to the program after every system call and fault would
// otherwise pay whether or not a signal is pending (~16 emulated instructions each where ring 0 is emulated).
[[gnu::noinline]] void deliver_lowest(arch::TrapFrame& frame, UserThread& thread, u64 deliverable)
{
    int signal = lowest_signal(deliverable);
    LinuxSiginfo info;
    if (thread.pending & signal_bit(signal)) {
        thread.pending &= ~signal_bit(signal);
        info = thread.pending_info[signal];
    } else {
        g_process_pending &= ~signal_bit(signal);
        info = g_process_info[signal];
    }
    deliver(frame, thread, signal, info);
}

} // namespace

void deliver_pending(arch::TrapFrame& frame)
{
    if (!arch::is_program_frame(frame))
        return;
    auto* context = sched::current_thread()->user_context();
    if (!context)
        return;
    auto& thread = *static_cast<UserThread*>(context);
    u64 deliverable = (thread.pending | g_process_pending) & ~thread.signal_mask;
    if (deliverable)
        deliver_lowest(frame, thread, deliverable);
}

void raise_fault(arch::TrapFrame& frame, int signal, i32 code, u64 address, abi::EventType event, char const* message)
{
    auto& thread = current_thread();
    auto const& action = g_actions[signal];
    bool handled = action.handler != linux_sig_dfl && action.handler != linux_sig_ign
        && !(thread.signal_mask & signal_bit(signal));
    if (!handled) {
        // Linux's force_sig_fault: a blocked or ignored fault signal kills. Report which protection fired.
        // The faulting instruction's symbol in the program, where it has a symbol table (issue 4 item 5).
        char symbol[abi::event_symbol_size];
        security::EventDetails details { frame.rip, address, true, true };
        if (symbolize_program_address(frame.rip, symbol, sizeof(symbol)))
            details.symbol = symbol;
        security::report(event, message, details);
        kill_with_signal(signal);
    }
    LinuxSiginfo info {};
    info.signo = signal;
    info.code = code;
    info.address = address;
    thread.pending |= signal_bit(signal);
    thread.pending_info[signal] = info;
}

ErrorOr<void> send(int signal, UserThread* target, LinuxSiginfo const& info)
{
    if (signal < 0 || signal > max_signal)
        return Error::from_errno(EINVAL, "bad signal number");
    if (signal == 0)
        return {}; // existence check
    arch::InterruptsDisabled guard;
    if (signal == SIGKILL)
        die(SIGKILL);
    if (is_ignored(signal))
        return {};
    if (target) {
        target->pending |= signal_bit(signal);
        target->pending_info[signal] = info;
    } else {
        g_process_pending |= signal_bit(signal);
        g_process_info[signal] = info;
    }
    return {};
}

ErrorOr<void> set_action(int signal, LinuxSigaction const* new_action, LinuxSigaction* old_action)
{
    if (signal < 1 || signal > max_signal)
        return Error::from_errno(EINVAL, "bad signal number");
    if (new_action && (signal == SIGKILL || signal == SIGSTOP))
        return Error::from_errno(EINVAL, "SIGKILL and SIGSTOP cannot be caught");
    arch::InterruptsDisabled guard;
    if (old_action)
        *old_action = g_actions[signal];
    if (new_action) {
        g_actions[signal] = *new_action;
        g_actions[signal].mask &= ~unblockable_signals;
        // Setting SIG_IGN discards a pending instance (POSIX).
        if (is_ignored(signal)) {
            g_process_pending &= ~signal_bit(signal);
            for (auto* thread = thread_list(); thread; thread = thread->next)
                thread->pending &= ~signal_bit(signal);
        }
    }
    return {};
}

ErrorOr<u64> return_from_handler(arch::TrapFrame& frame)
{
    auto& thread = current_thread();
    u64 ucontext_address = frame.rsp; // the handler's `ret` popped the return address
    LinuxUcontext ucontext;
    if (copy_from_user(&ucontext, ucontext_address, sizeof(ucontext)).is_error()) {
        klog("rt_sigreturn: the signal frame at 0x%lx is unreadable: killing the program", ucontext_address);
        kill_with_signal(SIGSEGV);
    }
    auto const& m = ucontext.mcontext;
    arch::TrapFrame restored = frame;
    restored.r8 = m.r8, restored.r9 = m.r9, restored.r10 = m.r10, restored.r11 = m.r11;
    restored.r12 = m.r12, restored.r13 = m.r13, restored.r14 = m.r14, restored.r15 = m.r15;
    restored.rdi = m.rdi, restored.rsi = m.rsi, restored.rbp = m.rbp, restored.rbx = m.rbx;
    restored.rdx = m.rdx, restored.rax = m.rax, restored.rcx = m.rcx, restored.rsp = m.rsp;
    restored.rip = m.rip, restored.rflags = m.eflags;
    if (!arch::sanitize_user_frame(restored)) {
        klog("rt_sigreturn: non-canonical rip 0x%lx or rsp 0x%lx: killing the program", m.rip, m.rsp);
        kill_with_signal(SIGSEGV);
    }
    if (m.fpstate) {
        alignas(16) u8 fpu[arch::fpu_state_size];
        if (copy_from_user(fpu, m.fpstate, sizeof(fpu)).is_error())
            kill_with_signal(SIGSEGV);
        // MXCSR bits outside the mask make FXRSTOR fault (SDM Vol. 1 §10.5.1.1): keep only the defined ones.
        u32 mxcsr = 0;
        __builtin_memcpy(&mxcsr, fpu + 24, 4);
        mxcsr &= 0xffbf;
        __builtin_memcpy(fpu + 24, &mxcsr, 4);
        arch::InterruptsDisabled guard;
        __builtin_memcpy(thread.fpu, fpu, sizeof(fpu));
        arch::fpu_restore(thread.fpu);
    }
    thread.signal_mask = ucontext.sigmask & ~unblockable_signals;
    frame = restored;
    return frame.rax;
}

} // namespace kernite::process::signals
