// Security events from the guest (DESIGN.md "Security events"): validation and formatting, pure functions
// shared by the KVM hypercall path and the QEMU serial-marker path, plus the sink that writes them.
#pragma once

#include <kernite/abi.h>
#include <ktl/types.h>

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace kernite::monitor {

// Where an event came from, stamped on every JSON line.
struct EventContext {
    std::string boot_id_hex; // 32 lowercase hex digits
    char const* vmm;         // "kvm" or "qemu"
};

// Returns a reason when the event is malformed (unknown type, string not NUL-terminated in its array).
std::optional<std::string> validate_event(abi::SecurityEvent const&);

// JSON string contents: quotes, backslashes, control characters and every non-ASCII byte escaped as \u00XX,
// so the output is plain ASCII whatever the guest sends.
std::string json_escape(std::string_view);

// One JSON object, no trailing newline. Precondition: validate_event() returned nothing.
std::string format_event_json(abi::SecurityEvent const&, EventContext const&);

// The readable stderr line: "kernite: security event TYPE: MESSAGE at 0x... (SYMBOL) addr 0x...".
std::string format_event_line(abi::SecurityEvent const&);

std::string hex_string(u8 const* bytes, usize length);

class EventSink {
public:
    EventSink() = default;
    EventSink(EventSink const&) = delete;
    ~EventSink();

    // Opens FILE with O_CREAT|O_TRUNC|O_CLOEXEC; returns an error message on failure.
    std::optional<std::string> open(std::string const& path);
    void set_context(EventContext context) { m_context = std::move(context); }
    EventContext const& context() const { return m_context; }

    // Validates, then writes the JSON line (flushed) and the stderr line. Returns a reason if malformed.
    std::optional<std::string> report(abi::SecurityEvent const&);

private:
    int m_fd { -1 };
    EventContext m_context { {}, "kvm" };
};

} // namespace kernite::monitor
