// ktl::allocate for the shared libraries (libs/ktl/include/ktl/allocator.h), on the kernel heap.
#include <kernel/mm/heap.h>
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

} // namespace ktl
