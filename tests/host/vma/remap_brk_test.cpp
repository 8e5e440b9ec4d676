// RegionMap::remap (mremap for private memory, Linux's rules and errnos) and the brk heap.
#include <vma/region_map.h>

#include "failing_allocator.h"
#include "map_helpers.h"

#include <gtest/gtest.h>

using namespace kernite::vma;
using namespace kernite::vma::testing;

namespace {

constexpr u64 base = 0x20000000;

int remap_error(RegionMap& map, u64 old_address, u64 old_length, u64 new_length, u32 flags, u64 new_address = 0)
{
    auto result = map.remap(old_address, old_length, new_length, flags, new_address, fail_removed, fail_moved);
    return result.is_error() ? result.error().code() : 0;
}

} // namespace

TEST(Remap, ShrinkInPlaceRemovesTheTail)
{
    RegionMap map;
    ASSERT_FALSE(map.map(anonymous(base, 8 * page, rw), WxMode::Strict, fail_removed).is_error());
    Recorder recorder;
    auto result = map.remap(base, 8 * page, 3 * page, 0, 0, recorder.on_removed(), fail_moved);
    ASSERT_EQ(result.value(), base);
    EXPECT_EQ(recorder.removed_ranges(), (std::vector<Range> { { base + 3 * page, base + 8 * page } }));
    EXPECT_EQ(map.find(base)->end, base + 3 * page);
    EXPECT_EQ(map.remap(base, 3 * page, 3 * page, 0, 0, fail_removed, fail_moved).value(), base) << "same size";
    // Linux shrinks without looking at what is mapped: the tail is just unmapped.
    EXPECT_EQ(map.remap(base + 40 * page, 4 * page, page, 0, 0, fail_removed, fail_moved).value(), base + 40 * page);
}

TEST(Remap, GrowsInPlaceWhenTheNextPagesAreFree)
{
    RegionMap map;
    ASSERT_FALSE(map.map(anonymous(base, 2 * page, rw), WxMode::Strict, fail_removed).is_error());
    ASSERT_FALSE(map.map(anonymous(base + 6 * page, 2 * page, rw), WxMode::Strict, fail_removed).is_error());
    EXPECT_EQ(map.remap(base, 2 * page, 4 * page, 0, 0, fail_removed, fail_moved).value(), base);
    EXPECT_EQ(map.find(base)->end, base + 4 * page);
    // Growing to touch the next equal region merges them.
    EXPECT_EQ(map.remap(base, 4 * page, 6 * page, 0, 0, fail_removed, fail_moved).value(), base);
    EXPECT_EQ(map.region_count(), 1u);
    EXPECT_EQ(map.find(base)->end, base + 8 * page);
    // Growing the tail part of a region that ends there is in place too.
    EXPECT_EQ(map.remap(base + 6 * page, 2 * page, 3 * page, 0, 0, fail_removed, fail_moved).value(), base + 6 * page);
    EXPECT_EQ(map.find(base)->end, base + 9 * page);
    EXPECT_TRUE(well_formed(map));
}

TEST(Remap, MovesWhenItCannotGrowInPlace)
{
    RegionMap map;
    map.set_mmap_base(0x7f0000000000);
    ASSERT_FALSE(map.map(anonymous(base, 4 * page, rw), WxMode::Strict, fail_removed).is_error());
    ASSERT_FALSE(map.map(anonymous(base + 4 * page, page, r), WxMode::Strict, fail_removed).is_error());
    ASSERT_FALSE(map.protect(base, 4 * page, r, WxMode::Strict, ignore_changed).is_error());
    ASSERT_FALSE(map.protect(base, 4 * page, rw, WxMode::Strict, ignore_changed).is_error());

    EXPECT_EQ(remap_error(map, base, 4 * page, 8 * page, 0), ENOMEM) << "no MREMAP_MAYMOVE";
    Recorder recorder;
    u64 const moved_to
        = map.remap(base, 4 * page, 8 * page, mremap_maymove, 0, fail_removed, recorder.on_moved()).value();
    EXPECT_EQ(moved_to, 0x7f0000000000 - 8 * page) << "find_free()'s choice";
    ASSERT_EQ(recorder.moved.size(), 1u);
    EXPECT_EQ(recorder.moved[0].old_start, base);
    EXPECT_EQ(recorder.moved[0].new_start, moved_to);
    EXPECT_EQ(recorder.moved[0].length, 4 * page) << "only the old pages move; the rest is new";
    EXPECT_EQ(recorder.moved[0].prot, rw);
    EXPECT_EQ(map.find(base), nullptr);
    Region const* moved = map.find(moved_to);
    ASSERT_NE(moved, nullptr);
    EXPECT_EQ(moved->end, moved_to + 8 * page);
    EXPECT_EQ(moved->prot, rw);
    EXPECT_TRUE(moved->was_writable);
    EXPECT_NE(map.find(base + 4 * page), nullptr) << "the neighbour stays";
    EXPECT_TRUE(well_formed(map));
}

