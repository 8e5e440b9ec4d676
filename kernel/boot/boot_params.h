// What the kernel learned at boot, normalised from either entry (Kernite BootInfo or PVH start_info) and
// copied into kernel memory, so nothing after early boot reads loader-owned memory again.
#pragma once

#include <kernite/abi.h>
#include <ktl/types.h>

namespace kernite {

enum class BootProtocol : u32 {
    Monitor = 1, // the Kernite monitor, hypercalls available
    Pvh = 2,     // QEMU (or another PVH loader): 16550 console, isa-debug-exit
};

struct PhysicalRange {
    u64 base;
    u64 length;
};

// A boot module (abi.h: "program", "args", "rootfs") in guest-physical memory the frame allocator never hands out.
struct BootModuleRange {
    char name[48]; // NUL-terminated
    u64 phys;
    u64 size;
};

struct BootParams {
    BootProtocol protocol;
    u64 boot_tsc; // rdtsc at the first instruction we control
    u64 tsc_khz;  // 0 when the loader did not say (PVH): calibrated later
    bool has_entropy_seed;
    bool memory_zeroed; // abi::BootFlagMemoryZeroed: frames never used since boot hold zeros
    u8 entropy_seed[32];
    alignas(8) u8 entropy_pool[64]; // abi::BootInfo::entropy_pool: `entropy_pool_length` bytes, wiped after use
    u32 entropy_pool_length;
    u8 boot_id[16];
    char cmdline[abi::max_cmdline_length];
    PhysicalRange usable[abi::max_memory_regions];
    u32 usable_count;
    u64 max_phys;           // end of the highest usable RAM
    u64 kernel_phys_start;  // [start, end) of the loaded image, including bss and ksyms
    u64 kernel_phys_end;
    u64 kernel_virt_base;   // where __kernel_start lives after relocation
    u64 pmm_bitmap_phys;
    u64 page_table_root;    // physical address of the kernel PML4
    u64 relocations_applied;   // by early boot; 0 when the loader relocated the image
    bool relocated_by_loader; // abi::BootFlagRelocated
    BootModuleRange modules[abi::max_boot_modules];
    u32 module_count;
    u64 bundle_phys; // PVH: the whole module bundle (reserved with its modules)
    u64 bundle_size;
    u64 stage_tsc[5]; // early boot milestones: parsed, generator seeded, frames ready, tables built, relocated
};

// Virtual memory layout (docs/architecture.md "Address space").
inline constexpr u64 direct_map_base = 0xffff800000000000ull;  // all RAM, RW+NX, kernel image excluded
inline constexpr u64 kernel_stacks_base = 0xffffc00000000000ull; // stacks with unmapped guard pages
// Large heap allocations (kernel/mm/heap_hardened.cpp): each block after an unmapped guard page, addresses never
// reused, so overflows and uses after free of large blocks fault.
inline constexpr u64 kernel_heap_base = 0xffffd00000000000ull;
// KASLR (docs/security-model.md "ASLR"): the kernel image goes anywhere page-aligned in this 16 TiB window (32
// bits of entropy), which ends 1 GiB below the top so that the link base (0xffffffff80100000, used with
// no-aslr) lies inside it. arch/x86_64/kernel.ld records the same values in the layout note.
inline constexpr u64 kaslr_window_base = 0xfffff00000000000ull;
inline constexpr u64 kaslr_window_size = 0x00000fffc0000000ull;
inline constexpr u64 device_mmio_base = 0xffffe00000000000ull;   // device registers, UC+NX (xAPIC page first)

} // namespace kernite
