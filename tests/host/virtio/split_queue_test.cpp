// The split virtqueue (libs/virtio) against a fake device that follows virtio 1.2 §2.7 from the device side,
// and against hostile devices that write what they like into the used ring or over the driver's tables.
// Addresses are host pointers (the "guest-physical" address of a buffer is its host address here).
#include <gtest/gtest.h>
#include <virtio/split_queue.h>

#include <cstring>
#include <vector>

using namespace kernite::virtio;

namespace {

// A device that reads the descriptor table and available ring as the spec says and fills writable buffers.
class FakeDevice {
public:
    FakeDevice(QueueLayout const& layout, u8* memory)
        : m_layout(layout)
        , m_memory(memory)
    {
    }

    Descriptor* table() { return reinterpret_cast<Descriptor*>(m_memory + m_layout.descriptor_offset); }
    u16* available() { return reinterpret_cast<u16*>(m_memory + m_layout.available_offset); }
    u16* used_header() { return reinterpret_cast<u16*>(m_memory + m_layout.used_offset); }
    UsedElement* used_ring() { return reinterpret_cast<UsedElement*>(m_memory + m_layout.used_offset + 4); }

    // Serves every newly available chain: writes `fill` into its writable buffers, up to `limit` bytes.
    usize serve(u8 fill, u32 limit = ~0u)
    {
        usize served = 0;
        u16 const published = available()[1];
        while (m_seen_available != published) {
            u16 head = available()[2 + (m_seen_available & (m_layout.size - 1))];
            ++m_seen_available;
            u32 written = 0;
            u16 index = head;
            for (usize guard = 0; guard < m_layout.size; ++guard) {
                auto& descriptor = table()[index];
                if (descriptor.flags & descriptor_flag_write) {
                    u32 n = std::min(descriptor.length, limit - written);
                    std::memset(reinterpret_cast<void*>(descriptor.address), fill, n);
                    written += n;
                }
                if (!(descriptor.flags & descriptor_flag_next))
                    break;
                index = descriptor.next;
            }
            complete(head, written);
            ++served;
        }
        return served;
    }

    void complete(u32 id, u32 length)
    {
        u16& index = used_header()[1];
        used_ring()[index & (m_layout.size - 1)] = { id, length };
        ++index;
    }

    u16 seen_available() const { return m_seen_available; }

private:
    QueueLayout m_layout;
    u8* m_memory;
    u16 m_seen_available { 0 };
};

struct VirtioQueue : ::testing::Test {
    void SetUp() override { start(8); }
    void start(u16 size)
    {
        layout = QueueLayout::for_size(size).value();
        memory.assign(layout.total_bytes + 64, 0xee);
        auto* aligned = reinterpret_cast<u8*>((reinterpret_cast<uptr>(memory.data()) + 15) & ~uptr(15));
        queue = SplitQueue {};
        ASSERT_FALSE(queue.initialize(layout, aligned, reinterpret_cast<u64>(aligned), layout.total_bytes).is_error());
        device = std::make_unique<FakeDevice>(layout, aligned);
    }
    Buffer writable(std::vector<u8>& bytes)
    {
        return { reinterpret_cast<u64>(bytes.data()), static_cast<u32>(bytes.size()), true };
    }
    Buffer readable(std::vector<u8>& bytes)
    {
        return { reinterpret_cast<u64>(bytes.data()), static_cast<u32>(bytes.size()), false };
    }

    QueueLayout layout {};
    std::vector<u8> memory;
    SplitQueue queue;
    std::unique_ptr<FakeDevice> device;
};

} // namespace

TEST(VirtioQueueLayout, MatchesSpecSizesAndAlignment)
{
    auto layout = QueueLayout::for_size(8).value();
    EXPECT_EQ(layout.descriptor_offset, 0u);
    EXPECT_EQ(layout.available_offset, 128u);
    EXPECT_EQ(layout.used_offset % 4, 0u);
    EXPECT_GE(layout.used_offset, 128u + 6 + 16);
    EXPECT_EQ(layout.total_bytes, layout.used_offset + 6 + 64);
    auto big = QueueLayout::for_size(max_queue_size).value();
    EXPECT_LE(big.total_bytes, 8192u);
}

