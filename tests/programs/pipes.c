// Pipes (issue 3 item 2): pipe and pipe2 flags, data through them, EOF once the writer is closed, EAGAIN on an
// empty or full non-blocking pipe (the capacity is Linux's 64 KiB), EPIPE without a reader, poll/select
// readiness and timeouts, and 256 KiB streamed from a writer thread into a blocking reader.
#define _GNU_SOURCE
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

static int64_t monotonic_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static short poll_one(int fd, short events, int timeout_ms)
{
    struct pollfd entry = { .fd = fd, .events = events, .revents = 0 };
    int const ready = poll(&entry, 1, timeout_ms);
    return ready < 0 ? -1 : entry.revents;
}

static void print_revents(char const* what, short revents)
{
    printf("%s:%s%s%s%s%s\n", what, revents == 0 ? " none" : "", (revents & POLLIN) ? " POLLIN" : "",
        (revents & POLLOUT) ? " POLLOUT" : "", (revents & POLLHUP) ? " POLLHUP" : "",
        (revents & POLLERR) ? " POLLERR" : "");
}

static void test_basic(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    CHECK(fcntl(fds[0], F_GETFD) == 0 && (fcntl(fds[0], F_GETFL) & O_ACCMODE) == O_RDONLY
            && (fcntl(fds[1], F_GETFL) & O_ACCMODE) == O_WRONLY,
        "pipe ends are read-only and write-only, without FD_CLOEXEC");
    CHECK(write(fds[1], "hello, pipe", 11) == 11, "write");
    char buffer[64] = { 0 };
    CHECK(read(fds[0], buffer, 5) == 5 && memcmp(buffer, "hello", 5) == 0, "partial read");
    CHECK(read(fds[0], buffer, sizeof(buffer)) == 6 && memcmp(buffer, ", pipe", 6) == 0, "read the rest");
    errno = 0;
    CHECK(write(fds[0], "x", 1) == -1 && errno == EBADF, "writing the read end is EBADF");
    CHECK(close(fds[1]) == 0, "close the writer");
    CHECK(read(fds[0], buffer, sizeof(buffer)) == 0, "EOF after the writer closed");
    close(fds[0]);
    printf("pipe: data in order, partial reads, EOF once the writer is closed\n");
}

static void test_nonblocking(void)
{
    int fds[2];
    CHECK(pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0, "pipe2");
    CHECK(fcntl(fds[0], F_GETFD) == FD_CLOEXEC && (fcntl(fds[1], F_GETFL) & O_NONBLOCK), "pipe2 flags");
    char buffer[4096];
    errno = 0;
    CHECK(read(fds[0], buffer, sizeof(buffer)) == -1 && errno == EAGAIN, "empty non-blocking read is EAGAIN");
    printf("pipe2(O_NONBLOCK|O_CLOEXEC): empty read %s\n", errno_name(errno));

    // Fill until EAGAIN: Linux's default capacity is 16 pages. Page-sized writes, because Linux packs smaller
    // ones into pages and a pipe with a byte ring would hold a different number of them.
    memset(buffer, 'p', sizeof(buffer));
    long capacity = 0;
    for (;;) {
        ssize_t const written = write(fds[1], buffer, sizeof(buffer));
        if (written < 0)
            break;
        capacity += written;
    }
    CHECK(errno == EAGAIN, "a full pipe is EAGAIN");
    printf("capacity: %ld bytes, then %s\n", capacity, errno_name(errno));
    CHECK(capacity == 65536, "capacity");
    print_revents("poll on the full write end", poll_one(fds[1], POLLOUT, 0));
    CHECK(read(fds[0], buffer, sizeof(buffer)) == (ssize_t)sizeof(buffer), "drain a page");
    print_revents("poll on the write end after reading a page", poll_one(fds[1], POLLOUT, 0));
    close(fds[0]);
    close(fds[1]);
}

