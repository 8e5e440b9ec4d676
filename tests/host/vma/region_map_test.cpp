// RegionMap: map/unmap/protect/find_free, splitting and merging, every errno, and failure atomicity (an
// operation that fails, out of memory included, leaves the map as it was).
#include <vma/region_map.h>

#include "failing_allocator.h"
#include "map_helpers.h"

#include <gtest/gtest.h>

using namespace kernite::vma;
using namespace kernite::vma::testing;

namespace {

constexpr u64 base = 0x10000000;

} // namespace

TEST(RegionMap, MapFindAndMergeAdjacentEqualRegions)
{
    RegionMap map;
    ASSERT_FALSE(map.map(anonymous(base, 2 * page, rw), WxMode::Strict, fail_removed).is_error());
    ASSERT_FALSE(map.map(anonymous(base + 2 * page, page, rw), WxMode::Strict, fail_removed).is_error());
    ASSERT_EQ(map.region_count(), 1u) << "equal neighbours merge, as Linux's vma_merge()";
    Region const* region = map.find(base + 2 * page + 5);
    ASSERT_NE(region, nullptr);
    EXPECT_EQ(region->start, base);
    EXPECT_EQ(region->end, base + 3 * page);
    EXPECT_EQ(region->prot, rw);
    EXPECT_TRUE(region->was_writable);
    EXPECT_EQ(map.find(base + 3 * page), nullptr);
    EXPECT_EQ(map.find(base - 1), nullptr);
    EXPECT_FALSE(map.is_free(base + 3 * page - 1, 1));
    EXPECT_TRUE(map.is_free(base + 3 * page, 100 * page));
    EXPECT_FALSE(map.is_free(base - page, 2 * page));

    // Below, a different protection: its own region.
    ASSERT_FALSE(map.map(anonymous(base - page, page, r), WxMode::Strict, fail_removed).is_error());
    EXPECT_EQ(map.region_count(), 2u);
    EXPECT_FALSE(map.find(base - page)->was_writable);
    EXPECT_TRUE(well_formed(map));
}

TEST(RegionMap, KindsNamesAndOffsetsDecideMerging)
{
    RegionMap map;
    char const* path = "/bin/program";
    auto program = [&](u64 start, u64 length, u32 prot, u64 offset) {
        return MapRequest { .start = start,
            .length = length,
            .prot = prot,
            .kind = RegionKind::Program,
            .name = path,
            .offset = offset };
    };
    ASSERT_FALSE(map.map(program(base, page, r, 0), WxMode::Strict, fail_removed).is_error());
    ASSERT_FALSE(map.map(program(base + page, page, r, page), WxMode::Strict, fail_removed).is_error());
    EXPECT_EQ(map.region_count(), 1u) << "contiguous file offsets merge";
    ASSERT_FALSE(map.map(program(base + 2 * page, page, r, 7 * page), WxMode::Strict, fail_removed).is_error());
    EXPECT_EQ(map.region_count(), 2u) << "a jump in the file offset does not";
    ASSERT_FALSE(map.map(anonymous(base + 3 * page, page, r), WxMode::Strict, fail_removed).is_error());
    EXPECT_EQ(map.region_count(), 3u) << "another kind does not";
    MapRequest named = anonymous(base + 4 * page, page, r);
    named.name = "other";
    ASSERT_FALSE(map.map(named, WxMode::Strict, fail_removed).is_error());
    EXPECT_EQ(map.region_count(), 4u) << "another name does not";
    MapRequest heap { .start = base + 5 * page, .length = page, .prot = rw, .kind = RegionKind::Heap };
    ASSERT_FALSE(map.map(heap, WxMode::Strict, fail_removed).is_error());
    EXPECT_STREQ(map.find(base + 5 * page)->name, "[heap]") << "default names";
    MapRequest anonymous_with_offset = anonymous(base + 6 * page, page, r);
    anonymous_with_offset.offset = 0x5000;
    ASSERT_FALSE(map.map(anonymous_with_offset, WxMode::Strict, fail_removed).is_error());
    EXPECT_EQ(map.find(base + 6 * page)->offset, 0u) << "only Program and File regions carry an offset";
    EXPECT_TRUE(well_formed(map));
}

