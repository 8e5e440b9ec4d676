// Kernel memory after early boot: the kernel address space on the direct map, guarded stacks, physical
// frames, ro-after-init sealing. Early boot (kernel/boot/early.cpp) built the tables; this module owns them.
#pragma once

#include <kernel/boot/boot_params.h>
#include <ktl/error.h>
#include <ktl/types.h>
#include <paging/address_space.h>

namespace kernite::mm {

class DirectMapPageEnv {
public:
    ErrorOr<u64> allocate_table();
    void free_table(u64 phys);
    paging::PageTableEntry* table(u64 phys) { return reinterpret_cast<paging::PageTableEntry*>(direct_map_base + phys); }
};

using KernelAddressSpace = paging::AddressSpace<DirectMapPageEnv>;
// One instance, memory.cpp's: it runs before KASAN's shadow exists (mm::initialize, kasan::initialize), so it is
// compiled without stack redzones, and the linker must not pick another file's instrumented copy.
} // namespace kernite::mm
extern template class kernite::paging::AddressSpace<kernite::mm::DirectMapPageEnv>;
namespace kernite::mm {

// Leaves the identity map, takes over the page tables and the frame allocator. First thing in kernel_main.
void initialize(BootParams&);
KernelAddressSpace& kernel_address_space();

inline void* phys_to_virt(u64 phys) { return reinterpret_cast<void*>(direct_map_base + phys); }
// Physical address of any mapped kernel address (image, direct map, stacks, heap); 0 if unmapped.
u64 kernel_virt_to_phys(void const*);

ErrorOr<u64> allocate_frames(u64 count);
// One frame of zeros (frames never used since boot are known to be zero and are not cleared again).
ErrorOr<u64> allocate_zeroed_frame();
// `count` contiguous frames of zeros (cleared only if they were used since boot).
ErrorOr<u64> allocate_zeroed_frames(u64 count);
void free_frames(u64 phys, u64 count);

struct KernelStack {
    u64 bottom; // lowest usable byte; the page below is the guard
    u64 top;    // initial stack pointer (exclusive end)
};
// Kernel stacks live in fixed slots of this size from kernel_stacks_base: [guard page][up to 31 pages of stack].
inline constexpr u64 kernel_stack_slot_size = 32 * paging::page_size;
// A kernel stack of `pages` pages with an unmapped guard page below it (and the next stack's guard above).
ErrorOr<KernelStack> allocate_stack(u64 pages);
void free_stack(KernelStack const&);

// Is `address` inside the guard page of a kernel stack (boot stack included)?
bool is_stack_guard(u64 address);

// Makes .data.ro_after_init read-only. Called once boot has finished writing it.
void seal_ro_after_init();
bool ro_after_init_sealed();

struct Statistics {
    u64 total_frames;
    u64 free_frames;
    u64 wx_leaves;         // leaves writable and executable at once: must be 0
    u64 null_guard_leaves; // leaves inside the first 64 KiB: must be 0
    u64 leaves;
};
Statistics statistics();

} // namespace kernite::mm
