/*
 * Isolation mode `none`: the program runs at CPL 0 (arch/x86_64/user_mode.h "Program privilege"). Used only
 * when the kernel was booted for a ring-0 program; the ring-3 path (user_mode.S, interrupts.S) is untouched.
 *
 * Two problems that ring 3 does not have, and how this file solves them:
 *
 * 1. An interrupt or exception at CPL 0 does not switch stacks (SDM Vol. 3A §6.14.2): the CPU would push its frame
 *    onto the program's stack, over the program's red zone (psABI §3.2.2), and the kernel would run on memory the
 *    program owns. So in this mode every gate uses an IST stack (IST5, the "transfer" stack, or the existing #PF
 *    stack), which the CPU always switches to, and these stubs move the CPU's frame at once: to the top of the
 *    thread's kernel stack if the program was interrupted (the TrapFrame slot where ring-3 entries land), or to
 *    the interrupted kernel stack (16-byte aligned, exactly as the CPU would have pushed it) if the kernel was.
 *
 * 2. CS says nothing (it is 0x08 for kernel and program alike). The stubs decide from state the program does not
 *    choose: kernite_program_running, a per-CPU byte set only by the return path into the program, right
 *    before its iretq, and cleared by every entry from it; and the interrupted RIP, which for program code is in
 *    the lower half (the kernel never executes there). Both must agree for "program"; the frame's place (the
 *    slot at the thread's kernel stack top) then records the answer for the C++ side (arch::is_program_frame).
 *
 * The way back into the program is kernite_program_return: iretq (SYSRET always goes to CPL 3), with IF forced
 * on so that a program's `cli` cannot outlive its next kernel entry.
 */
#include "trap_registers.inc"

    .section .text
    .altmacro

/* The CPU frame on an IST stack, after our error code and vector (7 quadwords). */
#define CPU_RIP 16
#define CPU_RSP 40
/* In a TrapFrame: 15 general registers, vector, error code, then RIP, CS, RFLAGS, RSP, SS. */
#define FRAME_RFLAGS (17 * 8 + 16)

.macro RING0_STUB vector
    .balign 16
kernite_ring0_stub_\vector:
    .if \vector == 14
    jmp ring0_page_fault
    .else
    .if (\vector == 8) || (\vector == 10) || (\vector == 11) || (\vector == 12) || (\vector == 13) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30)
    .else
    pushq $0
    .endif
    pushq $\vector
    jmp ring0_transfer
    .endif
.endm

/*
 * Copies the top `count` quadwords of this stack to just below %rax and switches to them; then restores rax and
 * rbx from the scratch words.
 */
.macro MOVE_FRAME count, scratch
    .set slot, \count - 1
    .rept \count
    movq slot*8(%rsp), %rbx
    movq %rbx, -\count*8+slot*8(%rax)
    .set slot, slot - 1
    .endr
    leaq -\count*8(%rax), %rsp
    movq \scratch+8(%rip), %rbx
    movq \scratch(%rip), %rax
.endm

.set vec, 0
.rept 256
    RING0_STUB %vec
    .set vec, vec + 1
.endr

/*
 * On the transfer stack (IST5), interrupts off (interrupt gate), one CPU: the scratch words are safe. Nothing
 * here can fault except a write to an overflowed kernel stack's guard page, a #PF, which has its own IST stack.
 */
ring0_transfer:
    movq %rax, transfer_scratch(%rip)
    movq %rbx, transfer_scratch+8(%rip)
    cmpb $0, kernite_program_running(%rip)
    je 1f
    movq CPU_RIP(%rsp), %rax
    shrq $47, %rax
    jnz 1f
    /* The program: to the top of this thread's kernel stack, the slot user_frame() names. */
    movb $0, kernite_program_running(%rip)
    movq kernite_syscall_entry_stack(%rip), %rax
    MOVE_FRAME 7, transfer_scratch
    jmp program_trap_common
1:  /* The kernel: onto the interrupted stack, aligned as the CPU aligns it (SDM Vol. 3A §6.14.2). */
    movq CPU_RSP(%rsp), %rax
    andq $-16, %rax
    MOVE_FRAME 7, transfer_scratch
    jmp kernite_trap_common

/*
 * #PF keeps its own IST stack (a kernel stack overflow must be reported from a good stack). A fault of the
 * program goes to the thread's kernel stack, as page_fault_stub does for ring 3; the kernel's stays here.
 */
