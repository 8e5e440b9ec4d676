// Fixed-width integer names used across the kernel, the monitor and the shared libraries.
#pragma once

#include <stddef.h>
#include <stdint.h>

using u8 = uint8_t;
using u16 = uint16_t;
using u32 = uint32_t;
using u64 = uint64_t;
using i8 = int8_t;
using i16 = int16_t;
using i32 = int32_t;
using i64 = int64_t;
using usize = size_t;
using uptr = uintptr_t;

namespace ktl {

// Overflow-checked arithmetic: every size or address computed from an untrusted value goes through these.
template<typename T>
[[nodiscard]] constexpr bool checked_add(T a, T b, T* out)
{
    return !__builtin_add_overflow(a, b, out);
}

template<typename T>
[[nodiscard]] constexpr bool checked_mul(T a, T b, T* out)
{
    return !__builtin_mul_overflow(a, b, out);
}

constexpr u64 align_down(u64 value, u64 alignment) { return value & ~(alignment - 1); }

// Returns false on overflow instead of wrapping.
[[nodiscard]] constexpr bool align_up(u64 value, u64 alignment, u64* out)
{
    u64 sum = 0;
    if (!checked_add(value, alignment - 1, &sum))
        return false;
    *out = sum & ~(alignment - 1);
    return true;
}

constexpr u64 align_up_const(u64 value, u64 alignment) { return (value + alignment - 1) & ~(alignment - 1); }

constexpr bool is_power_of_two(u64 value) { return value != 0 && (value & (value - 1)) == 0; }

// True when [a, a+a_len) and [b, b+b_len) share a byte. Lengths of zero never overlap.
constexpr bool ranges_overlap(u64 a, u64 a_len, u64 b, u64 b_len)
{
    if (a_len == 0 || b_len == 0)
        return false;
    return a < b + b_len && b < a + a_len;
}

} // namespace ktl