TEST(Remap, MovesThePartOfARegion)
{
    RegionMap map;
    char const* path = "/app";
    MapRequest program { .start = base,
        .length = 8 * page,
        .prot = r,
        .kind = RegionKind::Program,
        .name = path,
        .offset = 0x3000 };
    ASSERT_FALSE(map.map(program, WxMode::Strict, fail_removed).is_error());
    Recorder recorder;
    u64 const target = base + 100 * page;
    ASSERT_EQ(map.remap(base + 2 * page, 2 * page, 2 * page, mremap_maymove | mremap_fixed, target, fail_removed,
                     recorder.on_moved())
                  .value(),
        target);
    auto regions = snapshot(map);
    ASSERT_EQ(regions.size(), 3u);
    EXPECT_EQ(regions[0].end, base + 2 * page);
    EXPECT_EQ(regions[1].start, base + 4 * page);
    EXPECT_EQ(regions[1].offset, 0x3000 + 4 * page) << "the file offset follows the split";
    EXPECT_EQ(regions[2].start, target);
    EXPECT_EQ(regions[2].offset, 0x3000 + 2 * page) << "and the move";
    EXPECT_STREQ(regions[2].name, "/app");
    EXPECT_TRUE(well_formed(map));
}

TEST(Remap, FixedReplacesTheTargetAndShrinks)
{
    RegionMap map;
    ASSERT_FALSE(map.map(anonymous(base, 6 * page, rw), WxMode::Strict, fail_removed).is_error());
    ASSERT_FALSE(map.map(anonymous(base + 20 * page, 4 * page, r), WxMode::Strict, fail_removed).is_error());
    Recorder recorder;
    u64 const result = map.remap(base, 6 * page, 2 * page, mremap_maymove | mremap_fixed, base + 21 * page,
                              recorder.on_removed(), recorder.on_moved())
                           .value();
    EXPECT_EQ(result, base + 21 * page);
    EXPECT_EQ(recorder.removed_ranges(),
        (std::vector<Range> { { base + 21 * page, base + 23 * page }, { base + 2 * page, base + 6 * page } }))
        << "the target's old pages first, then the old range's tail";
    ASSERT_EQ(recorder.moved.size(), 1u);
    EXPECT_EQ(recorder.moved[0].length, 2 * page);
    auto regions = snapshot(map);
    ASSERT_EQ(regions.size(), 3u);
    EXPECT_EQ(regions[0].start, base + 20 * page);
    EXPECT_EQ(regions[0].end, base + 21 * page);
    EXPECT_EQ(regions[1].start, base + 21 * page);
    EXPECT_EQ(regions[1].end, base + 23 * page);
    EXPECT_EQ(regions[1].prot, rw);
    EXPECT_EQ(regions[2].start, base + 23 * page);
    EXPECT_TRUE(well_formed(map));
}

