// The hardened heap on the host: every detection, alignment, many sizes, and a long random run checked against a
// model. Built without ASan (see CMakeLists.txt): the misuse below is the point of the tests.
#include "mmap_page_source.h"

#include <algorithm>
#include <cstring>
#include <gtest/gtest.h>
#include <map>
#include <random>
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
u64 g_random_state = 0x243f6a8885a308d3ull;
bool g_random_called;

void test_random_bytes(void* buffer, usize length)
{
    g_random_called = true;
    xorshift_fill(g_random_state, buffer, length);
}

void record(Misuse misuse, void const* pointer, char const* message)
{
    g_reports.push_back({ misuse, pointer, message });
}

class HardenedHeapTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        g_reports.clear();
        g_random_state = 0x243f6a8885a308d3ull;
        g_random_called = false;
    }

    // Frees `count` objects of another size class so that everything freed before leaves the quarantine.
    void flush_quarantine(usize other_size = 1000)
    {
        std::vector<void*> objects;
        for (usize i = 0; i < HardenedHeap::quarantine_capacity; ++i)
            objects.push_back(heap.allocate(other_size));
        for (void* object : objects)
            heap.deallocate(object);
    }

    Misuse only_report() const
    {
        EXPECT_EQ(g_reports.size(), 1u);
        return g_reports.empty() ? Misuse::InvalidFree : g_reports[0].misuse;
    }

    MmapPageSource pages;
    HardenedHeap heap { pages, test_random_bytes, record };
};

// The switch for fuller checking (Checks::Full): every requested byte poisoned and checked, canary checked again.
class FullChecksHeapTest : public HardenedHeapTest {
protected:
    void SetUp() override
    {
        HardenedHeapTest::SetUp();
        heap.set_checks(Checks::Full);
    }
};

TEST_F(HardenedHeapTest, NothingHappensBeforeTheFirstAllocation)
{
    EXPECT_EQ(pages.pages_in_use(), 0u);
    EXPECT_FALSE(g_random_called);
    void* object = heap.allocate(8);
    ASSERT_NE(object, nullptr);
    EXPECT_TRUE(g_random_called);
    heap.deallocate(object);
}

TEST_F(HardenedHeapTest, ManySizesAreAlignedUsableAndSized)
{
    std::vector<std::pair<u8*, usize>> objects;
    for (usize size = 0; size <= 3 * page_size; size += (size < 300 ? 1 : 37)) {
        auto* object = static_cast<u8*>(heap.allocate(size));
        ASSERT_NE(object, nullptr) << size;
        EXPECT_EQ(reinterpret_cast<uptr>(object) % alignment, 0u) << size;
        EXPECT_EQ(heap.allocation_size(object), size == 0 ? 1 : size);
        memset(object, static_cast<int>(size), size);
        objects.emplace_back(object, size);
    }
    // No two objects overlap (each still holds its own fill).
    for (auto [object, size] : objects)
        for (usize i = 0; i < size; ++i)
            ASSERT_EQ(object[i], static_cast<u8>(size)) << size;
    for (auto [object, size] : objects)
        heap.deallocate(object);
    EXPECT_TRUE(g_reports.empty());
    EXPECT_EQ(heap.statistics().live_allocations, 0u);
    EXPECT_EQ(heap.statistics().live_bytes, 0u);
    EXPECT_EQ(pages.guarded_blocks(), 0u);
}

TEST_F(HardenedHeapTest, DoubleFreeInQuarantine)
{
    void* object = heap.allocate(64);
    heap.deallocate(object);
    heap.deallocate(object);
    EXPECT_EQ(only_report(), Misuse::DoubleFree);
    EXPECT_EQ(g_reports[0].pointer, object);
}

TEST_F(HardenedHeapTest, DoubleFreeAfterQuarantine)
{
    void* object = heap.allocate(64);
    heap.deallocate(object);
    flush_quarantine();
    heap.deallocate(object);
    EXPECT_EQ(only_report(), Misuse::DoubleFree);
}

TEST_F(HardenedHeapTest, FreeOfAPointerInsideAnObject)
{
    auto* object = static_cast<u8*>(heap.allocate(64));
    heap.deallocate(object + 16);
    EXPECT_EQ(only_report(), Misuse::InvalidFree);
    heap.deallocate(object); // the object itself is untouched and frees cleanly
    EXPECT_EQ(g_reports.size(), 1u);
}

