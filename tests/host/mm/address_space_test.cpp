#include <paging/address_space.h>

#include "fake_page_env.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

using namespace kernite::paging;
using kernite::paging::testing::FakeEnv;

namespace {

constexpr u64 kernel_base = 0xffffffff80000000ull;

} // namespace

TEST(AddressSpace, MapsAndTranslatesWithExactPermissions)
{
    FakeEnv env;
    auto space = AddressSpace<FakeEnv>::create(env).release_value();
    ASSERT_FALSE(space.map(kernel_base, 0x200000, 2 * page_size, AccessRead | AccessExecute).is_error());
    ASSERT_FALSE(space.map(kernel_base + 0x10000, 0x300000, page_size, AccessRead).is_error());
    ASSERT_FALSE(space.map(kernel_base + 0x20000, 0x400000, page_size, AccessRead | AccessWrite).is_error());

    auto text = space.translate(kernel_base + page_size + 0x123).release_value();
    EXPECT_EQ(text.phys, 0x201123u);
    EXPECT_EQ(text.access, AccessRead | AccessExecute);
    EXPECT_EQ(space.translate(kernel_base + 0x10000).release_value().access, AccessRead);
    EXPECT_EQ(space.translate(kernel_base + 0x20000).release_value().access, AccessRead | AccessWrite);
    EXPECT_EQ(space.translate(kernel_base + 0x30000).error().code(), ENOENT);
}

TEST(AddressSpace, LeafBitsFollowTheSdmLayout)
{
    FakeEnv env;
    auto space = AddressSpace<FakeEnv>::create(env).release_value();
    ASSERT_FALSE(space.map(kernel_base, 0x5000, page_size, AccessRead | AccessWrite).is_error());
    PageTableEntry* pml4 = env.table(space.root());
    PageTableEntry pml4e = pml4[table_index(kernel_base, 4)];
    EXPECT_TRUE(pml4e.is_present());
    EXPECT_TRUE(pml4e.is_writable()) << "intermediate entries are permissive; the leaf decides";
    EXPECT_TRUE(pml4e.is_executable());
    PageTableEntry* pdpt = env.table(pml4e.address());
    PageTableEntry* pd = env.table(pdpt[table_index(kernel_base, 3)].address());
    PageTableEntry* pt = env.table(pd[table_index(kernel_base, 2)].address());
    PageTableEntry leaf = pt[table_index(kernel_base, 1)];
    EXPECT_EQ(leaf.raw, 0x5000u | PageTableEntry::present | PageTableEntry::writable | PageTableEntry::no_execute);
}

TEST(AddressSpace, RefusesWritableAndExecutable)
{
    FakeEnv env;
    auto space = AddressSpace<FakeEnv>::create(env).release_value();
    auto result = space.map(kernel_base, 0x200000, page_size, AccessRead | AccessWrite | AccessExecute);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), EACCES);
    EXPECT_EQ(space.translate(kernel_base).error().code(), ENOENT) << "nothing mapped after refusal";

    ASSERT_FALSE(space.map(kernel_base, 0x200000, page_size, AccessRead | AccessWrite).is_error());
    auto protect = space.protect(kernel_base, page_size, AccessRead | AccessWrite | AccessExecute);
    ASSERT_TRUE(protect.is_error());
    EXPECT_EQ(protect.error().code(), EACCES);
    EXPECT_EQ(space.translate(kernel_base).release_value().access, AccessRead | AccessWrite);
}

TEST(AddressSpace, NeverMapsTheNullGuard)
{
    FakeEnv env;
    auto space = AddressSpace<FakeEnv>::create(env).release_value();
    EXPECT_EQ(space.map(0, 0x200000, page_size, AccessRead).error().code(), EPERM);
    EXPECT_EQ(space.map(0xf000, 0x200000, page_size, AccessRead).error().code(), EPERM);
    EXPECT_FALSE(space.map(null_guard_size, 0x200000, page_size, AccessRead).is_error());
    EXPECT_EQ(space.audit().null_guard_mapped, 0u);
}

