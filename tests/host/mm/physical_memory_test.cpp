#include <pmm/physical_memory.h>

#include <gtest/gtest.h>

#include <set>
#include <vector>

using namespace kernite::pmm;

namespace {
constexpr u64 MiB = 1024 * 1024;

struct Fixture {
    explicit Fixture(u64 max_phys)
        : bitmap(PhysicalMemory::bitmap_bytes_for(max_phys) / 8)
    {
        memory.initialize(bitmap.data(), max_phys);
    }
    std::vector<u64> bitmap;
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

TEST(PhysicalMemory, ZeroedInitializationMarksOnlyTheGaps)
{
    u64 max_phys = 8 * MiB + 3 * frame_size; // not a multiple of 64 frames: tail bits must be in use
    std::vector<u64> bitmap(PhysicalMemory::bitmap_bytes_for(max_phys) / 8, 0);
    PhysicalMemory::Range usable[] = { { 4 * MiB, 2 * MiB }, { MiB + 100, MiB }, { 7 * MiB, MiB + 3 * frame_size } };
    PhysicalMemory memory;
    memory.initialize_zeroed(bitmap.data(), max_phys, usable, 3);
    // Same state as the slow path with the same map.
    std::vector<u64> slow_bitmap(bitmap.size());
    PhysicalMemory slow;
    slow.initialize(slow_bitmap.data(), max_phys);
    for (auto const& range : usable)
        slow.add_usable(range.base, range.length);
    EXPECT_EQ(bitmap, slow_bitmap);
    EXPECT_EQ(memory.total_frames(), slow.total_frames());
    EXPECT_EQ(memory.free_frames_count(), slow.free_frames_count());
    EXPECT_TRUE(memory.is_in_use(MiB)) << "rounded inwards";
    EXPECT_FALSE(memory.is_in_use(MiB + frame_size));
    EXPECT_TRUE(memory.is_in_use(3 * MiB));
    // A frame in a gap is not RAM: freeing it is refused.
    EXPECT_TRUE(memory.free_frames(3 * MiB).is_error());
}

TEST(PhysicalMemory, PristineFramesAreThoseNeverHandedOut)
{
    std::vector<u64> bitmap(PhysicalMemory::bitmap_bytes_for(4 * MiB) / 8, 0);
    PhysicalMemory::Range usable[] = { { MiB, 3 * MiB } };
    PhysicalMemory memory;
    memory.initialize_zeroed(bitmap.data(), 4 * MiB, usable, 1);
    bool pristine = false;
    u64 a = memory.allocate_frame(&pristine).release_value();
    EXPECT_TRUE(pristine);
    u64 b = memory.allocate_frame(&pristine).release_value();
    EXPECT_TRUE(pristine);
    ASSERT_FALSE(memory.free_frames(a).is_error());
    EXPECT_EQ(memory.allocate_frame(&pristine).release_value(), a);
    EXPECT_FALSE(pristine) << "a reused frame may hold old data";
    (void)b;

    // Without the zeroed guarantee nothing is pristine.
    std::vector<u64> other(bitmap.size());
    PhysicalMemory slow;
    slow.initialize(other.data(), 4 * MiB);
    slow.add_usable(MiB, 3 * MiB);
    (void)slow.allocate_frame(&pristine).release_value();
    EXPECT_FALSE(pristine);
}

// The tagged form answers the same in bit 0 of the address (kernel/mm's per-page allocation uses it).
TEST(PhysicalMemory, TaggedAllocationCarriesPristineInBitZero)
{
    std::vector<u64> bitmap(PhysicalMemory::bitmap_bytes_for(4 * MiB) / 8, 0);
    PhysicalMemory::Range usable[] = { { MiB, 3 * MiB } };
    PhysicalMemory memory;
    memory.initialize_zeroed(bitmap.data(), 4 * MiB, usable, 1);
    u64 first = memory.allocate_frame_tagged().release_value();
    EXPECT_EQ(first & PhysicalMemory::pristine_tag, PhysicalMemory::pristine_tag);
    u64 phys = PhysicalMemory::frame_address(first);
    EXPECT_EQ(phys % frame_size, 0u);
    EXPECT_TRUE(memory.is_in_use(phys));
    ASSERT_FALSE(memory.free_frames(phys).is_error());
    u64 again = memory.allocate_frame_tagged().release_value();
    EXPECT_EQ(PhysicalMemory::frame_address(again), phys);
    EXPECT_EQ(again & PhysicalMemory::pristine_tag, 0u) << "a reused frame may hold old data";
}

// allocate_contiguous reports pristine runs too (kasan::initialize skips clearing the image's shadow).
TEST(PhysicalMemory, PristineContiguousRunsAreThoseNeverHandedOut)
{
    std::vector<u64> bitmap(PhysicalMemory::bitmap_bytes_for(4 * MiB) / 8, 0);
    PhysicalMemory::Range usable[] = { { MiB, 3 * MiB } };
    PhysicalMemory memory;
    memory.initialize_zeroed(bitmap.data(), 4 * MiB, usable, 1);
    bool pristine = false;
    u64 run = memory.allocate_contiguous(8, frame_size, &pristine).release_value();
    EXPECT_TRUE(pristine);
    u64 next = memory.allocate_contiguous(4, frame_size, &pristine).release_value();
    EXPECT_TRUE(pristine);
    EXPECT_GE(next, run + 8 * frame_size);
    ASSERT_FALSE(memory.free_frames(run, 8).is_error());
    // The hint moves on; search from the start by filling the rest, then ask for the freed run again.
    u64 again = 0;
    bool found = false;
    for (int i = 0; i < 1000 && !found; ++i) {
        auto result = memory.allocate_contiguous(8, frame_size, &pristine);
        if (result.is_error())
            break;
        again = result.value();
        found = again == run;
    }
    ASSERT_TRUE(found) << "the freed run was never handed out again";
    EXPECT_FALSE(pristine) << "a reused run may hold old data";
    // Without the argument nothing changes.
    EXPECT_FALSE(memory.allocate_contiguous(1).is_error());
}

// The word-at-a-time search against a model (a bool per frame) on a fragmented bitmap: every run handed out is
// free, aligned and inside usable memory, and a request fails only when no such run exists anywhere.
TEST(PhysicalMemory, ContiguousSearchMatchesAModelOnFragmentedMemory)
{
    constexpr u64 max_phys = 4 * MiB + 37 * frame_size; // the last bitmap word is partial
    Fixture f(max_phys);
    f.memory.add_usable(64 * 1024, max_phys - 64 * 1024);
    f.memory.reserve(300 * frame_size, 70 * frame_size);
    u64 const frame_count = max_phys / frame_size;
    std::vector<bool> used(frame_count);
    for (u64 frame = 0; frame < frame_count; ++frame)
        used[frame] = frame < 16 || (frame >= 300 && frame < 370);
    auto fits = [&](u64 start, u64 count) {
        for (u64 i = 0; i < count; ++i) {
            if (start + i >= frame_count || used[start + i])
                return false;
        }
        return true;
    };
    std::vector<std::pair<u64, u64>> live; // (first frame, count)
    u64 state = 12345;
    auto next_random = [&] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    for (int step = 0; step < 4000; ++step) {
        if (!live.empty() && next_random() % 3 == 0) {
            usize index = next_random() % live.size();
            auto [first, count] = live[index];
            ASSERT_FALSE(f.memory.free_frames(first * frame_size, count).is_error());
            for (u64 i = 0; i < count; ++i)
                used[first + i] = false;
            live.erase(live.begin() + static_cast<long>(index));
            continue;
        }
        u64 count = 1 + next_random() % (next_random() % 4 == 0 ? 130 : 5);
        u64 alignment = frame_size << (next_random() % 4 == 0 ? next_random() % 5 : 0);
        auto result = f.memory.allocate_contiguous(count, alignment);
        if (result.is_error()) {
            ASSERT_EQ(result.error().code(), ENOMEM);
            for (u64 start = 0; start < frame_count; start += alignment / frame_size)
                ASSERT_FALSE(fits(start, count)) << count << " frames at " << start << " were free";
            continue;
        }
        u64 first = result.value() / frame_size;
        ASSERT_EQ(result.value() % alignment, 0u);
        ASSERT_TRUE(fits(first, count)) << count << " frames at " << first;
        for (u64 i = 0; i < count; ++i)
            used[first + i] = true;
        live.emplace_back(first, count);
    }
}
