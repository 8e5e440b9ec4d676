// A KVM virtual machine with one vCPU (Linux Documentation/virt/kvm/api.rst).
#pragma once

#include "guest_memory.h"
#include "result.h"

#include <linux/kvm.h>
#include <memory>
#include <string>

namespace kernite::monitor::kvm {

class Vm {
public:
    // Opens /dev/kvm and checks the API version; the failure message is the reason only.
    static Result<std::unique_ptr<Vm>> open_device();
    ~Vm();
    Vm(Vm const&) = delete;

    // KVM_CREATE_VM, slot 0 = `memory` at GPA 0, in-kernel irqchip, one vCPU with its kvm_run, CPUID.
    Result<Ok> create(GuestMemory& memory);

    int vcpu_fd() const { return m_vcpu_fd; }
    kvm_run* run_area() const { return m_run; }
    u64 run_area_size() const { return m_run_size; }
    u64 tsc_khz() const;
    // The vCPU's RIP, for fatal-exit messages; 0 when unavailable.
    u64 rip() const;

private:
    Vm() = default;
    Result<Ok> set_cpuid();

    int m_device_fd { -1 };
    int m_vm_fd { -1 };
    int m_vcpu_fd { -1 };
    kvm_run* m_run { nullptr };
    u64 m_run_size { 0 };
};

// Puts the vCPU in 64-bit long mode at `entry` with rdi = BootInfo GPA, rsi = boot_magic (abi.h "Boot").
Result<Ok> enter_long_mode(int vcpu_fd, u64 entry_gpa, u64 boot_info_gpa);

} // namespace kernite::monitor::kvm
