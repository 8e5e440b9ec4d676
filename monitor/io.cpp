#include "io.h"

#include <cerrno>
#include <sys/random.h>
#include <unistd.h>

namespace kernite::monitor {

bool write_fully(int fd, void const* data, usize length)
{
    auto const* bytes = static_cast<u8 const*>(data);
    while (length > 0) {
        ssize_t written = write(fd, bytes, length);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        bytes += written;
        length -= static_cast<usize>(written);
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
