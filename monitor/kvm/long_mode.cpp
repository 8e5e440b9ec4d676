// Direct entry into 64-bit mode (Intel SDM Vol. 3A 9.8.5 "Initializing IA-32e Mode"): the monitor sets the
// state a boot loader would have built, with paging on and the page tables from boot_layout.cpp.
#include "boot_layout.h"
#include "kvm/vm.h"

#include <cerrno>
#include <cstring>
#include <sys/ioctl.h>

namespace kernite::monitor::kvm {

namespace {

// Intel SDM Vol. 3A 2.5 (control registers) and 2.2.1 (EFER).
constexpr u64 cr0_pe = 1ull << 0;
constexpr u64 cr0_mp = 1ull << 1;
constexpr u64 cr0_et = 1ull << 4;
constexpr u64 cr0_ne = 1ull << 5;
constexpr u64 cr0_wp = 1ull << 16;
constexpr u64 cr0_pg = 1ull << 31;
constexpr u64 cr4_pae = 1ull << 5;
constexpr u64 cr4_osfxsr = 1ull << 9;
constexpr u64 cr4_osxmmexcpt = 1ull << 10;
constexpr u64 efer_sce = 1ull << 0;
constexpr u64 efer_lme = 1ull << 8;
constexpr u64 efer_lma = 1ull << 10;
constexpr u64 efer_nxe = 1ull << 11;

constexpr u16 code_selector = 0x8;
constexpr u16 data_selector = 0x10;

// A flat ring-0 segment (Intel SDM Vol. 3A 3.4.5): code is type 0xb (execute/read, accessed) with L=1, a 64-bit
// code segment; data is type 0x3 (read/write, accessed) with D/B=1.
kvm_segment flat_segment(u16 selector, bool code)
{
    return { .base = 0,
        .limit = 0xffffffff,
        .selector = selector,
        .type = static_cast<u8>(code ? 0xb : 0x3),
        .present = 1,
        .dpl = 0,
        .db = static_cast<u8>(code ? 0 : 1),
        .s = 1,
        .l = static_cast<u8>(code ? 1 : 0),
        .g = 1,
        .avl = 0,
        .unusable = 0,
        .padding = 0 };
}

Failure ioctl_failure(char const* what) { return fail(std::string(what) + " failed: " + std::strerror(errno)); }

} // namespace

Result<Ok> enter_long_mode(int vcpu_fd, u64 entry_gpa, u64 boot_info_gpa)
{
    kvm_sregs sregs {};
    if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
        return ioctl_failure("KVM_GET_SREGS");
    sregs.cr0 = cr0_pe | cr0_mp | cr0_et | cr0_ne | cr0_wp | cr0_pg;
    sregs.cr4 = cr4_pae | cr4_osfxsr | cr4_osxmmexcpt;
    sregs.efer = efer_sce | efer_lme | efer_lma | efer_nxe;
    sregs.cr3 = pml4_gpa;
    sregs.cs = flat_segment(code_selector, true);
    sregs.ds = sregs.es = sregs.ss = sregs.fs = sregs.gs = flat_segment(data_selector, false);
    // The kernel loads its own GDT and IDT before it can take an exception.
    sregs.gdt = { .base = 0, .limit = 0, .padding = {} };
    sregs.idt = { .base = 0, .limit = 0, .padding = {} };
    if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
        return ioctl_failure("KVM_SET_SREGS");

    kvm_regs regs {};
    regs.rip = entry_gpa;
    regs.rdi = boot_info_gpa;
    regs.rsi = abi::boot_magic;
    regs.rflags = 0x2; // bit 1 is reserved and always set; IF = 0
    regs.rsp = 0;      // no stack: the kernel sets its own before the first call
    if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
        return ioctl_failure("KVM_SET_REGS");
    return Ok {};
}

} // namespace kernite::monitor::kvm
