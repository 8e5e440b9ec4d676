// The guest-physical layout the Kernite monitor builds before the first instruction (abi.h "Boot"):
//
//   0x0000_0000  page 0: never written (the kernel keeps it unmapped: null-pointer trap)
//   0x0000_1000  BootInfo
//   0x0000_2000  kernel command line, NUL-terminated, at most 4096 bytes including the NUL
//   0x0000_3000  PML4
//   0x0000_4000  PDPT
//   0x0000_5000  one page directory per GiB of identity-mapped memory (at most 4: up to 0x8fff)
//   ...          below 1 MiB: reserved (BootInfo memory map says Reserved [0, 1 MiB))
//   0x0010_0000  kernel PT_LOAD segments at their p_paddr; the rest of [1 MiB, mem) is Usable, except:
//   ...          boot modules (program, args, rootfs), page-aligned, back to back      } Reserved, at the top
//   ...          the kernel's page tables built by the monitor (BootFlagKernelTables)  } of RAM below 4 GiB
//
// The page tables identity-map [0, identity_map_limit = min(mem, 4 GiB)) with 2 MiB pages, present and
// writable (the kernel builds its own W^X tables at once). No 1 GiB pages: PVM does not offer them
// (PLATFORM.md). Only the pages listed here are touched: fresh anonymous memory is already zero.
#pragma once

#include "boot_modules.h"
#include "guest_memory.h"
#include "result.h"

#include <kernite/abi.h>

#include <span>
#include <string_view>

namespace kernite::monitor {

inline constexpr u64 boot_info_gpa = 0x1000;
inline constexpr u64 cmdline_gpa = 0x2000;
inline constexpr u64 pml4_gpa = 0x3000;
inline constexpr u64 pdpt_gpa = 0x4000;
inline constexpr u64 first_pd_gpa = 0x5000;
inline constexpr u64 kernel_min_gpa = 1ull << 20;
inline constexpr u64 identity_map_max = 4ull << 30;
inline constexpr u64 guest_page_size = 4096;
// Usable RAM the boot modules must leave free above the kernel image, for the kernel's own allocations. The
// kernel reports it itself (ENOMEM, then exit) when a program needs more.
inline constexpr u64 kernel_working_memory = 2ull << 20;

// Intel SDM Vol. 3A 4.5, tables 4-15 (PML4E), 4-17 (PDPTE pointing to a PD), 4-18 (PDE mapping 2 MiB).
inline constexpr u64 pte_present = 1ull << 0;
inline constexpr u64 pte_writable = 1ull << 1;
inline constexpr u64 pde_large_page = 1ull << 7;

// Where place_modules() put the boot modules: [base, end) holds all of them, each page-aligned.
struct ModulePlacement {
    u64 base { 0 };
    u64 end { 0 };
    u32 count { 0 };
    abi::BootModule modules[abi::max_boot_modules] {};
};

// Where `total` bytes of modules go: the highest page-aligned base with [base, base + total) at or below `top`,
// the end of memory and the identity map limit (4 GiB), and not below `floor`. When they do not fit, the
// message says how much guest memory would be needed.
Result<u64> fit_modules(u64 total, u64 floor, u64 top, u64 memory_size);

// Copies `modules` (at most abi::max_boot_modules) into guest memory once each, page-aligned and back to back in
// the order given, ending at the highest page boundary at or below `top` and below the identity map limit
// (4 GiB), never below `floor`. When they do not fit, the message says how much guest memory would be needed.
Result<ModulePlacement> place_modules(GuestMemory&, std::span<ModuleView const> modules, u64 floor, u64 top);

struct BootSetup {
    u64 tsc_khz;
    std::string_view cmdline;
    u64 relocated_to { 0 }; // the kernel's virtual base if the monitor relocated it (BootFlagRelocated), else 0
    u64 kernel_tables_root { 0 };     // BootFlagKernelTables: the PML4 the monitor built, else 0
    u64 kernel_tables_base { 0 };     // ... in [kernel_tables_base, memory end), reported Reserved
    ModulePlacement const* modules { nullptr }; // BootInfo.modules; [base, end) reported Reserved
};

// Writes BootInfo (with fresh getrandom() seed and boot id), the command line and the page tables into
// `memory`; returns the BootInfo as written (the caller stamps events with its boot_id).
Result<abi::BootInfo> write_boot_layout(GuestMemory& memory, BootSetup const&);

constexpr u64 identity_map_limit_for(u64 memory_size)
{
    return memory_size < identity_map_max ? memory_size : identity_map_max;
}

} // namespace kernite::monitor