TEST(RegionMap, MapErrors)
{
    RegionMap map;
    ASSERT_FALSE(map.map(anonymous(base, 4 * page, rw), WxMode::Strict, fail_removed).is_error());
    auto const before = snapshot(map);
    auto code = [&](MapRequest const& request, WxMode mode = WxMode::Strict) {
        auto result = map.map(request, mode, fail_removed);
        return result.is_error() ? result.error().code() : 0;
    };
    EXPECT_EQ(code(anonymous(base + 8 * page, 0, rw)), EINVAL) << "zero length";
    EXPECT_EQ(code(anonymous(base + 8 * page + 1, page, rw)), EINVAL) << "unaligned";
    EXPECT_EQ(code(anonymous(base + 8 * page, page, 8)), EINVAL) << "unknown prot bit";
    EXPECT_EQ(code(anonymous(0, page, rw)), EPERM) << "page 0";
    EXPECT_EQ(code(anonymous(0x1000, page, r)), EPERM);
    EXPECT_EQ(code(anonymous(0xf000, page, r)), EPERM) << "the last page below 64 KiB";
    EXPECT_EQ(code(anonymous(0xf000, 2 * page, r)), EPERM);
    EXPECT_EQ(code(anonymous(user_address_limit - page, 2 * page, r)), ENOMEM) << "past the user address space";
    EXPECT_EQ(code(anonymous(user_address_limit, page, r)), ENOMEM);
    EXPECT_EQ(code(anonymous(base + 8 * page, ~0ull - 5, r)), ENOMEM) << "length rounding overflows";
    EXPECT_EQ(code(anonymous(base + 8 * page, page, rwx)), EACCES) << "W+X";
    EXPECT_EQ(code(anonymous(base + 8 * page, page, prot_write | prot_exec), WxMode::Relaxed), EACCES);
    EXPECT_EQ(code(anonymous(base + 3 * page, 2 * page, r)), EEXIST) << "MAP_FIXED_NOREPLACE over a mapping";
    EXPECT_TRUE(same_map(snapshot(map), before));

    EXPECT_EQ(code(anonymous(0x10000, page, r)), 0) << "64 KiB itself is allowed";
    EXPECT_EQ(code(anonymous(user_address_limit - page, page, r)), 0) << "the last user page";
    EXPECT_EQ(code(anonymous(base + 8 * page, page, rwx), WxMode::Disabled), 0) << "baseline: no W^X";
    EXPECT_EQ(code(anonymous(base + 9 * page, page + 1, rx)), 0) << "a fresh executable mapping is fine";
    EXPECT_EQ(map.find(base + 10 * page)->end, base + 11 * page) << "length rounded up to pages";
    EXPECT_TRUE(well_formed(map));
}

TEST(RegionMap, MapFixedReplacesAndReportsWhatItRemoves)
{
    RegionMap map;
    ASSERT_FALSE(map.map(anonymous(base, 4 * page, rw), WxMode::Strict, fail_removed).is_error());
    ASSERT_FALSE(map.map(anonymous(base + 6 * page, 2 * page, r), WxMode::Strict, fail_removed).is_error());
    Recorder recorder;
    ASSERT_FALSE(
        map.map(anonymous(base + 2 * page, 5 * page, rx, true), WxMode::Strict, recorder.on_removed()).is_error());
    EXPECT_EQ(recorder.removed_ranges(),
        (std::vector<Range> { { base + 2 * page, base + 4 * page }, { base + 6 * page, base + 7 * page } }));
    EXPECT_EQ(recorder.removed[0].prot, rw);
    EXPECT_EQ(recorder.removed[1].prot, r);
    auto regions = snapshot(map);
    ASSERT_EQ(regions.size(), 3u);
    EXPECT_EQ(regions[0].end, base + 2 * page);
    EXPECT_EQ(regions[1].start, base + 2 * page);
    EXPECT_EQ(regions[1].end, base + 7 * page);
    EXPECT_EQ(regions[1].prot, rx);
    EXPECT_FALSE(regions[1].was_writable) << "a new mapping starts a new history";
    EXPECT_EQ(regions[2].start, base + 7 * page);
    EXPECT_TRUE(well_formed(map));
}

