// Fallible allocation for the shared libraries (vfs, exec, vma...). The kernel implements these with its heap
// (kernel/mm/heap.cpp glue), the host with malloc (libs/ktl/host/allocator_host.cpp). Null means out of memory:
// callers turn it into ENOMEM, never a panic (STYLE.md habit 3).
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>

#include <new>
#include <utility>

namespace ktl {

void* allocate(usize size);    // 16-byte aligned, uninitialised; nullptr when out of memory
void deallocate(void* pointer); // nullptr is fine

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
