#include "hypercalls.h"

#include "exit_status.h"
#include "io.h"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>

#include <poll.h>
#include <unistd.h>

namespace kernite::monitor {

namespace {

using Kind = HypercallOutcome::Kind;

HypercallOutcome fatal(std::string message) { return { Kind::Fatal, 0, 0, std::move(message) }; }
HypercallOutcome proceed() { return {}; }

// Copies the request struct in after checking alignment and range.
template<typename T>
std::optional<T> copy_request(GuestMemory const& memory, u64 gpa)
{
    if (gpa % 8 != 0)
        return std::nullopt;
    return memory.read(GuestPtr<T>(gpa));
}

// Writes back one out field (never the whole struct: the guest's in fields are not ours to rewrite).
template<typename Field>
HypercallOutcome write_back(GuestMemory& memory, u64 field_gpa, Field const& value)
{
    if (!memory.write(GuestPtr<Field>(field_gpa), value))
        return fatal("cannot write the hypercall result");
    return proceed();
}

std::string bad_request(char const* name, u64 gpa, char const* why)
{
    char buffer[160];
    std::snprintf(buffer, sizeof(buffer), "malformed %s hypercall at 0x%llx: %s", name,
        static_cast<unsigned long long>(gpa), why);
    return buffer;
}

HypercallOutcome handle_console(HypercallContext& context, u64 gpa)
{
    auto request = copy_request<abi::HcConsole>(context.memory, gpa);
    if (!request)
        return fatal(bad_request("console", gpa, "request is unaligned or outside guest memory"));
    if (request->length > abi::console_max_length)
        return fatal(bad_request("console", gpa, "length exceeds console_max_length"));
    int fd = -1;
    if (request->stream == static_cast<u32>(abi::ConsoleStream::Stdout))
        fd = context.stdout_fd;
    else if (request->stream == static_cast<u32>(abi::ConsoleStream::Stderr))
        fd = context.stderr_fd;
    else
        return fatal(bad_request("console", gpa, "unknown stream"));
    if (!context.memory.contains(request->data_gpa, request->length))
        return fatal(bad_request("console", gpa, "data lies outside guest memory"));
    auto buffer = std::make_unique_for_overwrite<u8[]>(request->length ? request->length : 1);
    if (!context.memory.read_bytes(request->data_gpa, buffer.get(), request->length))
        return fatal(bad_request("console", gpa, "data lies outside guest memory"));
    request->result
        = write_fully(fd, buffer.get(), request->length) ? static_cast<i64>(request->length) : -static_cast<i64>(errno);
    return write_back(context.memory, gpa + offsetof(abi::HcConsole, result), request->result);
}

HypercallOutcome handle_exit(HypercallContext& context, u64 gpa)
{
    auto request = copy_request<abi::HcExit>(context.memory, gpa);
    if (!request)
        return fatal(bad_request("exit", gpa, "request is unaligned or outside guest memory"));
    auto status = exit_status_for(request->status, request->reason);
    if (!status)
        return fatal(bad_request("exit", gpa, "unknown exit reason"));
    return { Kind::Exit, *status, request->reason, {} };
}

HypercallOutcome handle_time(HypercallContext& context, u64 gpa)
{
    auto request = copy_request<abi::HcTime>(context.memory, gpa);
    if (!request)
        return fatal(bad_request("time", gpa, "request is unaligned or outside guest memory"));
    auto nanoseconds = [](clockid_t clock) {
        timespec now {};
        clock_gettime(clock, &now);
        return static_cast<u64>(now.tv_sec) * 1'000'000'000ull + static_cast<u64>(now.tv_nsec);
    };
    request->monotonic_ns = nanoseconds(CLOCK_MONOTONIC);
    request->realtime_ns = nanoseconds(CLOCK_REALTIME);
    return write_back(context.memory, gpa, *request); // both fields are out fields
}

HypercallOutcome handle_entropy(HypercallContext& context, u64 gpa)
{
    auto request = copy_request<abi::HcEntropy>(context.memory, gpa);
    if (!request)
        return fatal(bad_request("entropy", gpa, "request is unaligned or outside guest memory"));
    if (request->length > abi::entropy_max_length)
        return fatal(bad_request("entropy", gpa, "length exceeds entropy_max_length"));
    if (!context.memory.contains(request->buffer_gpa, request->length))
        return fatal(bad_request("entropy", gpa, "buffer lies outside guest memory"));
    u8 bytes[abi::entropy_max_length];
    if (!fill_random(bytes, request->length)) {
        request->result = -static_cast<i64>(errno);
    } else {
        if (!context.memory.write_bytes(request->buffer_gpa, bytes, request->length))
            return fatal(bad_request("entropy", gpa, "buffer lies outside guest memory"));
        request->result = request->length;
    }
    return write_back(context.memory, gpa + offsetof(abi::HcEntropy, result), request->result);
}

HypercallOutcome handle_event(HypercallContext& context, u64 gpa)
{
    auto request = copy_request<abi::HcEvent>(context.memory, gpa);
    if (!request)
        return fatal(bad_request("event", gpa, "request is unaligned or outside guest memory"));
    if (auto error = context.events.report(request->event))
        return fatal(bad_request("event", gpa, error->c_str()));
    return write_back(context.memory, gpa + offsetof(abi::HcEvent, result), i64 { 0 });
}

// HcOutput (abi.h): a sequence of OutputRecord headers, each followed by its bytes, the next header at the next
// 8-byte boundary of the buffer. Every record is checked before any byte is written, so a malformed buffer writes
// nothing; consecutive records to one stream are written with one writev.
class OutputRecords {
public:
    OutputRecords(u8 const* buffer, u64 length)
        : m_buffer(buffer)
        , m_length(length)
    {
    }

