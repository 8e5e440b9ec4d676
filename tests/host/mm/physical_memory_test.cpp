#include <pmm/physical_memory.h>

#include <gtest/gtest.h>

#include <set>
#include <vector>

using namespace kernite::pmm;

namespace {
constexpr u64 MiB = 1024 * 1024;

struct Fixture {
    explicit Fixture(u64 max_phys)
        : bitmap(PhysicalMemory::bitmap_bytes_for(max_phys))
    {
        memory.initialize(bitmap.data(), max_phys);
    }
    std::vector<u8> bitmap;
    PhysicalMemory memory;
};
} // namespace

TEST(PhysicalMemory, OnlyUsableRamIsHandedOut)
{
    Fixture f(8 * MiB);
    f.memory.add_usable(1 * MiB, 7 * MiB);
    f.memory.reserve(1 * MiB, 256 * 1024); // the kernel image
    EXPECT_EQ(f.memory.total_frames(), (7 * MiB - 256 * 1024) / frame_size);
    std::set<u64> seen;
    while (true) {
        auto frame = f.memory.allocate_frame();
        if (frame.is_error()) {
            EXPECT_EQ(frame.error().code(), ENOMEM);
            break;
        }
        u64 phys = frame.value();
        EXPECT_GE(phys, 1 * MiB + 256 * 1024);
        EXPECT_LT(phys, 8 * MiB);
        EXPECT_EQ(phys % frame_size, 0u);
        EXPECT_TRUE(seen.insert(phys).second) << "frame handed out twice";
    }
    EXPECT_EQ(seen.size(), f.memory.total_frames());
    EXPECT_EQ(f.memory.free_frames_count(), 0u);
}

TEST(PhysicalMemory, UnalignedRegionsRoundInwardsAndReservationsOutwards)
{
    Fixture f(4 * MiB);
    f.memory.add_usable(MiB + 100, 3 * frame_size);
    EXPECT_EQ(f.memory.total_frames(), 2u);
    f.memory.reserve(MiB + frame_size + 10, 1);
    EXPECT_EQ(f.memory.total_frames(), 1u);
    EXPECT_TRUE(f.memory.is_in_use(MiB + frame_size));
}

TEST(PhysicalMemory, DoubleAndInvalidFreesAreErrors)
{
    Fixture f(4 * MiB);
    f.memory.add_usable(MiB, 3 * MiB);
    u64 a = f.memory.allocate_frame().release_value();
    EXPECT_FALSE(f.memory.free_frames(a).is_error());
    auto again = f.memory.free_frames(a);
    ASSERT_TRUE(again.is_error());
    EXPECT_EQ(again.error().code(), EINVAL);
    EXPECT_TRUE(f.memory.free_frames(a + 1).is_error()) << "unaligned";
    EXPECT_TRUE(f.memory.free_frames(64 * MiB).is_error()) << "outside memory";
    EXPECT_TRUE(f.memory.free_frames(0).is_error()) << "never usable";
    EXPECT_TRUE(f.memory.free_frames(MiB, ~0ull).is_error()) << "overflowing count";
}

TEST(PhysicalMemory, FreedFramesAreReused)
{
    Fixture f(4 * MiB);
    f.memory.add_usable(MiB, 3 * MiB);
    u64 first = f.memory.allocate_frame().release_value();
    u64 free_before = f.memory.free_frames_count();
    ASSERT_FALSE(f.memory.free_frames(first).is_error());
    EXPECT_EQ(f.memory.free_frames_count(), free_before + 1);
    EXPECT_EQ(f.memory.allocate_frame().release_value(), first);
}

TEST(PhysicalMemory, ContiguousAlignedAllocations)
{
    Fixture f(16 * MiB);
    f.memory.add_usable(MiB, 15 * MiB);
    (void)f.memory.allocate_frame().release_value(); // break the first 2 MiB-aligned run
    u64 run = f.memory.allocate_contiguous(512, 2 * MiB).release_value();
    EXPECT_EQ(run % (2 * MiB), 0u);
    for (u64 i = 0; i < 512; ++i)
        EXPECT_TRUE(f.memory.is_in_use(run + i * frame_size));
    u64 small = f.memory.allocate_contiguous(3).release_value();
    EXPECT_FALSE(small >= run && small < run + 2 * MiB);
    EXPECT_EQ(f.memory.allocate_contiguous(0).error().code(), EINVAL);
    EXPECT_EQ(f.memory.allocate_contiguous(1, 3000).error().code(), EINVAL);
    EXPECT_EQ(f.memory.allocate_contiguous(100000).error().code(), ENOMEM);
    ASSERT_FALSE(f.memory.free_frames(run, 512).is_error());
}

TEST(PhysicalMemory, ReservedFramesCannotBeFreed)
{
    Fixture f(4 * MiB);
    f.memory.add_usable(MiB, 3 * MiB);
    f.memory.reserve(MiB, 64 * 1024);
    auto result = f.memory.free_frames(MiB);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), EINVAL);
    EXPECT_TRUE(f.memory.is_in_use(MiB));
    EXPECT_FALSE(f.memory.ranges_overflowed());
}
