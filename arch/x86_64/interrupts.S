/*
 * Entry stubs for all 256 vectors. Each pushes an error code (0 where the CPU does not, SDM Vol. 3A §6.13)
 * and its vector, then joins trap_common, which saves the general registers into an arch::TrapFrame and
 * calls arch_handle_trap(TrapFrame*). The stub table (kernite_trap_stubs) is read by idt.cpp.
 */
#include "trap_registers.inc"

    .section .text
    .altmacro

.macro TRAP_STUB vector
    .balign 16
kernite_trap_stub_\vector:
    .if \vector == 14
    jmp page_fault_stub
    .else
    .if (\vector == 8) || (\vector == 10) || (\vector == 11) || (\vector == 12) || (\vector == 13) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30)
    .else
    pushq $0
    .endif
    pushq $\vector
    jmp trap_common
    .endif
.endm

.set vec, 0
.rept 256
    TRAP_STUB %vec
    .set vec, vec + 1
.endr

/*
 * #PF runs on an IST stack (so a kernel stack overflow can still be reported). A fault from ring 3 must not
 * stay there: it may block (a system call arriving this way under PVM, user_mode.h) or deliver a signal. Move
 * the CPU's frame (error code, RIP, CS, RFLAGS, RSP, SS) to the thread's kernel stack, where every other entry
 * from ring 3 lands, and go on from there. Interrupts are off (interrupt gate) and there is one CPU, so the two
 * scratch words are safe.
 */
page_fault_stub:
    testb $3, 16(%rsp)
    jz 1f
    movq %rax, page_fault_scratch(%rip)
    movq %rbx, page_fault_scratch+8(%rip)
    movq kernite_syscall_entry_stack(%rip), %rax
    movq 40(%rsp), %rbx
    movq %rbx, -8(%rax)
    movq 32(%rsp), %rbx
    movq %rbx, -16(%rax)
    movq 24(%rsp), %rbx
    movq %rbx, -24(%rax)
    movq 16(%rsp), %rbx
    movq %rbx, -32(%rax)
    movq 8(%rsp), %rbx
    movq %rbx, -40(%rax)
    movq (%rsp), %rbx
    movq %rbx, -48(%rax)
    leaq -48(%rax), %rsp
    movq page_fault_scratch+8(%rip), %rbx
    movq page_fault_scratch(%rip), %rax
1:  pushq $14
    jmp trap_common

    .globl kernite_trap_common
kernite_trap_common:
trap_common:
    PUSH_TRAP_REGISTERS
    cld
    movq %rsp, %rdi
    /* Link a frame so backtraces walk from the handler into the interrupted code. */
    pushq 17*8(%rsp)        /* interrupted rip */
    pushq %rbp
    movq %rsp, %rbp
    call arch_handle_trap
    addq $16, %rsp
    /* Also the way into ring 3 for a new thread or program (arch_enter_user): RSP points at a TrapFrame. */
    .globl kernite_trap_return
kernite_trap_return:
    POP_TRAP_REGISTERS
    addq $16, %rsp          /* vector and error code */
    iretq

.macro STUB_ADDRESS vector
    .quad kernite_trap_stub_\vector
.endm

/* Relocated at boot like every other absolute address in data. */
    .section .data.rel.ro, "aw"
    .balign 8
    .globl kernite_trap_stubs
kernite_trap_stubs:
.set vec, 0
.rept 256
    STUB_ADDRESS %vec
    .set vec, vec + 1
.endr

    .section .bss
    .balign 8
page_fault_scratch:
    .quad 0, 0

    .section .note.GNU-stack, "", @progbits
