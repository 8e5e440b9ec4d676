// A pipe's buffer: a 64 KiB byte ring shared by a read end and a write end (two OpenFiles on one Fifo inode).
// Never blocks: where Linux would sleep, it returns EAGAIN and the kernel decides whether to wait (blocking fd)
// or hand EAGAIN to the program (O_NONBLOCK). Every state change bumps generation() and calls the wake hook,
// so a waiter can sleep until something happened. Semantics follow pipe(7):
//   - read with nothing buffered: EAGAIN while a writer exists, 0 (end of file) when none does;
//   - write with no reader: EPIPE (the kernel also raises SIGPIPE);
//   - a write of at most PIPE_BUF bytes is atomic: all of it fits or EAGAIN; a longer one writes what fits
//     (a partial count) or EAGAIN when nothing fits.
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::vfs {

// Called (with the filesystem lock held) after a pipe changed: data written or read, an end closed.
struct WakeHook {
    void (*notify)(void* context) { nullptr };
    void* context { nullptr };
};

class Pipe {
public:
    static ErrorOr<Pipe*> create(WakeHook hook);
    ~Pipe();
    Pipe(Pipe const&) = delete;
    Pipe& operator=(Pipe const&) = delete;

    ErrorOr<usize> read(void* buffer, usize count);
    ErrorOr<usize> write(void const* buffer, usize count);

    usize buffered() const { return m_used; }
    usize space() const { return m_capacity - m_used; }
    u32 readers() const { return m_readers; }
    u32 writers() const { return m_writers; }
    u64 generation() const { return m_generation; }

    void open_end(bool write_end);
    void close_end(bool write_end);

private:
    Pipe(u8* buffer, usize capacity, WakeHook hook);
    void changed();

    u8* m_buffer;
    usize m_capacity;
    usize m_head { 0 }; // index of the oldest buffered byte
    usize m_used { 0 };
    u32 m_readers { 0 };
    u32 m_writers { 0 };
    u64 m_generation { 0 };
    WakeHook m_hook;
};

} // namespace kernite::vfs
