// ScratchBuffer (kernel/syscalls/scratch_buffer.h): the .bss slots serve callers while free; a caller that finds
// them all taken, or asks for more than a slot holds, gets a heap buffer; a slot given back serves the next caller.
#include <kernel/syscalls/scratch_buffer.h>

#include <cstring>
#include <gtest/gtest.h>
#include <memory>
#include <set>

using kernite::syscalls::ScratchBuffer;

namespace {

struct TestTag;
using Pool = ScratchBuffer<TestTag, 256, 2>;

// The pool's slots: whatever the first two callers of a fresh pool get.
struct Slots {
    u8* first;
    u8* second;
};

Slots slots_of_the_pool()
{
    Pool a(256), b(256);
    return { a.data(), b.data() };
}

bool is_slot(Slots const& slots, u8 const* pointer) { return pointer == slots.first || pointer == slots.second; }

} // namespace

TEST(ScratchBuffer, SlotsFirstThenTheHeap)
{
    Slots slots = slots_of_the_pool();
    ASSERT_NE(slots.first, nullptr);
    ASSERT_NE(slots.second, nullptr);
    EXPECT_NE(slots.first, slots.second);
    EXPECT_GE(static_cast<usize>(slots.second > slots.first ? slots.second - slots.first : slots.first - slots.second),
        256u)
        << "the slots overlap";
    {
        Pool a(256), b(256), c(256);
        EXPECT_TRUE(is_slot(slots, a.data()));
        EXPECT_TRUE(is_slot(slots, b.data()));
        EXPECT_NE(a.data(), b.data());
        // Both slots are taken: the third caller gets its own buffer from the heap, usable whole.
        ASSERT_NE(c.data(), nullptr);
        EXPECT_FALSE(is_slot(slots, c.data()));
        std::memset(c.data(), 0x5a, 256);
        std::memset(a.data(), 0xa5, 256);
        std::memset(b.data(), 0x3c, 256);
        EXPECT_EQ(c.data()[255], 0x5a) << "the heap buffer is not one of the slots";
    }
    // Everything was given back (ASan checks the heap buffer was freed): the slots serve again.
    Pool again(256);
    EXPECT_TRUE(is_slot(slots, again.data()));
}

TEST(ScratchBuffer, ASlotGivenBackServesTheNextCaller)
{
    Slots slots = slots_of_the_pool();
    auto held = std::make_unique<Pool>(256);
    u8* kept = held->data();
    {
        Pool other(256);
        EXPECT_TRUE(is_slot(slots, other.data()));
        EXPECT_NE(other.data(), kept);
    }
    Pool next(256);
    EXPECT_TRUE(is_slot(slots, next.data())) << "the slot released above is free again";
    held.reset();
}

TEST(ScratchBuffer, LargerRequestsComeFromTheHeap)
{
    Slots slots = slots_of_the_pool();
    Pool large(4096);
    ASSERT_NE(large.data(), nullptr);
    EXPECT_FALSE(is_slot(slots, large.data()));
    std::memset(large.data(), 1, 4096);
    // The slots stay free for others meanwhile.
    Pool small(16);
    EXPECT_TRUE(is_slot(slots, small.data()));
}
