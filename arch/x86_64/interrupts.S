/*
 * Entry stubs for all 256 vectors. Each pushes an error code (0 where the CPU does not, SDM Vol. 3A §6.13)
 * and its vector, then joins trap_common, which saves the general registers into an arch::TrapFrame and
 * calls arch_handle_trap(TrapFrame*). The stub table (kernite_trap_stubs) is read by idt.cpp.
 */
    .section .text
    .altmacro

.macro TRAP_STUB vector
    .balign 16
kernite_trap_stub_\vector:
    .if (\vector == 8) || (\vector == 10) || (\vector == 11) || (\vector == 12) || (\vector == 13) || (\vector == 14) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30)
    .else
    pushq $0
    .endif
    pushq $\vector
    jmp trap_common
.endm

.set vec, 0
.rept 256
    TRAP_STUB %vec
    .set vec, vec + 1
.endr

trap_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    cld
    movq %rsp, %rdi
    /* Link a frame so backtraces walk from the handler into the interrupted code. */
    pushq 17*8(%rsp)        /* interrupted rip */
    pushq %rbp
    movq %rsp, %rbp
    call arch_handle_trap
    addq $16, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
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

    .section .note.GNU-stack, "", @progbits
