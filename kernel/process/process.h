// The one program a Kernite VM runs (issue 3): its threads, signal dispositions and run-time settings. There is
// exactly one process (pid 1); fork/exec do not exist. Its memory map lives in kernel/process/memory.h, its
// files in kernel/fs (over libs/vfs).
#pragma once

#include <arch/x86_64/trap_frame.h>
#include <arch/x86_64/user_mode.h>
#include <kernel/boot/boot_params.h>
#include <kernel/process/linux_signal.h>
#include <kernel/sched/thread.h>
#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::process {

inline constexpr u64 process_id = 1;

enum class Isolation : u8 {
    Ring, // the program runs in ring 3 (default)
    None, // in ring 0 beside the kernel (arch::ProgramPrivilege::Ring0; docs/security-model.md "Isolation none")
};

// A thread of the program. Lives until the thread exits; `sched_thread` runs it.
struct UserThread {
    alignas(16) u8 fpu[arch::fpu_state_size];
    u64 tid { 0 };
    sched::Thread* sched_thread { nullptr };
    u64 signal_mask { 0 };
    u64 pending { 0 };                       // signals directed at this thread
    LinuxSiginfo pending_info[max_signal + 1]; // what a pending synchronous signal carries
    u64 clear_child_tid { 0 };               // CLONE_CHILD_CLEARTID / set_tid_address
    u64 robust_list { 0 };
    u64 robust_list_length { 0 };
    LinuxStack alternate_stack { 0, linux_ss_disable, 0, 0 };
    bool in_signal_handler_on_alternate_stack { false };
    UserThread* next { nullptr };
};

struct Settings {
    bool strace { false };
    bool verbose { false };
    bool relaxed_wx { false };
    Isolation isolation { Isolation::Ring };
};

Settings const& settings();
void configure(BootParams const&);

// The thread making the current system call (never null inside a system call or a user trap).
UserThread& current_thread();
u64 thread_count();
UserThread* thread_list();

// Creates the UserThread for a new program thread whose ring-3 state is `initial` and starts it.
ErrorOr<UserThread*> spawn_thread(arch::TrapFrame const& initial, u64 fs_base, u64 signal_mask);

// Ends the calling thread (SYS_exit): clears and wakes clear_child_tid; the process ends with the last thread.
[[noreturn]] void exit_thread(int status);
// Ends the whole program with `status` (SYS_exit_group): flushes its output, stops the VM.
[[noreturn]] void exit_group(int status);
// Kills the program with a signal (default action of a fatal signal): exit status 128 + signal.
[[noreturn]] void kill_with_signal(int signal);

} // namespace kernite::process
