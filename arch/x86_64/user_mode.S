/*
 * User mode entry and exit, and the `syscall` entry point (arch/x86_64/user_mode.h).
 */
#include "callee_saved.inc"

    .section .text

/*
 * u64 arch_enter_user(u64 rip [rdi], u64 rsp [rsi], u64* saved_kernel_rsp [rdx])
 * Saves the kernel's callee-saved registers and RSP, then iretq into ring 3 (SDM Vol. 3A §6.14.3: the frame is
 * SS, RSP, RFLAGS, CS, RIP). Returns when arch_leave_user restores that context.
 */
    .globl arch_enter_user
    .type arch_enter_user, @function
arch_enter_user:
    PUSH_CALLEE_SAVED
    movq %rsp, (%rdx)
    pushq $0x1b             /* SS: user data, RPL 3 (descriptors.h) */
    pushq %rsi              /* RSP */
    pushq $0x202            /* RFLAGS: IF, reserved bit 1 */
    pushq $0x23             /* CS: user code, RPL 3 */
    pushq %rdi              /* RIP */
    /* No kernel values may reach ring 3: clear every general register the user can read. */
    xorl %eax, %eax
    xorl %ebx, %ebx
    xorl %ecx, %ecx
    xorl %edx, %edx
    xorl %esi, %esi
    xorl %edi, %edi
    xorl %ebp, %ebp
    xorl %r8d, %r8d
    xorl %r9d, %r9d
    xorl %r10d, %r10d
    xorl %r11d, %r11d
    xorl %r12d, %r12d
    xorl %r13d, %r13d
    xorl %r14d, %r14d
    xorl %r15d, %r15d
    iretq
    .size arch_enter_user, . - arch_enter_user

/* [[noreturn]] void arch_leave_user(u64 saved_kernel_rsp [rdi], u64 value [rsi]) */
    .globl arch_leave_user
    .type arch_leave_user, @function
arch_leave_user:
    movq %rdi, %rsp
    movq %rsi, %rax
    POP_CALLEE_SAVED
    ret
    .size arch_leave_user, . - arch_leave_user

/*
 * The `syscall` entry (LSTAR). The CPU left the user RIP in rcx, RFLAGS in r11, and cleared IF (FMASK); RSP is
 * still the user's. Switch to the entry stack, save an arch::SyscallFrame, call the handler, sysretq.
 * Linux's convention: every register but rax, rcx, r11 survives the call.
 */
    .globl kernite_syscall_entry
    .type kernite_syscall_entry, @function
kernite_syscall_entry:
    movq %rsp, kernite_syscall_user_rsp(%rip)
    movq kernite_syscall_entry_stack(%rip), %rsp
    pushq kernite_syscall_user_rsp(%rip)
    pushq %r11
    pushq %rcx
    pushq %rax
    pushq %rdi
    pushq %rsi
    pushq %rdx
    pushq %r10
    pushq %r8
    pushq %r9
    xorl %ebp, %ebp         /* backtraces stop at the user boundary */
    movq %rsp, %rdi
    call arch_dispatch_syscall
    popq %r9
    popq %r8
    popq %r10
    popq %rdx
    popq %rsi
    popq %rdi
    addq $8, %rsp           /* the number; the result is in rax */
    popq %rcx
    popq %r11
    popq %rsp
    sysretq
    .size kernite_syscall_entry, . - kernite_syscall_entry

    .section .note.GNU-stack, "", @progbits
