// Standard output and error (issue 3 item 5): both reach the host separately, in order and byte-exact, binary
// included. Writes every byte value, a large block in one write(), interleaved stdout/stderr lines flushed
// one at a time, output through writev (stdio's own path in musl), and text left in stdio's buffer at exit.
// Exits with status 3, so that the status path is checked with something other than 0.
#include "check.h"

#include <sys/uio.h>
#include <unistd.h>

static int write_all(int fd, void const* data, size_t size)
{
    unsigned char const* bytes = data;
    while (size > 0) {
        ssize_t const written = write(fd, bytes, size);
        if (written <= 0)
            return -1;
        bytes += written;
        size -= (size_t)written;
    }
    return 0;
}

int main(void)
{
    // Fully buffered stdout (what a pipe or file gets by default, set explicitly here): output leaves in large
    // writes, and at the points below where the order against stderr matters, after an explicit fflush.
    static char buffer[8192];
    setvbuf(stdout, buffer, _IOFBF, sizeof(buffer));

    // Every byte value, through stdio.
    unsigned char all_bytes[256];
    for (int i = 0; i < 256; ++i)
        all_bytes[i] = (unsigned char)i;
    printf("256 byte values follow:\n");
    fwrite(all_bytes, 1, sizeof(all_bytes), stdout);
    printf("\nend of byte values\n");
    fflush(stdout);

    // Interleaved lines: each flushed before the next, so the order within each stream is fixed.
    for (int i = 0; i < 10; ++i) {
        printf("stdout line %d\n", i);
        fflush(stdout);
        fprintf(stderr, "stderr line %d\n", i);
        fflush(stderr);
    }

    // 200 KiB in one write() call (the kernel must not truncate or split it wrongly), a pattern with NULs.
    static unsigned char block[200 * 1024];
    for (size_t i = 0; i < sizeof(block); ++i)
        block[i] = (unsigned char)((i % 251) == 0 ? 0 : i * 13);
    CHECK(write_all(STDOUT_FILENO, block, sizeof(block)) == 0, "write 200 KiB");

    // writev with several pieces, one empty.
    struct iovec pieces[4] = { { "\nwritev: ", 9 }, { "one ", 4 }, { "", 0 }, { "two\n", 4 } };
    CHECK(writev(STDOUT_FILENO, pieces, 4) == 17, "writev");
    CHECK(write(STDERR_FILENO, "stderr by write\n", 16) == 16, "write to stderr");

    // Many small printf calls become few large writes.
    for (int i = 0; i < 2000; ++i)
        printf("%04d%c", i, (i % 20 == 19) ? '\n' : ' ');

    int const status = check_summary("stdio");
    // Left in the buffer on purpose: exit() must flush it.
    printf("last line, flushed by exit()\n");
    return status == 0 ? 3 : status;
}
