/*
 * Ring-3 entry and exit, the `syscall` entry point, and user-memory copies with fault recovery
 * (arch/x86_64/user_mode.h). Every path into the kernel from ring 3 leaves an arch::TrapFrame at the top of the
 * thread's kernel stack and every path back is kernite_trap_return (interrupts.S): pop the frame, iretq.
 */
    .section .text

/*
 * The `syscall` entry (LSTAR). The CPU left the user RIP in rcx, RFLAGS in r11 and cleared IF (FMASK); RSP is
 * still the user's. Switch to the thread's kernel stack and build the same frame an interrupt from ring 3 builds
 * (SDM Vol. 3A §6.14.2: SS, RSP, RFLAGS, CS, RIP, then our error code and vector), so the rest is trap_common.
 * Linux's convention holds: every register but rax, rcx and r11 survives the call.
 */
    .globl kernite_syscall_entry
    .type kernite_syscall_entry, @function
kernite_syscall_entry:
    movq %rsp, kernite_syscall_user_rsp(%rip)
    movq kernite_syscall_entry_stack(%rip), %rsp
    pushq $0x1b             /* SS: user data | 3 (descriptors.h) */
    pushq kernite_syscall_user_rsp(%rip)
    pushq %r11              /* RFLAGS */
    pushq $0x23             /* CS: user code | 3 */
    pushq %rcx              /* RIP */
    pushq $0                /* error code */
    pushq $0x100            /* arch::syscall_vector */
    jmp kernite_trap_common
    .size kernite_syscall_entry, . - kernite_syscall_entry

/* [[noreturn]] void arch_enter_user(TrapFrame* frame [rdi]) */
    .globl arch_enter_user
    .type arch_enter_user, @function
arch_enter_user:
    movq %rdi, %rsp
    jmp kernite_trap_return
    .size arch_enter_user, . - arch_enter_user

/*
 * User copies. A page fault whose RIP lies in [kernite_user_copy_start, kernite_user_copy_end) and whose address
 * is a user address is resolved on demand or redirected to kernite_user_copy_fault, which makes the routine that
 * faulted return -1 to its caller (none of them keeps anything on the stack).
 *
 * i64 arch_copy_user(void* dst [rdi], void const* src [rsi], u64 n [rdx])     -> 1 ok, -1 fault
 * i64 arch_clear_user(void* dst [rdi], u64 n [rsi])                          -> 1 ok, -1 fault
 * i64 arch_copy_string_user(char* dst [rdi], char const* src [rsi], u64 cap [rdx])
 *       -> length without the NUL, -2 when no NUL within cap, -1 fault
 */
    .globl kernite_user_copy_start, kernite_user_copy_end, kernite_user_copy_fault
kernite_user_copy_start:

    .globl arch_copy_user
    .type arch_copy_user, @function
arch_copy_user:
    movq %rdx, %rcx
    rep movsb
    movl $1, %eax
    ret
    .size arch_copy_user, . - arch_copy_user

    .globl arch_clear_user
    .type arch_clear_user, @function
arch_clear_user:
    movq %rsi, %rcx
    xorl %eax, %eax
    rep stosb
    movl $1, %eax
    ret
    .size arch_clear_user, . - arch_clear_user

    .globl arch_copy_string_user
    .type arch_copy_string_user, @function
arch_copy_string_user:
    xorl %eax, %eax
1:  cmpq %rdx, %rax
    jae 3f
    movzbl (%rsi,%rax), %ecx
    movb %cl, (%rdi,%rax)
    testb %cl, %cl
    jz 2f
    incq %rax
    jmp 1b
2:  ret
3:  movq $-2, %rax
    ret
    .size arch_copy_string_user, . - arch_copy_string_user

kernite_user_copy_end:

/* Where a faulting copy resumes: the routines above keep nothing on the stack, so `ret` returns to their caller. */
kernite_user_copy_fault:
    movq $-1, %rax
    ret

    .section .note.GNU-stack, "", @progbits