TEST(RegionMap, UnmapSplitsAndReports)
{
    RegionMap map;
    ASSERT_FALSE(map.map(anonymous(base, 8 * page, rw), WxMode::Strict, fail_removed).is_error());
    Recorder recorder;
    ASSERT_FALSE(map.unmap(base + 2 * page, 3 * page, recorder.on_removed()).is_error());
    EXPECT_EQ(recorder.removed_ranges(), (std::vector<Range> { { base + 2 * page, base + 5 * page } }));
    auto regions = snapshot(map);
    ASSERT_EQ(regions.size(), 2u);
    EXPECT_EQ(regions[0].end, base + 2 * page);
    EXPECT_EQ(regions[1].start, base + 5 * page);
    EXPECT_EQ(regions[1].end, base + 8 * page);

    // Across a hole and two regions; one byte of length is one page.
    recorder = {};
    ASSERT_FALSE(map.unmap(base + page, 4 * page + 1, recorder.on_removed()).is_error());
    EXPECT_EQ(recorder.removed_ranges(),
        (std::vector<Range> { { base + page, base + 2 * page }, { base + 5 * page, base + 6 * page } }));
    EXPECT_EQ(map.region_count(), 2u);

    recorder = {};
    ASSERT_FALSE(map.unmap(base + 100 * page, page, recorder.on_removed()).is_error()) << "nothing there: 0";
    EXPECT_TRUE(recorder.removed.empty());
    EXPECT_TRUE(well_formed(map));
}

TEST(RegionMap, UnmapErrors)
{
    RegionMap map;
    ASSERT_FALSE(map.map(anonymous(base, page, rw), WxMode::Strict, fail_removed).is_error());
    EXPECT_EQ(map.unmap(base + 1, page, fail_removed).error().code(), EINVAL);
    EXPECT_EQ(map.unmap(base, 0, fail_removed).error().code(), EINVAL);
    EXPECT_EQ(map.unmap(base, ~0ull, fail_removed).error().code(), EINVAL);
    EXPECT_EQ(map.unmap(user_address_limit, page, fail_removed).error().code(), EINVAL);
    EXPECT_EQ(map.unmap(user_address_limit - page, 2 * page, fail_removed).error().code(), EINVAL);
    EXPECT_EQ(map.region_count(), 1u);
    EXPECT_FALSE(map.unmap(0, page, fail_removed).is_error()) << "unmapping page 0 (unmapped) is not an error";
}

TEST(RegionMap, ProtectSplitsMergesAndReports)
{
    RegionMap map;
    ASSERT_FALSE(map.map(anonymous(base, 6 * page, rw), WxMode::Strict, fail_removed).is_error());
    Recorder recorder;
    ASSERT_FALSE(map.protect(base + 2 * page, 2 * page, r, WxMode::Strict, recorder.on_changed()).is_error());
    ASSERT_EQ(recorder.changed.size(), 1u);
    EXPECT_EQ(recorder.changed[0].start, base + 2 * page);
    EXPECT_EQ(recorder.changed[0].end, base + 4 * page);
    EXPECT_EQ(recorder.changed[0].old_prot, rw);
    EXPECT_EQ(recorder.changed[0].new_prot, r);
    auto regions = snapshot(map);
    ASSERT_EQ(regions.size(), 3u);
    EXPECT_EQ(regions[1].prot, r);
    EXPECT_TRUE(regions[1].was_writable) << "the history stays with the pages";

    // Back to RW over the whole range: one change report for the middle only, and one region again.
    recorder = {};
    ASSERT_FALSE(map.protect(base, 6 * page, rw, WxMode::Strict, recorder.on_changed()).is_error());
    ASSERT_EQ(recorder.changed.size(), 1u);
    EXPECT_EQ(recorder.changed[0].start, base + 2 * page);
    EXPECT_EQ(map.region_count(), 1u);

    recorder = {};
    ASSERT_FALSE(map.protect(base, 0, rx, WxMode::Strict, recorder.on_changed()).is_error()) << "length 0";
    ASSERT_FALSE(map.protect(base, 1, rw, WxMode::Strict, recorder.on_changed()).is_error());
    EXPECT_TRUE(recorder.changed.empty()) << "no report when nothing changes";
    EXPECT_TRUE(well_formed(map));
}