TEST_F(HardenedHeapTest, FreeOfAForeignPointer)
{
    (void)heap.allocate(64);
    u64 on_stack[8] {};
    heap.deallocate(on_stack);
    EXPECT_EQ(only_report(), Misuse::InvalidFree);
}

TEST_F(HardenedHeapTest, FreeBeforeAnyAllocationIsForeign)
{
    u64 global_like[4] {};
    heap.deallocate(global_like);
    EXPECT_EQ(only_report(), Misuse::InvalidFree);
}

TEST_F(HardenedHeapTest, OverflowByOneByteIsCaughtOnFree)
{
    for (usize size : { 1, 15, 16, 17, 64, 100, 128, 1000, 2048 }) {
        g_reports.clear();
        auto* object = static_cast<u8*>(heap.allocate(size));
        object[size] ^= 1;
        heap.deallocate(object);
        EXPECT_EQ(only_report(), Misuse::HeapCorruption) << size;
    }
}

TEST_F(FullChecksHeapTest, OverflowOfAFreedObjectIsCaughtLeavingQuarantine)
{
    auto* object = static_cast<u8*>(heap.allocate(40));
    heap.deallocate(object);
    object[40] ^= 0x80;
    flush_quarantine();
    EXPECT_EQ(only_report(), Misuse::HeapCorruption);
}

TEST_F(FullChecksHeapTest, WriteAfterFreeIsCaughtLeavingQuarantine)
{
    for (usize offset : { 0, 7, 63 }) {
        g_reports.clear();
        auto* object = static_cast<u8*>(heap.allocate(64));
        heap.deallocate(object);
        object[offset] = 0x41;
        flush_quarantine();
        EXPECT_EQ(only_report(), Misuse::UseAfterFree) << offset;
        EXPECT_EQ(g_reports[0].pointer, object);
    }
}

TEST_F(FullChecksHeapTest, WriteAfterFreeInTheLastBytesOfOddSizes)
{
    // Sizes that are not a multiple of 8: the tail check overlaps the last whole word.
    for (usize size : { 1, 5, 13, 100, 1001 }) {
        g_reports.clear();
        auto* object = static_cast<u8*>(heap.allocate(size));
        heap.deallocate(object);
        object[size - 1] ^= 0x01;
        flush_quarantine();
        EXPECT_EQ(only_report(), Misuse::UseAfterFree) << size;
    }
}

TEST_F(FullChecksHeapTest, WriteAfterFreeAtEveryByteOfEverySizeShape)
{
    // The check has a path per size range (1-3, 4-7, 8-31 bytes by overlapping loads, 32 and up by 32-byte blocks
    // with an overlapping last block): a write to any byte of the requested size is caught, on every path and at
    // every block boundary.
    for (usize size : { 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 63, 64, 65, 95, 96, 97, 200, 2048 }) {
        for (usize offset = 0; offset < size; ++offset) {
            g_reports.clear();
            auto* object = static_cast<u8*>(heap.allocate(size));
            heap.deallocate(object);
            object[offset] ^= 0x80;
            flush_quarantine(size <= 1000 ? 1500 : 100);
            ASSERT_EQ(only_report(), Misuse::UseAfterFree) << "size " << size << " offset " << offset;
        }
    }
}

TEST_F(HardenedHeapTest, SlabsNeverHandOutSlotsPastTheirCapacity)
{
    // Classes whose slabs hold fewer than 128 slots (the bitmap's width): fill several slabs, every object must
    // be a live allocation of its size and distinct, and freeing them all is clean.
    for (usize size : { 16, 200, 1000, 2048 }) {
        g_reports.clear();
        std::vector<void*> objects;
        std::set<void*> distinct;
        for (int i = 0; i < 300; ++i) {
            objects.push_back(heap.allocate(size));
            ASSERT_NE(objects.back(), nullptr);
            ASSERT_EQ(heap.allocation_size(objects.back()), size);
            distinct.insert(objects.back());
            memset(objects.back(), 0x33, size);
        }
        EXPECT_EQ(distinct.size(), objects.size()) << size;
        for (void* object : objects)
            heap.deallocate(object);
        EXPECT_TRUE(g_reports.empty()) << size;
    }
    flush_quarantine(3000);
    EXPECT_TRUE(g_reports.empty());
}

