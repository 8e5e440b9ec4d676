// Thin wrappers over x86-64 instructions. Register layouts are typed in the headers next to their users
// (paging: libs/paging/pte.h; descriptors: gdt.h, idt.h).
#pragma once

#include <ktl/types.h>

namespace kernite::arch {

// Control-register and MSR bits used by the kernel (Intel SDM Vol. 3A §2.5, Table 2-2; Vol. 4 for MSRs).
inline constexpr u64 cr0_wp = 1ull << 16;
inline constexpr u64 cr4_umip = 1ull << 11;
inline constexpr u64 cr4_smep = 1ull << 20;
inline constexpr u64 cr4_smap = 1ull << 21;
inline constexpr u32 msr_efer = 0xc0000080;
inline constexpr u64 efer_nxe = 1ull << 11;
inline constexpr u32 msr_fs_base = 0xc0000100;
inline constexpr u32 msr_gs_base = 0xc0000101;

inline void outb(u16 port, u8 value) { asm volatile("outb %0, %1" ::"a"(value), "Nd"(port)); }
inline void outl(u16 port, u32 value) { asm volatile("outl %0, %1" ::"a"(value), "Nd"(port)); }
inline u8 inb(u16 port)
{
    u8 value;
    asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

inline u64 read_msr(u32 msr)
{
    u32 low, high;
    asm volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(msr));
    return (u64(high) << 32) | low;
}
inline void write_msr(u32 msr, u64 value)
{
    asm volatile("wrmsr" ::"c"(msr), "a"(static_cast<u32>(value)), "d"(static_cast<u32>(value >> 32)));
}

inline u64 read_cr0()
{
    u64 value;
    asm volatile("mov %%cr0, %0" : "=r"(value));
    return value;
}
inline u64 read_cr2()
{
    u64 value;
    asm volatile("mov %%cr2, %0" : "=r"(value));
    return value;
}
inline u64 read_cr3()
{
    u64 value;
    asm volatile("mov %%cr3, %0" : "=r"(value));
    return value;
}
inline void write_cr3(u64 value) { asm volatile("mov %0, %%cr3" ::"r"(value) : "memory"); }
inline u64 read_cr4()
{
    u64 value;
    asm volatile("mov %%cr4, %0" : "=r"(value));
    return value;
}
inline void write_cr4(u64 value) { asm volatile("mov %0, %%cr4" ::"r"(value) : "memory"); }
inline void invalidate_page(u64 virt) { asm volatile("invlpg (%0)" ::"r"(virt) : "memory"); }
inline void flush_tlb() { write_cr3(read_cr3()); }

inline u64 read_tsc()
{
    u32 low, high;
    asm volatile("rdtsc" : "=a"(low), "=d"(high));
    return (u64(high) << 32) | low;
}

struct CpuidResult {
    u32 eax, ebx, ecx, edx;
};
inline CpuidResult cpuid(u32 leaf, u32 subleaf = 0)
{
    CpuidResult r;
    asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}

inline void disable_interrupts() { asm volatile("cli" ::: "memory"); }
inline void enable_interrupts() { asm volatile("sti" ::: "memory"); }
inline bool interrupts_enabled()
{
    u64 flags;
    asm volatile("pushfq; popq %0" : "=r"(flags));
    return flags & (1u << 9);
}
inline void pause() { asm volatile("pause"); }

// Stops this CPU for good. Never `int3` or `hlt` with interrupts off as a trap: under the nested KVM here
// int3 fails KVM_RUN, and a halted vCPU with an in-kernel LAPIC waits forever (PLATFORM.md).
[[noreturn]] inline void trap_forever()
{
    for (;;)
        asm volatile("ud2");
}

} // namespace kernite::arch
