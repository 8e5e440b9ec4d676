/*
 * The two ways into the kernel. Both end in kernel_early() (kernel/boot/early.cpp) on the loader's identity
 * map, which returns the hand-off to the relocated high half.
 *
 *  kernite_entry64: direct 64-bit entry from the Kernite monitor (abi/kernite/abi.h): long mode is on,
 *                   rdi = BootInfo GPA, rsi = boot_magic, no stack, interrupts off.
 *  kernite_pvh_entry32: the Xen PVH entry used by QEMU (xen/include/public/arch-x86/hvm/start_info.h):
 *                   32-bit protected mode, paging off, ebx = hvm_start_info GPA, no stack.
 */
#include "boot_protocol.h"

    .section .text.boot32, "ax"
    .code32
    .globl kernite_pvh_entry32
kernite_pvh_entry32:
    cli
    cld
    /*
     * Position-independent 32-bit code: a PIE link cannot hold absolute 32-bit addresses, so learn EIP with
     * call/pop. That needs 4 bytes of stack: borrow the dword just past start_info (saved and restored).
     */
    movl %ebx, %edi                     /* start_info GPA, kept for the 64-bit part */
    movl (PVH_START_INFO_SIZE + 12)(%ebx), %ecx
    leal (PVH_START_INFO_SIZE + 16)(%ebx), %esp
    call 1f
1:  popl %ebp                           /* ebp = physical address of 1b */
    movl %ecx, (PVH_START_INFO_SIZE + 12)(%ebx)
    leal (__boot_stack_top - 1b)(%ebp), %esp

    /*
     * Temporary identity map of the first 1 GiB: PML4[0] -> PDPT[0] -> PD, 2 MiB pages, except the first 2 MiB
     * (the kernel image, its frame bitmap and its first page tables), which go through a PT with 4 KiB pages.
     * Why: under shadow paging (PLATFORM.md: the KVM here is nested through PVM) every write into a guest
     * 2 MiB page that also holds guest page tables is emulated, which made early boot 300 ms slower.
     */
    leal (__pvh_tables - 1b)(%ebp), %ebx
    leal 0x1003(%ebx), %eax             /* PDPT | present | writable */
    movl %eax, 0(%ebx)
    leal 0x2003(%ebx), %eax             /* PD | present | writable */
    movl %eax, 0x1000(%ebx)
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax                     /* present | writable | 2 MiB */
    movl %eax, 0x2000(%ebx, %ecx, 8)
    movl $0, 0x2004(%ebx, %ecx, 8)
    incl %ecx
    cmpl $512, %ecx
    jb 2b
    leal 0x3003(%ebx), %eax             /* PD[0] -> PT | present | writable */
    movl %eax, 0x2000(%ebx)
    xorl %ecx, %ecx
3:  movl %ecx, %eax
    shll $12, %eax
    orl $0x3, %eax                      /* present | writable, 4 KiB */
    movl %eax, 0x3000(%ebx, %ecx, 8)
    movl $0, 0x3004(%ebx, %ecx, 8)
    incl %ecx
    cmpl $512, %ecx
    jb 3b

    movl %cr4, %eax
    orl $(1 << 5), %eax                 /* CR4.PAE */
    movl %eax, %cr4
    movl %ebx, %cr3
    movl $0xc0000080, %ecx              /* IA32_EFER */
    rdmsr
    orl $((1 << 8) | (1 << 11)), %eax   /* LME | NXE */
    wrmsr
    movl %cr0, %eax
    orl $((1 << 31) | (1 << 16) | 1), %eax /* PG | WP | PE */
    movl %eax, %cr0

    /* lgdt needs a pseudo-descriptor holding the GDT's physical address: build it on the stack. */
    subl $8, %esp
    movw $(kernite_pvh_gdt_end - kernite_pvh_gdt - 1), (%esp)
    leal (kernite_pvh_gdt - 1b)(%ebp), %eax
    movl %eax, 2(%esp)
    lgdt (%esp)
    addl $8, %esp
    pushl $0x08
    leal (kernite_pvh_entry64 - 1b)(%ebp), %eax
    pushl %eax
    lret

    .code64
    .globl kernite_pvh_entry64
kernite_pvh_entry64:
    movl $0x10, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    xorl %eax, %eax
    movl %eax, %fs
    movl %eax, %gs
    movl %edi, %esi                     /* start_info GPA (zero-extended) */
    movl $KERNITE_BOOT_PVH, %edi
    xorl %edx, %edx
    jmp kernite_common_entry64

    .section .text.boot, "ax"
    .globl kernite_entry64
kernite_entry64:
    cli
    cld
    movq %rsi, %rdx                     /* boot_magic, checked in C++ */
    movq %rdi, %rsi                     /* BootInfo GPA */
    movl $KERNITE_BOOT_MONITOR, %edi
kernite_common_entry64:
    leaq __boot_stack_top(%rip), %rsp   /* identity address of the boot stack */
    xorl %ebp, %ebp
    call kernel_early                   /* -> rax = HandOff* (identity address) */
    movq HANDOFF_CR3(%rax), %rcx
    movq HANDOFF_STACK(%rax), %rsp      /* loaded before CR3 changes: the identity stack disappears */
    movq HANDOFF_ENTRY(%rax), %rdx
    movq HANDOFF_ARGUMENT(%rax), %rdi
    movq %rcx, %cr3
    xorl %ebp, %ebp
    pushq $0                            /* terminates frame-pointer backtraces */
    jmp *%rdx

    /* GDT for the PVH path's switch to long mode: null, 64-bit code (0x08), data (0x10). */
    .section .rodata
    .balign 16
    .globl kernite_pvh_gdt
kernite_pvh_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
kernite_pvh_gdt_end:

/*
 * Xen PVH ELF note (XEN_ELFNOTE_PHYS32_ENTRY = 18): the physical address of the 32-bit entry.
 * QEMU's ELF loader reads it from the PT_NOTE segment when booting with -kernel.
 */
    .section .note.xen, "a"
    .balign 4
    .long 4                             /* namesz */
    .long 4                             /* descsz */
    .long 18                            /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long KERNITE_PVH_ENTRY_PHYS        /* kernel.ld asserts the entry is there */

    .section .note.GNU-stack, "", @progbits
