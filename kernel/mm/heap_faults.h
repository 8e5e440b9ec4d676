// What a kernel page fault in the heap's large-block region (kernel_heap_base) means, for the fault handler.
#pragma once

#include <ktl/types.h>

namespace kernite::mm {

enum class HeapFault : u8 {
    None,  // not a large-block page of the heap (or the heap does not track it)
    Guard, // a guard page next to a large block: an overflow or underflow
    Freed, // a page of a large block that has been freed: a use after free
};

HeapFault classify_heap_fault(u64 address);
// What the heap knows about a faulting address (OSCAR mode: the object's size and allocation site), as text to
// append to the fault's message; empty when nothing.
void describe_heap_fault(u64 address, char* out, usize size);

} // namespace kernite::mm