    // Returns why the records are malformed, or nothing.
    char const* validate() const
    {
        for (u64 offset = 0; offset < m_length;) {
            if (m_length - offset < sizeof(abi::OutputRecord))
                return "truncated record header";
            abi::OutputRecord const record = at(offset);
            offset += sizeof(record);
            if (record.stream != static_cast<u32>(abi::ConsoleStream::Stdout)
                && record.stream != static_cast<u32>(abi::ConsoleStream::Stderr))
                return "record with an unknown stream";
            if (record.length > m_length - offset)
                return "record runs past the end of the buffer";
            offset = next(offset, record.length);
        }
        return nullptr;
    }

    // Precondition: validate() returned nothing. Calls `write(stream, vectors, count)` per run of one stream;
    // stops at the first false and returns false.
    template<typename Write>
    bool for_each_run(Write write) const
    {
        static constexpr usize batch = 64;
        iovec vectors[batch];
        usize count = 0;
        u32 stream = 0;
        for (u64 offset = 0; offset < m_length;) {
            abi::OutputRecord const record = at(offset);
            offset += sizeof(record);
            if (record.length > 0) {
                if (count == batch || (count > 0 && record.stream != stream)) {
                    if (!write(stream, vectors, count))
                        return false;
                    count = 0;
                }
                stream = record.stream;
                vectors[count++] = { const_cast<u8*>(m_buffer + offset), record.length };
            }
            offset = next(offset, record.length);
        }
        return count == 0 || write(stream, vectors, count);
    }

private:
    abi::OutputRecord at(u64 offset) const
    {
        abi::OutputRecord record;
        std::memcpy(&record, m_buffer + offset, sizeof(record));
        return record;
    }
    // No overflow: offset + length <= m_length <= output_max_length.
    static u64 next(u64 offset, u32 length)
    {
        return (offset + length + sizeof(abi::OutputRecord) - 1) & ~u64 { sizeof(abi::OutputRecord) - 1 };
    }

