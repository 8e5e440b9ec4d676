// ring-loop: how fast does guest code run at CPL 0 and at CPL 3 on this KVM? (docs/platform-notes.md)
//
//   ring-loop RING ITERATIONS     RING is 0 or 3
//
// Builds the smallest 64-bit guest that runs `inc ecx; cmp ecx, N; jb` in the requested ring, then does one
// port write. Prints the time of KVM_RUN until that exit and the cost per loop iteration in nanoseconds.
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

enum {
    memory_size = 2 << 20,
    pml4_gpa = 0x1000,
    pdpt_gpa = 0x2000,
    pd_gpa = 0x3000,
    kernel_code_gpa = 0x4000,
    user_code_gpa = 0x4100,
    gdt_gpa = 0x5000,
    stack_top = 0x8000,
    done_port = 0x10,
};

static void die(char const* what)
{
    fprintf(stderr, "ring-loop: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void segment(struct kvm_segment* s, uint16_t selector, uint8_t type, uint8_t dpl, int code)
{
    memset(s, 0, sizeof(*s));
    s->selector = selector;
    s->type = type;
    s->dpl = dpl;
    s->present = 1;
    s->s = 1;
    s->l = code;
    s->db = !code;
    s->g = 1;
    s->limit = 0xffffffff;
}

int main(int argc, char** argv)
{
    if (argc != 3 || (strcmp(argv[1], "0") != 0 && strcmp(argv[1], "3") != 0)) {
        fprintf(stderr, "usage: ring-loop 0|3 ITERATIONS\n");
        return 2;
    }
    int user = argv[1][0] == '3';
    uint32_t iterations = (uint32_t)strtoul(argv[2], NULL, 0);

    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        die("open /dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        die("KVM_CREATE_VM");
    uint8_t* memory = mmap(NULL, memory_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED)
        die("mmap");
    struct kvm_userspace_memory_region region = { 0, 0, 0, memory_size, (uint64_t)(uintptr_t)memory };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        die("KVM_SET_USER_MEMORY_REGION");

    // Identity map of 2 MiB, user-accessible (bit 2) so ring 3 can run from it.
    uint64_t* pml4 = (uint64_t*)(memory + pml4_gpa);
    pml4[0] = pdpt_gpa | 0x7;
    ((uint64_t*)(memory + pdpt_gpa))[0] = pd_gpa | 0x7;
    ((uint64_t*)(memory + pd_gpa))[0] = 0x87;
    // GDT: null, kernel code (0x08), kernel data (0x10), user code (0x18), user data (0x20).
    uint64_t* gdt = (uint64_t*)(memory + gdt_gpa);
    gdt[1] = 0x00af9a000000ffffull;
    gdt[2] = 0x00cf92000000ffffull;
    gdt[3] = 0x00affa000000ffffull;
    gdt[4] = 0x00cff2000000ffffull;

    // The loop: xor ecx,ecx; 1: inc ecx; cmp ecx, N; jb 1b; out done_port, al; hlt
    uint8_t loop[] = { 0x31, 0xc9, 0xff, 0xc1, 0x81, 0xf9, 0, 0, 0, 0, 0x72, 0xf6, 0xe6, done_port, 0xf4 };
    memcpy(loop + 6, &iterations, 4);
    memcpy(memory + user_code_gpa, loop, sizeof(loop));
    // Ring 0 entry: either jump to the loop, or iretq into it at CPL 3 with IOPL 3 (so `out` is allowed).
    uint8_t to_user[] = { 0x6a, 0x23, 0x68, 0x00, 0x80, 0, 0, 0x68, 0x02, 0x30, 0, 0, 0x6a, 0x1b, 0x68, 0x00, 0x41, 0, 0,
        0x48, 0xcf };
    uint8_t to_kernel[] = { 0xe9, 0xfb, 0x00, 0x00, 0x00 }; // jmp user_code_gpa (rel32 from 0x4005)
    if (user)
        memcpy(memory + kernel_code_gpa, to_user, sizeof(to_user));
    else
        memcpy(memory + kernel_code_gpa, to_kernel, sizeof(to_kernel));

    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0)
        die("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run* run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED)
        die("mmap kvm_run");
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
        die("KVM_GET_SREGS");
    sregs.cr3 = pml4_gpa;
    sregs.cr4 = 1u << 5;                                         // PAE
    sregs.cr0 = (1u << 0) | (1u << 1) | (1u << 4) | (1u << 5) | (1u << 16) | (1u << 31);
    sregs.efer = (1u << 8) | (1u << 10);                         // LME | LMA
    sregs.gdt.base = gdt_gpa;
    sregs.gdt.limit = 5 * 8 - 1;
    segment(&sregs.cs, 0x08, 0xb, 0, 1);
    segment(&sregs.ds, 0x10, 0x3, 0, 0);
    sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
        die("KVM_SET_SREGS");
    struct kvm_regs regs;
    memset(&regs, 0, sizeof(regs));
    regs.rip = kernel_code_gpa;
    regs.rsp = stack_top - 0x1000;
    regs.rflags = 0x2;
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
        die("KVM_SET_REGS");

    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) {
            if (errno == EINTR)
                continue;
            die("KVM_RUN");
        }
        if (run->exit_reason == KVM_EXIT_IO && run->io.port == done_port)
            break;
        fprintf(stderr, "ring-loop: unexpected exit %u\n", run->exit_reason);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double ns = (double)(end.tv_sec - start.tv_sec) * 1e9 + (double)(end.tv_nsec - start.tv_nsec);
    printf("ring %d: %u iterations in %.3f ms, %.2f ns per iteration\n", user ? 3 : 0, iterations, ns / 1e6,
        iterations ? ns / iterations : 0.0);
    return 0;
}