TEST_F(FullChecksHeapTest, FreedMemoryIsPoisoned)
{
    auto* object = static_cast<u8*>(heap.allocate(100));
    memset(object, 0x11, 100);
    heap.deallocate(object);
    for (usize i = 0; i < 100; ++i)
        ASSERT_EQ(object[i], HardenedHeap::poison_byte);
}

TEST_F(HardenedHeapTest, FreeIntoAnotherSizeClass)
{
    void* object = heap.allocate(64);
    heap.deallocate_sized(object, 512);
    EXPECT_EQ(only_report(), Misuse::HeapCorruption);
    heap.deallocate_sized(object, 60); // same class: fine
    EXPECT_EQ(g_reports.size(), 1u);
}

TEST_F(HardenedHeapTest, QuarantineDelaysReuse)
{
    void* object = heap.allocate(48);
    heap.deallocate(object);
    std::vector<void*> others;
    for (usize i = 0; i < HardenedHeap::quarantine_capacity - 1; ++i) {
        others.push_back(heap.allocate(48));
        EXPECT_NE(others.back(), object);
    }
    for (void* other : others)
        heap.deallocate(other);
    EXPECT_TRUE(g_reports.empty());
}

TEST_F(HardenedHeapTest, SlotChoiceIsRandomized)
{
    // The first object of a fresh heap lands on a slot chosen by the random source.
    std::set<uptr> offsets;
    for (u64 seed = 1; seed <= 32; ++seed) {
        g_random_state = seed * 0x9e3779b97f4a7c15ull;
        MmapPageSource source;
        HardenedHeap fresh(source, test_random_bytes, record);
        uptr address = reinterpret_cast<uptr>(fresh.allocate(32));
        offsets.insert(address % page_size);
    }
    EXPECT_GT(offsets.size(), 16u);
    // Consecutive allocations are not laid out in address order either.
    std::vector<uptr> addresses;
    for (int i = 0; i < 32; ++i)
        addresses.push_back(reinterpret_cast<uptr>(heap.allocate(32)));
    EXPECT_FALSE(std::is_sorted(addresses.begin(), addresses.end()));
}

TEST_F(HardenedHeapTest, LargeAllocationsHaveGuardPages)
{
    usize size = 3 * page_size + 100;
    auto* object = static_cast<u8*>(heap.allocate(size));
    ASSERT_NE(object, nullptr);
    EXPECT_EQ(reinterpret_cast<uptr>(object) % alignment, 0u);
    EXPECT_EQ(pages.guarded_blocks(), 1u);
    memset(object, 1, size);
    // The object ends against the upper guard: the first byte past its 16-byte-rounded end faults.
    uptr end = (reinterpret_cast<uptr>(object) + size + alignment - 1) & ~(alignment - 1);
    EXPECT_EQ(end % page_size, 0u);
    EXPECT_DEATH({ *reinterpret_cast<u8 volatile*>(end) = 1; }, "");
    EXPECT_DEATH({ (void)*reinterpret_cast<u8 volatile*>((reinterpret_cast<uptr>(object) & ~(page_size - 1)) - 1); },
        "");
    heap.deallocate(object);
    EXPECT_EQ(pages.guarded_blocks(), 0u);
    EXPECT_TRUE(g_reports.empty());
}

TEST_F(HardenedHeapTest, LargeFreeOfAnInteriorPointer)
{
    auto* object = static_cast<u8*>(heap.allocate(2 * page_size));
    heap.deallocate(object + 64);
    EXPECT_EQ(only_report(), Misuse::InvalidFree);
    heap.deallocate(object + page_size + 64); // on a page the heap does not index: foreign
    EXPECT_EQ(g_reports.size(), 2u);
    EXPECT_EQ(g_reports[1].misuse, Misuse::InvalidFree);
    heap.deallocate(object);
    EXPECT_EQ(g_reports.size(), 2u);
}

