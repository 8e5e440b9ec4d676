// x86-64 4-level paging entries as a typed struct (Intel SDM Vol. 3A §4.5, Tables 4-14 to 4-20).
#pragma once

#include <ktl/types.h>

namespace kernite::paging {

inline constexpr u64 page_size = 4096;
inline constexpr u64 large_page_size = 2 * 1024 * 1024; // PDE with PS=1 (Table 4-17)
inline constexpr u64 entries_per_table = 512;

// Bits common to every level (SDM Vol. 3A Table 4-19 and its siblings).
struct PageTableEntry {
    static constexpr u64 present = 1ull << 0;
    static constexpr u64 writable = 1ull << 1;       // R/W
    static constexpr u64 user = 1ull << 2;           // U/S
    static constexpr u64 write_through = 1ull << 3;  // PWT
    static constexpr u64 cache_disable = 1ull << 4;  // PCD
    static constexpr u64 accessed = 1ull << 5;
    static constexpr u64 dirty = 1ull << 6;
    static constexpr u64 huge = 1ull << 7;           // PS in a PDE/PDPTE
    static constexpr u64 global = 1ull << 8;
    static constexpr u64 no_execute = 1ull << 63;    // XD; needs EFER.NXE (SDM Vol. 3A §4.1.1)
    static constexpr u64 address_mask = 0x000ffffffffff000ull; // bits 51:12 (MAXPHYADDR ≤ 52)
    static constexpr u64 large_address_mask = 0x000fffffffe00000ull;

    u64 raw { 0 };

    constexpr bool is_present() const { return raw & present; }
    constexpr bool is_writable() const { return raw & writable; }
    constexpr bool is_executable() const { return !(raw & no_execute); }
    constexpr bool is_user() const { return raw & user; }
    constexpr bool is_huge() const { return raw & huge; }
    constexpr u64 address() const { return raw & address_mask; }
    constexpr u64 large_address() const { return raw & large_address_mask; }
};
static_assert(sizeof(PageTableEntry) == 8);

// Index of `virt` in the table at `level` (4 = PML4 ... 1 = PT).
constexpr unsigned table_index(u64 virt, unsigned level) { return (virt >> (12 + 9 * (level - 1))) & 0x1ff; }

// Canonical: bits 63:47 all equal (SDM Vol. 1 §3.3.7.1, 48-bit linear addresses).
constexpr bool is_canonical(u64 virt)
{
    u64 top = virt >> 47;
    return top == 0 || top == 0x1ffff;
}

} // namespace kernite::paging
