#include "events.h"

#include "io.h"

#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace kernite::monitor {

namespace {

bool has_nul(char const* array, usize size) { return std::memchr(array, '\0', size) != nullptr; }

std::string hex64(u64 value)
{
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "0x%016llx", static_cast<unsigned long long>(value));
    return buffer;
}

// Printable for a terminal: the same escaping as JSON keeps escape sequences off the operator's tty.
std::string printable(char const* text) { return json_escape(text); }

} // namespace

std::optional<std::string> validate_event(abi::SecurityEvent const& event)
{
    if (event.type < 1 || event.type >= static_cast<u32>(abi::EventType::Count))
        return "event type " + std::to_string(event.type) + " is unknown";
    if (!has_nul(event.symbol, sizeof(event.symbol)))
        return std::string("event symbol is not NUL-terminated");
    if (!has_nul(event.message, sizeof(event.message)))
        return std::string("event message is not NUL-terminated");
    return std::nullopt;
}

std::string json_escape(std::string_view text)
{
    std::string out;
    out.reserve(text.size() + 8);
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (byte == '"') {
            out += "\\\"";
        } else if (byte == '\\') {
            out += "\\\\";
        } else if (byte < 0x20 || byte >= 0x7f) {
            char buffer[8];
            std::snprintf(buffer, sizeof(buffer), "\\u%04x", byte);
            out += buffer;
        } else {
            out += c;
        }
    }
    return out;
}

std::string hex_string(u8 const* bytes, usize length)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(length * 2);
    for (usize i = 0; i < length; ++i) {
        out += digits[bytes[i] >> 4];
        out += digits[bytes[i] & 0xf];
    }
    return out;
}

std::string format_event_json(abi::SecurityEvent const& event, EventContext const& context)
{
    auto const type = static_cast<abi::EventType>(event.type);
    std::string out = "{\"type\":\"";
    out += abi::event_type_name(type);
    out += "\",\"boot_id\":\"" + json_escape(context.boot_id_hex);
    out += "\",\"message\":\"" + json_escape(event.message) + "\"";
    if (event.flags & abi::EventHasRip)
        out += ",\"rip\":\"" + hex64(event.rip) + "\"";
    if (event.flags & abi::EventHasAddr)
        out += ",\"addr\":\"" + hex64(event.addr) + "\"";
    if (event.flags & abi::EventHasSymbol)
        out += ",\"symbol\":\"" + json_escape(event.symbol) + "\"";
    if (event.flags & abi::EventHasThread)
        out += ",\"thread\":" + std::to_string(event.thread);
    out += ",\"vmm\":\"";
    out += json_escape(context.vmm ? context.vmm : "");
    out += "\"}";
    return out;
}

std::string format_event_line(abi::SecurityEvent const& event)
{
    std::string out = "kernite: security event ";
    out += abi::event_type_name(static_cast<abi::EventType>(event.type));
    out += ": " + printable(event.message);
    if (event.flags & abi::EventHasRip)
        out += " at " + hex64(event.rip);
    if (event.flags & abi::EventHasSymbol)
        out += " (" + printable(event.symbol) + ")";
    if (event.flags & abi::EventHasAddr)
        out += " addr " + hex64(event.addr);
    if (event.flags & abi::EventHasThread)
        out += " thread " + std::to_string(event.thread);
    return out;
}

EventSink::~EventSink()
{
    if (m_fd >= 0)
        close(m_fd);
}

std::optional<std::string> EventSink::open(std::string const& path)
{
    m_fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (m_fd < 0)
        return "cannot open events file " + path + ": " + std::strerror(errno);
    return std::nullopt;
}

std::optional<std::string> EventSink::report(abi::SecurityEvent const& event)
{
    if (auto error = validate_event(event))
        return error;
    if (m_fd >= 0) {
        // One write(2) per line: the file is complete up to the last event even if the monitor dies next.
        if (!write_fully(m_fd, format_event_json(event, m_context) + "\n"))
            return "cannot write events file: " + std::string(std::strerror(errno));
    }
    (void)write_fully(STDERR_FILENO, format_event_line(event) + "\n");
    return std::nullopt;
}

} // namespace kernite::monitor
