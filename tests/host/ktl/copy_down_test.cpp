// ktl::copy_down, the downward half of the kernel's memmove, against the C library's memmove: every length up to
// 80 bytes and every overlap distance up to 24 bytes, at every alignment of the source modulo 8, with guard
// bytes around the destination so that a write outside it shows.
#include <ktl/copy_down.h>

#include <cstring>
#include <gtest/gtest.h>
#include <vector>

namespace {

std::vector<u8> pattern(usize size)
{
    std::vector<u8> bytes(size);
    for (usize i = 0; i < size; ++i)
        bytes[i] = static_cast<u8>(i * 7 + 3);
    return bytes;
}

} // namespace

TEST(CopyDown, MatchesMemmoveForEveryLengthOverlapAndAlignment)
{
    constexpr usize buffer_size = 160;
    for (usize alignment = 0; alignment < 8; ++alignment) {
        for (usize length = 1; length <= 80; ++length) {
            for (usize distance = 1; distance < length && distance <= 24; ++distance) {
                std::vector<u8> expected = pattern(buffer_size);
                std::vector<u8> actual = expected;
                usize from = 16 + alignment;
                std::memmove(expected.data() + from + distance, expected.data() + from, length);
                ktl::copy_down(actual.data() + from + distance, actual.data() + from, length);
                ASSERT_EQ(actual, expected) << "length " << length << ", distance " << distance << ", alignment "
                                            << alignment;
            }
        }
    }
}

TEST(CopyDown, LeavesTheDirectionFlagClear)
{
    std::vector<u8> bytes = pattern(64);
    ktl::copy_down(bytes.data() + 3, bytes.data(), 40);
    u64 flags;
    asm volatile("pushfq\n\tpopq %0" : "=r"(flags));
    EXPECT_EQ(flags & (1u << 10), 0u); // DF
}

TEST(CopyDown, LargeShiftOfAnArrayOfRecords)
{
    // RegionMap's case: an array of 40-byte records shifted up by one record to open a slot.
    struct Record {
        u64 start, end, flags, file, offset;
    };
    std::vector<Record> records(300);
    for (usize i = 0; i < records.size(); ++i)
        records[i] = { i, i + 1, i * 3, i * 5, i * 7 };
    std::vector<Record> expected = records;
    std::memmove(&expected[11], &expected[10], (records.size() - 11) * sizeof(Record));
    ktl::copy_down(reinterpret_cast<u8*>(&records[11]), reinterpret_cast<u8 const*>(&records[10]),
        (records.size() - 11) * sizeof(Record));
    EXPECT_EQ(std::memcmp(records.data(), expected.data(), records.size() * sizeof(Record)), 0);
}