TEST(RegionMap, ProtectErrorsChangeNothing)
{
    RegionMap map;
    ASSERT_FALSE(map.map(anonymous(base, 2 * page, r), WxMode::Strict, fail_removed).is_error());
    ASSERT_FALSE(map.map(anonymous(base + 2 * page, 2 * page, rw), WxMode::Strict, fail_removed).is_error());
    ASSERT_FALSE(map.map(anonymous(base + 6 * page, 2 * page, r), WxMode::Strict, fail_removed).is_error());
    auto const before = snapshot(map);
    auto code = [&](u64 start, u64 length, u32 prot, WxMode mode = WxMode::Strict) {
        auto result = map.protect(start, length, prot, mode,
            [](ProtectionChange const&) { ADD_FAILURE() << "a failed mprotect reported a change"; });
        return result.is_error() ? result.error().code() : 0;
    };
    EXPECT_EQ(code(base + 1, page, r), EINVAL);
    EXPECT_EQ(code(base, page, 0x10), EINVAL);
    EXPECT_EQ(code(base, 8 * page, r), ENOMEM) << "a hole at base + 4 pages";
    EXPECT_EQ(code(base + 4 * page, page, r), ENOMEM) << "wholly unmapped";
    EXPECT_EQ(code(base, ~0ull - 100, r), ENOMEM) << "overflowing range";
    EXPECT_EQ(code(base, 4 * page, rwx), EACCES) << "W+X";
    // R region may become RX (never writable), the RW one may not: checked for both before either changes.
    EXPECT_EQ(code(base, 4 * page, rx), EACCES);
    EXPECT_TRUE(same_map(snapshot(map), before));
    EXPECT_FALSE(map.protect(base, 2 * page, rx, WxMode::Strict, ignore_changed).is_error())
        << "read-only memory that was never writable may become executable";
}

TEST(RegionMap, WriteThenExecuteIsRefusedUnlessRelaxed)
{
    RegionMap map;
    ASSERT_FALSE(map.map(anonymous(base, 4 * page, rx), WxMode::Strict, fail_removed).is_error());
    // RX -> RW (a JIT or a loader patching code) is fine; back to RX is the PaX MPROTECT case.
    ASSERT_FALSE(map.protect(base, page, rw, WxMode::Strict, ignore_changed).is_error());
    auto denied = map.protect(base, page, rx, WxMode::Strict, ignore_changed);
    ASSERT_TRUE(denied.is_error());
    EXPECT_EQ(denied.error().code(), EACCES);
    EXPECT_NE(std::string(denied.error().reason()).find("PaX MPROTECT"), std::string::npos);
    // RW -> R -> RX: dropping write first does not launder the history.
    ASSERT_FALSE(map.protect(base, page, r, WxMode::Strict, ignore_changed).is_error());
    EXPECT_EQ(map.protect(base, page, rx, WxMode::Strict, ignore_changed).error().code(), EACCES);
    EXPECT_EQ(map.protect(base, page, prot_exec, WxMode::Strict, ignore_changed).error().code(), EACCES);
    // Relaxed allows the flip, never W+X.
    EXPECT_FALSE(map.protect(base, page, rx, WxMode::Relaxed, ignore_changed).is_error());
    EXPECT_EQ(map.protect(base, page, rwx, WxMode::Relaxed, ignore_changed).error().code(), EACCES);
    // The neighbours never written keep their right to stay executable.
    EXPECT_FALSE(map.find(base + page)->was_writable);
    EXPECT_TRUE(map.find(base)->was_writable);
    EXPECT_TRUE(well_formed(map));
}

