// Exact-enough rational scaling without division on the hot path: x * numerator / denominator computed as
// (x * multiplier) >> shift with a 64x64->128-bit multiply (one `mul`). The multiplier is found once by
// binary long division in 64-bit arithmetic, so neither the kernel nor its setup needs a 128-bit division
// (libgcc's __udivti3 is not linked, and it is slow). Pure: compiled for the kernel and for the host tests
// (tests/host/time).
#pragma once

#include <ktl/types.h>

namespace kernite::time {

__extension__ using u128 = unsigned __int128;

inline constexpr u64 ns_per_second = 1'000'000'000;
inline constexpr u64 ns_per_ms = 1'000'000;
inline constexpr u64 ns_per_us = 1'000;

class FixedRatio {
public:
    constexpr FixedRatio() = default;

    // numerator / denominator as multiplier / 2^shift with the largest shift that keeps the multiplier below
    // 2^63. Relative error below 2^-62: over 10 years at 5 GHz (about 2^61 ticks) the result is within 1 of
    // floor(x * numerator / denominator). Both arguments must be in [1, 2^62).
    static constexpr FixedRatio make(u64 numerator, u64 denominator)
    {
        FixedRatio ratio;
        if (numerator == 0 || denominator == 0 || denominator >= (1ull << 62) || numerator >= (1ull << 62))
            return ratio; // invalid: scales everything to 0; callers VERIFY valid()
        // quotient = floor(numerator * 2^shift / denominator) with the largest shift <= 64 that keeps it
        // below 2^63 (at least 2^62 when the cap allows).
        u64 quotient = 0, remainder = 0;
        unsigned shift = 0;
        if (__builtin_is_constant_evaluated()) {
            quotient = numerator / denominator;
            remainder = numerator % denominator;
            // One binary digit per step (constant evaluation only).
            while (shift < 64 && quotient < (1ull << 62)) {
                remainder <<= 1; // remainder < denominator < 2^62: no overflow
                quotient <<= 1;
                if (remainder >= denominator) {
                    remainder -= denominator;
                    quotient |= 1;
                }
                ++shift;
            }
        } else {
            // The same digits from one or two 128/64-bit `div`s: the bit loop above is ~1000 instructions, which
            // is a millisecond of boot where guest ring 0 is emulated (docs/platform-notes.md).
            int numerator_bits = 64 - __builtin_clzll(numerator);
            int denominator_bits = 64 - __builtin_clzll(denominator);
            int first = 62 + denominator_bits - numerator_bits; // quotient lands in [2^61, 2^63)
            shift = static_cast<unsigned>(first < 0 ? 0 : first > 64 ? 64 : first);
            divide_shifted(numerator, shift, denominator, &quotient, &remainder);
            if (quotient < (1ull << 62) && shift < 64)
                divide_shifted(numerator, ++shift, denominator, &quotient, &remainder);
        }
        // Round the multiplier to nearest for scale() and up for scale_up(), so a deadline is never early.
        ratio.m_multiplier = quotient + (remainder >= denominator - remainder ? 1 : 0);
        ratio.m_multiplier_up = quotient + (remainder != 0 ? 1 : 0);
        ratio.m_shift = shift;
        return ratio;
    }

    constexpr bool valid() const { return m_multiplier != 0; }
    constexpr u64 multiplier() const { return m_multiplier; }
    constexpr unsigned shift() const { return m_shift; }

    // x * ratio rounded to nearest (within 1 of the exact value), saturating at 2^64 - 1. Monotonic in x.
    constexpr u64 scale(u64 x) const
    {
        u128 half = m_shift == 0 ? 0 : u128(1) << (m_shift - 1);
        return saturate((u128(x) * m_multiplier + half) >> m_shift);
    }

    // ceil(x * ratio) or one more, never less, saturating: for deadlines, which must never come early.
    constexpr u64 scale_up(u64 x) const
    {
        u128 mask = (u128(1) << m_shift) - 1;
        return saturate((u128(x) * m_multiplier_up + mask) >> m_shift);
    }

private:
    // floor(numerator * 2^shift / denominator) and its remainder; the quotient must fit in 64 bits.
    static void divide_shifted(u64 numerator, unsigned shift, u64 denominator, u64* quotient, u64* remainder)
    {
        u128 dividend = u128(numerator) << shift;
        u64 high = static_cast<u64>(dividend >> 64);
        u64 low = static_cast<u64>(dividend);
        asm("divq %4" : "=a"(*quotient), "=d"(*remainder) : "a"(low), "d"(high), "rm"(denominator));
    }

    static constexpr u64 saturate(u128 value) { return value > ~u64(0) ? ~u64(0) : static_cast<u64>(value); }

    u64 m_multiplier { 0 };
    u64 m_multiplier_up { 0 };
    unsigned m_shift { 0 };
};

// TSC ticks <-> nanoseconds for a TSC of `tsc_khz` kHz.
struct TscConversion {
    FixedRatio ticks_to_ns;
    FixedRatio ns_to_ticks;

    static constexpr TscConversion make(u64 tsc_khz)
    {
        return { FixedRatio::make(ns_per_ms, tsc_khz), FixedRatio::make(tsc_khz, ns_per_ms) };
    }
    constexpr bool valid() const { return ticks_to_ns.valid() && ns_to_ticks.valid(); }
};

} // namespace kernite::time
