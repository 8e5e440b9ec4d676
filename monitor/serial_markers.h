// Decoding of the QEMU/PVH console marker lines (abi.h, "QEMU/PVH transport"):
//   "\x1e" "kernite-event " <hex of SecurityEvent>, "\x1e" "kernite-exit " <status> " " <reason>,
//   "\x1e" "kernite-stderr " <text>, and "\x1e" "kernite-out " <1|2> " " <hex of the program's bytes>.
// Pure; the line is hostile guest output.
#pragma once

#include <kernite/abi.h>
#include <ktl/types.h>

#include <string>
#include <string_view>

namespace kernite::monitor {

struct SerialMarker {
    enum class Kind {
        None,      // an ordinary console line: forward it
        Event,     // `event` holds the decoded (not yet validated) SecurityEvent
        Exit,      // `status` and `reason` hold the exit request
        Stderr,    // `text` is a line the kernel wrote to its stderr stream
        Output,    // `text` holds the program's bytes (any value) for `stream` (abi::ConsoleStream)
        Malformed, // starts with the marker but does not decode; `error` says why
    };
    Kind kind { Kind::None };
    abi::SecurityEvent event {};
    i32 status { 0 };
    u32 reason { 0 };
    u32 stream { 0 };
    std::string error;
    std::string text;
};

// `line` is one console line without its '\n'; a trailing '\r' is ignored.
SerialMarker decode_serial_line(std::string_view line);

} // namespace kernite::monitor