TEST(AddressSpace, RejectsMalformedRanges)
{
    FakeEnv env;
    auto space = AddressSpace<FakeEnv>::create(env).release_value();
    EXPECT_EQ(space.map(kernel_base + 1, 0x200000, page_size, AccessRead).error().code(), EINVAL);
    EXPECT_EQ(space.map(kernel_base, 0x200001, page_size, AccessRead).error().code(), EINVAL);
    EXPECT_EQ(space.map(kernel_base, 0x200000, 0, AccessRead).error().code(), EINVAL);
    EXPECT_EQ(space.map(0x0000800000000000ull, 0, page_size, AccessRead).error().code(), EINVAL);
    // Crosses from the lower canonical half into the hole.
    EXPECT_EQ(space.map(0x00007ffffffff000ull, 0x1000, 2 * page_size, AccessRead).error().code(), EINVAL);
    // Wraps around the top of the address space.
    EXPECT_EQ(space.map(0xfffffffffffff000ull, 0x1000, 2 * page_size, AccessRead).error().code(), EINVAL);
    EXPECT_EQ(space.map(kernel_base, 0xfffffffffffff000ull, 2 * page_size, AccessRead).error().code(), EINVAL);
    EXPECT_EQ(space.map(kernel_base, 0, page_size, AccessWrite).error().code(), EINVAL) << "not readable";
}

TEST(AddressSpace, RefusesToReplaceAPresentMapping)
{
    FakeEnv env;
    auto space = AddressSpace<FakeEnv>::create(env).release_value();
    ASSERT_FALSE(space.map(kernel_base, 0x200000, page_size, AccessRead).is_error());
    EXPECT_EQ(space.map(kernel_base, 0x300000, page_size, AccessRead | AccessExecute).error().code(), EEXIST);
    EXPECT_EQ(space.translate(kernel_base).release_value().phys, 0x200000u);
}

TEST(AddressSpace, LargePagesAndSplitting)
{
    FakeEnv env;
    auto space = AddressSpace<FakeEnv>::create(env).release_value();
    u64 direct_map = 0xffff800000000000ull;
    ASSERT_FALSE(space.map(direct_map, 0, 4 * large_page_size, AccessRead | AccessWrite, true).is_error());
    auto translation = space.translate(direct_map + large_page_size + 0x1234).release_value();
    EXPECT_EQ(translation.page_size, large_page_size);
    EXPECT_EQ(translation.phys, large_page_size + 0x1234);
    EXPECT_EQ(space.audit().leaves, 4u);

    // Making one 4 KiB page inside a 2 MiB page read-only splits only that large page.
    ASSERT_FALSE(space.protect(direct_map + large_page_size + page_size, page_size, AccessRead).is_error());
    EXPECT_EQ(space.translate(direct_map + large_page_size + page_size).release_value().access, AccessRead);
    auto neighbour = space.translate(direct_map + large_page_size).release_value();
    EXPECT_EQ(neighbour.page_size, page_size);
    EXPECT_EQ(neighbour.access, AccessRead | AccessWrite);
    EXPECT_EQ(space.audit().leaves, 3u + 512u);

    ASSERT_FALSE(space.unmap(direct_map + 2 * large_page_size, page_size).is_error());
    EXPECT_EQ(space.translate(direct_map + 2 * large_page_size).error().code(), ENOENT);
    EXPECT_FALSE(space.translate(direct_map + 2 * large_page_size + page_size).is_error());
}

TEST(AddressSpace, AuditFindsNoWritableExecutableLeafInAKernelLayout)
{
    FakeEnv env;
    auto space = AddressSpace<FakeEnv>::create(env).release_value();
    ASSERT_FALSE(space.map(kernel_base, 0x100000, 16 * page_size, AccessRead | AccessExecute | AccessGlobal).is_error());
    ASSERT_FALSE(space.map(kernel_base + 16 * page_size, 0x110000, 8 * page_size, AccessRead | AccessGlobal).is_error());
    ASSERT_FALSE(space.map(kernel_base + 24 * page_size, 0x118000, 8 * page_size, AccessRead | AccessWrite).is_error());
    ASSERT_FALSE(space.map(0xffff800000000000ull, 0, 64 * large_page_size, AccessRead | AccessWrite, true).is_error());
    auto audit = space.audit();
    EXPECT_EQ(audit.writable_and_executable, 0u);
    EXPECT_EQ(audit.null_guard_mapped, 0u);
    EXPECT_EQ(audit.leaves, 32u + 64u);

    // The audit is not a check that cannot fail: forge a W+X leaf behind the builder's back.
    PageTableEntry* pml4 = env.table(space.root());
    PageTableEntry* pdpt = env.table(pml4[table_index(kernel_base, 4)].address());
    PageTableEntry* pd = env.table(pdpt[table_index(kernel_base, 3)].address());
    PageTableEntry* pt = env.table(pd[table_index(kernel_base, 2)].address());
    pt[table_index(kernel_base, 1)].raw |= PageTableEntry::writable;
    EXPECT_EQ(space.audit().writable_and_executable, 1u);
}

