// Hypercall handlers against hostile requests, with pipes standing in for stdout/stderr.
#include "hypercalls.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
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
    EXPECT_TRUE(is_hypercall_port(0x505)); // Output
    EXPECT_TRUE(is_hypercall_port(0x506)); // Input
    EXPECT_FALSE(is_hypercall_port(0x507));
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

namespace {

// Builds an HcOutput record buffer: each record's header, its bytes, zero padding to the next 8-byte boundary.
class RecordBuffer {
public:
    RecordBuffer& add(u32 stream, std::string_view bytes)
    {
        kernite::abi::OutputRecord header { stream, static_cast<u32>(bytes.size()) };
        m_bytes.append(reinterpret_cast<char const*>(&header), sizeof(header));
        m_bytes.append(bytes);
        m_bytes.resize((m_bytes.size() + 7) & ~usize { 7 });
        return *this;
    }
    std::string& bytes() { return m_bytes; }

private:
    std::string m_bytes;
};

constexpr u64 records_gpa = 0x10000;

} // namespace

class OutputHypercall : public Hypercalls {
protected:
    HypercallOutcome output(std::string const& records, u32 length, u64 data_gpa = records_gpa)
    {
        EXPECT_TRUE(m_memory.write_bytes(records_gpa, records.data(), records.size()));
        kernite::abi::HcOutput request { data_gpa, length, 0, 12345 };
        EXPECT_TRUE(m_memory.write(GuestPtr<kernite::abi::HcOutput>(0x2000), request));
        return call(kernite::abi::Hypercall::Output, 0x2000);
    }
    HypercallOutcome output(std::string const& records) { return output(records, static_cast<u32>(records.size())); }
    i64 result() { return m_memory.read(GuestPtr<kernite::abi::HcOutput>(0x2000))->result; }
};

TEST_F(OutputHypercall, WritesEachRecordToItsStreamInOrderByteExact)
{
    std::string binary;
    for (int byte = 0; byte < 256; ++byte)
        binary += static_cast<char>(byte);
    RecordBuffer records;
    records.add(1, "one ").add(1, "two\n").add(2, "err\n").add(1, "").add(1, binary).add(2, std::string(5, '\0'));
    auto outcome = output(records.bytes());
    EXPECT_EQ(outcome.kind, Kind::Continue) << outcome.message;
    EXPECT_EQ(result(), 0);
    EXPECT_EQ(drain(m_out[0]), "one two\n" + binary);
    EXPECT_EQ(drain(m_err[0]), "err\n" + std::string(5, '\0'));
}

TEST_F(OutputHypercall, LengthMayEndRightAfterTheLastRecord)
{
    RecordBuffer records;
    records.add(1, "abc"); // 8 + 3 bytes, padded to 16
    EXPECT_EQ(output(records.bytes(), 11).kind, Kind::Continue);
    EXPECT_EQ(drain(m_out[0]), "abc");
    EXPECT_EQ(output(records.bytes(), 0).kind, Kind::Continue); // nothing at all
    EXPECT_EQ(drain(m_out[0]), "");
}

TEST_F(OutputHypercall, LargestBufferInOneCall)
{
    std::string const payload(kernite::abi::output_max_length - 2 * sizeof(kernite::abi::OutputRecord) - 8, 'x');
    RecordBuffer records;
    records.add(1, payload).add(2, "e");
    ASSERT_EQ(records.bytes().size(), kernite::abi::output_max_length);
    ASSERT_EQ(fcntl(m_out[1], F_SETPIPE_SZ, 1 << 20), 1 << 20);
    EXPECT_EQ(output(records.bytes()).kind, Kind::Continue);
    std::string got;
    for (std::string part; !(part = drain(m_out[0])).empty();)
        got += part;
    EXPECT_EQ(got, payload);
    EXPECT_EQ(drain(m_err[0]), "e");
}

