// Hypercall handlers against hostile requests, with pipes standing in for stdout/stderr.
#include "hypercalls.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fcntl.h>
#include <unistd.h>

using namespace kernite::monitor;
using Kind = HypercallOutcome::Kind;

namespace {

constexpr u16 port(kernite::abi::Hypercall call) { return kernite::abi::hypercall_port_base + static_cast<u16>(call); }

class Hypercalls : public ::testing::Test {
protected:
    void SetUp() override
    {
        ASSERT_EQ(pipe2(m_out, O_NONBLOCK), 0);
        ASSERT_EQ(pipe2(m_err, O_NONBLOCK), 0);
    }
    void TearDown() override
    {
        for (int fd : { m_out[0], m_out[1], m_err[0], m_err[1] })
            close(fd);
    }
    std::string drain(int fd)
    {
        char buffer[70000];
        ssize_t got = read(fd, buffer, sizeof(buffer));
        return got > 0 ? std::string(buffer, static_cast<usize>(got)) : "";
    }
    HypercallOutcome call(kernite::abi::Hypercall which, u32 gpa)
    {
        HypercallContext context { m_memory, m_events, m_out[1], m_err[1] };
        return handle_hypercall(context, port(which), gpa);
    }

    GuestMemory m_memory { std::move(*GuestMemory::allocate(4 << 20)) };
    EventSink m_events;
    int m_out[2] {};
    int m_err[2] {};
};

} // namespace

TEST_F(Hypercalls, PortRange)
{
    EXPECT_FALSE(is_hypercall_port(0x4ff));
    EXPECT_TRUE(is_hypercall_port(0x500));
    EXPECT_TRUE(is_hypercall_port(0x504));
    EXPECT_FALSE(is_hypercall_port(0x505));
}

TEST_F(Hypercalls, ConsoleWritesToTheRightStream)
{
    ASSERT_TRUE(m_memory.write_bytes(0x3000, "hello\n", 6));
    kernite::abi::HcConsole request { 0x3000, 6, 1, -1 };
    ASSERT_TRUE(m_memory.write(GuestPtr<kernite::abi::HcConsole>(0x2000), request));
    EXPECT_EQ(call(kernite::abi::Hypercall::Console, 0x2000).kind, Kind::Continue);
    EXPECT_EQ(drain(m_out[0]), "hello\n");
    EXPECT_EQ(m_memory.read(GuestPtr<kernite::abi::HcConsole>(0x2000))->result, 6);

    request.stream = 2;
    ASSERT_TRUE(m_memory.write(GuestPtr<kernite::abi::HcConsole>(0x2000), request));
    EXPECT_EQ(call(kernite::abi::Hypercall::Console, 0x2000).kind, Kind::Continue);
    EXPECT_EQ(drain(m_err[0]), "hello\n");
}

TEST_F(Hypercalls, ConsoleRefusesHostileRequests)
{
    u64 const size = m_memory.size();
    struct Case {
        u32 gpa;
        kernite::abi::HcConsole request;
    };
    for (Case const& c : {
             Case { 0x2004, { 0x3000, 6, 1, 0 } },                                    // unaligned request
             Case { static_cast<u32>(size - 8), { 0x3000, 6, 1, 0 } },                // request runs past the end
             Case { 0xfffffff8, { 0x3000, 6, 1, 0 } },                                // request outside memory
             Case { 0x2000, { 0x3000, kernite::abi::console_max_length + 1, 1, 0 } }, // too long
             Case { 0x2000, { 0x3000, 6, 3, 0 } },                                    // unknown stream
             Case { 0x2000, { size - 2, 6, 1, 0 } },                                  // data past the end
             Case { 0x2000, { UINT64_MAX - 2, 6, 1, 0 } },                            // data range wraps
         }) {
        if (c.gpa + sizeof(kernite::abi::HcConsole) <= size) {
            ASSERT_TRUE(m_memory.write(GuestPtr<kernite::abi::HcConsole>(c.gpa), c.request));
        }
        auto outcome = call(kernite::abi::Hypercall::Console, c.gpa);
        EXPECT_EQ(outcome.kind, Kind::Fatal) << c.gpa;
        EXPECT_FALSE(outcome.message.empty());
    }
    EXPECT_EQ(drain(m_out[0]), "");
}