TEST(VirtioQueueLayout, RejectsSizesThatAreNotPowersOfTwoOrTooLarge)
{
    EXPECT_TRUE(QueueLayout::for_size(0).is_error());
    EXPECT_TRUE(QueueLayout::for_size(3).is_error());
    EXPECT_TRUE(QueueLayout::for_size(12).is_error());
    EXPECT_TRUE(QueueLayout::for_size(max_queue_size * 2).is_error());
    EXPECT_FALSE(QueueLayout::for_size(1).is_error());
}

TEST(VirtioQueueInit, RejectsSmallOrMisalignedMemoryAndDoubleInit)
{
    auto layout = QueueLayout::for_size(8).value();
    alignas(16) static u8 memory[1024];
    SplitQueue queue;
    EXPECT_EQ(queue.initialize(layout, memory, 0x1000, layout.total_bytes - 1).error().code(), EINVAL);
    EXPECT_EQ(queue.initialize(layout, memory + 1, 0x1001, 1000).error().code(), EINVAL);
    auto forged = layout;
    forged.total_bytes = 4;
    EXPECT_EQ(queue.initialize(forged, memory, 0x1000, 1024).error().code(), EINVAL);
    EXPECT_EQ(queue.initialize(layout, memory, ~0ull - 15, 1024).error().code(), EINVAL);
    ASSERT_FALSE(queue.initialize(layout, memory, 0x1000, 1024).is_error());
    EXPECT_EQ(queue.initialize(layout, memory, 0x1000, 1024).error().code(), EBUSY);
    EXPECT_EQ(queue.descriptor_area(), 0x1000u);
    EXPECT_EQ(queue.driver_area(), 0x1000u + layout.available_offset);
    EXPECT_EQ(queue.device_area(), 0x1000u + layout.used_offset);
}

TEST(VirtioQueueInit, UninitializedQueueRefusesWork)
{
    SplitQueue queue;
    Buffer buffer { 0x1000, 16, true };
    Completion completion {};
    EXPECT_EQ(queue.add(&buffer, 1, 1).error().code(), EINVAL);
    EXPECT_EQ(queue.poll(completion).error().code(), EINVAL);
    EXPECT_FALSE(queue.device_wants_notification());
}

TEST_F(VirtioQueue, RoundTripReturnsTokenAndLength)
{
    std::vector<u8> bytes(32, 0);
    auto buffer = writable(bytes);
    ASSERT_FALSE(queue.add(&buffer, 1, 0xabcdef).is_error());
    Completion completion {};
    EXPECT_FALSE(queue.poll(completion).value()); // nothing used yet
    EXPECT_EQ(device->serve(0x5a), 1u);
    ASSERT_TRUE(queue.poll(completion).value());
    EXPECT_EQ(completion.token, 0xabcdefu);
    EXPECT_EQ(completion.written, 32u);
    EXPECT_EQ(bytes[0], 0x5a);
    EXPECT_EQ(bytes[31], 0x5a);
    EXPECT_EQ(queue.free_descriptors(), 8u);
    EXPECT_EQ(queue.chains_in_flight(), 0u);
    EXPECT_FALSE(queue.poll(completion).value()); // exactly once
}

TEST_F(VirtioQueue, AvailableRingSaysNoInterruptAndIndexAdvances)
{
    EXPECT_EQ(device->available()[0], 1u); // VIRTQ_AVAIL_F_NO_INTERRUPT
    std::vector<u8> bytes(8);
    auto buffer = writable(bytes);
    ASSERT_FALSE(queue.add(&buffer, 1, 1).is_error());
    ASSERT_FALSE(queue.add(&buffer, 1, 2).is_error());
    EXPECT_EQ(device->available()[1], 2u);
    EXPECT_TRUE(queue.device_wants_notification());
    device->used_header()[0] = used_flag_no_notify;
    EXPECT_FALSE(queue.device_wants_notification());
}

