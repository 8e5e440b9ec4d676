// A test guest that reports the boot modules it was given, for modules_test.py: no kernel needed, so the
// monitor's side of `kernite run APP` is checked on its own. Linked like tests/fixtures/guest.S (same linker
// script: high-half virtual addresses, physical load addresses from 1 MiB).
//
// Kernite monitor (64-bit entry, rdi = BootInfo, identity map, no stack): checks that each BootInfo.modules[i]
// is page-aligned and lies inside one memory region of type Reserved, then writes, with Console hypercalls on
// stdout, its 48-byte name field, its 8-byte size field and its bytes (at most 64 KiB each); then one Output
// hypercall with stdout and stderr records (binary bytes included); exits with status module_count.
//
// QEMU/PVH (32-bit entry, ebx = hvm_start_info): writes its one PVH module (the module bundle) as a
// "\x1e kernite-out 1 <hex>" marker line, then the exit marker with status nr_modules, and ends QEMU.

#define KERNEL_VMA_OFFSET 0xffffffff80000000
#define PHYS(symbol) ((symbol) - KERNEL_VMA_OFFSET)
#define HYPERCALL_PORT 0x500
#define HC_CONSOLE 0
#define HC_EXIT 1
#define HC_OUTPUT 5
#define COM1 0x3f8

// BootInfo (abi/kernite/abi.h), offsets pinned there by static_assert.
#define BOOT_REGION_COUNT 92
#define BOOT_REGIONS 96
#define BOOT_MODULE_COUNT 480
#define BOOT_MODULES 488
#define MEMORY_TYPE_RESERVED 2

.macro hypercall number, request
    lea \request(%rip), %rax
    mov $(HYPERCALL_PORT + \number), %dx
    out %eax, %dx
.endm

.macro fail_with status
    movl $\status, exit_request(%rip)
    hypercall HC_EXIT, exit_request
    ud2
.endm

    .section .text, "ax"
    .code64
    .globl _start
_start:
    mov %rdi, %rbx                      // BootInfo
    mov BOOT_MODULE_COUNT(%rbx), %r12d
    cmp $4, %r12d
    ja .Lbad_count
    xor %r13d, %r13d                    // module index
.Lnext_module:
    cmp %r12d, %r13d
    jae .Lmodules_done
    mov %r13, %rax
    shl $6, %rax
    lea BOOT_MODULES(%rbx, %rax), %r14  // BootModule { gpa, size, name[48] }
    mov (%r14), %r15
    test $0xfff, %r15
    jnz .Lunaligned
    // The region that contains [gpa, gpa + size) must be Reserved.
    mov BOOT_REGION_COUNT(%rbx), %ecx
    lea BOOT_REGIONS(%rbx), %rsi
.Lnext_region:
    test %ecx, %ecx
    jz .Lnot_in_map
    mov (%rsi), %rax                    // base
    cmp %rax, %r15
    jb .Lskip_region
    add 8(%rsi), %rax                   // end
    mov %r15, %rdx
    add 8(%r14), %rdx                   // module end
    cmp %rax, %rdx
    ja .Lskip_region
    cmpl $MEMORY_TYPE_RESERVED, 16(%rsi)
    jne .Lnot_reserved
    jmp .Lreport
.Lskip_region:
    add $24, %rsi
    dec %ecx
    jmp .Lnext_region
.Lreport:
    lea 16(%r14), %rax
    mov %rax, console_request(%rip)
    movl $48, console_request + 8(%rip)
    hypercall HC_CONSOLE, console_request
    lea 8(%r14), %rax
    mov %rax, console_request(%rip)
    movl $8, console_request + 8(%rip)
    hypercall HC_CONSOLE, console_request
    mov 8(%r14), %rax
    cmp $65536, %rax
    ja .Ltoo_big
    mov %r15, console_request(%rip)
    mov %eax, console_request + 8(%rip)
    hypercall HC_CONSOLE, console_request
    inc %r13d
    jmp .Lnext_module
.Lmodules_done:
    hypercall HC_OUTPUT, output_request
    cmpq $0, output_request + 16(%rip)
    jne .Lbad_output
    mov %r12d, exit_request(%rip)
    hypercall HC_EXIT, exit_request
    ud2
.Lbad_count: fail_with 80
.Lunaligned: fail_with 81
.Lnot_in_map: fail_with 82
.Lnot_reserved: fail_with 83
.Ltoo_big: fail_with 84
.Lbad_output: fail_with 85

    .code32
pvh_start:
    mov $PHYS(pvh_stack_top), %esp
    mov 12(%ebx), %edi                  // hvm_start_info.nr_modules
    test %edi, %edi
    jz 1f
    mov $PHYS(output_prefix), %esi
    call print_string
    mov 16(%ebx), %eax                  // modlist_paddr (below 4 GiB here)
    mov (%eax), %esi                    // modlist[0].paddr
    mov 8(%eax), %ecx                   // modlist[0].size
    call print_hex
    mov $'\n', %al
    mov $COM1, %dx
    outb %al, %dx
1:  mov $PHYS(exit_prefix), %esi
    call print_string
    mov %edi, %eax
    add $'0', %al
    mov $COM1, %dx
    outb %al, %dx
    mov $PHYS(exit_suffix), %esi
    call print_string
    mov $0xf4, %dx                      // isa-debug-exit
    xor %eax, %eax
    outb %al, %dx
2:  hlt
    jmp 2b

// esi: NUL-terminated string. Clobbers eax, edx, esi.
print_string:
    mov $COM1, %dx
1:  lodsb
    test %al, %al
    jz 2f
    outb %al, %dx
    jmp 1b
2:  ret

// esi: bytes, ecx: count; two lowercase hex digits per byte. Clobbers eax, ecx, edx, esi.
print_hex:
    mov $COM1, %dx
1:  test %ecx, %ecx
    jz 2f
    movzbl (%esi), %eax
    shr $4, %eax
    movb PHYS(hex_digits)(%eax), %al
    outb %al, %dx
    movzbl (%esi), %eax
    and $0xf, %eax
    movb PHYS(hex_digits)(%eax), %al
    outb %al, %dx
    inc %esi
    dec %ecx
    jmp 1b
2:  ret

    .section .rodata, "a"
hex_digits: .ascii "0123456789abcdef"
output_prefix: .asciz "\036kernite-out 1 "
exit_prefix: .asciz "\036kernite-exit "
exit_suffix: .asciz " 0\n"

    .section .note.Xen, "a"
    .p2align 2
    .long 4, 8, 18 // namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .p2align 2
    .quad PHYS(pvh_start)

    .section .data, "aw"
    .p2align 3
console_request: .quad 0; .long 0, 1; .quad 0 // HcConsole on stdout
exit_request: .long 0, 0                       // HcExit, reason Normal
    .p2align 3
output_records:                                // OutputRecord { stream, length } + bytes, 8-byte aligned
    .long 1, 10
    .ascii "to stdout\n"
    .p2align 3
    .long 2, 5
    .byte 'e', 0, 0xff, 0x1e, '\n'
    .p2align 3
    .long 1, 0
    .long 1, 3
    .byte 0x00, 0x0a, 0xfe
output_records_end:
    .p2align 3
output_request: .quad PHYS(output_records); .long output_records_end - output_records, 0; .quad -1
    .p2align 4
pvh_stack: .fill 256, 1, 0
pvh_stack_top:
