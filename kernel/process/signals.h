// Signals, as far as one program needs them (issue 3 item 3): dispositions, masks, delivery onto the program's
// stack in Linux's rt_sigframe layout (so siglongjmp and rt_sigreturn work), and the default action, which ends
// the program with 128 + signal. Delivery happens on the way back to ring 3 (arch::ReturnToUserHook).
// Limits: a signal sent to a thread blocked in the kernel is delivered when that wait ends (no EINTR), and
// there is no job control (stop signals are ignored).
#pragma once

#include <arch/x86_64/trap_frame.h>
#include <kernel/process/linux_signal.h>
#include <kernel/process/process.h>
#include <kernite/abi.h>
#include <ktl/error.h>

namespace kernite::process::signals {

// arch::ReturnToUserHook: delivers the first deliverable pending signal, if any.
void deliver_pending(arch::TrapFrame&);

// A synchronous fault of the current thread (SIGSEGV, SIGBUS, SIGILL, SIGFPE). If the program has a handler
// and the signal is not blocked, it runs on return; otherwise the program dies with an `event` (type and
// message describe which protection fired).
void raise_fault(arch::TrapFrame&, int signal, i32 code, u64 address, abi::EventType event, char const* message);

// kill/tgkill/tkill to the program itself (`target` null: any thread that does not block it).
ErrorOr<void> send(int signal, UserThread* target, LinuxSiginfo const&);

ErrorOr<void> set_action(int signal, LinuxSigaction const* new_action, LinuxSigaction* old_action);
// rt_sigreturn: restores the state saved in the frame at the user stack pointer. Returns the restored rax.
ErrorOr<u64> return_from_handler(arch::TrapFrame&);

} // namespace kernite::process::signals