TEST_F(OutputHypercall, MalformedRequestsAreFatalAndWriteNothing)
{
    RecordBuffer good;
    good.add(1, "fine\n");
    std::string const prefix = good.bytes(); // a valid record first: it must not be written either

    auto record = [](u32 stream, u32 length) {
        kernite::abi::OutputRecord header { stream, length };
        return std::string(reinterpret_cast<char const*>(&header), sizeof(header));
    };
    struct Case {
        char const* what;
        std::string records;
        u32 length;
        u64 data_gpa;
    };
    std::string const truncated_header = prefix + std::string(4, '\0');
    std::string const bad_stream = prefix + record(3, 1) + std::string(8, 'x');
    std::string const zero_stream = prefix + record(0, 0);
    std::string const past_end = prefix + record(1, 100) + std::string(8, 'x');
    for (Case const& c : {
             Case { "truncated header", truncated_header, static_cast<u32>(truncated_header.size()), records_gpa },
             Case { "unknown stream", bad_stream, static_cast<u32>(bad_stream.size()), records_gpa },
             Case { "stream 0", zero_stream, static_cast<u32>(zero_stream.size()), records_gpa },
             Case { "record past the end", past_end, static_cast<u32>(past_end.size()), records_gpa },
             Case { "too long", prefix, kernite::abi::output_max_length + 1, records_gpa },
             Case { "unaligned records", prefix, static_cast<u32>(prefix.size()), records_gpa + 4 },
             Case { "outside memory", prefix, 64, m_memory.size() - 32 },
             Case { "wrapping address", prefix, 64, UINT64_MAX - 15 },
         }) {
        auto outcome = output(c.records, c.length, c.data_gpa);
        EXPECT_EQ(outcome.kind, Kind::Fatal) << c.what;
        EXPECT_NE(outcome.message.find("malformed output hypercall"), std::string::npos) << outcome.message;
        EXPECT_EQ(result(), 12345) << c.what; // nothing written back either
    }
    EXPECT_EQ(drain(m_out[0]), "");
    EXPECT_EQ(drain(m_err[0]), "");
    EXPECT_EQ(call(kernite::abi::Hypercall::Output, 0x2004).kind, Kind::Fatal); // unaligned request
}

TEST_F(OutputHypercall, ClosedReaderStopsTheProgramAsSigpipeWould)
{
    std::signal(SIGPIPE, SIG_IGN); // as main() does: EPIPE instead of death
    close(m_out[0]);
    m_out[0] = open("/dev/null", O_RDONLY); // keeps TearDown's close balanced
    RecordBuffer records;
    records.add(2, "before\n").add(1, "lost\n");
    auto outcome = output(records.bytes());
    EXPECT_EQ(outcome.kind, Kind::Exit);
    EXPECT_EQ(outcome.exit_status, 141);
    EXPECT_EQ(outcome.exit_reason, static_cast<u32>(kernite::abi::ExitReason::ProgramKilled));
    EXPECT_NE(outcome.message.find("EPIPE"), std::string::npos) << outcome.message;
    EXPECT_EQ(drain(m_err[0]), "before\n"); // what came before, in order, was written
}

TEST_F(OutputHypercall, OtherWriteErrorsAreReturnedToTheGuest)
{
    int const full = open("/dev/full", O_WRONLY | O_CLOEXEC);
    ASSERT_GE(full, 0);
    HypercallContext context { m_memory, m_events, full, m_err[1] };
    RecordBuffer records;
    records.add(1, "x");
    ASSERT_TRUE(m_memory.write_bytes(records_gpa, records.bytes().data(), records.bytes().size()));
    ASSERT_TRUE(m_memory.write(GuestPtr<kernite::abi::HcOutput>(0x2000),
        kernite::abi::HcOutput { records_gpa, static_cast<u32>(records.bytes().size()), 0, 0 }));
    auto outcome = handle_hypercall(context, port(kernite::abi::Hypercall::Output), 0x2000);
    close(full);
    EXPECT_EQ(outcome.kind, Kind::Continue);
    EXPECT_EQ(result(), -ENOSPC);
}

// HcInput: the host's stdin (a pipe here) into guest memory, one read per call.
class InputHypercall : public Hypercalls {
protected:
    static constexpr u64 buffer_gpa = 0x10000;
    void SetUp() override
    {
        Hypercalls::SetUp();
        ASSERT_EQ(pipe2(m_in, O_CLOEXEC), 0);
    }
    void TearDown() override
    {
        for (int fd : m_in)
            if (fd >= 0)
                close(fd);
        Hypercalls::TearDown();
    }
    void close_writer()
    {
        close(m_in[1]);
        m_in[1] = -1;
    }
    HypercallOutcome input(u64 gpa, u32 capacity, u64 wait_ns = 0, u32 reserved = 0)
    {
        EXPECT_TRUE(m_memory.write(GuestPtr<kernite::abi::HcInput>(0x3000),
            kernite::abi::HcInput { gpa, capacity, reserved, wait_ns, 12345 }));
        HypercallContext context { m_memory, m_events, m_out[1], m_err[1] };
        context.stdin_fd = m_in[0];
        return handle_hypercall(context, port(kernite::abi::Hypercall::Input), 0x3000);
    }
    i64 result() { return m_memory.read(GuestPtr<kernite::abi::HcInput>(0x3000))->result; }
    std::string guest_bytes(usize length)
    {
        std::string bytes(length, '\0');
        EXPECT_TRUE(m_memory.read_bytes(buffer_gpa, bytes.data(), length));
        return bytes;
    }

