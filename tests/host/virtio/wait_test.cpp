// Bounded polling (libs/virtio/wait.h): a silent device times out instead of hanging; an answer in time is
// returned; a hostile answer is an error; the tick counter may wrap.
#include <gtest/gtest.h>
#include <virtio/wait.h>

#include <vector>

using namespace kernite::virtio;

namespace {

// A fake clock that advances one tick per reading and, at a chosen tick, makes the "device" complete chain 0.
struct Scenario {
    u64 ticks { 0 };
    bool answers { false };
    u64 answer_at { 0 };
    u32 answer_id { 0 };
    u32 answer_length { 4 };
    u8* used { nullptr };
    u64 relaxed { 0 };
};

u64 fake_now(void* context)
{
    auto& scenario = *static_cast<Scenario*>(context);
    u64 now = scenario.ticks++;
    if (scenario.answers && now == scenario.answer_at) {
        auto* index = reinterpret_cast<u16*>(scenario.used + 2);
        auto* ring = reinterpret_cast<UsedElement*>(scenario.used + 4);
        ring[*index % 8] = { scenario.answer_id, scenario.answer_length };
        ++*index;
    }
    return now;
}

void fake_relax(void* context) { ++static_cast<Scenario*>(context)->relaxed; }

struct VirtioWait : ::testing::Test {
    void SetUp() override
    {
        layout = QueueLayout::for_size(8).value();
        ASSERT_FALSE(queue.initialize(layout, memory, reinterpret_cast<u64>(memory), sizeof(memory)).is_error());
        Buffer buffer { reinterpret_cast<u64>(data), sizeof(data), true };
        ASSERT_FALSE(queue.add(&buffer, 1, 77).is_error());
        scenario.used = memory + layout.used_offset;
    }
    PollClock clock() { return { fake_now, fake_relax, &scenario }; }

    QueueLayout layout {};
    alignas(16) u8 memory[1024] {};
    u8 data[16] {};
    SplitQueue queue;
    Scenario scenario;
};

} // namespace

TEST_F(VirtioWait, SilentDeviceTimesOut)
{
    auto result = wait_for_completion(queue, clock(), 1000);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ETIMEDOUT);
    EXPECT_LE(scenario.ticks, 1010u); // bounded: stopped right after the deadline
    EXPECT_GT(scenario.relaxed, 0u);
    EXPECT_EQ(queue.chains_in_flight(), 1u); // the buffer still belongs to the device
    EXPECT_FALSE(queue.is_broken());
}

TEST_F(VirtioWait, AnswerInTimeIsReturned)
{
    scenario.answers = true;
    scenario.answer_at = 50;
    auto result = wait_for_completion(queue, clock(), 1000);
    ASSERT_FALSE(result.is_error());
    EXPECT_EQ(result.value().token, 77u);
    EXPECT_EQ(result.value().written, 4u);
}

TEST_F(VirtioWait, AnswerAfterTheDeadlineIsTooLate)
{
    scenario.answers = true;
    scenario.answer_at = 5000;
    EXPECT_EQ(wait_for_completion(queue, clock(), 1000).error().code(), ETIMEDOUT);
}

TEST_F(VirtioWait, HostileAnswerIsAnError)
{
    scenario.answers = true;
    scenario.answer_at = 10;
    scenario.answer_length = 17; // more than the 16-byte buffer
    EXPECT_EQ(wait_for_completion(queue, clock(), 1000).error().code(), EIO);
    EXPECT_TRUE(queue.is_broken());
}

TEST_F(VirtioWait, TickCounterWrapDoesNotEndTheWaitEarlyOrLate)
{
    scenario.ticks = ~0ull - 100;
    auto result = wait_for_completion(queue, clock(), 1000);
    EXPECT_EQ(result.error().code(), ETIMEDOUT);
    EXPECT_GE(scenario.ticks, 899u); // wrapped past zero and waited the full 1000 ticks
    EXPECT_LE(scenario.ticks, 910u);
}

TEST_F(VirtioWait, NoClockIsRefused)
{
    PollClock none { nullptr, nullptr, nullptr };
    EXPECT_EQ(wait_for_completion(queue, none, 10).error().code(), EINVAL);
}
