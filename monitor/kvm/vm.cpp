#include "kvm/vm.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace kernite::monitor::kvm {

namespace {

Failure ioctl_failure(char const* what) { return fail(std::string(what) + " failed: " + std::strerror(errno)); }

// KVM_SET_TSS_ADDR: three pages VMX needs for real-mode emulation (unused in long mode, but Intel hosts
// want it set). Placed below 4 GiB where QEMU and Firecracker put it; skipped when RAM would cover it.
constexpr u64 tss_gpa = 0xfffbd000;

// struct kvm_cpuid2 without its entries. g++ gives sizeof(kvm_cpuid2) == 12 for the header's zero-length
// array (C gives 8), which changes the ioctl numbers that encode the size; KVM then answers EINVAL.
struct CpuidHeader {
    u32 nent;
    u32 padding;
};
static_assert(sizeof(CpuidHeader) == 8);
constexpr unsigned long get_supported_cpuid = _IOWR(KVMIO, 0x05, CpuidHeader);
constexpr unsigned long set_cpuid2 = _IOW(KVMIO, 0x90, CpuidHeader);

} // namespace

Result<std::unique_ptr<Vm>> Vm::open_device()
{
    std::unique_ptr<Vm> vm(new Vm);
    vm->m_device_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (vm->m_device_fd < 0)
        return fail(std::string("cannot open /dev/kvm: ") + std::strerror(errno));
    int version = ioctl(vm->m_device_fd, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION)
        return fail("KVM API version " + std::to_string(version) + ", expected " + std::to_string(KVM_API_VERSION));
    return vm;
}

Vm::~Vm()
{
    if (m_run)
        munmap(m_run, m_run_size);
    for (int fd : { m_vcpu_fd, m_vm_fd, m_device_fd }) {
        if (fd >= 0)
            close(fd);
    }
}

Result<Ok> Vm::create(GuestMemory& memory)
{
    m_vm_fd = ioctl(m_device_fd, KVM_CREATE_VM, 0);
    if (m_vm_fd < 0)
        return ioctl_failure("KVM_CREATE_VM");
    kvm_userspace_memory_region region {
        .slot = 0,
        .flags = 0,
        .guest_phys_addr = 0,
        .memory_size = memory.size(),
        .userspace_addr = reinterpret_cast<u64>(memory.host_base_for_kvm()),
    };
    if (ioctl(m_vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return ioctl_failure("KVM_SET_USER_MEMORY_REGION");
    if (memory.size() <= tss_gpa && ioctl(m_vm_fd, KVM_SET_TSS_ADDR, tss_gpa) < 0)
        return ioctl_failure("KVM_SET_TSS_ADDR");
    // The in-kernel LAPIC (the kernel's timer) must exist before the vCPU is created. A split irqchip gives
    // the LAPIC without the in-kernel PIC and IOAPIC, which the kernel does not use: measured here, a full
    // KVM_CREATE_IRQCHIP adds about 14 ms to VM teardown (close of the VM fd), five times a whole boot.
    kvm_enable_cap split_irqchip {};
    split_irqchip.cap = KVM_CAP_SPLIT_IRQCHIP;
    split_irqchip.args[0] = 24; // IOAPIC routes reserved for a userspace IOAPIC (none yet)
    if (ioctl(m_vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SPLIT_IRQCHIP) <= 0
        || ioctl(m_vm_fd, KVM_ENABLE_CAP, &split_irqchip) < 0) {
        if (ioctl(m_vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
            return ioctl_failure("KVM_CREATE_IRQCHIP");
    }
    m_vcpu_fd = ioctl(m_vm_fd, KVM_CREATE_VCPU, 0);
    if (m_vcpu_fd < 0)
        return ioctl_failure("KVM_CREATE_VCPU");
    int run_size = ioctl(m_device_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size < static_cast<int>(sizeof(kvm_run)))
        return ioctl_failure("KVM_GET_VCPU_MMAP_SIZE");
    void* run = mmap(nullptr, static_cast<usize>(run_size), PROT_READ | PROT_WRITE, MAP_SHARED, m_vcpu_fd, 0);
    if (run == MAP_FAILED)
        return ioctl_failure("mmap of kvm_run");
    m_run = static_cast<kvm_run*>(run);
    m_run_size = static_cast<u64>(run_size);
    return set_cpuid();
}

// Passes through what KVM supports. CPUID filtering (hiding features from the guest) will live here.
Result<Ok> Vm::set_cpuid()
{
    for (u32 entries = 128; entries <= 4096; entries *= 2) {
        usize const bytes = sizeof(CpuidHeader) + entries * sizeof(kvm_cpuid_entry2);
        std::unique_ptr<u8[]> storage(new u8[bytes]());
        auto* cpuid = reinterpret_cast<CpuidHeader*>(storage.get());
        cpuid->nent = entries;
        if (ioctl(m_device_fd, get_supported_cpuid, cpuid) < 0) {
            if (errno == E2BIG)
                continue;
            return ioctl_failure("KVM_GET_SUPPORTED_CPUID");
        }
        if (ioctl(m_vcpu_fd, set_cpuid2, cpuid) < 0)
            return ioctl_failure("KVM_SET_CPUID2");
        return Ok {};
    }
    return fail("KVM_GET_SUPPORTED_CPUID: too many entries");
}

u64 Vm::tsc_khz() const
{
    int khz = ioctl(m_vcpu_fd, KVM_GET_TSC_KHZ, 0);
    return khz > 0 ? static_cast<u64>(khz) : 0;
}

u64 Vm::rip() const
{
    kvm_regs regs {};
    if (m_vcpu_fd < 0 || ioctl(m_vcpu_fd, KVM_GET_REGS, &regs) < 0)
        return 0;
    return regs.rip;
}

} // namespace kernite::monitor::kvm