    int m_in[2] { -1, -1 };
};

TEST_F(InputHypercall, DeliversWhatIsThereInOneCallByteExact)
{
    std::string const sent("line one\n\0\xff binary", 18);
    ASSERT_EQ(write(m_in[1], sent.data(), sent.size()), static_cast<ssize_t>(sent.size()));
    EXPECT_EQ(input(buffer_gpa, 4096).kind, Kind::Continue);
    EXPECT_EQ(result(), static_cast<i64>(sent.size()));
    EXPECT_EQ(guest_bytes(sent.size()), sent);
}

TEST_F(InputHypercall, NeverMoreThanTheCapacity)
{
    ASSERT_EQ(write(m_in[1], "abcdef", 6), 6);
    EXPECT_EQ(input(buffer_gpa, 4).kind, Kind::Continue);
    EXPECT_EQ(result(), 4);
    EXPECT_EQ(guest_bytes(4), "abcd");
    EXPECT_EQ(input(buffer_gpa, 4).kind, Kind::Continue);
    EXPECT_EQ(result(), 2);
}

TEST_F(InputHypercall, NothingYetIsEagainAndClosedIsEndOfFile)
{
    EXPECT_EQ(input(buffer_gpa, 16, 0).kind, Kind::Continue); // the writer is open but silent: no blocking
    EXPECT_EQ(result(), -EAGAIN);
    EXPECT_EQ(input(buffer_gpa, 16, 2'000'000).kind, Kind::Continue); // waits 2 ms, still nothing
    EXPECT_EQ(result(), -EAGAIN);
    close_writer();
    EXPECT_EQ(input(buffer_gpa, 16).kind, Kind::Continue);
    EXPECT_EQ(result(), 0);
}

TEST_F(InputHypercall, DevNullIsEndOfFile)
{
    close(m_in[0]);
    m_in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(m_in[0], 0);
    EXPECT_EQ(input(buffer_gpa, 16).kind, Kind::Continue);
    EXPECT_EQ(result(), 0);
}

TEST_F(InputHypercall, HostileRequestsAreFatalAndConsumeNothing)
{
    ASSERT_EQ(write(m_in[1], "keep", 4), 4);
    u64 const size = m_memory.size();
    EXPECT_EQ(input(size - 8, 16).kind, Kind::Fatal);              // buffer runs past guest memory
    EXPECT_EQ(input(~u64 { 0 } - 4, 16).kind, Kind::Fatal);        // wraps around
    EXPECT_EQ(input(buffer_gpa, 0).kind, Kind::Fatal);             // empty capacity
    EXPECT_EQ(input(buffer_gpa, kernite::abi::input_max_length + 1).kind, Kind::Fatal);
    EXPECT_EQ(input(buffer_gpa, 16, 0, 1).kind, Kind::Fatal);      // reserved bits
    HypercallContext context { m_memory, m_events, m_out[1], m_err[1] };
    context.stdin_fd = m_in[0];
    EXPECT_EQ(handle_hypercall(context, port(kernite::abi::Hypercall::Input), 0x3004).kind, Kind::Fatal); // unaligned
    // None of them read the host's stdin.
    EXPECT_EQ(input(buffer_gpa, 16).kind, Kind::Continue);
    EXPECT_EQ(result(), 4);
    EXPECT_EQ(guest_bytes(4), "keep");
}

TEST_F(InputHypercall, AHostileWaitIsCapped)
{
    auto const start = std::chrono::steady_clock::now();
    EXPECT_EQ(input(buffer_gpa, 16, ~u64 { 0 }).kind, Kind::Continue);
    auto const waited = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(result(), -EAGAIN);
    EXPECT_LT(waited, std::chrono::seconds(2));
}
