// The kernel heap interface. Issue 2 ships a simple size-class heap (heap_simple.cpp); issue 5 swaps in the
// hardened allocator behind the same interface.
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::mm {

class HeapAllocator {
public:
    virtual ErrorOr<void*> allocate(usize size) = 0;
    virtual void deallocate(void* pointer) = 0;
    virtual char const* name() const = 0;

protected:
    // Never deleted through the interface: allocators are static objects.
    ~HeapAllocator() = default;
};

void initialize_heap();
HeapAllocator& heap();

inline ErrorOr<void*> kmalloc(usize size) { return heap().allocate(size); }
inline void kfree(void* pointer) { heap().deallocate(pointer); }

} // namespace kernite::mm
