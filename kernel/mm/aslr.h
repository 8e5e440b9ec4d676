// Randomized bases of the kernel's own regions (issue 4 item 3): the hardened heap's page-backed large-block
// region, its slab region (libs/heap reserves its chunks and descriptors there), OSCAR mode's alias region and
// the kernel thread stacks.
// Each is a page-aligned base drawn from the DRBG once per boot inside its fixed window of the address space
// (kernel/boot/boot_params.h); each window holds its region with room to spare, so about 30 bits or more of each
// base are random. `no-aslr` puts each region at the start of its window.
//
// The heap's 16 TiB window [kernel_heap_base, device_mmio_base) is split: the lower 8 TiB for large blocks, the
// next 4 TiB for the slab region, the last 4 TiB for OSCAR mode's aliases (kernel/mm/heap_hardened.cpp).
#pragma once

#include <kernel/boot/boot_params.h>
#include <ktl/types.h>

namespace kernite::mm {

// How much of each window a region may use: the heap's large blocks are never reused (1 TiB of addresses), the
// slab region holds 1 GiB of slab chunks plus their descriptors (64 GiB of addresses is ample), OSCAR's aliases
// are never reused either (2 TiB: half their window, so the base keeps 29 random bits), the stacks are 4096 slots
// of 128 KiB.
inline constexpr u64 kernel_heap_region_size = 1ull << 40;
inline constexpr u64 kernel_slab_region_size = 64ull << 30;
inline constexpr u64 kernel_alias_region_size = 2ull << 40;
inline constexpr u64 kernel_stacks_region_size = 4096ull * 32 * 4096;

// The windows (fixed; only the regions' places inside them are random).
inline constexpr u64 kernel_heap_window_size = (device_mmio_base - kernel_heap_base) / 2; // 8 TiB
inline constexpr u64 kernel_slab_window_base = kernel_heap_base + kernel_heap_window_size;
inline constexpr u64 kernel_slab_window_size = kernel_heap_window_size / 2; // 4 TiB
inline constexpr u64 kernel_alias_window_base = kernel_slab_window_base + kernel_slab_window_size;
inline constexpr u64 kernel_alias_window_size = device_mmio_base - kernel_alias_window_base; // 4 TiB

// Chooses every base (once, in mm::initialize, after early boot seeded the generator). A choice that does not fit
// its window stops the boot with a panic: never a silent fixed address.
void randomize_kernel_regions(bool aslr);

u64 kernel_heap_start();   // first byte of the large-block region this boot
u64 kernel_slab_start();   // first byte of the slab region this boot
u64 kernel_alias_start();  // first byte of OSCAR mode's alias region this boot
u64 kernel_stacks_start(); // first byte of the stack slots this boot

} // namespace kernite::mm
