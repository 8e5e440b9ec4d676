// Helpers for the libs/vma tests: snapshots of a map, recorders for its callbacks, short names.
#pragma once

#include <vma/region_map.h>

#include <gtest/gtest.h>

#include <cstring>
#include <ostream>
#include <vector>

namespace kernite::vma {

// Found by argument-dependent lookup, so it lives in Region's namespace.
inline std::ostream& operator<<(std::ostream& out, Region const& region)
{
    return out << std::hex << "[" << region.start << "-" << region.end << " prot " << region.prot << " "
               << region_kind_name(region.kind) << (region.was_writable ? " was-writable" : "") << " offset "
               << region.offset << " " << (region.name ? region.name : "-") << "]" << std::dec;
}

} // namespace kernite::vma

namespace kernite::vma::testing {

constexpr u64 page = page_size;
constexpr u32 r = prot_read;
constexpr u32 rw = prot_read | prot_write;
constexpr u32 rx = prot_read | prot_exec;
constexpr u32 rwx = prot_read | prot_write | prot_exec;

inline bool same_region(Region const& a, Region const& b)
{
    bool const names = a.name == b.name || (a.name && b.name && std::strcmp(a.name, b.name) == 0);
    return a.start == b.start && a.end == b.end && a.prot == b.prot && a.kind == b.kind
        && a.was_writable == b.was_writable && names && a.offset == b.offset;
}

inline std::vector<Region> snapshot(RegionMap const& map)
{
    std::vector<Region> regions;
    for (usize i = 0; i < map.region_count(); ++i)
        regions.push_back(map.region(i));
    return regions;
}

inline ::testing::AssertionResult same_map(std::vector<Region> const& a, std::vector<Region> const& b)
{
    if (a.size() != b.size())
        return ::testing::AssertionFailure() << "region counts differ: " << a.size() << " vs " << b.size();
    for (usize i = 0; i < a.size(); ++i) {
        if (!same_region(a[i], b[i]))
            return ::testing::AssertionFailure() << "region " << i << ": " << a[i] << " vs " << b[i];
    }
    return ::testing::AssertionSuccess();
}

struct Range {
    u64 start;
    u64 end;
    bool operator==(Range const&) const = default;
};
inline std::ostream& operator<<(std::ostream& out, Range const& range)
{
    return out << std::hex << "[" << range.start << "-" << range.end << ")" << std::dec;
}

// Collects what the callbacks report.
struct Recorder {
    std::vector<Region> removed;
    std::vector<ProtectionChange> changed;
    std::vector<Move> moved;

    std::vector<Range> removed_ranges() const
    {
        std::vector<Range> ranges;
        for (auto const& region : removed)
            ranges.push_back({ region.start, region.end });
        return ranges;
    }
    auto on_removed()
    {
        return [this](Region const& region) { removed.push_back(region); };
    }
    auto on_changed()
    {
        return [this](ProtectionChange const& change) { changed.push_back(change); };
    }
    auto on_moved()
    {
        return [this](Move const& move) { moved.push_back(move); };
    }
};

inline auto ignore_removed = [](Region const&) {};
inline auto ignore_changed = [](ProtectionChange const&) {};
inline auto ignore_moved = [](Move const&) {};
inline auto fail_removed = [](Region const& region) { ADD_FAILURE() << "unexpected removal " << region; };
inline auto fail_moved = [](Move const&) { ADD_FAILURE() << "unexpected move"; };

inline MapRequest anonymous(u64 start, u64 length, u32 prot, bool replace = false)
{
    return MapRequest { .start = start,
        .length = length,
        .prot = prot,
        .kind = RegionKind::Anonymous,
        .replace = replace };
}

// Checks the map's invariants: sorted, disjoint, page-aligned, non-empty, inside user memory, maximally merged.
inline ::testing::AssertionResult well_formed(RegionMap const& map)
{
    std::vector<Region> regions = snapshot(map);
    for (usize i = 0; i < regions.size(); ++i) {
        Region const& region = regions[i];
        if (!is_page_aligned(region.start) || !is_page_aligned(region.end) || region.start >= region.end
            || region.start < minimum_user_address || region.end > user_address_limit)
            return ::testing::AssertionFailure() << "bad region " << region;
        if (i > 0 && regions[i - 1].end > region.start)
            return ::testing::AssertionFailure() << "overlap or disorder at " << region;
        if (i > 0 && regions[i - 1].end == region.start) {
            Region const& left = regions[i - 1];
            bool const names
                = left.name == region.name || (left.name && region.name && std::strcmp(left.name, region.name) == 0);
            bool const offsets = (region.kind == RegionKind::Program || region.kind == RegionKind::File)
                ? left.offset + left.length() == region.offset
                : left.offset == region.offset;
            if (left.prot == region.prot && left.kind == region.kind && left.was_writable == region.was_writable
                && names && offsets)
                return ::testing::AssertionFailure() << "unmerged neighbours " << left << " " << region;
        }
    }
    return ::testing::AssertionSuccess();
}

} // namespace kernite::vma::testing