ring0_page_fault:
    movq %rax, ring0_page_fault_scratch(%rip)
    cmpb $0, kernite_program_running(%rip)
    je 1f
    movq 8(%rsp), %rax              /* RIP: the error code is at 0 */
    shrq $47, %rax
    jnz 1f
    movb $0, kernite_program_running(%rip)
    movq %rbx, ring0_page_fault_scratch+8(%rip)
    movq kernite_syscall_entry_stack(%rip), %rax
    MOVE_FRAME 6, ring0_page_fault_scratch
    pushq $14
    jmp program_trap_common
1:  movq ring0_page_fault_scratch(%rip), %rax
    pushq $14
    jmp kernite_trap_common

/*
 * The `syscall` entry (LSTAR) for a program at CPL 0. As in ring 3, RCX = RIP, R11 = RFLAGS, IF cleared (FMASK),
 * RSP still the program's; CS and SS came from STAR (kernel selectors). Only the program executes `syscall`:
 * if kernite_program_running is clear, the kernel did, which is a kernel bug (ud2: reported as invalid opcode).
 */
    .globl kernite_syscall_entry_ring0
    .type kernite_syscall_entry_ring0, @function
kernite_syscall_entry_ring0:
    cmpb $0, kernite_program_running(%rip)
    je 2f
    movb $0, kernite_program_running(%rip)
    movq %rsp, kernite_syscall_user_rsp(%rip)
    movq kernite_syscall_entry_stack(%rip), %rsp
    pushq $0x10             /* SS: kernel data (descriptors.h) */
    pushq kernite_syscall_user_rsp(%rip)
    pushq %r11              /* RFLAGS */
    pushq $0x08             /* CS: kernel code */
    pushq %rcx              /* RIP */
    pushq $0                /* error code */
    pushq $0x100            /* arch::syscall_vector */
    jmp program_trap_common
2:  ud2
    .size kernite_syscall_entry_ring0, . - kernite_syscall_entry_ring0

/* trap_common for frames of the program (interrupts.S), ending in the way back into the program. */
program_trap_common:
    PUSH_TRAP_REGISTERS
    cld
    movq %rsp, %rdi
    pushq 17*8(%rsp)        /* interrupted rip, for backtraces */
    pushq %rbp
    movq %rsp, %rbp
    call arch_handle_trap
    addq $16, %rsp
    /* RSP points at the TrapFrame in the slot; also the way in for a new thread (arch_enter_program_ring0). */
kernite_program_return:
    orq $0x200, FRAME_RFLAGS(%rsp)  /* IF */
    POP_TRAP_REGISTERS
    addq $16, %rsp          /* vector and error code */
    /* From here to the program's first instruction only NMI, #MC or a faulting iretq can intervene; their
     * RIP is in kernel text, so the stubs above still treat them as the kernel's. */
    movb $1, kernite_program_running(%rip)
    iretq

/* [[noreturn]] void arch_enter_program_ring0(TrapFrame* frame [rdi]) */
    .globl arch_enter_program_ring0
    .type arch_enter_program_ring0, @function
arch_enter_program_ring0:
    movq %rdi, %rsp
    jmp kernite_program_return
    .size arch_enter_program_ring0, . - arch_enter_program_ring0

.macro RING0_STUB_ADDRESS vector
    .quad kernite_ring0_stub_\vector
.endm

    .section .data.rel.ro, "aw"
    .balign 8
    .globl kernite_ring0_trap_stubs
kernite_ring0_trap_stubs:
.set vec, 0
.rept 256
    RING0_STUB_ADDRESS %vec
    .set vec, vec + 1
.endr

    .section .bss
    .balign 16
    .globl kernite_program_running
kernite_program_running:
    .byte 0
    .balign 8
transfer_scratch:
    .quad 0, 0
ring0_page_fault_scratch:     /* its own: a #PF can interrupt ring0_transfer (an overflowed kernel stack) */
    .quad 0, 0
    /* The transfer stack (TSS.IST5): the CPU's frame lives here only until ring0_transfer moves it. */
    .balign 16
    .globl kernite_transfer_stack_top
    .skip 512
kernite_transfer_stack_top:

    .section .note.GNU-stack, "", @progbits
