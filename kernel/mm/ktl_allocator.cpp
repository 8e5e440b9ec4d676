// ktl::allocate for the shared libraries (libs/ktl/include/ktl/allocator.h), on the kernel heap.
#include <kernel/mm/heap.h>
#include <kernel/mm/memory.h>
#include <ktl/allocator.h>

namespace ktl {

void* allocate(usize size)
{
    auto memory = kernite::mm::kmalloc(size == 0 ? 1 : size);
    return memory.is_error() ? nullptr : memory.value();
}

void deallocate(void* pointer)
{
    if (pointer)
        kernite::mm::kfree(pointer);
}

// A frame through the direct map (RW+NX, kernel/boot/boot_params.h): page-granular data needs no heap block.
void* allocate_zeroed_page()
{
    static_assert(page_allocation_size == kernite::paging::page_size);
    auto phys = kernite::mm::allocate_zeroed_frame();
    return phys.is_error() ? nullptr : kernite::mm::phys_to_virt(phys.value());
}

void deallocate_page(void* page)
{
    if (!page)
        return;
    u64 address = reinterpret_cast<u64>(page);
    VERIFY(address >= kernite::direct_map_base && address % kernite::paging::page_size == 0);
    kernite::mm::free_frames(address - kernite::direct_map_base, 1);
}

} // namespace ktl
