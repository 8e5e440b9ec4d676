#include "serial_markers.h"

#include <charconv>
#include <cstring>

namespace kernite::monitor {

namespace {

int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

SerialMarker malformed(std::string error)
{
    SerialMarker marker;
    marker.kind = SerialMarker::Kind::Malformed;
    marker.error = std::move(error);
    return marker;
}

template<typename T>
bool parse_decimal(std::string_view text, T& out)
{
    if (text.empty())
        return false;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
    return error == std::errc() && end == text.data() + text.size();
}

SerialMarker decode_event(std::string_view hex)
{
    if (hex.size() != 2 * sizeof(abi::SecurityEvent))
        return malformed("event marker has " + std::to_string(hex.size()) + " hex digits, expected "
            + std::to_string(2 * sizeof(abi::SecurityEvent)));
    u8 bytes[sizeof(abi::SecurityEvent)];
    for (usize i = 0; i < sizeof(bytes); ++i) {
        int high = hex_digit(hex[2 * i]);
        int low = hex_digit(hex[2 * i + 1]);
        if (high < 0 || low < 0)
            return malformed("event marker has a non-hex digit");
        bytes[i] = static_cast<u8>(high << 4 | low);
    }
    SerialMarker marker;
    marker.kind = SerialMarker::Kind::Event;
    std::memcpy(&marker.event, bytes, sizeof(bytes));
    return marker;
}

SerialMarker decode_exit(std::string_view text)
{
    auto space = text.find(' ');
    if (space == std::string_view::npos)
        return malformed("exit marker lacks a reason");
    SerialMarker marker;
    if (!parse_decimal(text.substr(0, space), marker.status) || !parse_decimal(text.substr(space + 1), marker.reason))
        return malformed("exit marker is not \"<status> <reason>\"");
    marker.kind = SerialMarker::Kind::Exit;
    return marker;
}

// <stream> " " <hex>: stream exactly "1" or "2", then an even number of hex digits (none is an empty write).
SerialMarker decode_output(std::string_view text)
{
    if (text.size() < 2 || (text[0] != '1' && text[0] != '2') || text[1] != ' ')
        return malformed("output marker does not start with stream 1 or 2 and a space");
    std::string_view const hex = text.substr(2);
    if (hex.size() % 2 != 0)
        return malformed("output marker has an odd number of hex digits");
    SerialMarker marker;
    marker.text.resize(hex.size() / 2);
    for (usize i = 0; i < marker.text.size(); ++i) {
        int high = hex_digit(hex[2 * i]);
        int low = hex_digit(hex[2 * i + 1]);
        if (high < 0 || low < 0)
            return malformed("output marker has a non-hex digit");
        marker.text[i] = static_cast<char>(high << 4 | low);
    }
    marker.kind = SerialMarker::Kind::Output;
    marker.stream = static_cast<u32>(text[0] - '0');
    return marker;
}

} // namespace

SerialMarker decode_serial_line(std::string_view line)
{
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    if (line.empty() || line.front() != abi::serial_marker)
        return {};
    line.remove_prefix(1);
    std::string_view const event_prefix = abi::serial_event_prefix;
    std::string_view const exit_prefix = abi::serial_exit_prefix;
    if (line.starts_with(event_prefix))
        return decode_event(line.substr(event_prefix.size()));
    if (line.starts_with(exit_prefix))
        return decode_exit(line.substr(exit_prefix.size()));
    std::string_view const output_prefix = abi::serial_output_prefix;
    if (line.starts_with(output_prefix))
        return decode_output(line.substr(output_prefix.size()));
    std::string_view const stderr_prefix = abi::serial_stderr_prefix;
    if (line.starts_with(stderr_prefix)) {
        SerialMarker marker;
        marker.kind = SerialMarker::Kind::Stderr;
        marker.text = line.substr(stderr_prefix.size());
        return marker;
    }
    return malformed("unknown marker line");
}

} // namespace kernite::monitor