TEST_F(VirtioQueue, ChainsOfReadableThenWritableBuffers)
{
    std::vector<u8> header(16, 1), data(100, 0), status(1, 0);
    Buffer chain[] = { readable(header), writable(data), writable(status) };
    ASSERT_FALSE(queue.add(chain, 3, 7).is_error());
    EXPECT_EQ(queue.free_descriptors(), 5u);
    auto* table = device->table();
    EXPECT_EQ(table[0].flags, descriptor_flag_next);
    EXPECT_EQ(table[1].flags, descriptor_flag_next | descriptor_flag_write);
    EXPECT_EQ(table[2].flags, descriptor_flag_write);
    device->serve(0x33);
    Completion completion {};
    ASSERT_TRUE(queue.poll(completion).value());
    EXPECT_EQ(completion.written, 101u);
    EXPECT_EQ(header[0], 1); // the device only writes writable parts
    EXPECT_EQ(queue.free_descriptors(), 8u);
}

TEST_F(VirtioQueue, RejectsBadChains)
{
    std::vector<u8> bytes(8);
    Buffer zero { reinterpret_cast<u64>(bytes.data()), 0, true };
    EXPECT_EQ(queue.add(&zero, 1, 1).error().code(), EINVAL);
    Buffer wrapping { ~0ull - 3, 8, true };
    EXPECT_EQ(queue.add(&wrapping, 1, 1).error().code(), EINVAL);
    Buffer misordered[] = { writable(bytes), readable(bytes) };
    EXPECT_EQ(queue.add(misordered, 2, 1).error().code(), EINVAL);
    EXPECT_EQ(queue.add(nullptr, 1, 1).error().code(), EINVAL);
    EXPECT_EQ(queue.add(misordered, 0, 1).error().code(), EINVAL);
    Buffer huge[] = { { 0x1000, 0xffffffffu, true }, { 0x200000000ull, 2, true } };
    EXPECT_EQ(queue.add(huge, 2, 1).error().code(), EINVAL);
    EXPECT_EQ(queue.free_descriptors(), 8u); // nothing consumed by a refused chain
    EXPECT_EQ(device->available()[1], 0u);
}

TEST_F(VirtioQueue, FullQueueSaysNoSpaceThenRecovers)
{
    std::vector<u8> bytes(4);
    auto buffer = writable(bytes);
    for (u64 i = 0; i < 8; ++i)
        ASSERT_FALSE(queue.add(&buffer, 1, i).is_error());
    EXPECT_EQ(queue.add(&buffer, 1, 99).error().code(), ENOSPC);
    Buffer two[] = { buffer, buffer };
    device->serve(1);
    Completion completion {};
    std::vector<u64> tokens;
    while (queue.poll(completion).value())
        tokens.push_back(completion.token);
    EXPECT_EQ(tokens, (std::vector<u64> { 0, 1, 2, 3, 4, 5, 6, 7 }));
    ASSERT_FALSE(queue.add(two, 2, 100).is_error());
}

TEST_F(VirtioQueue, ManyRoundsWrapTheSixteenBitIndices)
{
    std::vector<u8> bytes(16);
    Buffer chain[] = { readable(bytes), writable(bytes) };
    Completion completion {};
    for (u64 round = 0; round < 70000; ++round) {
        ASSERT_FALSE(queue.add(chain, 2, round).is_error());
        ASSERT_FALSE(queue.add(chain + 1, 1, round + (1ull << 40)).is_error());
        device->serve(static_cast<u8>(round));
        ASSERT_TRUE(queue.poll(completion).value());
        ASSERT_EQ(completion.token, round);
        ASSERT_TRUE(queue.poll(completion).value());
        ASSERT_EQ(completion.token, round + (1ull << 40));
        ASSERT_FALSE(queue.poll(completion).value());
    }
    EXPECT_EQ(queue.free_descriptors(), 8u);
}

