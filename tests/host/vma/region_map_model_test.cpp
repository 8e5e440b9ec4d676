// Randomized model test: thousands of random map / unmap / protect / mremap / brk operations (and injected
// allocation failures) on a RegionMap, each checked against a per-page reference model: the same errno, the
// same pages reported removed, changed and moved, and afterwards the same pages with the same attributes.
#include <vma/region_map.h>

#include "failing_allocator.h"
#include "map_helpers.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>

using namespace kernite::vma;
using namespace kernite::vma::testing;

namespace {

struct PageState {
    u32 prot;
    RegionKind kind;
    bool was_writable;
    bool operator==(PageState const&) const = default;
};

constexpr u64 window_pages = 256;
constexpr u64 window_start = 0x40000000;
constexpr u64 window_end = window_start + window_pages * page;

class Model {
public:
    std::map<u64, PageState> pages; // page address -> state

    bool mapped(u64 address) const { return pages.contains(address); }
    bool any_mapped(u64 start, u64 end) const
    {
        auto it = pages.lower_bound(start);
        return it != pages.end() && it->first < end;
    }
    bool all_mapped(u64 start, u64 end) const
    {
        for (u64 address = start; address < end; address += page) {
            if (!mapped(address))
                return false;
        }
        return true;
    }
    // The end of the maximal run of equal pages holding `address` (the map merges such runs into one region).
    u64 run_end(u64 address) const
    {
        PageState const state = pages.at(address);
        u64 end = address + page;
        while (mapped(end) && pages.at(end) == state)
            end += page;
        return end;
    }
    std::vector<u64> remove(u64 start, u64 end)
    {
        std::vector<u64> removed;
        for (u64 address = start; address < end; address += page) {
            if (pages.erase(address))
                removed.push_back(address);
        }
        return removed;
    }
};

std::vector<u64> pages_of(std::vector<Region> const& regions)
{
    std::vector<u64> result;
    for (auto const& region : regions) {
        for (u64 address = region.start; address < region.end; address += page)
            result.push_back(address);
    }
    return result;
}

class ModelTest {
public:
    explicit ModelTest(u64 seed)
        : m_random(seed)
    {
        m_map.set_mmap_base(window_end);
        m_map.set_search_floor(window_start);
        m_map.set_stack_gap(0);
    }

    void run(int operations)
    {
        for (int i = 0; i < operations; ++i) {
            m_step = i;
            bool const starve = pick(20) == 0; // every twentieth operation runs out of memory
            std::vector<Region> const before = snapshot(m_map);
            int result = 0;
            {
                AllocationFailureScope failing(starve ? 0 : -1);
                switch (pick(6)) {
                case 0:
                case 1: result = do_map(); break;
                case 2: result = do_unmap(); break;
                case 3:
                case 4: result = do_protect(); break;
                case 5: result = do_remap(); break;
                }
            }
            // Any failure, out of memory included, changed nothing (the do_ functions leave the model alone then).
            if (result != 0) {
                ASSERT_TRUE(same_map(snapshot(m_map), before)) << "step " << i << " errno " << result;
            }
            if (result == ENOMEM)
                ++m_out_of_memory;
            ASSERT_TRUE(well_formed(m_map)) << "step " << i;
            compare();
            if (::testing::Test::HasFatalFailure())
                return;
        }
    }

private:
    u64 pick(u64 bound) { return m_random() % bound; }
    u64 random_page() { return window_start + pick(window_pages) * page; }
    u64 random_length() { return (1 + pick(24)) * page - (pick(4) == 0 ? pick(page) : 0); }
    u32 random_prot() { return static_cast<u32>(pick(8)); }
    WxMode random_mode()
    {
        u64 const which = pick(10);
        return which < 7 ? WxMode::Strict : which < 9 ? WxMode::Relaxed : WxMode::Disabled;
    }
    static u64 round_up(u64 length) { return (length + page - 1) & ~(page - 1); }

public:
    int out_of_memory() const { return m_out_of_memory; }
    // How often each kind of success happened: map, unmap, protect, shrink, grow in place, move.
    int successes(int which) const { return m_successes[which]; }

private:
    // After an operation: every page of the window (and any page the model holds) agrees with the map.
    void compare()
    {
        for (auto const& [address, state] : m_model.pages) {
            Region const* region = m_map.find(address);
            ASSERT_NE(region, nullptr) << "step " << m_step << ": page " << std::hex << address << " missing";
            ASSERT_EQ(region->prot, state.prot) << "step " << m_step;
        }
        for (u64 address = window_start - 8 * page; address < window_end + 8 * page; address += page) {
            Region const* region = m_map.find(address);
            auto it = m_model.pages.find(address);
            if (it == m_model.pages.end()) {
                ASSERT_EQ(region, nullptr) << "step " << m_step << ": page " << std::hex << address << " mapped";
                continue;
            }
            ASSERT_NE(region, nullptr) << "step " << m_step << ": page " << std::hex << address << " missing";
            ASSERT_EQ(region->prot, it->second.prot) << "step " << m_step << " page " << std::hex << address;
            ASSERT_EQ(region->kind, it->second.kind) << "step " << m_step;
            ASSERT_EQ(region->was_writable, it->second.was_writable) << "step " << m_step << " " << *region;
        }
        usize mapped_pages = 0;
        for (usize i = 0; i < m_map.region_count(); ++i)
            mapped_pages += m_map.region(i).length() / page;
        ASSERT_EQ(mapped_pages, m_model.pages.size()) << "step " << m_step;
    }