static void test_poll_and_select(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    print_revents("poll empty read end", poll_one(fds[0], POLLIN, 0));
    print_revents("poll write end", poll_one(fds[1], POLLOUT, 0));

    // A 20 ms timeout with nothing to read waits at least 20 ms.
    int64_t const start = monotonic_ns();
    short const revents = poll_one(fds[0], POLLIN, 20);
    int64_t const waited = monotonic_ns() - start;
    CHECK(revents == 0 && waited >= 20000000, "poll timeout waited %lld ns", (long long)waited);
    printf("poll with a 20 ms timeout: %s, waited at least 20 ms\n", revents == 0 ? "timed out" : "ready?");

    CHECK(write(fds[1], "x", 1) == 1, "write");
    print_revents("poll read end with data", poll_one(fds[0], POLLIN, 0));

    fd_set readable, writable;
    FD_ZERO(&readable);
    FD_ZERO(&writable);
    FD_SET(fds[0], &readable);
    FD_SET(fds[1], &writable);
    struct timeval no_wait = { 0, 0 };
    int const ready = select(fds[1] + 1, &readable, &writable, NULL, &no_wait);
    CHECK(ready == 2 && FD_ISSET(fds[0], &readable) && FD_ISSET(fds[1], &writable), "select");
    printf("select: %d ready (read end readable, write end writable)\n", ready);

    // Writer closed with data left: POLLIN and POLLHUP; drained: POLLHUP alone.
    close(fds[1]);
    print_revents("poll read end, data left, writer closed", poll_one(fds[0], POLLIN, 0));
    char c;
    CHECK(read(fds[0], &c, 1) == 1 && c == 'x', "read the last byte");
    print_revents("poll read end, drained, writer closed", poll_one(fds[0], POLLIN, 0));
    close(fds[0]);

    // Reader closed: the write end reports POLLERR, and a write is EPIPE (with SIGPIPE ignored).
    CHECK(pipe(fds) == 0, "pipe");
    close(fds[0]);
    print_revents("poll write end, reader closed", poll_one(fds[1], POLLOUT, 0));
    signal(SIGPIPE, SIG_IGN);
    errno = 0;
    CHECK(write(fds[1], "x", 1) == -1 && errno == EPIPE, "write without a reader is EPIPE");
    printf("write without a reader: %s\n", errno_name(errno));
    close(fds[1]);
}

// 256 KiB (four times the pipe's capacity, so both ends block) through a blocking pipe: a thread writes in
// odd-sized pieces, the main thread reads in other odd sizes; every byte is checked, so nothing was lost,
// duplicated or reordered.
enum {
    stream_size = 256 * 1024
};

static unsigned char stream_byte(size_t i) { return (unsigned char)(i * 7 + (i >> 11)); }

static void* stream_writer(void* argument)
{
    int const fd = (int)(intptr_t)argument;
    unsigned char chunk[3001];
    size_t sent = 0;
    while (sent < stream_size) {
        size_t n = sizeof(chunk);
        if (n > stream_size - sent)
            n = stream_size - sent;
        for (size_t i = 0; i < n; ++i)
            chunk[i] = stream_byte(sent + i);
        size_t done = 0;
        while (done < n) {
            ssize_t const written = write(fd, chunk + done, n - done);
            if (written <= 0)
                return (void*)0;
            done += (size_t)written;
        }
        sent += n;
    }
    close(fd);
    return (void*)1;
}

static void test_stream(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    pthread_t writer;
    CHECK(pthread_create(&writer, NULL, stream_writer, (void*)(intptr_t)fds[1]) == 0, "writer thread");
    unsigned char buffer[7919];
    size_t received = 0;
    int in_order = 1;
    for (;;) {
        ssize_t const got = read(fds[0], buffer, sizeof(buffer));
        if (got <= 0)
            break;
        for (ssize_t i = 0; i < got; ++i)
            in_order = in_order && buffer[i] == stream_byte(received + (size_t)i);
        received += (size_t)got;
    }
    void* writer_ok = NULL;
    pthread_join(writer, &writer_ok);
    close(fds[0]);
    CHECK(received == stream_size && in_order && writer_ok, "stream of %zu bytes", received);
    printf("stream: %zu bytes from a writer thread, %s\n", received, in_order ? "in order" : "CORRUPTED");
}

int main(void)
{
    test_basic();
    test_nonblocking();
    test_poll_and_select();
    test_stream();
    return check_summary("pipes");
}