TEST(Remap, Errors)
{
    RegionMap map;
    ASSERT_FALSE(map.map(anonymous(base, 4 * page, rw), WxMode::Strict, fail_removed).is_error());
    ASSERT_FALSE(map.map(anonymous(base + 4 * page, 4 * page, r), WxMode::Strict, fail_removed).is_error());
    auto const before = snapshot(map);
    EXPECT_EQ(remap_error(map, base, page, 2 * page, 8), EINVAL) << "unknown flag";
    EXPECT_EQ(remap_error(map, base, page, page, mremap_maymove | mremap_dontunmap, base + 40 * page), EINVAL);
    EXPECT_EQ(remap_error(map, base, page, 2 * page, mremap_fixed, base + 40 * page), EINVAL) << "FIXED alone";
    EXPECT_EQ(remap_error(map, base + 1, page, 2 * page, mremap_maymove), EINVAL) << "unaligned";
    EXPECT_EQ(remap_error(map, base, page, 0, mremap_maymove), EINVAL) << "new length 0";
    EXPECT_EQ(remap_error(map, base, 0, page, mremap_maymove), EINVAL) << "old length 0 on private memory";
    EXPECT_EQ(remap_error(map, base, ~0ull, page, mremap_maymove), EINVAL) << "old length overflows";
    EXPECT_EQ(remap_error(map, base, page, ~0ull, mremap_maymove), EINVAL) << "new length overflows";
    u32 const fixed = mremap_maymove | mremap_fixed;
    EXPECT_EQ(remap_error(map, base, 2 * page, 2 * page, fixed, base + page), EINVAL) << "overlap";
    EXPECT_EQ(remap_error(map, base, 2 * page, 2 * page, fixed, base + 40 * page + 1), EINVAL) << "target unaligned";
    EXPECT_EQ(remap_error(map, base, 2 * page, 2 * page, fixed, user_address_limit - page), EINVAL);
    EXPECT_EQ(remap_error(map, base, 2 * page, 2 * page, fixed, 0x1000), EPERM) << "below 64 KiB";
    EXPECT_EQ(remap_error(map, base + 20 * page, page, 2 * page, mremap_maymove), EFAULT) << "nothing mapped";
    EXPECT_EQ(remap_error(map, base + 2 * page, 4 * page, 8 * page, mremap_maymove), EFAULT) << "two regions";
    EXPECT_EQ(remap_error(map, base + 20 * page, page, page, fixed, base + 40 * page), EFAULT);
    EXPECT_EQ(remap_error(map, base, 4 * page, 5 * page, 0), ENOMEM) << "the next page is taken";
    EXPECT_TRUE(same_map(snapshot(map), before));
}

TEST(Remap, OutOfMemoryLeavesTheMapUnchanged)
{
    RegionMap map;
    for (u64 i = 0; i < 16; ++i) {
        ASSERT_FALSE(
            map.map(anonymous(base + 4 * i * page, 2 * page, i % 2 ? r : rw), WxMode::Strict, fail_removed).is_error());
    }
    auto const before = snapshot(map);
    AllocationFailureScope failing(0);
    EXPECT_EQ(remap_error(map, base, page, page, mremap_maymove | mremap_fixed, base + 200 * page), ENOMEM);
    EXPECT_EQ(remap_error(map, base, 2 * page, 5 * page, mremap_maymove), ENOMEM) << "a move needs a slot";
    EXPECT_EQ(remap_error(map, base, 2 * page, page, 0), ENOMEM) << "a shrink that splits needs one too";
    EXPECT_TRUE(same_map(snapshot(map), before));
    EXPECT_GE(failed_allocations(), 3);
}

TEST(Brk, GrowsAndShrinksTheHeap)
{
    RegionMap map;
    u64 const start = 0x555555600000;
    ASSERT_FALSE(map.set_brk_area(start, start + 0x100000).is_error());
    EXPECT_EQ(map.brk(), start);
    EXPECT_EQ(map.brk_start(), start);

    EXPECT_EQ(map.set_brk(start + 100, fail_removed).value(), start + 100);
    Region const* heap = map.find(start);
    ASSERT_NE(heap, nullptr);
    EXPECT_EQ(heap->end, start + page);
    EXPECT_EQ(heap->prot, rw);
    EXPECT_EQ(heap->kind, RegionKind::Heap);
    EXPECT_STREQ(heap->name, "[heap]");

    EXPECT_EQ(map.set_brk(start + 3 * page + 1, fail_removed).value(), start + 3 * page + 1);
    EXPECT_EQ(map.region_count(), 1u) << "growth merges into the heap region";
    EXPECT_EQ(map.find(start)->end, start + 4 * page);
    EXPECT_EQ(map.set_brk(start + 4 * page, fail_removed).value(), start + 4 * page) << "same page: no change";
    EXPECT_EQ(map.find(start)->end, start + 4 * page);

    Recorder recorder;
    EXPECT_EQ(map.set_brk(start + page + 8, recorder.on_removed()).value(), start + page + 8);
    EXPECT_EQ(recorder.removed_ranges(), (std::vector<Range> { { start + 2 * page, start + 4 * page } }));
    EXPECT_EQ(map.set_brk(start, recorder.on_removed()).value(), start);
    EXPECT_EQ(map.region_count(), 0u);
}

