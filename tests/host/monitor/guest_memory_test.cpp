// Guest address range checks: every address from the guest is hostile.
#include "guest_memory.h"

#include <gtest/gtest.h>

#include <cstdint>

using namespace kernite::monitor;

TEST(GuestMemory, RangeChecks)
{
    auto memory = GuestMemory::allocate(2 << 20);
    ASSERT_TRUE(memory);
    u64 const size = memory->size();
    EXPECT_TRUE(memory->contains(0, size));
    EXPECT_TRUE(memory->contains(size, 0));
    EXPECT_TRUE(memory->contains(size - 1, 1));
    EXPECT_FALSE(memory->contains(size, 1));
    EXPECT_FALSE(memory->contains(size - 1, 2));
    EXPECT_FALSE(memory->contains(size + 1, 0));
    EXPECT_FALSE(memory->contains(UINT64_MAX, 1));
    EXPECT_FALSE(memory->contains(1, UINT64_MAX)); // wraps to 0
    EXPECT_FALSE(memory->contains(UINT64_MAX, 2)); // wraps to 1
    EXPECT_FALSE(memory->contains(0x1000, UINT64_MAX - 0xfff));
}

TEST(GuestMemory, CopiesInAndOut)
{
    auto memory = GuestMemory::allocate(2 << 20);
    ASSERT_TRUE(memory);
    struct Pair {
        u64 a;
        u32 b;
    };
    EXPECT_TRUE(memory->write(GuestPtr<Pair>(0x2000), Pair { 1, 2 }));
    auto pair = memory->read(GuestPtr<Pair>(0x2000));
    ASSERT_TRUE(pair);
    EXPECT_EQ(pair->a, 1u);
    EXPECT_EQ(pair->b, 2u);
    EXPECT_FALSE(memory->read(GuestPtr<Pair>(memory->size() - 8)));
    EXPECT_FALSE(memory->write(GuestPtr<Pair>(UINT64_MAX - 4), Pair {}));
    u8 byte = 0;
    EXPECT_FALSE(memory->read_bytes(memory->size(), &byte, 1));
    EXPECT_TRUE(memory->read_bytes(memory->size(), &byte, 0));
}

TEST(GuestMemory, FreshMemoryIsZero)
{
    auto memory = GuestMemory::allocate(4 << 20);
    ASSERT_TRUE(memory);
    auto value = memory->read(GuestPtr<u64>(3 << 20));
    ASSERT_TRUE(value);
    EXPECT_EQ(*value, 0u);
    EXPECT_FALSE(GuestMemory::allocate(0));
}
