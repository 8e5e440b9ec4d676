// OSCAR-style aliases on the host: each small object through its own alias pages (memfd mappings of the slab
// memory), unmapped on free and never reused, so a read or a write after free faults; the fault is described
// with the allocation's site.
#include "memfd_page_source.h"

#include <gtest/gtest.h>
#include <set>
#include <string>
#include <vector>

using namespace kernite::heap;

namespace {

struct Report {
    Misuse misuse;
    void const* pointer;
    std::string message;
};
std::vector<Report> g_reports;
u64 g_random_state = 0x13198a2e03707344ull;

void random_bytes(void* buffer, usize length) { xorshift_fill(g_random_state, buffer, length); }
void record(Misuse misuse, void const* pointer, char const* message) { g_reports.push_back({ misuse, pointer, message }); }

class OscarTest : public ::testing::Test {
protected:
    void SetUp() override { g_reports.clear(); }

    static constexpr usize alias_bytes = usize(1) << 34;
    MemfdPageSource pages;
    HardenedHeap heap { pages, random_bytes, record };
    OscarAliases oscar { heap, pages, pages, record, pages.reserve_aliases(alias_bytes), alias_bytes };
};

TEST_F(OscarTest, AliasedObjectsAreUsableAlignedAndReachTheSlabMemory)
{
    std::set<uptr> pages_seen;
    for (usize size : { 1, 16, 100, 1000, 2048 }) {
        auto* object = static_cast<u8*>(oscar.allocate(size, 0x1000 + size));
        ASSERT_NE(object, nullptr);
        EXPECT_TRUE(oscar.in_region(reinterpret_cast<uptr>(object)));
        EXPECT_EQ(reinterpret_cast<uptr>(object) % alignment, 0u);
        EXPECT_TRUE(pages_seen.insert(reinterpret_cast<uptr>(object) & ~(page_size - 1)).second) << "own page";
        for (usize i = 0; i < size; ++i)
            object[i] = static_cast<u8>(i);
        for (usize i = 0; i < size; ++i)
            ASSERT_EQ(object[i], static_cast<u8>(i));
        oscar.deallocate(object);
    }
    EXPECT_TRUE(g_reports.empty());
    EXPECT_EQ(oscar.statistics().live_aliases, 0u);
    EXPECT_EQ(oscar.statistics().mapped_pages, 0u);
}

// The kernel constant-initializes its aliases and places their region at the boot's random base later: a place
// before the first allocation moves every alias there; once an alias exists the region stays put.
TEST_F(OscarTest, PlaceMovesTheRegionOnlyBeforeTheFirstAlias)
{
    uptr placed = pages.reserve_aliases(alias_bytes);
    OscarAliases moved { heap, pages, pages, record, 0x10000, alias_bytes };
    ASSERT_TRUE(moved.place(placed, alias_bytes));
    auto* object = static_cast<u8*>(moved.allocate(64, 0x42));
    ASSERT_NE(object, nullptr);
    EXPECT_GE(reinterpret_cast<uptr>(object), placed);
    EXPECT_LT(reinterpret_cast<uptr>(object), placed + alias_bytes);
    EXPECT_TRUE(moved.in_region(reinterpret_cast<uptr>(object)));
    EXPECT_FALSE(moved.in_region(0x10000));
    EXPECT_FALSE(moved.place(0x10000, alias_bytes));
    EXPECT_TRUE(moved.in_region(reinterpret_cast<uptr>(object)));
    object[0] = 1;
    moved.deallocate(object);
    EXPECT_TRUE(g_reports.empty());
}

TEST_F(OscarTest, ReadAfterFreeFaults)
{
    auto* object = static_cast<u8 volatile*>(oscar.allocate(64, 0x1234));
    object[0] = 7;
    EXPECT_EQ(object[0], 7);
    oscar.deallocate(const_cast<u8*>(object));
    EXPECT_DEATH({ (void)object[0]; }, "");
}

TEST_F(OscarTest, WriteAfterFreeFaultsEvenAfterTheSlotIsReused)
{
    auto* object = static_cast<u8 volatile*>(oscar.allocate(64, 0x1234));
    oscar.deallocate(const_cast<u8*>(object));
    std::vector<void*> others;
    for (int i = 0; i < 2000; ++i) // more than the quarantine: the slot is handed out again
        others.push_back(oscar.allocate(64, 0x99));
    EXPECT_DEATH({ object[8] = 0x41; }, "");
    for (void* other : others)
        oscar.deallocate(other);
    EXPECT_TRUE(g_reports.empty());
}

TEST_F(OscarTest, AFaultIsDescribedWithTheAllocationSite)
{
    auto* object = static_cast<u8*>(oscar.allocate(100, 0xabcdef));
    OscarAliases::FaultInfo info {};
    EXPECT_FALSE(oscar.describe(reinterpret_cast<uptr>(object), info)); // live and mapped
    oscar.deallocate(object);
    ASSERT_TRUE(oscar.describe(reinterpret_cast<uptr>(object) + 50, info));
    EXPECT_TRUE(info.freed);
    EXPECT_TRUE(info.known);
    EXPECT_EQ(info.site, 0xabcdefu);
    EXPECT_EQ(info.size, 100u);
    EXPECT_EQ(info.pointer, reinterpret_cast<uptr>(object));
    EXPECT_FALSE(oscar.describe(reinterpret_cast<uptr>(&info), info)); // not in the alias region
}

TEST_F(OscarTest, AliasAddressesAreNeverReused)
{
    std::set<uptr> seen;
    for (int i = 0; i < 3000; ++i) {
        void* object = oscar.allocate(48, 1);
        ASSERT_TRUE(seen.insert(reinterpret_cast<uptr>(object)).second) << i;
        oscar.deallocate(object);
    }
    EXPECT_TRUE(g_reports.empty());
}

TEST_F(OscarTest, TheGuardAfterALiveAliasFaultsAndIsAnOverflow)
{
    auto* object = static_cast<u8*>(oscar.allocate(2048, 5));
    uptr end = (reinterpret_cast<uptr>(object) + 2048 + 8 + page_size - 1) & ~(page_size - 1);
    OscarAliases::FaultInfo info {};
    ASSERT_TRUE(oscar.describe(end, info));
    EXPECT_FALSE(info.freed);
    EXPECT_EQ(info.site, 5u);
    EXPECT_DEATH({ *reinterpret_cast<u8 volatile*>(end) = 1; }, "");
    oscar.deallocate(object);
}

TEST_F(OscarTest, DoubleAndInvalidFreesAreReported)
{
    auto* object = static_cast<u8*>(oscar.allocate(64, 1));
    oscar.deallocate(object + 16);
    ASSERT_EQ(g_reports.size(), 1u);
    EXPECT_EQ(g_reports[0].misuse, Misuse::InvalidFree);
    oscar.deallocate(object);
    oscar.deallocate(object);
    ASSERT_EQ(g_reports.size(), 2u);
    EXPECT_EQ(g_reports[1].misuse, Misuse::DoubleFree);
}

TEST_F(OscarTest, TheCanaryIsStillCheckedThroughTheAlias)
{
    auto* object = static_cast<u8*>(oscar.allocate(40, 1));
    object[40] ^= 1;
    oscar.deallocate(object);
    ASSERT_EQ(g_reports.size(), 1u);
    EXPECT_EQ(g_reports[0].misuse, Misuse::HeapCorruption);
}

TEST_F(OscarTest, LargeAllocationsAreTheHeapsOwnGuardedBlocks)
{
    void* block = oscar.allocate(3 * page_size, 1);
    ASSERT_NE(block, nullptr);
    EXPECT_FALSE(oscar.in_region(reinterpret_cast<uptr>(block)));
    EXPECT_EQ(heap.allocation_size(block), 3 * page_size);
    oscar.deallocate(block);
    EXPECT_TRUE(g_reports.empty());
}

} // namespace
