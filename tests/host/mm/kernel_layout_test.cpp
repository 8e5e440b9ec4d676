// libs/paging/kernel_layout.h: the kernel address space built from a layout note (the monitor's fast path and
// early boot under PVH), including hostile layouts.
#include <paging/kernel_layout.h>

#include "fake_page_env.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>

using namespace kernite::paging;
using kernite::paging::testing::FakeEnv;

namespace {

constexpr u64 link_vaddr = 0xffffffff80100000ull;
constexpr u64 direct = 0xffff800000000000ull;
constexpr KernelPlacement placement { link_vaddr, link_vaddr, 0x100000, 0x120000, 0x100000, 64 << 20, direct };

constexpr LayoutRange layout[] = {
    { link_vaddr, link_vaddr + 0x8000, AccessRead | AccessExecute | AccessGlobal },
    { link_vaddr + 0x8000, link_vaddr + 0xc000, AccessRead | AccessGlobal },
    { link_vaddr + 0xc000, link_vaddr + 0xc000, AccessRead }, // empty: skipped
    { link_vaddr + 0xd000, link_vaddr + 0x20000, AccessRead | AccessWrite | AccessGlobal }, // a guard page at +0xc000
};

} // namespace

TEST(KernelLayout, BuildsTheImageTheIdentityTextAndTheDirectMap)
{
    FakeEnv env;
    u64 root = build_kernel_address_space(env, layout, std::size(layout), placement).release_value();
    AddressSpace<FakeEnv> space(env, root);
    EXPECT_EQ(space.translate(link_vaddr + 0x10).release_value().access, AccessRead | AccessExecute | AccessGlobal);
    EXPECT_EQ(space.translate(link_vaddr + 0x8000).release_value().phys, 0x108000u);
    EXPECT_EQ(space.translate(link_vaddr + 0xc000).error().code(), ENOENT) << "the guard page stays unmapped";
    EXPECT_EQ(space.translate(link_vaddr + 0xd000).release_value().access, AccessRead | AccessWrite | AccessGlobal);
    EXPECT_EQ(space.translate(0x100000).release_value().access, AccessRead | AccessExecute) << "identity text";
    EXPECT_EQ(space.translate(0x108000).error().code(), ENOENT) << "only executable ranges get an identity map";
    EXPECT_EQ(space.translate(direct + 0x100000).error().code(), ENOENT) << "no writable alias of the image";
    EXPECT_EQ(space.translate(direct + 0x11f000).error().code(), ENOENT);
    EXPECT_EQ(space.translate(direct + 0x120000).release_value().access, AccessRead | AccessWrite | AccessGlobal);
    EXPECT_EQ(space.translate(direct + (4 << 20)).release_value().page_size, large_page_size);
    EXPECT_EQ(space.translate(direct + (64 << 20)).error().code(), ENOENT);
    auto audit = space.audit();
    EXPECT_EQ(audit.writable_and_executable, 0u);
    EXPECT_EQ(audit.null_guard_mapped, 0u);
}

TEST(KernelLayout, RefusesHostileLayouts)
{
    struct Case {
        LayoutRange range;
        int error;
    };
    Case const cases[] = {
        { { link_vaddr, link_vaddr + 0x1000, AccessRead | AccessWrite | AccessExecute }, EACCES },
        { { link_vaddr - 0x1000, link_vaddr + 0x1000, AccessRead }, ENOEXEC },            // before the image
        { { link_vaddr + 0x1f000, link_vaddr + 0x21000, AccessRead }, ENOEXEC },          // past its end
        { { link_vaddr + 0x1000, link_vaddr + 0x800, AccessRead }, ENOEXEC },             // reversed
        { { link_vaddr + 0x10, link_vaddr + 0x1000, AccessRead }, ENOEXEC },              // unaligned
        { { link_vaddr, link_vaddr + 0x1000, 0x1ff }, ENOEXEC },                           // access out of range
        { { link_vaddr, ~0ull & ~0xfffull, AccessRead }, ENOEXEC },                  // absurd length
    };
    for (auto const& c : cases) {
        FakeEnv env;
        auto root = build_kernel_address_space(env, &c.range, 1, placement);
        ASSERT_TRUE(root.is_error()) << std::hex << c.range.start << "-" << c.range.end;
        EXPECT_EQ(root.error().code(), c.error) << std::hex << c.range.start << "-" << c.range.end;
    }
    FakeEnv env;
    EXPECT_EQ(build_kernel_address_space(env, layout, 0, placement).error().code(), ENOEXEC);
    EXPECT_EQ(build_kernel_address_space(env, layout, max_layout_ranges + 1, placement).error().code(), ENOEXEC);
}

TEST(KernelLayout, KaslrBasesArePageAlignedAndInsideTheWindow)
{
    constexpr u64 window = 0xfffff00000000000ull, size = 0x00000fffc0000000ull, image = 0x2d000;
    for (u64 random : { 0ull, 1ull, 0x8000000000000000ull, ~0ull, 0x123456789abcdef0ull }) {
        u64 base = choose_kernel_base(window, size, image, random);
        EXPECT_EQ(base % page_size, 0u);
        EXPECT_GE(base, window);
        EXPECT_LE(base + image, window + size) << std::hex << random;
    }
    EXPECT_EQ(choose_kernel_base(window, size, image, 0), window) << "the lowest random value: the window's start";
    EXPECT_EQ(choose_kernel_base(window, size, image, ~0ull), window + size - image) << "the highest: its end";
    // Every page position is reachable: about 2^32 of them in a 16 TiB window.
    EXPECT_NE(choose_kernel_base(window, size, image, 1ull << 32), choose_kernel_base(window, size, image, 2ull << 32));
    EXPECT_EQ(choose_kernel_base(window, 0x10000, 0x20000, 42), 0u) << "image larger than the window";
    EXPECT_EQ(choose_kernel_base(window + 1, size, image, 42), 0u) << "unaligned window";
    EXPECT_EQ(choose_kernel_base(window, size, 0, 42), 0u);
}