TEST(Brk, RefusesOutsideTheAreaAndIntoOtherMappings)
{
    RegionMap map;
    u64 const start = 0x555555600000;
    EXPECT_EQ(map.set_brk(start, fail_removed).error().code(), ENOMEM) << "no area yet";
    ASSERT_FALSE(map.set_brk_area(start, start + 64 * page).is_error());
    EXPECT_EQ(map.set_brk(start - 1, fail_removed).error().code(), ENOMEM);
    EXPECT_EQ(map.set_brk(start + 64 * page + 1, fail_removed).error().code(), ENOMEM);
    EXPECT_EQ(map.set_brk(start + 64 * page, fail_removed).value(), start + 64 * page) << "the limit itself";
    EXPECT_EQ(map.set_brk(start + page, ignore_removed).value(), start + page);

    // A mapping at +10 pages: the heap may grow to +9 pages (one free page stays between), not further.
    ASSERT_FALSE(map.map(anonymous(start + 10 * page, page, r), WxMode::Strict, fail_removed).is_error());
    EXPECT_EQ(map.set_brk(start + 9 * page + 1, fail_removed).error().code(), ENOMEM);
    EXPECT_EQ(map.brk(), start + page) << "a refused brk leaves the break where it was";
    EXPECT_EQ(map.set_brk(start + 9 * page, fail_removed).value(), start + 9 * page);

    // Stack gap: a stack 20 pages up keeps the heap default_stack_gap (1 MiB) away from it.
    RegionMap stacked;
    ASSERT_FALSE(stacked.set_brk_area(start, start + 1024 * page).is_error());
    MapRequest stack { .start = start + 300 * page, .length = 8 * page, .prot = rw, .kind = RegionKind::Stack };
    ASSERT_FALSE(stacked.map(stack, WxMode::Strict, fail_removed).is_error());
    EXPECT_EQ(stacked.set_brk(start + 60 * page, fail_removed).error().code(), ENOMEM);
    EXPECT_EQ(stacked.set_brk(start + 43 * page, fail_removed).value(), start + 43 * page);

    // The area itself.
    RegionMap other;
    EXPECT_EQ(other.set_brk_area(start + 1, start + page).error().code(), EINVAL);
    EXPECT_EQ(other.set_brk_area(0x1000, 0x10000).error().code(), EINVAL) << "below 64 KiB";
    EXPECT_EQ(other.set_brk_area(start, start - page).error().code(), EINVAL);
    EXPECT_EQ(other.set_brk_area(start, user_address_limit + page).error().code(), EINVAL);
    EXPECT_EQ(map.set_brk_area(start + page, start + 2 * page).error().code(), EINVAL) << "heap in use";
}

TEST(Brk, OutOfMemoryKeepsTheBreak)
{
    RegionMap map;
    u64 const start = 0x555555600000;
    ASSERT_FALSE(map.set_brk_area(start, start + 64 * page).is_error());
    {
        AllocationFailureScope failing(0);
        EXPECT_EQ(map.set_brk(start + page, fail_removed).error().code(), ENOMEM);
        EXPECT_EQ(map.brk(), start);
        EXPECT_EQ(map.region_count(), 0u);
    }
    EXPECT_EQ(map.set_brk(start + page, fail_removed).value(), start + page);
}
