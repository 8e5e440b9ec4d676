// The Kernite hypercall handlers (abi.h "Hypercalls"), independent of KVM so they can be unit-tested.
//
// For every request: check the GPA (aligned to 8, whole struct inside guest memory, no overflow), copy the
// struct into host memory, validate the copy, act on the copy, write back only the documented out fields.
// Guest memory is never re-read after validation. A malformed request is fatal for the VM.
#pragma once

#include "events.h"
#include "guest_memory.h"

#include <memory>
#include <string>

namespace kernite::monitor {

struct HypercallOutcome {
    enum class Kind {
        Continue,
        Exit,  // `exit_status` is the process exit status (exit-status contract applied)
        Fatal, // malformed request: `message` says why; exit 125
    };
    Kind kind { Kind::Continue };
    int exit_status { 0 };
    u32 exit_reason { 0 };
    std::string message; // Fatal: why; Exit: a line to report first, if not empty
};

struct HypercallContext {
    GuestMemory& memory;
    EventSink& events;
    int stdout_fd;
    int stderr_fd;
    // Output's copy of the guest's records (abi::output_max_length bytes, allocated on first use).
    std::unique_ptr<u8[]> output_buffer {};
    // Input's source: the host's stdin (main() makes sure fd 0 is open, /dev/null when it was closed).
    int stdin_fd { 0 };
    std::unique_ptr<u8[]> input_buffer {}; // abi::input_max_length bytes, allocated on first use
};

// What a failed write of the program's output does. EPIPE (the reader of kernite's stdout or stderr went away)
// stops the VM the way SIGPIPE stops the same program on Linux: exit 128 + SIGPIPE, with a message. Other errors
// are returned to the kernel as HcOutput.result = -errno and the VM goes on.
inline constexpr int exit_status_output_closed = 128 + 13; // SIGPIPE

// True when `port` is one of the hypercall ports.
constexpr bool is_hypercall_port(u16 port)
{
    return port >= abi::hypercall_port_base
        && port < abi::hypercall_port_base + static_cast<u16>(abi::Hypercall::Count);
}

// `port` must satisfy is_hypercall_port(); `request_gpa` is the 32-bit value the guest wrote.
HypercallOutcome handle_hypercall(HypercallContext&, u16 port, u32 request_gpa);

} // namespace kernite::monitor
