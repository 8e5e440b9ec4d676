// Small POSIX I/O helpers for the monitor.
#pragma once

#include <ktl/types.h>

#include <string>
#include <string_view>
#include <sys/uio.h>

namespace kernite::monitor {

// write(2) until everything is written; retries on EINTR and partial writes, and waits (poll) when a non-blocking
// descriptor is full (stdout may be a pipe someone else set O_NONBLOCK on). False with errno on any other error.
[[nodiscard]] bool write_fully(int fd, void const* data, usize length);
// The same for writev(2); `vectors` is consumed (advanced past what was written).
[[nodiscard]] bool writev_fully(int fd, iovec* vectors, usize count);
[[nodiscard]] inline bool write_fully(int fd, std::string_view text)
{
    return write_fully(fd, text.data(), text.size());
}

// Prints "kernite: MESSAGE\n" on stderr.
void report_error(std::string_view message);

// getrandom(2) until `length` bytes are filled; false if the kernel cannot provide them.
[[nodiscard]] bool fill_random(void* buffer, usize length);

} // namespace kernite::monitor