    int do_map()
    {
        u64 const start = random_page();
        u64 const length = random_length();
        u32 const prot = random_prot();
        bool const replace = pick(2);
        WxMode const mode = random_mode();
        RegionKind const kind = pick(4) == 0 ? RegionKind::Heap : RegionKind::Anonymous;
        u64 const end = start + round_up(length);
        Recorder recorder;
        auto result
            = m_map.map(MapRequest { .start = start, .length = length, .prot = prot, .kind = kind, .replace = replace },
                mode, recorder.on_removed());

        int expected = 0;
        if (mode != WxMode::Disabled && (prot & prot_write) && (prot & prot_exec))
            expected = EACCES;
        else if (!replace && m_model.any_mapped(start, end))
            expected = EEXIST;
        int const code = result.is_error() ? result.error().code() : 0;
        if (code == ENOMEM && expected == 0)
            return ENOMEM; // checked by the caller (only when allocation was starved)
        EXPECT_EQ(code, expected) << "step " << m_step << " map " << std::hex << start << "+" << length;
        if (code != 0) {
            EXPECT_TRUE(recorder.removed.empty());
            return code;
        }
        std::vector<u64> const removed = m_model.remove(start, end);
        EXPECT_EQ(pages_of(recorder.removed), removed) << "step " << m_step;
        for (u64 address = start; address < end; address += page)
            m_model.pages[address] = { prot, kind, (prot & prot_write) != 0 };
        ++m_successes[0];
        return 0;
    }

    int do_unmap()
    {
        u64 const start = random_page() - (pick(8) == 0 ? 8 * page : 0);
        u64 const length = random_length();
        Recorder recorder;
        auto result = m_map.unmap(start, length, recorder.on_removed());
        if (result.is_error()) {
            EXPECT_EQ(result.error().code(), ENOMEM) << "step " << m_step;
            EXPECT_TRUE(recorder.removed.empty());
            return result.error().code();
        }
        std::vector<u64> const removed = m_model.remove(start, start + round_up(length));
        EXPECT_EQ(pages_of(recorder.removed), removed) << "step " << m_step;
        m_successes[1] += !removed.empty();
        return 0;
    }

    int do_protect()
    {
        u64 const start = random_page();
        u64 const length = random_length();
        u32 const prot = random_prot();
        WxMode const mode = random_mode();
        u64 const end = start + round_up(length);
        Recorder recorder;
        auto result = m_map.protect(start, length, prot, mode, recorder.on_changed());

        int expected = 0;
        for (u64 address = start; address < end && expected == 0; address += page) {
            auto it = m_model.pages.find(address);
            if (it == m_model.pages.end())
                expected = ENOMEM;
            else if (check_wx_policy(it->second.prot, prot, it->second.was_writable, mode).is_error())
                expected = EACCES;
        }
        int const code = result.is_error() ? result.error().code() : 0;
        if (code == ENOMEM && expected == 0)
            return ENOMEM;
        EXPECT_EQ(code, expected) << "step " << m_step << " protect " << std::hex << start << "+" << length;
        if (code != 0) {
            EXPECT_TRUE(recorder.changed.empty());
            return code;
        }
        std::vector<u64> changed_pages;
        for (auto const& change : recorder.changed) {
            EXPECT_EQ(change.new_prot, prot);
            for (u64 address = change.start; address < change.end; address += page) {
                EXPECT_EQ(m_model.pages.at(address).prot, change.old_prot) << "step " << m_step;
                changed_pages.push_back(address);
            }
        }
        std::vector<u64> expected_changes;
        for (u64 address = start; address < end; address += page) {
            PageState& state = m_model.pages.at(address);
            if (state.prot != prot)
                expected_changes.push_back(address);
            state.prot = prot;
            state.was_writable |= (prot & prot_write) != 0;
        }
        EXPECT_EQ(changed_pages, expected_changes) << "step " << m_step;
        m_successes[2] += !expected_changes.empty();
        return 0;
    }

