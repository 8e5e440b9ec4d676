// choose_load_bias() / apply_load_bias(): static-PIE programs land at a random, aligned base inside the
// documented window with at least 28 bits of entropy; a placement that cannot meet that fails loudly.
#include <exec/program_plan.h>

#include "elf_builder.h"

#include <vma/layout.h>

#include <gtest/gtest.h>

#include <random>
#include <set>

using namespace kernite::exec;
using namespace kernite::exec::testing;

namespace {

ProgramPlan plan_of(ProgramImage const& image)
{
    auto file = image.build();
    auto plan = plan_program(file.data(), file.size());
    EXPECT_FALSE(plan.is_error()) << plan.error().reason();
    return plan.is_error() ? ProgramPlan {} : plan.release_value();
}

constexpr u64 window_start = 1ull << 40;
constexpr u64 window_end = 1ull << 46;

} // namespace

TEST(LoadBias, StaticProgramsStayWhereTheyWereLinked)
{
    ProgramPlan plan = plan_of(musl_static());
    auto bias = choose_load_bias(plan, 0x123456789abcdefull);
    ASSERT_FALSE(bias.is_error());
    EXPECT_EQ(bias.value(), 0u);
    EXPECT_EQ(apply_load_bias(plan, 0x1000).error().code(), EINVAL) << "ET_EXEC cannot move";
    ASSERT_FALSE(apply_load_bias(plan, 0).is_error());
    EXPECT_TRUE(plan.bias_applied);
    EXPECT_EQ(plan.entry, 0x401053u);
    EXPECT_EQ(plan.phdr, 0x400040u);
}

TEST(LoadBias, RangeEndsOfTheWindow)
{
    ProgramPlan const plan = plan_of(glibc_static_pie()); // span [0, 0xb8000)
    EXPECT_EQ(choose_load_bias(plan, 0).value(), window_start);
    u64 const highest = choose_load_bias(plan, ~0ull).value();
    EXPECT_LE(highest + plan.span_end, window_end);
    EXPECT_GT(highest + plan.span_end, window_end - 0x1000 - 0x1000) << "the top of the window is reachable";
    EXPECT_EQ(load_bias_entropy_bits(plan), 33u) << "(2^46 - 2^40) / 4 KiB choices: just under 2^34";
}

TEST(LoadBias, BiasesAreAlignedDistinctAndSpreadOut)
{
    ProgramPlan const plan = plan_of(glibc_static_pie());
    std::mt19937_64 random(7);
    std::set<u64> seen;
    int high_half = 0;
    int odd_page = 0;
    constexpr int samples = 4096;
    for (int i = 0; i < samples; ++i) {
        u64 const bias = choose_load_bias(plan, random()).value();
        EXPECT_EQ(bias % 0x1000, 0u);
        EXPECT_GE(bias, window_start);
        EXPECT_LE(bias + plan.span_end, window_end);
        seen.insert(bias);
        high_half += bias >= (window_start + window_end) / 2;
        odd_page += (bias >> 12) & 1;
    }
    EXPECT_EQ(seen.size(), static_cast<usize>(samples)) << "collisions among 4096 picks of 2^33 are vanishingly rare";
    // Both the top and the bottom bits of the page number move (binomial, 4096 samples: 6 sigma is about 190).
    EXPECT_NEAR(high_half, samples / 2, 200);
    EXPECT_NEAR(odd_page, samples / 2, 200);
}

TEST(LoadBias, AppliesToEveryAddress)
{
    ProgramPlan plan = plan_of(glibc_static_pie());
    ProgramPlan const original = plan;
    u64 const bias = 0x5a5a5a5a5000ull & ~0xfffull;
    ASSERT_FALSE(apply_load_bias(plan, bias).is_error());
    EXPECT_TRUE(plan.bias_applied);
    EXPECT_EQ(plan.load_bias, bias);
    EXPECT_EQ(plan.entry, original.entry + bias);
    EXPECT_EQ(plan.phdr, original.phdr + bias);
    EXPECT_EQ(plan.span_start, original.span_start + bias);
    EXPECT_EQ(plan.span_end, original.span_end + bias);
    EXPECT_EQ(plan.tls.vaddr, original.tls.vaddr + bias);
    EXPECT_EQ(plan.relro_start, original.relro_start + bias);
    EXPECT_EQ(plan.relro_end, original.relro_end + bias);
    for (u32 i = 0; i < plan.segment_count; ++i) {
        EXPECT_EQ(plan.segments[i].vaddr, original.segments[i].vaddr + bias);
        EXPECT_EQ(plan.segments[i].map_start, original.segments[i].map_start + bias);
        EXPECT_EQ(plan.segments[i].map_end, original.segments[i].map_end + bias);
        EXPECT_EQ(plan.segments[i].file_offset, original.segments[i].file_offset) << "file offsets do not move";
    }
    EXPECT_EQ(apply_load_bias(plan, bias).error().code(), EINVAL) << "twice would double the bias";
}

