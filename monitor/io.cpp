#include "io.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <poll.h>
#include <sys/random.h>
#include <unistd.h>

namespace kernite::monitor {

namespace {

// After EINTR or EAGAIN: true when the write should be retried (EAGAIN waits until the descriptor is writable).
bool should_retry(int fd)
{
    if (errno == EINTR)
        return true;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        return false;
    pollfd writable { fd, POLLOUT, 0 };
    while (poll(&writable, 1, -1) < 0) {
        if (errno != EINTR)
            return false;
    }
    return true;
}

} // namespace

bool write_fully(int fd, void const* data, usize length)
{
    auto const* bytes = static_cast<u8 const*>(data);
    while (length > 0) {
        ssize_t written = write(fd, bytes, length);
        if (written < 0) {
            if (should_retry(fd))
                continue;
            return false;
        }
        bytes += written;
        length -= static_cast<usize>(written);
    }
    return true;
}

bool writev_fully(int fd, iovec* vectors, usize count)
{
    while (count > 0) {
        if (vectors->iov_len == 0) {
            ++vectors;
            --count;
            continue;
        }
        int const batch = static_cast<int>(std::min<usize>(count, IOV_MAX));
        ssize_t written = writev(fd, vectors, batch);
        if (written < 0) {
            if (should_retry(fd))
                continue;
            return false;
        }
        // Skip what was written: whole vectors, then part of the next one.
        auto left = static_cast<usize>(written);
        while (count > 0 && left >= vectors->iov_len) {
            left -= vectors->iov_len;
            ++vectors;
            --count;
        }
        if (left > 0) {
            vectors->iov_base = static_cast<u8*>(vectors->iov_base) + left;
            vectors->iov_len -= left;
        }
    }
    return true;
}

void report_error(std::string_view message)
{
    std::string line = "kernite: ";
    line += message;
    line += '\n';
    (void)write_fully(STDERR_FILENO, line);
}

bool fill_random(void* buffer, usize length)
{
    auto* bytes = static_cast<u8*>(buffer);
    while (length > 0) {
        ssize_t got = getrandom(bytes, length, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        bytes += got;
        length -= static_cast<usize>(got);
    }
    return true;
}

} // namespace kernite::monitor
