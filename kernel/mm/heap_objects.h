// What the kernel heap knows about its live objects, for checks outside it (hardened usercopy,
// kernel/process/user_memory.h). Beside heap.h rather than in it: heap.h is the allocator interface.
#pragma once

#include <ktl/types.h>

namespace kernite::mm {

// The requested size of the live heap object that starts at `pointer`; 0 when no live object starts there
// (not a heap pointer, an interior pointer, or a heap that keeps no sizes: the baseline's simple heap).
usize heap_object_size(void const* pointer);

} // namespace kernite::mm
