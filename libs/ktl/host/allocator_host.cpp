// Host implementation of ktl::allocate: plain malloc, so ASan sees every shared-library allocation.
#include <ktl/allocator.h>

#include <cstdlib>

namespace ktl {

void* allocate(usize size) { return std::malloc(size == 0 ? 1 : size); }
void deallocate(void* pointer) { std::free(pointer); }

void* allocate_zeroed_page()
{
    void* page = std::aligned_alloc(page_allocation_size, page_allocation_size);
    if (page)
        __builtin_memset(page, 0, page_allocation_size);
    return page;
}
void deallocate_page(void* page) { std::free(page); }

} // namespace ktl
