// The program's (lower-half) virtual address space: the bounds every user mapping lies within, shared by the
// program loader (libs/exec) and the region map (libs/vma).
#pragma once

#include <ktl/types.h>

namespace kernite::vma {

inline constexpr u64 page_size = 4096;

// Nothing is ever mapped below 64 KiB: a NULL pointer plus a small offset must fault. Linux's default
// vm.mmap_min_addr is the same 65536 (mm/Kconfig DEFAULT_MMAP_MIN_ADDR); mmap there is EPERM.
inline constexpr u64 minimum_user_address = 64ull * 1024;

// One past the highest user address: the canonical lower half of 4-level paging (Intel SDM Vol. 1 3.3.7.1,
// bits 63:47 equal) minus its last page, as Linux's TASK_SIZE_MAX (arch/x86/include/asm/page_64_types.h).
// Keeping the last page unmapped means no instruction can run into the non-canonical hole.
inline constexpr u64 user_address_limit = (1ull << 47) - page_size;

constexpr bool is_page_aligned(u64 value) { return (value & (page_size - 1)) == 0; }

// True when [start, start + length) lies inside [minimum_user_address, user_address_limit) without overflow.
constexpr bool is_user_range(u64 start, u64 length)
{
    return start >= minimum_user_address && start <= user_address_limit && length <= user_address_limit - start;
}

} // namespace kernite::vma
