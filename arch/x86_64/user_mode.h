// Ring 3: entering user mode and the `syscall` entry (Intel SDM Vol. 2B SYSCALL/SYSRET, Vol. 3A §5.8.8).
//
// The contained core of isolation mode `ring` (DESIGN.md): the program runs at CPL 3 in its own pages (U/S
// set), the kernel is reached only through `syscall` and interrupts. Issue 3 builds the Linux ABI on top.
// Today one CPU and one user context at a time: the entry uses one kernel stack, `entry_stack_top`, for both
// system calls and interrupts from ring 3 (TSS.RSP0).
#pragma once

#include <ktl/types.h>

namespace kernite::arch {

// What the syscall entry saves, lowest address first (arch/x86_64/user_mode.S builds it). Arguments in the
// Linux order: rdi, rsi, rdx, r10, r8, r9; the number in rax; rcx and r11 hold the user RIP and RFLAGS.
struct SyscallFrame {
    u64 r9, r8, r10, rdx, rsi, rdi;
    u64 number;
    u64 rip, rflags, rsp;
};
static_assert(sizeof(SyscallFrame) == 10 * 8);

// Returns the value for the user's rax. May call leave_user_mode() instead of returning.
using SyscallHandler = u64 (*)(SyscallFrame&);

// EFER.SCE, STAR (kernel and user selectors), LSTAR (the entry), FMASK (IF, TF, DF, AC cleared on entry).
void initialize_user_mode(SyscallHandler);

// Runs user code from `rip` with stack `rsp` (both user-accessible, canonical lower-half addresses) until the
// syscall handler calls leave_user_mode(value); returns that value with interrupts as they were.
u64 run_in_user_mode(u64 rip, u64 rsp, u64 entry_stack_top);

// The nested KVM of our test machines (PVM) executes a ring-3 `syscall` by jumping to LSTAR without leaving
// CPL 3; fetching the (supervisor) entry then page-faults into ring 0 with rcx/r11 = user RIP/RFLAGS, as
// SYSCALL defines (docs/platform-notes.md). The page-fault handler calls this: if `frame` is exactly that
// fault, the system call is served from the trap frame and true is returned (return through iretq); else false.
struct TrapFrame;
bool handle_syscall_from_fault(TrapFrame& frame, u64 fault_address);
u64 syscalls_via_fault(); // how many system calls took that path

// From inside the syscall handler: abandons the user context and returns `value` from run_in_user_mode().
[[noreturn]] void leave_user_mode(u64 value);

} // namespace kernite::arch