TEST(RegionMap, FindFreeSearchesTopDownBelowTheMmapBase)
{
    RegionMap map;
    u64 const mmap_base = 0x7f0000000000;
    map.set_mmap_base(mmap_base);
    EXPECT_EQ(map.find_free(4 * page).value(), mmap_base - 4 * page);
    ASSERT_FALSE(map.map(anonymous(mmap_base - 4 * page, 4 * page, rw), WxMode::Strict, fail_removed).is_error());
    EXPECT_EQ(map.find_free(page).value(), mmap_base - 5 * page) << "just below the previous mapping";
    // A one-page hole is skipped for two pages and used for one.
    ASSERT_FALSE(map.map(anonymous(mmap_base - 6 * page, page, rw), WxMode::Strict, fail_removed).is_error());
    EXPECT_EQ(map.find_free(page).value(), mmap_base - 5 * page);
    EXPECT_EQ(map.find_free(2 * page).value(), mmap_base - 8 * page);
    // Alignment.
    u64 const aligned = map.find_free(page, 0x200000).value();
    EXPECT_EQ(aligned % 0x200000, 0u);
    EXPECT_LT(aligned, mmap_base - 6 * page);
    EXPECT_GE(aligned, mmap_base - 6 * page - 0x200000);
    EXPECT_EQ(map.find_free(0).error().code(), EINVAL);
    EXPECT_EQ(map.find_free(page + 1).error().code(), EINVAL);
    EXPECT_EQ(map.find_free(page, 3 * page).error().code(), EINVAL);
}

TEST(RegionMap, FindFreeKeepsTheStackGapAndTheFloor)
{
    RegionMap map;
    u64 const stack_top = 0x7ffd00000000;
    MapRequest stack { .start = stack_top - 32 * page, .length = 32 * page, .prot = rw, .kind = RegionKind::Stack };
    ASSERT_FALSE(map.map(stack, WxMode::Strict, fail_removed).is_error());
    EXPECT_STREQ(map.find(stack_top - page)->name, "[stack]");
    map.set_mmap_base(stack_top);
    EXPECT_EQ(map.find_free(page).value(), stack_top - 32 * page - default_stack_gap - page);
    map.set_stack_gap(0);
    EXPECT_EQ(map.find_free(page).value(), stack_top - 33 * page);

    // A floor just below the mmap base: nothing fits below, so the search goes above the base.
    RegionMap small;
    small.set_mmap_base(0x40000000);
    small.set_search_floor(0x40000000 - 2 * page);
    EXPECT_EQ(small.find_free(2 * page).value(), 0x40000000 - 2 * page);
    EXPECT_EQ(small.find_free(3 * page).value(), 0x40000000u) << "bottom-up above the base when below is full";
    ASSERT_FALSE(small.map(anonymous(0x40000000 - 2 * page, 6 * page, rw), WxMode::Strict, fail_removed).is_error());
    EXPECT_EQ(small.find_free(page).value(), 0x40000000 + 4 * page);

    RegionMap low;
    low.set_mmap_base(0x30000);
    EXPECT_EQ(low.find_free(page).value(), 0x2f000u);
    EXPECT_EQ(low.find_free(0x20000).value(), 0x10000u) << "down to 64 KiB";
    low.set_search_floor(0);
    EXPECT_EQ(low.find_free(0x21000).value(), 0x30000u) << "never below 64 KiB: continues above the base";
}