TEST(AddressSpace, CanonicalUpperHalfAddressesAreReportedSignExtended)
{
    FakeEnv env;
    auto space = AddressSpace<FakeEnv>::create(env).release_value();
    ASSERT_FALSE(space.map(kernel_base, 0x100000, page_size, AccessRead).is_error());
    u64 seen = 0;
    space.for_each_mapping([&](u64 virt, u64, u64, u8) { seen = virt; });
    EXPECT_EQ(seen, kernel_base);
}

TEST(AddressSpace, OutOfMemoryIsAnErrorNotACrash)
{
    FakeEnv env;
    auto space = AddressSpace<FakeEnv>::create(env).release_value();
    env.m_fail_after = 1;
    auto result = space.map(kernel_base, 0x100000, page_size, AccessRead);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ENOMEM);
}

TEST(AddressSpace, ReleasingTheLowerHalfFreesItsTables)
{
    FakeEnv env;
    auto space = AddressSpace<FakeEnv>::create(env).release_value();
    ASSERT_FALSE(space.map(0x100000, 0x100000, 4 * page_size, AccessRead | AccessExecute).is_error());
    ASSERT_FALSE(space.map(kernel_base, 0x100000, page_size, AccessRead).is_error());
    size_t before = env.live_tables();
    space.release_top_level_range(0, 255);
    EXPECT_EQ(env.live_tables(), before - 3) << "PDPT, PD and PT of the identity range";
    EXPECT_EQ(space.translate(0x100000).error().code(), ENOENT);
    EXPECT_FALSE(space.translate(kernel_base).is_error());
}

TEST(AddressSpace, ReleasingASinglePathFreesExactlyItsTables)
{
    FakeEnv env;
    auto space = AddressSpace<FakeEnv>::create(env).release_value();
    ASSERT_FALSE(space.map(0x100000, 0x100000, 8 * page_size, AccessRead | AccessExecute).is_error());
    ASSERT_FALSE(space.map(kernel_base, 0x100000, page_size, AccessRead).is_error());
    size_t before = env.live_tables();
    space.release_single_path(0x100000);
    EXPECT_EQ(env.live_tables(), before - 3);
    EXPECT_EQ(space.translate(0x100000).error().code(), ENOENT);
    EXPECT_FALSE(space.translate(kernel_base).is_error());
}

TEST(AddressSpace, RunsAcrossPageTableBoundariesMapEveryPage)
{
    FakeEnv env;
    auto space = AddressSpace<FakeEnv>::create(env).release_value();
    u64 start = kernel_base + large_page_size - 3 * page_size; // crosses into the next page table
    ASSERT_FALSE(space.map(start, 0x400000, 10 * page_size, AccessRead | AccessWrite).is_error());
    for (u64 i = 0; i < 10; ++i) {
        auto t = space.translate(start + i * page_size).release_value();
        EXPECT_EQ(t.phys, 0x400000 + i * page_size);
        EXPECT_EQ(t.access, AccessRead | AccessWrite);
    }
    EXPECT_EQ(space.audit().leaves, 10u);
    // A run that hits a present page is refused before anything in that table is written.
    ASSERT_FALSE(space.map(kernel_base + 0x100000, 0x900000, page_size, AccessRead).is_error());
    EXPECT_EQ(space.map(kernel_base + 0x100000 - 2 * page_size, 0x800000, 4 * page_size, AccessRead).error().code(), EEXIST);
    EXPECT_EQ(space.translate(kernel_base + 0x100000 - 2 * page_size).error().code(), ENOENT);
}

TEST(AddressSpace, LargeRunsRefuseToOverlapAndCrossDirectories)
{
    FakeEnv env;
    auto space = AddressSpace<FakeEnv>::create(env).release_value();
    u64 base = 0xffff800000000000ull + 510 * large_page_size; // two entries before a page-directory boundary
    ASSERT_FALSE(space.map(base, 0, 4 * large_page_size, AccessRead | AccessWrite, true).is_error());
    for (u64 i = 0; i < 4; ++i) {
        auto t = space.translate(base + i * large_page_size + 0x1234).release_value();
        EXPECT_EQ(t.page_size, large_page_size);
        EXPECT_EQ(t.phys, i * large_page_size + 0x1234);
    }
    EXPECT_EQ(space.map(base + large_page_size, 0x40000000, large_page_size, AccessRead, true).error().code(), EEXIST);
    EXPECT_EQ(space.map(base + large_page_size, 0x40000000, page_size, AccessRead).error().code(), EEXIST);
    EXPECT_EQ(space.audit().writable_and_executable, 0u);
}
