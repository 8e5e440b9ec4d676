// Randomized bases of the kernel's own regions (issue 4 item 3): the hardened heap's page-backed large-block
// region and the kernel thread stacks. Each is a page-aligned base drawn from the DRBG once per boot inside its
// fixed 16 TiB window of the address space (kernel/boot/boot_params.h); the window holds the region with room to
// spare, so ~32 bits of each base are random. `no-aslr` puts each region at the start of its window.
#pragma once

#include <kernel/boot/boot_params.h>
#include <ktl/types.h>

namespace kernite::mm {

// How much of each window a region may use: the heap's large blocks are never reused (1 TiB of addresses), the
// stacks are 4096 slots of 128 KiB.
inline constexpr u64 kernel_heap_region_size = 1ull << 40;
inline constexpr u64 kernel_stacks_region_size = 4096ull * 32 * 4096;

// Chooses both bases (once, in mm::initialize, after early boot seeded the generator). A choice that does not fit
// its window stops the boot with a panic: never a silent fixed address.
void randomize_kernel_regions(bool aslr);

u64 kernel_heap_start();   // first byte of the large-block region this boot
u64 kernel_stacks_start(); // first byte of the stack slots this boot

} // namespace kernite::mm