TEST_F(VirtioQueue, OutOfOrderCompletionsReturnTheRightTokens)
{
    std::vector<u8> a(8), b(8), c(8);
    Buffer ba = writable(a), bb = writable(b), bc = writable(c);
    ASSERT_FALSE(queue.add(&ba, 1, 10).is_error());
    ASSERT_FALSE(queue.add(&bb, 1, 20).is_error());
    ASSERT_FALSE(queue.add(&bc, 1, 30).is_error());
    device->complete(2, 8);
    device->complete(0, 3);
    Completion completion {};
    ASSERT_TRUE(queue.poll(completion).value());
    EXPECT_EQ(completion.token, 30u);
    ASSERT_TRUE(queue.poll(completion).value());
    EXPECT_EQ(completion.token, 10u);
    EXPECT_EQ(completion.written, 3u);
    EXPECT_EQ(queue.chains_in_flight(), 1u);
}

// Hostile devices. Each must break the queue with EIO and leave the driver's state consistent.

TEST_F(VirtioQueue, HostileUsedIndexRunsAhead)
{
    std::vector<u8> bytes(8);
    auto buffer = writable(bytes);
    ASSERT_FALSE(queue.add(&buffer, 1, 1).is_error());
    device->used_header()[1] = 2; // two completions for one chain in flight
    Completion completion {};
    auto result = queue.poll(completion);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), EIO);
    EXPECT_TRUE(queue.is_broken());
    EXPECT_EQ(queue.add(&buffer, 1, 2).error().code(), EIO);
    EXPECT_EQ(queue.poll(completion).error().code(), EIO);
}

TEST_F(VirtioQueue, HostileUsedIndexGoesBackwards)
{
    std::vector<u8> bytes(8);
    auto buffer = writable(bytes);
    ASSERT_FALSE(queue.add(&buffer, 1, 1).is_error());
    device->used_header()[1] = 0xffff; // "65535 new entries"
    Completion completion {};
    EXPECT_EQ(queue.poll(completion).error().code(), EIO);
}

TEST_F(VirtioQueue, HostileIdOutsideTheQueue)
{
    std::vector<u8> bytes(8);
    auto buffer = writable(bytes);
    ASSERT_FALSE(queue.add(&buffer, 1, 1).is_error());
    for (u32 id : { 8u, 255u, 256u, 0xffffffffu }) {
        start(8);
        ASSERT_FALSE(queue.add(&buffer, 1, 1).is_error());
        device->complete(id, 1);
        Completion completion {};
        EXPECT_EQ(queue.poll(completion).error().code(), EIO) << id;
    }
}

TEST_F(VirtioQueue, HostileIdNotAHeadInFlight)
{
    std::vector<u8> bytes(8);
    Buffer chain[] = { readable(bytes), writable(bytes) };
    ASSERT_FALSE(queue.add(chain, 2, 1).is_error());
    device->complete(1, 1); // the second descriptor of the chain, not its head
    Completion completion {};
    EXPECT_EQ(queue.poll(completion).error().code(), EIO);
}

TEST_F(VirtioQueue, HostileDoubleCompletion)
{
    std::vector<u8> bytes(8);
    Buffer a = writable(bytes);
    ASSERT_FALSE(queue.add(&a, 1, 1).is_error());
    ASSERT_FALSE(queue.add(&a, 1, 2).is_error());
    device->complete(0, 8);
    device->complete(0, 8); // the same head twice
    Completion completion {};
    ASSERT_TRUE(queue.poll(completion).value());
    EXPECT_EQ(completion.token, 1u);
    EXPECT_EQ(queue.poll(completion).error().code(), EIO);
}