    int do_remap()
    {
        u64 old_address = random_page();
        u64 old_length = (1 + pick(8)) * page;
        if (pick(2) && m_map.region_count() > 0) {
            // Often a whole region: the case that can grow in place.
            Region const& region = m_map.region(pick(m_map.region_count()));
            old_address = region.start;
            old_length = region.length();
        }
        u64 const new_length = pick(2) ? old_length + (1 + pick(4)) * page : (1 + pick(12)) * page;
        u32 flags = pick(3) == 0 ? 0 : mremap_maymove;
        u64 new_address = 0;
        if (flags && pick(2)) {
            flags |= mremap_fixed;
            new_address = random_page();
        }
        Recorder recorder;
        auto result = m_map.remap(old_address, old_length, new_length, flags, new_address, recorder.on_removed(),
            recorder.on_moved());

        // The model's answer, following mm/mremap.c.
        u64 const kept = std::min(old_length, new_length);
        int expected = 0;
        bool in_place = false;
        bool const fixed = flags & mremap_fixed;
        bool const source_ok = m_model.mapped(old_address) && m_model.run_end(old_address) >= old_address + kept;
        if (fixed && ktl::ranges_overlap(old_address, old_length, new_address, new_length))
            expected = EINVAL;
        else if (fixed && !source_ok)
            expected = EFAULT;
        else if (!fixed && new_length > old_length) {
            if (!source_ok)
                expected = EFAULT;
            else {
                u64 const old_end = old_address + old_length;
                in_place
                    = m_model.run_end(old_address) == old_end && !m_model.any_mapped(old_end, old_address + new_length);
                if (!in_place && !(flags & mremap_maymove))
                    expected = ENOMEM;
            }
        }
        int const code = result.is_error() ? result.error().code() : 0;
        if (code == ENOMEM && expected == 0)
            return ENOMEM; // starved, or no free space for a move
        EXPECT_EQ(code, expected) << "step " << m_step << " remap " << std::hex << old_address << " " << old_length
                                  << " -> " << new_length << " flags " << flags << " to " << new_address;
        if (code != 0) {
            EXPECT_TRUE(recorder.removed.empty());
            EXPECT_TRUE(recorder.moved.empty());
            return code;
        }
        u64 const address = result.value();
        if (!fixed && new_length <= old_length) {
            EXPECT_EQ(address, old_address);
            EXPECT_EQ(pages_of(recorder.removed), m_model.remove(old_address + new_length, old_address + old_length));
            ++m_successes[3];
            return 0;
        }
        if (in_place) {
            EXPECT_EQ(address, old_address);
            PageState const state = m_model.pages.at(old_address);
            for (u64 page_address = old_address + old_length; page_address < old_address + new_length;
                 page_address += page)
                m_model.pages[page_address] = state;
            ++m_successes[4];
            return 0;
        }
        // A move: to new_address (fixed) or to free space find_free() chose.
        if (fixed) {
            EXPECT_EQ(address, new_address);
        }
        PageState const state = m_model.pages.at(old_address);
        std::vector<u64> expected_removed;
        if (fixed)
            expected_removed = m_model.remove(new_address, new_address + new_length);
        if (old_length > kept) {
            auto tail = m_model.remove(old_address + kept, old_address + old_length);
            expected_removed.insert(expected_removed.end(), tail.begin(), tail.end());
        }
        EXPECT_EQ(pages_of(recorder.removed), expected_removed) << "step " << m_step;
        EXPECT_FALSE(m_model.any_mapped(address, address + new_length)) << "moved onto mapped pages";
        EXPECT_EQ(address % page, 0u);
        if (recorder.moved.size() != 1) {
            ADD_FAILURE() << "step " << m_step << ": " << recorder.moved.size() << " moves reported";
            return 0;
        }
        EXPECT_EQ(recorder.moved[0].old_start, old_address);
        EXPECT_EQ(recorder.moved[0].new_start, address);
        EXPECT_EQ(recorder.moved[0].length, kept);
        m_model.remove(old_address, old_address + kept);
        for (u64 page_address = address; page_address < address + new_length; page_address += page)
            m_model.pages[page_address] = state;
        ++m_successes[5];
        return 0;
    }

    RegionMap m_map;
    Model m_model;
    std::mt19937_64 m_random;
    int m_step { 0 };
    int m_out_of_memory { 0 };
    int m_successes[6] {};
};

} // namespace

TEST(RegionMapModel, RandomOperationsMatchAPerPageModel)
{
    for (u64 seed : { 1, 2, 3, 4 }) {
        SCOPED_TRACE(seed);
        ModelTest test(seed);
        test.run(5000);
        if (HasFatalFailure())
            return;
        EXPECT_GT(test.out_of_memory(), 20) << "allocation failures were exercised";
        for (int which = 0; which < 6; ++which)
            EXPECT_GT(test.successes(which), 20) << "operation kind " << which << " was exercised";
    }
}
