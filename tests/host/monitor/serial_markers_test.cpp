// The QEMU console marker lines (abi.h "QEMU/PVH transport").
#include "events.h"
#include "serial_markers.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace kernite::monitor;
using Kind = SerialMarker::Kind;

namespace {

std::string event_line(kernite::abi::SecurityEvent const& event)
{
    return std::string("\x1e") + kernite::abi::serial_event_prefix
        + hex_string(reinterpret_cast<u8 const*>(&event), sizeof(event));
}

} // namespace

TEST(SerialMarkers, OrdinaryLines)
{
    EXPECT_EQ(decode_serial_line("hello").kind, Kind::None);
    EXPECT_EQ(decode_serial_line("").kind, Kind::None);
    EXPECT_EQ(decode_serial_line("kernite-exit 0 0").kind, Kind::None); // no marker byte
    EXPECT_EQ(decode_serial_line(" \x1ekernite-exit 0 0").kind, Kind::None);
}

TEST(SerialMarkers, ExitMarker)
{
    auto marker = decode_serial_line("\x1ekernite-exit 7 0");
    ASSERT_EQ(marker.kind, Kind::Exit);
    EXPECT_EQ(marker.status, 7);
    EXPECT_EQ(marker.reason, 0u);
    marker = decode_serial_line("\x1ekernite-exit -1 2\r");
    ASSERT_EQ(marker.kind, Kind::Exit);
    EXPECT_EQ(marker.status, -1);
    EXPECT_EQ(marker.reason, 2u);
}

TEST(SerialMarkers, MalformedExitMarkers)
{
    for (char const* line : { "\x1ekernite-exit", "\x1ekernite-exit 7", "\x1ekernite-exit 7 ", "\x1ekernite-exit x 0",
             "\x1ekernite-exit 7 0 1", "\x1ekernite-exit 99999999999 0", "\x1ekernite-exit 7 -1", "\x1ekernite-bogus",
             "\x1e" }) {
        EXPECT_EQ(decode_serial_line(line).kind, Kind::Malformed) << line + 1;
    }
}

TEST(SerialMarkers, EventMarkerRoundTrip)
{
    kernite::abi::SecurityEvent event {};
    event.type = static_cast<u32>(kernite::abi::EventType::StackSmash);
    event.flags = kernite::abi::EventHasRip;
    event.rip = 0x1234567890abcdef;
    std::strcpy(event.message, "canary mismatch");
    auto marker = decode_serial_line(event_line(event) + "\r");
    ASSERT_EQ(marker.kind, Kind::Event) << marker.error;
    EXPECT_EQ(std::memcmp(&marker.event, &event, sizeof(event)), 0);
    EXPECT_FALSE(validate_event(marker.event));

    std::string upper = event_line(event);
    for (usize i = 1 + std::strlen(kernite::abi::serial_event_prefix); i < upper.size(); ++i)
        upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
    EXPECT_EQ(decode_serial_line(upper).kind, Kind::Event);
}

TEST(SerialMarkers, MalformedEventMarkers)
{
    kernite::abi::SecurityEvent event {};
    std::string line = event_line(event);
    EXPECT_EQ(decode_serial_line(line.substr(0, line.size() - 2)).kind, Kind::Malformed); // short
    EXPECT_EQ(decode_serial_line(line + "00").kind, Kind::Malformed);                     // long
    line[line.size() - 1] = 'g';
    EXPECT_EQ(decode_serial_line(line).kind, Kind::Malformed); // not hex
    // Decodes, but the event itself is invalid: validation is the caller's job (same code as KVM).
    std::string no_nul = event_line(event);
    auto marker = decode_serial_line(no_nul);
    ASSERT_EQ(marker.kind, Kind::Event);
    EXPECT_TRUE(validate_event(marker.event)); // type 0
}

TEST(SerialMarkers, StderrMarker)
{
    auto marker = decode_serial_line(std::string("\x1e") + "kernite-stderr kernite: booted on qemu-pvh\r");
    EXPECT_EQ(marker.kind, SerialMarker::Kind::Stderr);
    EXPECT_EQ(marker.text, "kernite: booted on qemu-pvh");
    auto empty = decode_serial_line(std::string("\x1e") + "kernite-stderr ");
    EXPECT_EQ(empty.kind, SerialMarker::Kind::Stderr);
    EXPECT_EQ(empty.text, "");
    EXPECT_EQ(decode_serial_line(std::string("\x1e") + "kernite-stderrx").kind, SerialMarker::Kind::Malformed);
}

namespace {

std::string output_line(char stream, std::string_view bytes)
{
    std::string line = std::string("\x1e") + kernite::abi::serial_output_prefix + stream + " ";
    return line + hex_string(reinterpret_cast<u8 const*>(bytes.data()), bytes.size());
}

} // namespace

TEST(SerialMarkers, OutputMarkerCarriesEveryByteValue)
{
    std::string bytes;
    for (int byte = 0; byte < 256; ++byte)
        bytes += static_cast<char>(byte);
    bytes += "\n\r\x1ekernite-exit 0 0\n";
    auto marker = decode_serial_line(output_line('1', bytes));
    ASSERT_EQ(marker.kind, Kind::Output) << marker.error;
    EXPECT_EQ(marker.stream, 1u);
    EXPECT_EQ(marker.text, bytes);

    marker = decode_serial_line(output_line('2', "to stderr") + "\r"); // a CR the console added is ignored
    ASSERT_EQ(marker.kind, Kind::Output);
    EXPECT_EQ(marker.stream, 2u);
    EXPECT_EQ(marker.text, "to stderr");

    marker = decode_serial_line("\x1ekernite-out 1 0A0b");
    ASSERT_EQ(marker.kind, Kind::Output);
    EXPECT_EQ(marker.text, "\n\x0b");

    marker = decode_serial_line("\x1ekernite-out 2 "); // an empty write
    ASSERT_EQ(marker.kind, Kind::Output);
    EXPECT_EQ(marker.text, "");
}

TEST(SerialMarkers, MalformedOutputMarkers)
{
    for (char const* line : {
             "\x1ekernite-out 1 abc",   // odd number of digits
             "\x1ekernite-out 1 0g",    // not hex
             "\x1ekernite-out 1 00 11", // a space inside
             "\x1ekernite-out 3 00",    // unknown stream
             "\x1ekernite-out 0 00",
             "\x1ekernite-out 12 00",
             "\x1ekernite-out -1 00",
             "\x1ekernite-out 100", // no space after the stream
             "\x1ekernite-out 1",   // truncated
             "\x1ekernite-out ",
             "\x1ekernite-out",
             "\x1ekernite-outx 1 00",
         }) {
        auto marker = decode_serial_line(line);
        EXPECT_EQ(marker.kind, Kind::Malformed) << line + 1;
        EXPECT_FALSE(marker.error.empty()) << line + 1;
    }
}