    u8 const* m_buffer;
    u64 m_length;
};

HypercallOutcome handle_output(HypercallContext& context, u64 gpa)
{
    auto request = copy_request<abi::HcOutput>(context.memory, gpa);
    if (!request)
        return fatal(bad_request("output", gpa, "request is unaligned or outside guest memory"));
    if (request->length > abi::output_max_length)
        return fatal(bad_request("output", gpa, "length exceeds output_max_length"));
    if (request->data_gpa % alignof(abi::OutputRecord) != 0)
        return fatal(bad_request("output", gpa, "records are not 8-byte aligned"));
    if (!context.memory.contains(request->data_gpa, request->length))
        return fatal(bad_request("output", gpa, "records lie outside guest memory"));
    if (!context.output_buffer)
        context.output_buffer = std::make_unique_for_overwrite<u8[]>(abi::output_max_length);
    if (!context.memory.read_bytes(request->data_gpa, context.output_buffer.get(), request->length))
        return fatal(bad_request("output", gpa, "records lie outside guest memory"));
    OutputRecords const records(context.output_buffer.get(), request->length);
    if (char const* why = records.validate())
        return fatal(bad_request("output", gpa, why));

    int error = 0;
    u32 failed_stream = 0;
    records.for_each_run([&](u32 stream, iovec* vectors, usize count) {
        int const fd = stream == static_cast<u32>(abi::ConsoleStream::Stdout) ? context.stdout_fd : context.stderr_fd;
        if (writev_fully(fd, vectors, count))
            return true;
        error = errno;
        failed_stream = stream;
        return false;
    });
    if (error == EPIPE) {
        bool const to_stdout = failed_stream == static_cast<u32>(abi::ConsoleStream::Stdout);
        return { Kind::Exit, exit_status_output_closed, static_cast<u32>(abi::ExitReason::ProgramKilled),
            std::string("the reader of the program's ") + (to_stdout ? "stdout" : "stderr")
                + " went away (EPIPE): stopping the program as SIGPIPE would" };
    }
    return write_back(context.memory, gpa + offsetof(abi::HcOutput, result), -static_cast<i64>(error));
}

// HcInput (abi.h): one read of the host's stdin, after a poll() bounded by the (capped) wait. The bytes go into a
// host buffer first and then into the checked guest range; nothing is read before the request is validated.
HypercallOutcome handle_input(HypercallContext& context, u64 gpa)
{
    auto request = copy_request<abi::HcInput>(context.memory, gpa);
    if (!request)
        return fatal(bad_request("input", gpa, "request is unaligned or outside guest memory"));
    if (request->capacity == 0 || request->capacity > abi::input_max_length)
        return fatal(bad_request("input", gpa, "capacity is 0 or exceeds input_max_length"));
    if (request->reserved != 0)
        return fatal(bad_request("input", gpa, "reserved field is not 0"));
    if (!context.memory.contains(request->buffer_gpa, request->capacity))
        return fatal(bad_request("input", gpa, "buffer lies outside guest memory"));
    u64 const wait_ns = std::min<u64>(request->wait_ns, abi::input_max_wait_ns);
    pollfd poll_fd { context.stdin_fd, POLLIN, 0 };
    int const ready = poll(&poll_fd, 1, static_cast<int>((wait_ns + 999'999) / 1'000'000));
    if (ready < 0 && errno != EINTR)
        request->result = -static_cast<i64>(errno);
    else if (ready <= 0)
        request->result = -EAGAIN; // nothing yet (or a signal, e.g. the timeout timer: the caller checks it)
    else if (poll_fd.revents & POLLNVAL)
        request->result = 0; // no stdin at all reads as end of file
    else {
        if (!context.input_buffer)
            context.input_buffer = std::make_unique_for_overwrite<u8[]>(abi::input_max_length);
        ssize_t got = -1;
        do
            got = read(context.stdin_fd, context.input_buffer.get(), request->capacity);
        while (got < 0 && errno == EINTR);
        if (got < 0)
            request->result = errno == EWOULDBLOCK ? -EAGAIN : -static_cast<i64>(errno);
        else if (got > 0 && !context.memory.write_bytes(request->buffer_gpa, context.input_buffer.get(), static_cast<usize>(got)))
            return fatal(bad_request("input", gpa, "buffer lies outside guest memory"));
        else
            request->result = got;
    }
    return write_back(context.memory, gpa + offsetof(abi::HcInput, result), request->result);
}

} // namespace

HypercallOutcome handle_hypercall(HypercallContext& context, u16 port, u32 request_gpa)
{
    switch (static_cast<abi::Hypercall>(port - abi::hypercall_port_base)) {
    case abi::Hypercall::Console: return handle_console(context, request_gpa);
    case abi::Hypercall::Exit: return handle_exit(context, request_gpa);
    case abi::Hypercall::Time: return handle_time(context, request_gpa);
    case abi::Hypercall::Entropy: return handle_entropy(context, request_gpa);
    case abi::Hypercall::Event: return handle_event(context, request_gpa);
    case abi::Hypercall::Output: return handle_output(context, request_gpa);
    case abi::Hypercall::Input: return handle_input(context, request_gpa);
    case abi::Hypercall::Count: break;
    }
    return fatal("unknown hypercall port");
}

} // namespace kernite::monitor
