// The physical floor of a Kernite boot on KVM (bench/run.sh figure boot_floor_ms).
//
// The least a whole process can do to run 64-bit guest code: open /dev/kvm, create a VM and one vCPU, give it
// 2 MiB of memory, identity-map that memory with one 2 MiB page, enter long mode directly through the special
// registers, run a 3-byte program (`out %al, $0x10; hlt`) until its port write exits to us, and tear down.
// Every `kernite run` does at least this work, so `kernite run` / floor says what Kernite itself costs.
// No irqchip, no CPUID setup, no hypercall ABI: those are Kernite's costs, not the floor's.
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

enum {
    guest_memory_size = 2 * 1024 * 1024,
    pml4_gpa = 0x1000,
    pdpt_gpa = 0x2000,
    pd_gpa = 0x3000,
    code_gpa = 0x4000,
    exit_port = 0x10,
};

// Intel SDM Vol. 3A 4.5: paging-structure entry bits.
#define PTE_PRESENT (1ULL << 0)
#define PTE_WRITABLE (1ULL << 1)
#define PTE_LARGE (1ULL << 7) // PS: 2 MiB page in a page-directory entry

// Intel SDM Vol. 3A 2.5: control registers; 2.2.1: EFER.
#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_WP (1ULL << 16)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

static void die(char const* what)
{
    fprintf(stderr, "kvm-floor: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void set_segment(struct kvm_segment* segment, uint16_t selector, uint8_t type, int code)
{
    memset(segment, 0, sizeof(*segment));
    segment->base = 0;
    segment->limit = 0xffffffff;
    segment->selector = selector;
    segment->type = type;
    segment->present = 1;
    segment->dpl = 0;
    segment->s = 1; // code or data, not system
    segment->l = code;
    segment->db = !code;
    segment->g = 1;
}

int main(void)
{
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        die("open /dev/kvm");
    if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
        fprintf(stderr, "kvm-floor: unexpected KVM API version\n");
        return 1;
    }
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        die("KVM_CREATE_VM");

    uint8_t* memory
        = mmap(NULL, guest_memory_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED)
        die("mmap guest memory");
    struct kvm_userspace_memory_region region = {
        .slot = 0,
        .flags = 0,
        .guest_phys_addr = 0,
        .memory_size = guest_memory_size,
        .userspace_addr = (uint64_t)(uintptr_t)memory,
    };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        die("KVM_SET_USER_MEMORY_REGION");

    // Identity map [0, 2 MiB) with one 2 MiB page: PML4[0] -> PDPT[0] -> PD[0] (large).
    uint64_t* pml4 = (uint64_t*)(memory + pml4_gpa);
    uint64_t* pdpt = (uint64_t*)(memory + pdpt_gpa);
    uint64_t* pd = (uint64_t*)(memory + pd_gpa);
    pml4[0] = pdpt_gpa | PTE_PRESENT | PTE_WRITABLE;
    pdpt[0] = pd_gpa | PTE_PRESENT | PTE_WRITABLE;
    pd[0] = 0 | PTE_PRESENT | PTE_WRITABLE | PTE_LARGE;

    static uint8_t const program[] = {
        0xe6, exit_port, // out %al, $0x10
        0xf4,            // hlt
    };
    memcpy(memory + code_gpa, program, sizeof(program));

    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0)
        die("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size < (int)sizeof(struct kvm_run))
        die("KVM_GET_VCPU_MMAP_SIZE");
    struct kvm_run* run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED)
        die("mmap kvm_run");

    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
        die("KVM_GET_SREGS");
    sregs.cr3 = pml4_gpa;
    sregs.cr4 = CR4_PAE;
    sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
    sregs.efer = EFER_LME | EFER_LMA;
    set_segment(&sregs.cs, 0x08, 0xb, 1); // execute/read, accessed, 64-bit
    set_segment(&sregs.ds, 0x10, 0x3, 0); // read/write, accessed
    sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
        die("KVM_SET_SREGS");

    struct kvm_regs regs;
    memset(&regs, 0, sizeof(regs));
    regs.rip = code_gpa;
    regs.rax = 42;
    regs.rflags = 0x2; // bit 1 is reserved and must be set
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
        die("KVM_SET_REGS");

    for (;;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) {
            if (errno == EINTR)
                continue;
            die("KVM_RUN");
        }
        if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT && run->io.port == exit_port) {
            uint8_t value = *((uint8_t*)run + run->io.data_offset);
            if (value != 42) {
                fprintf(stderr, "kvm-floor: guest wrote %u, expected 42\n", value);
                return 1;
            }
            return 0;
        }
        fprintf(stderr, "kvm-floor: unexpected exit reason %u\n", run->exit_reason);
        return 1;
    }
}
