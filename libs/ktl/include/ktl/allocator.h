// Fallible allocation for the shared libraries (vfs, exec, vma...). The kernel implements these with its heap
// (kernel/mm/heap.cpp glue), the host with malloc (libs/ktl/host/allocator_host.cpp). Null means out of memory:
// callers turn it into ENOMEM, never a panic (STYLE.md habit 3).
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>

#include <new>
#include <utility>

namespace ktl {

void* allocate(usize size);     // 16-byte aligned, uninitialised; nullptr when out of memory
void deallocate(void* pointer); // nullptr is fine

// One zeroed, page-aligned page of page_allocation_size bytes, for page-granular data (file contents). The kernel
// takes a frame straight from the frame allocator and hands out its direct-map address: no heap, whose hardened
// form gives every block over 2 KiB its own mapping between guard pages (a map, an unmap and TLB work each, per
// 4 KiB of every file written). nullptr when out of memory.
inline constexpr usize page_allocation_size = 4096;
void* allocate_zeroed_page();
void deallocate_page(void* page); // nullptr is fine

// `new T(args...)` that reports ENOMEM instead of throwing or panicking.
template<typename T, typename... Args>
ErrorOr<T*> try_create(Args&&... args)
{
    void* memory = allocate(sizeof(T));
    if (!memory)
        return Error::from_errno(ENOMEM, "out of memory");
    return new (memory) T(std::forward<Args>(args)...);
}

template<typename T>
void destroy(T* object)
{
    if (!object)
        return;
    object->~T();
    deallocate(object);
}

} // namespace ktl
