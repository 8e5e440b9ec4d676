// An open file description (open(2)'s "open file description"): an inode, the access mode, the status flags and
// the file offset. Shared by every fd that dup() made from one open(), hence reference-counted; the last unref()
// closes it (a pipe end is closed then, its peer sees EOF or EPIPE).
//
// Buffers are kernel memory: the kernel copies program memory in and out around these calls. Offsets are i64
// as off_t is; a negative one is EINVAL. No call blocks: EAGAIN means "would block" (pipes), and the kernel
// waits for generation() to change when the fd is blocking.
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>
#include <vfs/inode.h>
#include <vfs/linux_types.h>

namespace kernite::vfs {

class OpenFile {
public:
    enum class Kind : u8 {
        Path,      // O_PATH: names an inode, no I/O
        Regular,   // stored bytes
        Generated, // a snapshot produced at open time, read-only
        Directory,
        Device,
        PipeRead,
        PipeWrite,
    };

    OpenFile(OpenFile const&) = delete;
    OpenFile& operator=(OpenFile const&) = delete;

    void ref() { ++m_references; }
    void unref();
    u32 references() const { return m_references; }

    Kind kind() const { return m_kind; }
    Inode* inode() const { return m_inode; }
    bool is_directory() const { return m_kind == Kind::Directory; }
    bool is_pipe() const { return m_kind == Kind::PipeRead || m_kind == Kind::PipeWrite; }
    bool is_path_only() const { return m_kind == Kind::Path; }
    bool can_read() const { return m_can_read; }
    bool can_write() const { return m_can_write; }
    bool is_nonblocking() const { return m_status & linux_abi::o_nonblock; }
    i64 offset() const { return m_offset; }

    // F_GETFL: the access mode and status flags (O_LARGEFILE included, as 64-bit Linux reports it).
    u32 status_flags() const;
    // F_SETFL: only O_APPEND and O_NONBLOCK change (Linux ignores the access mode and creation flags; we also
    // ignore O_ASYNC, O_DIRECT and O_NOATIME).
    void set_status_flags(u32 flags);

    // read(2)/write(2) at the file offset, which they advance. EBADF without the access, EISDIR on a
    // directory; O_APPEND writes go to the end. Counts are clamped to MAX_RW_COUNT.
    ErrorOr<usize> read(void* buffer, usize count);
    ErrorOr<usize> write(void const* buffer, usize count);
    // pread64(2)/pwrite64(2): ESPIPE on pipes, EINVAL for a negative offset, the file offset untouched
    // (with O_APPEND, pwrite appends, as on Linux).
    ErrorOr<usize> pread(void* buffer, usize count, i64 offset);
    ErrorOr<usize> pwrite(void const* buffer, usize count, i64 offset);
    ErrorOr<i64> lseek(i64 offset, int whence);
    // ftruncate(2): EINVAL unless a regular file open for writing.
    ErrorOr<void> truncate(i64 length);
    linux_abi::LinuxStat stat() const { return m_inode->stat(); }
    // getdents64(2): fills `buffer` with linux_dirent64 records from the offset (a resumable cookie) on and
    // returns the bytes used, 0 at the end. EINVAL if not even one record fits, ENOTDIR on a non-directory,
    // ENOENT on a directory that has been removed.
    ErrorOr<usize> getdents64(void* buffer, usize size);

    // poll(2)/select(2) readiness. Regular files, directories and devices are always ready. A pipe's read end
    // is readable (POLLIN) only with data buffered, as Linux's pipe_poll; its write end is writable with PIPE_BUF
    // bytes free or no reader left (the write then fails with EPIPE). hung_up(): POLLHUP on the read end (no
    // writer; with data left, POLLIN too), POLLERR on the write end (no reader). select(2) counts a hung-up read
    // end as readable (POLLIN_SET includes POLLHUP).
    bool readable() const;
    bool writable() const;
    bool hung_up() const;
    // Changes whenever the pipe changes; 0 for other files (they never wait).
    u64 generation() const;
    // FIONREAD: bytes a read would return now without waiting (pipes, regular and generated files).
    usize bytes_available() const;

private:
    friend class FileSystem;

    OpenFile(Kind kind, Inode& inode, u32 flags);
    ~OpenFile();

    ErrorOr<usize> read_at(void* buffer, usize count, u64 offset);
    ErrorOr<usize> write_at(void const* buffer, usize count, u64 offset, u64* end_offset);

    Kind m_kind;
    bool m_can_read { false };
    bool m_can_write { false };
    u32 m_references { 1 };
    u32 m_access; // O_RDONLY, O_WRONLY, O_RDWR (or 3)
    u32 m_status; // O_APPEND | O_NONBLOCK and the other status bits kept for F_GETFL
    i64 m_offset { 0 };
    Inode* m_inode;                    // holds a reference
    FileData* m_generated { nullptr }; // Kind::Generated: owned snapshot
};

// The two ends of a new pipe, each with one reference the caller owns.
struct PipeEnds {
    OpenFile* read_end;
    OpenFile* write_end;
};

} // namespace kernite::vfs
