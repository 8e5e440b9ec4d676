/*
 * Kernel thread switch (declared in arch/x86_64/context_switch.h). Only the System V callee-saved registers
 * (rbx, rbp, r12-r15) and RSP need saving: the caller is a C++ function that expects everything else clobbered.
 * No SSE/x87 state: the kernel is built with -mgeneral-regs-only. RFLAGS is not switched: interrupts are off
 * on both sides of the switch and each thread restores its own IF when it leaves the scheduler.
 */
#include "callee_saved.inc"

    .section .text

/* void arch_context_switch(u64* save_rsp [rdi], u64 next_rsp [rsi]) */
    .globl arch_context_switch
    .type arch_context_switch, @function
arch_context_switch:
    PUSH_CALLEE_SAVED
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    POP_CALLEE_SAVED
    ret
    .size arch_context_switch, . - arch_context_switch

/*
 * A new thread's first instructions. prepare_thread_stack left r12 = entry, r13 = argument, r14 = exit and a
 * 16-byte aligned RSP, so each call below enters its callee with the ABI's alignment (RSP + 8 = 0 mod 16).
 */
    .globl arch_thread_trampoline
    .type arch_thread_trampoline, @function
arch_thread_trampoline:
    xorl %ebp, %ebp         /* ends frame-pointer backtraces here */
    sti                     /* the switch into us ran with interrupts off */
    movq %r13, %rdi
    call *%r12              /* int entry(void*) */
    movl %eax, %edi
    call *%r14              /* [[noreturn]] void exit(int) */
    ud2                     /* exit returned: never; ud2 traps (no int3 under PVM, see PLATFORM.md) */
    .size arch_thread_trampoline, . - arch_thread_trampoline

    .section .note.GNU-stack, "", @progbits