TEST_F(Hypercalls, ExitAppliesTheContract)
{
    struct Case {
        kernite::abi::HcExit request;
        int status;
    };
    for (Case const& c : { Case { { 3, 0 }, 3 }, Case { { 256 + 4, 0 }, 4 }, Case { { 139, 3 }, 139 },
             Case { { 0, 1 }, 125 }, Case { { 0, 2 }, 125 } }) {
        ASSERT_TRUE(m_memory.write(GuestPtr<kernite::abi::HcExit>(0x2000), c.request));
        auto outcome = call(kernite::abi::Hypercall::Exit, 0x2000);
        EXPECT_EQ(outcome.kind, Kind::Exit);
        EXPECT_EQ(outcome.exit_status, c.status);
    }
    ASSERT_TRUE(m_memory.write(GuestPtr<kernite::abi::HcExit>(0x2000), kernite::abi::HcExit { 0, 4 }));
    EXPECT_EQ(call(kernite::abi::Hypercall::Exit, 0x2000).kind, Kind::Fatal);
}

TEST_F(Hypercalls, TimeAndEntropy)
{
    EXPECT_EQ(call(kernite::abi::Hypercall::Time, 0x2000).kind, Kind::Continue);
    auto time = m_memory.read(GuestPtr<kernite::abi::HcTime>(0x2000));
    EXPECT_GT(time->monotonic_ns, 0u);
    EXPECT_GT(time->realtime_ns, 1'600'000'000ull * 1'000'000'000ull);

    ASSERT_TRUE(
        m_memory.write(GuestPtr<kernite::abi::HcEntropy>(0x2000), kernite::abi::HcEntropy { 0x3000, 32, 0, 0 }));
    EXPECT_EQ(call(kernite::abi::Hypercall::Entropy, 0x2000).kind, Kind::Continue);
    EXPECT_EQ(m_memory.read(GuestPtr<kernite::abi::HcEntropy>(0x2000))->result, 32);
    u8 bytes[33] = {};
    ASSERT_TRUE(m_memory.read_bytes(0x3000, bytes, sizeof(bytes)));
    EXPECT_EQ(bytes[32], 0); // nothing past the requested length
    EXPECT_NE(std::memcmp(bytes, std::string(32, '\0').data(), 32), 0);

    ASSERT_TRUE(m_memory.write(GuestPtr<kernite::abi::HcEntropy>(0x2000),
        kernite::abi::HcEntropy { 0x3000, kernite::abi::entropy_max_length + 1, 0, 0 }));
    EXPECT_EQ(call(kernite::abi::Hypercall::Entropy, 0x2000).kind, Kind::Fatal);
    ASSERT_TRUE(m_memory.write(GuestPtr<kernite::abi::HcEntropy>(0x2000),
        kernite::abi::HcEntropy { m_memory.size() - 16, 32, 0, 0 }));
    EXPECT_EQ(call(kernite::abi::Hypercall::Entropy, 0x2000).kind, Kind::Fatal);
}

TEST_F(Hypercalls, EventIsValidatedBeforeItIsReported)
{
    kernite::abi::HcEvent request {};
    request.event.type = static_cast<u32>(kernite::abi::EventType::NullDeref);
    std::strcpy(request.event.message, "null");
    request.result = -1;
    ASSERT_TRUE(m_memory.write(GuestPtr<kernite::abi::HcEvent>(0x2000), request));
    EXPECT_EQ(call(kernite::abi::Hypercall::Event, 0x2000).kind, Kind::Continue);
    EXPECT_EQ(m_memory.read(GuestPtr<kernite::abi::HcEvent>(0x2000))->result, 0);

    std::memset(request.event.message, 'A', sizeof(request.event.message));
    ASSERT_TRUE(m_memory.write(GuestPtr<kernite::abi::HcEvent>(0x2000), request));
    EXPECT_EQ(call(kernite::abi::Hypercall::Event, 0x2000).kind, Kind::Fatal);
}