TEST_F(HardenedHeapTest, LargeDoubleFree)
{
    void* object = heap.allocate(10000);
    heap.deallocate(object);
    heap.deallocate(object);
    EXPECT_EQ(only_report(), Misuse::DoubleFree);
}

TEST_F(HardenedHeapTest, LargeFreeWithAnotherSize)
{
    void* object = heap.allocate(10000);
    heap.deallocate_sized(object, 64);
    EXPECT_EQ(only_report(), Misuse::HeapCorruption);
    heap.deallocate_sized(object, 10000);
    EXPECT_EQ(g_reports.size(), 1u);
}

TEST_F(HardenedHeapTest, OutOfMemoryIsNullNotACrash)
{
    MmapPageSource small(8);
    HardenedHeap limited(small, test_random_bytes, record);
    std::vector<void*> objects;
    for (int i = 0; i < 10000; ++i) {
        void* object = limited.allocate(512);
        if (!object)
            break;
        objects.push_back(object);
    }
    EXPECT_LT(objects.size(), 10000u);
    EXPECT_EQ(limited.allocate(20 * page_size), nullptr);
    for (void* object : objects)
        limited.deallocate(object);
    EXPECT_TRUE(g_reports.empty());
}

TEST_F(HardenedHeapTest, EmptySlabsGoBack)
{
    std::vector<void*> objects;
    for (int i = 0; i < 5000; ++i)
        objects.push_back(heap.allocate(200));
    usize peak = pages.pages_in_use();
    for (void* object : objects)
        heap.deallocate(object);
    flush_quarantine(3000); // large blocks: they leave no slab behind
    EXPECT_LT(pages.pages_in_use(), peak / 4);
    EXPECT_TRUE(g_reports.empty());
}

// A random run of allocations and frees checked against a model: no object handed out twice, no overlap, contents
// kept, sizes recorded, no report; run with each checking level.
void run_against_a_model(HardenedHeap& heap)
{
    std::mt19937_64 random(12345);
    struct Live {
        usize size;
        u8 fill;
    };
    std::map<u8*, Live> model;
    std::vector<u8*> order;
    auto pick_size = [&] {
        u64 kind = random() % 100;
        if (kind < 60)
            return static_cast<usize>(random() % 128);
        if (kind < 95)
            return static_cast<usize>(random() % 2048);
        return static_cast<usize>(random() % (5 * page_size));
    };
    for (int step = 0; step < 60000; ++step) {
        bool allocate = order.empty() || (random() % 100) < (order.size() < 2000 ? 60 : 40);
        if (allocate) {
            usize size = pick_size();
            auto* object = static_cast<u8*>(heap.allocate(size));
            ASSERT_NE(object, nullptr);
            ASSERT_EQ(reinterpret_cast<uptr>(object) % alignment, 0u);
            ASSERT_EQ(model.count(object), 0u) << "handed out twice";
            // No overlap with the neighbours in address order.
            auto next = model.lower_bound(object);
            if (next != model.end()) {
                ASSERT_LE(object + size, next->first);
            }
            if (next != model.begin()) {
                auto previous = std::prev(next);
                ASSERT_LE(previous->first + previous->second.size, object);
            }
            u8 fill = static_cast<u8>(random());
            memset(object, fill, size);
            model[object] = { size, fill };
            order.push_back(object);
        } else {
            usize index = random() % order.size();
            u8* object = order[index];
            order[index] = order.back();
            order.pop_back();
            Live live = model[object];
            ASSERT_EQ(heap.allocation_size(object), live.size == 0 ? 1 : live.size);
            for (usize i = 0; i < live.size; ++i)
                ASSERT_EQ(object[i], live.fill);
            heap.deallocate(object);
            model.erase(object);
        }
    }
    ASSERT_TRUE(g_reports.empty()) << g_reports[0].message;
    EXPECT_EQ(heap.statistics().live_allocations, model.size());
    for (u8* object : order)
        heap.deallocate(object);
    EXPECT_TRUE(g_reports.empty());
    EXPECT_EQ(heap.statistics().live_bytes, 0u);
}

TEST_F(FullChecksHeapTest, RandomRunMatchesAModel) { run_against_a_model(heap); }
TEST_F(HardenedHeapTest, RandomRunMatchesAModel) { run_against_a_model(heap); }