TEST(RegionMap, FindFreeFailsWhenTheAddressSpaceIsFull)
{
    RegionMap map;
    map.set_stack_gap(0);
    ASSERT_FALSE(map.map(anonymous(minimum_user_address, user_address_limit - minimum_user_address - page, r),
                        WxMode::Strict, fail_removed)
                     .is_error());
    EXPECT_EQ(map.find_free(page).value(), user_address_limit - page);
    EXPECT_EQ(map.find_free(2 * page).error().code(), ENOMEM);
}

TEST(RegionMap, OutOfMemoryLeavesTheMapUnchanged)
{
    // Sixteen two-page regions with alternating protections fill the first array allocation (16 slots).
    RegionMap map;
    for (u64 i = 0; i < 16; ++i) {
        ASSERT_FALSE(
            map.map(anonymous(base + 4 * i * page, 2 * page, i % 2 ? r : rw), WxMode::Strict, fail_removed).is_error());
    }
    auto const before = snapshot(map);
    {
        AllocationFailureScope failing(0);
        auto mapped = map.map(anonymous(base + 100 * page, page, r), WxMode::Strict, fail_removed);
        ASSERT_TRUE(mapped.is_error());
        EXPECT_EQ(mapped.error().code(), ENOMEM);
        EXPECT_EQ(failed_allocations(), 1);
        EXPECT_EQ(map.protect(base, page, r, WxMode::Strict, ignore_changed).error().code(), ENOMEM) << "split";
        EXPECT_EQ(map.unmap(base + page, page, fail_removed).error().code(), ENOMEM) << "split";
        EXPECT_EQ(map.map(anonymous(base + page, page, rx, true), WxMode::Strict, fail_removed).error().code(), ENOMEM)
            << "MAP_FIXED splitting a region";
        EXPECT_TRUE(same_map(snapshot(map), before));

        // What needs no new slot still works: whole regions change or go.
        Recorder recorder;
        EXPECT_FALSE(map.protect(base, 2 * page, r, WxMode::Strict, recorder.on_changed()).is_error());
        EXPECT_EQ(recorder.changed.size(), 1u);
        EXPECT_FALSE(map.unmap(base + 4 * page, 2 * page, recorder.on_removed()).is_error());
        EXPECT_EQ(recorder.removed.size(), 1u);
        EXPECT_EQ(map.region_count(), 15u);
        EXPECT_FALSE(map.map(anonymous(base + 4 * page, 2 * page, r), WxMode::Strict, fail_removed).is_error())
            << "a freed slot is reused without allocating";
    }
    EXPECT_FALSE(map.unmap(base + page, page, ignore_removed).is_error()) << "allocation works again";
    EXPECT_TRUE(well_formed(map));
}

TEST(RegionMap, RegionLimitIsEnomem)
{
    RegionMap map;
    map.set_max_regions(3);
    ASSERT_FALSE(map.map(anonymous(base, page, r), WxMode::Strict, fail_removed).is_error());
    ASSERT_FALSE(map.map(anonymous(base + 2 * page, page, r), WxMode::Strict, fail_removed).is_error());
    ASSERT_FALSE(map.map(anonymous(base + 4 * page, 3 * page, r), WxMode::Strict, fail_removed).is_error());
    EXPECT_EQ(map.map(anonymous(base + 8 * page, page, r), WxMode::Strict, fail_removed).error().code(), ENOMEM);
    EXPECT_EQ(map.unmap(base + 5 * page, page, fail_removed).error().code(), ENOMEM) << "a split over the limit";
    EXPECT_EQ(map.region_count(), 3u);
    // The limit is checked against the worst case before merging (conservative by at most a few regions).
    EXPECT_EQ(map.map(anonymous(base + page, page, r), WxMode::Strict, fail_removed).error().code(), ENOMEM);
    map.set_max_regions(4);
    EXPECT_FALSE(map.map(anonymous(base + page, page, r), WxMode::Strict, fail_removed).is_error());
    EXPECT_EQ(map.region_count(), 2u) << "filling the gap merged three regions into one";
}
