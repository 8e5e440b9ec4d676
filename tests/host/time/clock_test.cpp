// kernel/time/fixed_ratio.h: the TSC <-> nanosecond conversion behind monotonic_ns() and sleep deadlines.
// The reference is exact 128-bit arithmetic (the host may divide 128-bit numbers; the kernel may not).
#include <gtest/gtest.h>
#include <kernel/time/fixed_ratio.h>

using kernite::time::FixedRatio;
using kernite::time::TscConversion;
using kernite::time::u128;

namespace {

constexpr u64 ten_years_s = 10ull * 366 * 24 * 3600;

u64 exact_floor(u64 x, u64 numerator, u64 denominator) { return static_cast<u64>(u128(x) * numerator / denominator); }
u64 exact_ceil(u64 x, u64 numerator, u64 denominator)
{
    return static_cast<u64>((u128(x) * numerator + denominator - 1) / denominator);
}

// Frequencies from 1 to 5 GHz, round and odd (the calibrated values the kernel really sees).
constexpr u64 frequencies_khz[] = { 1'000'000, 1'000'001, 1'193'182, 2'000'000, 2'596'658, 2'609'068, 2'999'999,
    3'400'000, 3'999'987, 4'294'967, 5'000'000 };

// A spread of tick counts: small, around powers of two, and up to 10 years.
template<typename F>
void for_each_sample(u64 max, F f)
{
    for (u64 x = 0; x < 4096; ++x)
        f(x);
    for (unsigned bit = 12; bit < 64 && (1ull << bit) <= max; ++bit) {
        u64 p = 1ull << bit;
        f(p - 1);
        f(p);
        f(p + 1);
        f(p + p / 3);
    }
    u64 step = max / 9973;
    for (u64 x = max; x > step; x -= step)
        f(x);
    f(max);
}

} // namespace

TEST(ClockConversion, TicksToNanosecondsWithinOneOverTenYears)
{
    for (u64 khz : frequencies_khz) {
        auto conversion = TscConversion::make(khz);
        ASSERT_TRUE(conversion.valid());
        u64 max_ticks = ten_years_s * khz * 1000;
        for_each_sample(max_ticks, [&](u64 ticks) {
            u64 exact = exact_floor(ticks, 1'000'000, khz);
            u64 fast = conversion.ticks_to_ns.scale(ticks);
            // Within 1 ns of the exact value at any uptime (far better than the 1 ns/s requirement).
            ASSERT_LE(fast > exact ? fast - exact : exact - fast, 1u) << "khz " << khz << " ticks " << ticks;
        });
    }
}

TEST(ClockConversion, NanosecondsToTicksRoundsUpForDeadlines)
{
    for (u64 khz : frequencies_khz) {
        auto conversion = TscConversion::make(khz);
        u64 max_ns = ten_years_s * 1'000'000'000;
        for_each_sample(max_ns, [&](u64 ns) {
            u64 exact = exact_ceil(ns, khz, 1'000'000);
            u64 fast = conversion.ns_to_ticks.scale_up(ns);
            // A deadline may be at most one tick late and never early.
            ASSERT_GE(fast, exact) << "khz " << khz << " ns " << ns;
            ASSERT_LE(fast - exact, 1u) << "khz " << khz << " ns " << ns;
        });
    }
}

TEST(ClockConversion, RoundTripIsStable)
{
    auto conversion = TscConversion::make(2'596'658);
    for (u64 ns : { 1ull, 200'000ull, 10'000'000ull, 1'000'000'000ull, 3600ull * 1'000'000'000 }) {
        u64 back = conversion.ticks_to_ns.scale(conversion.ns_to_ticks.scale_up(ns));
        EXPECT_GE(back, ns);
        EXPECT_LE(back - ns, 1u);
    }
}

TEST(ClockConversion, OneSecondPerSecond)
{
    for (u64 khz : frequencies_khz) {
        auto conversion = TscConversion::make(khz);
        EXPECT_EQ(conversion.ticks_to_ns.scale(khz * 1000), 1'000'000'000u) << khz;
        u64 ticks = conversion.ns_to_ticks.scale_up(1'000'000'000);
        EXPECT_GE(ticks, khz * 1000) << khz; // rounded up: at most one tick late
        EXPECT_LE(ticks, khz * 1000 + 1) << khz;
    }
}

TEST(ClockConversion, ArbitraryRatios)
{
    // The APIC one-shot fallback scales TSC ticks to APIC ticks by a measured ratio.
    auto ratio = FixedRatio::make(123'457, 2'596'658);
    for (u64 x : { 0ull, 1ull, 1000ull, 26'000'000ull, 1ull << 40 }) {
        u64 exact = exact_floor(x, 123'457, 2'596'658);
        u64 fast = ratio.scale(x);
        EXPECT_LE(fast > exact ? fast - exact : exact - fast, 1u);
        EXPECT_GE(ratio.scale_up(x), exact_ceil(x, 123'457, 2'596'658));
    }
    EXPECT_FALSE(FixedRatio::make(0, 5).valid());
    EXPECT_FALSE(FixedRatio::make(5, 0).valid());
    EXPECT_EQ(FixedRatio::make(3, 1).scale(~0ull), ~0ull); // saturates instead of wrapping
}

// FixedRatio::make has two implementations: a bit loop when constant-evaluated and `div` at run time. They
// must agree exactly.
TEST(FixedRatio, RuntimeDivisionMatchesTheConstantEvaluatedLoop)
{
    constexpr FixedRatio compile_time[] = {
        FixedRatio::make(1'000'000, 2'596'098), FixedRatio::make(2'596'098, 1'000'000),
        FixedRatio::make(1, 3), FixedRatio::make(3, 1), FixedRatio::make(1'000'000, 1'000'000'007),
        FixedRatio::make((1ull << 62) - 1, 1), FixedRatio::make(1, (1ull << 62) - 1),
    };
    u64 const arguments[][2] = { { 1'000'000, 2'596'098 }, { 2'596'098, 1'000'000 }, { 1, 3 }, { 3, 1 },
        { 1'000'000, 1'000'000'007 }, { (1ull << 62) - 1, 1 }, { 1, (1ull << 62) - 1 } };
    for (size_t i = 0; i < std::size(arguments); ++i) {
        u64 volatile numerator = arguments[i][0];
        u64 volatile denominator = arguments[i][1];
        FixedRatio runtime = FixedRatio::make(numerator, denominator);
        EXPECT_EQ(runtime.multiplier(), compile_time[i].multiplier()) << i;
        EXPECT_EQ(runtime.shift(), compile_time[i].shift()) << i;
        for (u64 x : { 0ull, 1ull, 12345ull, 1ull << 40, ~0ull >> 3 }) {
            EXPECT_EQ(runtime.scale(x), compile_time[i].scale(x)) << i;
            EXPECT_EQ(runtime.scale_up(x), compile_time[i].scale_up(x)) << i;
        }
    }
}