TEST_F(VirtioQueue, HostileLengthLongerThanTheChain)
{
    std::vector<u8> header(16), data(8);
    Buffer chain[] = { readable(header), writable(data) };
    ASSERT_FALSE(queue.add(chain, 2, 1).is_error());
    device->complete(0, 9); // readable bytes do not count
    Completion completion {};
    EXPECT_EQ(queue.poll(completion).error().code(), EIO);
}

TEST_F(VirtioQueue, HostileLengthOnAReadOnlyChain)
{
    std::vector<u8> header(16);
    Buffer chain = readable(header);
    ASSERT_FALSE(queue.add(&chain, 1, 1).is_error());
    device->complete(0, 1);
    Completion completion {};
    EXPECT_EQ(queue.poll(completion).error().code(), EIO);
}

TEST_F(VirtioQueue, HostileDeviceRewritesTheDescriptorTable)
{
    // The device overwrites the shared table's links (a loop, an index outside the table); the driver frees the
    // chain from its own shadow, so the free list stays intact and ASan sees no stray access.
    std::vector<u8> a(8), b(8), c(8);
    Buffer chain[] = { readable(a), writable(b), writable(c) };
    ASSERT_FALSE(queue.add(chain, 3, 42).is_error());
    device->table()[0].next = 0;
    device->table()[1].next = 0xffff;
    device->table()[2].flags = descriptor_flag_next;
    device->table()[2].next = 0x7fff;
    device->complete(0, 16);
    Completion completion {};
    ASSERT_TRUE(queue.poll(completion).value());
    EXPECT_EQ(completion.token, 42u);
    EXPECT_EQ(queue.free_descriptors(), 8u);
    // Every descriptor is usable again exactly once.
    Buffer one = writable(a);
    for (u64 i = 0; i < 8; ++i)
        ASSERT_FALSE(queue.add(&one, 1, i).is_error());
    EXPECT_EQ(queue.add(&one, 1, 9).error().code(), ENOSPC);
}

TEST_F(VirtioQueue, HostileDeviceRewritesTheAvailableIndex)
{
    // The driver never reads back its own available index: a device that changes it does not shift the ring.
    std::vector<u8> a(8);
    Buffer one = writable(a);
    ASSERT_FALSE(queue.add(&one, 1, 1).is_error());
    device->available()[1] = 0x1234;
    ASSERT_FALSE(queue.add(&one, 1, 2).is_error());
    EXPECT_EQ(device->available()[1], 2u);
    EXPECT_EQ(device->available()[2 + 1], 1u); // second chain's head in slot 1
}

TEST_F(VirtioQueue, FuzzedUsedRingNeverEscapesTheQueue)
{
    // Random used-ring contents: every poll either succeeds with a token we handed out or breaks the queue.
    u64 state = 0x9e3779b97f4a7c15ull;
    auto next = [&] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    std::vector<u8> bytes(64);
    for (int round = 0; round < 2000; ++round) {
        start(8);
        std::vector<bool> outstanding(8, false);
        usize chains = next() % 8 + 1;
        for (usize i = 0; i < chains; ++i) {
            Buffer one = writable(bytes);
            ASSERT_FALSE(queue.add(&one, 1, 1000 + i).is_error());
            outstanding[i] = true;
        }
        device->used_header()[1] = static_cast<u16>(next());
        for (u16 slot = 0; slot < 8; ++slot)
            device->used_ring()[slot] = { static_cast<u32>(next() % 12), static_cast<u32>(next() % 80) };
        Completion completion {};
        for (int poll = 0; poll < 10; ++poll) {
            auto result = queue.poll(completion);
            if (result.is_error()) {
                EXPECT_TRUE(queue.is_broken());
                break;
            }
            if (!result.value())
                break;
            ASSERT_GE(completion.token, 1000u);
            usize index = completion.token - 1000;
            ASSERT_LT(index, chains);
            ASSERT_TRUE(outstanding[index]) << "a token came back twice";
            outstanding[index] = false;
            ASSERT_LE(completion.written, 64u);
        }
    }
}
