// Shared by the file system-call families (fs_paths.cpp, fs_io.cpp, fs_poll.cpp): program paths copied into
// kernel memory, *at(2) start directories, and moving bytes between files and program memory through a bounce
// buffer. Every handler holds fs::FsLock while it works on the tree (kernel/fs/filesystem.h).
#pragma once

#include <kernel/fs/filesystem.h>
#include <kernel/process/user_memory.h>
#include <kernel/syscalls/handlers.h>
#include <kernel/syscalls/scratch_buffer.h>
#include <ktl/allocator.h>

namespace kernite::syscalls::files {

using vfs::Inode;
using vfs::OpenFile;
namespace lx = vfs::linux_abi; // not `linux`: GNU C++ predefines it as a macro
using namespace process;

// A kernel copy of a program path (kernel stacks are 16 KiB: not on the stack). Its PATH_MAX + 1 bytes come from two
// .bss slots (rename, link and symlink take two paths at once), else from the heap.
struct PathTag;
class UserPath {
public:
    UserPath() = default;
    UserPath(UserPath const&) = delete;
    UserPath& operator=(UserPath const&) = delete;
    // EFAULT for a bad pointer, ENAMETOOLONG without a NUL within PATH_MAX bytes.
    ErrorOr<void> copy_in(u64 address);
    char const* get() const { return reinterpret_cast<char const*>(m_buffer.data()); }
    bool is_empty() const { return get()[0] == 0; }

private:
    ScratchBuffer<PathTag, lx::path_max + 1, 2> m_buffer { lx::path_max + 1 };
};

ErrorOr<OpenFile*> file_for(int fd); // borrowed
// Where a path given with `dirfd` starts: the root for an absolute path (dirfd is then ignored, as on Linux), the
// working directory for AT_FDCWD, else the directory `dirfd` is open on (ENOTDIR, EBADF).
ErrorOr<Inode*> start_for(int dirfd, char const* path);
// The inode `path` names from `dirfd`; with AT_EMPTY_PATH in `flags` an empty path names dirfd's own inode.
ErrorOr<Inode*> inode_at(int dirfd, UserPath const& path, bool follow, u64 flags);

// Runs `step(bounce, done, want)` over `length` bytes in pieces of at most bounce_size: each step moves up to
// `want` bytes at position `done` of the request through the kernel buffer `bounce` and returns how many it moved.
// Stops after a short step or, with `one_step`, after the first (pipes and devices: a second read could block).
// Returns the total, or the first error when nothing moved (what read(2) and write(2) report).

template<typename Step>
ErrorOr<usize> in_pieces(usize length, bool one_step, Step step)
{
    usize const size = length < bounce_size ? (length ? length : 1) : bounce_size;
    BounceBuffer buffer(size);
    u8* bounce = buffer.data();
    if (!bounce)
        return Error::from_errno(ENOMEM, "out of memory for an I/O buffer");
    usize done = 0;
    ErrorOr<usize> result = usize(0);
    do {
        usize want = length - done < size ? length - done : size;
        auto moved = step(bounce, done, want);
        if (moved.is_error()) {
            if (!done)
                result = moved.release_error();
            break;
        }
        done += moved.value();
        if (moved.value() < want || one_step)
            break;
    } while (done < length);
    if (done)
        return done;
    return result;
}

// Stored bytes (regular and generated files) can be read in several pieces; anything else gets one read.
inline bool reads_in_pieces(OpenFile const& file)
{
    return file.kind() == OpenFile::Kind::Regular || file.kind() == OpenFile::Kind::Generated;
}

// Lets `fill(buffer)` write into a kernel buffer of `size` (> 0) bytes and return how many it wrote, then copies
// those to the program at `address` and returns the count: getcwd, readlink, getdents64.
template<typename Fill>
ErrorOr<u64> fill_and_copy_out(u64 address, usize size, Fill fill)
{
    auto* buffer = static_cast<u8*>(ktl::allocate(size));
    if (!buffer)
        return Error::from_errno(ENOMEM, "out of memory for a kernel buffer");
    auto filled = fill(buffer);
    ErrorOr<u64> result = filled.is_error() ? ErrorOr<u64>(filled.release_error()) : ErrorOr<u64>(filled.value());
    if (!result.is_error())
        if (auto copied = copy_to_user(address, buffer, result.value()); copied.is_error())
            result = copied.release_error();
    ktl::deallocate(buffer);
    return result;
}

// read(2)/write(2) between a file (at its offset, with blocking semantics) and program memory.
ErrorOr<usize> read_to_user(OpenFile& file, u64 address, usize length);
ErrorOr<usize> write_from_user(OpenFile& file, u64 address, usize length);

} // namespace kernite::syscalls::files
