// Host implementation of ktl::allocate: plain malloc, so ASan sees every shared-library allocation.
#include <ktl/allocator.h>

#include <cstdlib>

namespace ktl {

void* allocate(usize size) { return std::malloc(size == 0 ? 1 : size); }
void deallocate(void* pointer) { std::free(pointer); }

} // namespace ktl