TEST(LoadBias, ApplyChecksTheBiasedRange)
{
    ProgramPlan plan = plan_of(glibc_static_pie());
    EXPECT_EQ(apply_load_bias(plan, 0x10800).error().code(), EINVAL) << "unaligned";
    EXPECT_EQ(apply_load_bias(plan, 0).error().code(), ENOEXEC) << "linked at 0: would map page 0";
    EXPECT_EQ(apply_load_bias(plan, 0xf000).error().code(), ENOEXEC) << "below 64 KiB";
    EXPECT_FALSE(plan.bias_applied);
    EXPECT_EQ(apply_load_bias(plan, kernite::vma::user_address_limit - 0xb7000).error().code(), ENOEXEC);
    EXPECT_EQ(apply_load_bias(plan, 0xfffffffffff00000ull).error().code(), ENOEXEC) << "overflow";
    EXPECT_FALSE(apply_load_bias(plan, 0x10000).is_error()) << "64 KiB is the lowest legal base";
}

TEST(LoadBias, LargeAlignmentCostsEntropyAndIsRefusedBelowTheMinimum)
{
    ProgramImage image = glibc_static_pie();
    for (auto& header : image.phdrs) {
        if (header.p_type == kernite::elf::pt_load)
            header.p_align = 0x200000; // as `-z max-page-size=0x200000` links
    }
    // The RW segment (0xac510 at offset 0xab510) must then be congruent modulo 2 MiB too.
    image.load(3).p_offset = 0xac510;
    image.phdrs[static_cast<usize>(image.find(pt_tls))].p_offset = 0xac510;
    image.phdrs[static_cast<usize>(image.find(pt_gnu_relro))].p_offset = 0xac510;
    image.file_size += 0x1000;
    ProgramPlan const plan = plan_of(image);
    EXPECT_EQ(plan.max_alignment, 0x200000u);
    EXPECT_EQ(load_bias_entropy_bits(plan), 24u) << "(2^46 - 2^40) / 2 MiB is just under 2^25";
    auto refused = choose_load_bias(plan, 42);
    ASSERT_TRUE(refused.is_error());
    EXPECT_EQ(refused.error().code(), ENOEXEC);

    LoadWindow relaxed;
    relaxed.minimum_entropy_bits = 24;
    u64 const bias = choose_load_bias(plan, 0xdeadbeefcafef00dull, relaxed).value();
    EXPECT_EQ(bias % 0x200000, 0u);
    LoadWindow wide { .start = 1ull << 40, .end = kernite::vma::user_address_limit, .minimum_entropy_bits = 25 };
    EXPECT_FALSE(choose_load_bias(plan, 1, wide).is_error()) << "a wider window restores the entropy";
}

TEST(LoadBias, ProgramLargerThanTheWindowIsRefused)
{
    ProgramPlan const plan = plan_of(glibc_static_pie());
    LoadWindow tiny { .start = 0x10000000, .end = 0x10080000, .minimum_entropy_bits = 0 };
    auto bias = choose_load_bias(plan, 5, tiny);
    ASSERT_TRUE(bias.is_error());
    EXPECT_EQ(bias.error().code(), ENOEXEC);
    EXPECT_EQ(load_bias_entropy_bits(plan, tiny), 0u);

    LoadWindow exact { .start = 0x10000000, .end = 0x100b8000, .minimum_entropy_bits = 0 };
    EXPECT_EQ(choose_load_bias(plan, ~0ull, exact).value(), 0x10000000u) << "exactly one place";
    exact.minimum_entropy_bits = 1;
    EXPECT_TRUE(choose_load_bias(plan, 0, exact).is_error()) << "one place is zero bits";
}

TEST(LoadBias, WindowMustBeUserMemory)
{
    ProgramPlan const plan = plan_of(glibc_static_pie());
    LoadWindow low { .start = 0, .end = 1ull << 40, .minimum_entropy_bits = 20 };
    EXPECT_EQ(choose_load_bias(plan, 1, low).error().code(), EINVAL);
    LoadWindow high { .start = 1ull << 40, .end = 1ull << 48, .minimum_entropy_bits = 20 };
    EXPECT_EQ(choose_load_bias(plan, 1, high).error().code(), EINVAL);
}