// The default checks (Checks::Fast): the first 32 bytes of a freed slot are poisoned and checked.
TEST_F(HardenedHeapTest, FastChecksCatchWritesAfterFreeInTheFirst32Bytes)
{
    for (usize size : { 1, 8, 16, 31, 32, 33, 100, 2048 }) {
        for (usize offset = 0; offset < HardenedHeap::fast_poison_bytes; ++offset) {
            g_reports.clear();
            auto* object = static_cast<u8*>(heap.allocate(size));
            heap.deallocate(object);
            for (usize i = 0; i < HardenedHeap::fast_poison_bytes; ++i)
                ASSERT_EQ(object[i], HardenedHeap::poison_byte);
            object[offset] ^= 0x80;
            flush_quarantine(size <= 1000 ? 1500 : 100);
            ASSERT_EQ(only_report(), Misuse::UseAfterFree) << "size " << size << " offset " << offset;
            ASSERT_EQ(g_reports[0].pointer, object);
        }
    }
}

// The documented limit of the default: a write after free past the first 32 bytes is not seen (Checks::Full
// sees it, WriteAfterFreeAtEveryByteOfEverySizeShape).
TEST_F(HardenedHeapTest, FastChecksDoNotSeeWritesAfterFreePastTheFirst32Bytes)
{
    auto* object = static_cast<u8*>(heap.allocate(100));
    heap.deallocate(object);
    object[40] ^= 0x80;
    flush_quarantine();
    EXPECT_TRUE(g_reports.empty());
}

// Nothing about free slots is kept inside them (the free-slot indices are in the out-of-line descriptor): a heap
// whose free slots were overwritten after they left the quarantine, here with a forged pointer to another slot,
// hands out exactly what an untouched twin heap with the same random numbers hands out, and reports nothing.
TEST_F(HardenedHeapTest, OverwrittenFreeSlotsDoNotSteerAllocation)
{
    auto run = [&](bool scribble) {
        g_random_state = 0x243f6a8885a308d3ull;
        MmapPageSource source;
        HardenedHeap twin(source, test_random_bytes, record);
        std::vector<u8*> objects;
        for (int i = 0; i < 40; ++i)
            objects.push_back(static_cast<u8*>(twin.allocate(64)));
        uptr region = reinterpret_cast<uptr>(*std::min_element(objects.begin(), objects.end())) & ~uptr(0xffff);
        for (u8* object : objects)
            twin.deallocate(object);
        std::vector<void*> others;
        for (usize i = 0; i < HardenedHeap::quarantine_capacity; ++i)
            others.push_back(twin.allocate(1000));
        for (void* other : others)
            twin.deallocate(other);
        if (scribble) {
            for (u8* object : objects) {
                u64 forged = reinterpret_cast<u64>(objects[0]) + 80;
                memset(object, 0x41, 64);
                memcpy(object, &forged, sizeof(forged));
            }
        }
        std::vector<uptr> offsets;
        for (int i = 0; i < 100; ++i)
            offsets.push_back(reinterpret_cast<uptr>(twin.allocate(64)) - region);
        return offsets;
    };
    std::vector<uptr> untouched = run(false);
    std::vector<uptr> scribbled = run(true);
    EXPECT_EQ(untouched, scribbled);
    EXPECT_EQ(std::set<uptr>(scribbled.begin(), scribbled.end()).size(), scribbled.size());
    EXPECT_TRUE(g_reports.empty());
}

// The free lists are never raw pointers: no free slot holds the address of another slot.
TEST_F(HardenedHeapTest, FreeObjectsHoldNoRawPointers)
{
    std::vector<u8*> objects;
    for (int i = 0; i < 100; ++i)
        objects.push_back(static_cast<u8*>(heap.allocate(48)));
    uptr low = reinterpret_cast<uptr>(*std::min_element(objects.begin(), objects.end())) & ~uptr(0xffff);
    for (u8* object : objects)
        heap.deallocate(object);
    flush_quarantine();
    for (u8* object : objects) {
        u64 word;
        memcpy(&word, object, sizeof(word));
        EXPECT_FALSE(word - low < 0x10000) << "a raw slab address in a free object";
    }
    EXPECT_TRUE(g_reports.empty());
}

} // namespace
