#pragma once

#include <ktl/types.h>

namespace kernite {

// Read by arch/x86_64/boot/entry.S at the offsets in boot_protocol.h.
struct HandOff {
    u64 cr3;
    u64 stack;
    u64 entry;
    u64 argument;
};
static_assert(sizeof(HandOff) == 32);

} // namespace kernite
