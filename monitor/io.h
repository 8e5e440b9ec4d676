// Small POSIX I/O helpers for the monitor.
#pragma once

#include <ktl/types.h>

#include <string>
#include <string_view>

namespace kernite::monitor {

// write(2) until everything is written; retries on EINTR and partial writes. False on any other error.
[[nodiscard]] bool write_fully(int fd, void const* data, usize length);
[[nodiscard]] inline bool write_fully(int fd, std::string_view text)
{
    return write_fully(fd, text.data(), text.size());
}

// Prints "kernite: MESSAGE\n" on stderr.
void report_error(std::string_view message);

// getrandom(2) until `length` bytes are filled; false if the kernel cannot provide them.
[[nodiscard]] bool fill_random(void* buffer, usize length);

} // namespace kernite::monitor
