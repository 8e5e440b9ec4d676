// File system calls over the in-memory filesystem (kernel/fs). Every handler copies program memory into kernel
// buffers through user_memory.h and holds the filesystem lock (FsLock) while it works on the tree.
#include <kernel/fs/internal.h>
#include <kernel/process/output.h>
#include <kernel/process/user_memory.h>
#include <kernel/syscalls/handlers.h>
#include <kernel/time/clock.h>
#include <ktl/allocator.h>

namespace kernite::syscalls {

using namespace process;
using fs::Inode;
using fs::OpenFile;

namespace {

constexpr int at_fdcwd = -100;
constexpr u64 at_symlink_nofollow = 0x100, at_removedir = 0x200, at_symlink_follow = 0x400, at_empty_path = 0x1000,
              at_eaccess = 0x200;
constexpr u64 rename_noreplace = 1, rename_exchange = 2;

struct LinuxStat {
    u64 dev, ino, nlink;
    u32 mode, uid, gid, pad0;
    u64 rdev;
    i64 size, blksize, blocks;
    u64 atime, atime_nsec, mtime, mtime_nsec, ctime, ctime_nsec;
    i64 unused[3];
};
static_assert(sizeof(LinuxStat) == 144);

struct StatxTimestamp {
    i64 seconds;
    u32 nanoseconds;
    i32 reserved;
};
struct LinuxStatx {
    u32 mask, blksize;
    u64 attributes;
    u32 nlink, uid, gid;
    u16 mode, spare0;
    u64 ino, size, blocks, attributes_mask;
    StatxTimestamp atime, btime, ctime, mtime;
    u32 rdev_major, rdev_minor, dev_major, dev_minor;
    u64 mount_id, spare2, spare3[12];
};
static_assert(sizeof(LinuxStatx) == 256);

// A kernel copy of a program path, on the heap (kernel stacks are 16 KiB).
class Path {
public:
    Path() { m_buffer = static_cast<char*>(ktl::allocate(fs::max_path + 1)); }
    ~Path() { ktl::deallocate(m_buffer); }
    ErrorOr<void> copy_in(u64 address)
    {
        if (!m_buffer)
            return Error::from_errno(ENOMEM, "out of memory");
        auto length = copy_string_from_user(m_buffer, address, fs::max_path + 1);
        if (length.is_error())
            return length.release_error();
        return {};
    }
    char* get() { return m_buffer; }

private:
    char* m_buffer;
};

ErrorOr<Inode*> directory_for(int dirfd)
{
    if (dirfd == at_fdcwd)
        return fs::cwd();
    auto* file = TRY(fs::file_for(dirfd));
    if (!file->inode || !file->inode->is_directory())
        return Error::from_errno(ENOTDIR, "not a directory");
    return file->inode;
}

ErrorOr<fs::Resolved> resolve_at(int dirfd, Path& path, bool follow)
{
    Inode* start = path.get()[0] == '/' ? fs::root() : TRY(directory_for(dirfd));
    return fs::resolve(start, path.get(), follow);
}

ErrorOr<Inode*> existing_at(int dirfd, u64 user_path, bool follow, u64 flags = 0)
{
    Path path;
    TRY(path.copy_in(user_path));
    if (path.get()[0] == 0) {
        if (!(flags & at_empty_path))
            return Error::from_errno(ENOENT, "empty path");
        if (dirfd == at_fdcwd)
            return fs::cwd();
        auto* file = TRY(fs::file_for(dirfd));
        if (!file->inode)
            return Error::from_errno(EBADF, "a pipe has no path");
        return file->inode;
    }
    auto resolved = TRY(resolve_at(dirfd, path, follow));
    if (!resolved.inode)
        return Error::from_errno(ENOENT, "no such file or directory");
    return resolved.inode;
}

u64 blocks_of(Inode const& inode) { return (inode.size + 511) / 512; }

LinuxStat stat_of(Inode const& inode)
{
    LinuxStat st {};
    st.dev = 1;
    st.ino = inode.ino;
    st.nlink = inode.nlink ? inode.nlink : 1;
    st.mode = inode.mode;
    st.rdev = inode.device != fs::Device::None ? (1u << 8) | static_cast<u32>(inode.device) : 0;
    st.size = static_cast<i64>(inode.is_directory() ? 4096 : inode.size);
    st.blksize = 4096;
    st.blocks = static_cast<i64>(blocks_of(inode));
    st.atime = inode.atime_ns / 1'000'000'000, st.atime_nsec = inode.atime_ns % 1'000'000'000;
    st.mtime = inode.mtime_ns / 1'000'000'000, st.mtime_nsec = inode.mtime_ns % 1'000'000'000;
    st.ctime = inode.ctime_ns / 1'000'000'000, st.ctime_nsec = inode.ctime_ns % 1'000'000'000;
    return st;
}

LinuxStat stat_of_pipe()
{
    LinuxStat st {};
    st.dev = 2;
    st.mode = fs::mode_fifo | 0600;
    st.nlink = 1;
    st.blksize = 4096;
    return st;
}

ErrorOr<void> write_stat(OpenFile* file, Inode* inode, u64 address)
{
    LinuxStat st = inode ? stat_of(*inode) : stat_of_pipe();
    (void)file;
    return UserPtr<LinuxStat>(address).write(st);
}

// I/O between a file and program memory through a kernel bounce buffer.
constexpr usize bounce_size = 16 * 1024;

ErrorOr<usize> read_into_user(OpenFile& file, u64 address, usize length, u64* offset)
{
    auto* bounce = static_cast<u8*>(ktl::allocate(bounce_size));
    if (!bounce)
        return Error::from_errno(ENOMEM, "out of memory");
    usize done = 0;
    ErrorOr<usize> result = usize(0);
    while (done < length) {
        usize want = length - done < bounce_size ? length - done : bounce_size;
        auto got = fs::file_read(file, bounce, want, offset);
        if (got.is_error()) {
            if (!done)
                result = got.release_error();
            break;
        }
        if (auto copied = copy_to_user(address + done, bounce, got.value()); copied.is_error()) {
            if (!done)
                result = copied.release_error();
            break;
        }
        done += got.value();
        if (got.value() < want || file.pipe)
            break; // short read (end of file, or a pipe that had less): return what we have
    }
    ktl::deallocate(bounce);
    if (done)
        return done;
    return result;
}

ErrorOr<usize> write_from_user(OpenFile& file, u64 address, usize length, u64* offset)
{
    auto* bounce = static_cast<u8*>(ktl::allocate(bounce_size));
    if (!bounce)
        return Error::from_errno(ENOMEM, "out of memory");
    usize done = 0;
    ErrorOr<usize> result = usize(0);
    while (done < length) {
        usize want = length - done < bounce_size ? length - done : bounce_size;
        if (auto copied = copy_from_user(bounce, address + done, want); copied.is_error()) {
            if (!done)
                result = copied.release_error();
            break;
        }
        auto wrote = fs::file_write(file, bounce, want, offset);
        if (wrote.is_error()) {
            if (!done)
                result = wrote.release_error();
            break;
        }
        done += wrote.value();
        if (wrote.value() < want)
            break;
    }
    ktl::deallocate(bounce);
    if (done)
        return done;
    return result;
}

struct IoVector {
    u64 base;
    u64 length;
};

ErrorOr<u64> vector_io(int fd, u64 vectors, u64 count, bool write, u64* explicit_offset)
{
    if (count > 1024)
        return Error::from_errno(EINVAL, "too many iovecs");
    auto* file = TRY(fs::file_for(fd));
    u64 total = 0;
    for (u64 i = 0; i < count; ++i) {
        auto vector = TRY(UserPtr<IoVector>(vectors).element(i).read());
        if (vector.length == 0)
            continue;
        u64* offset = explicit_offset ? explicit_offset : &file->offset;
        auto done = write ? write_from_user(*file, vector.base, vector.length, offset)
                          : read_into_user(*file, vector.base, vector.length, offset);
        if (done.is_error()) {
            if (total)
                return total;
            return done.release_error();
        }
        total += done.value();
        if (done.value() < vector.length)
            break;
    }
    return total;
}

ErrorOr<u64> open_at(int dirfd, u64 user_path, u64 flags, u32 mode)
{
    fs::FsLock lock;
    Path path;
    TRY(path.copy_in(user_path));
    if ((flags & fs::o_tmpfile) == fs::o_tmpfile)
        return Error::from_errno(ENOTSUP, "O_TMPFILE is not supported");
    auto resolved = TRY(resolve_at(dirfd, path, !(flags & fs::o_nofollow)));
    Inode* inode = resolved.inode;
    if (inode && (flags & fs::o_creat) && (flags & fs::o_excl))
        return Error::from_errno(EEXIST, "file exists");
    if (!inode) {
        if (!(flags & fs::o_creat))
            return Error::from_errno(ENOENT, "no such file or directory");
        if (resolved.name_length == 1 && resolved.name[0] == '.')
            return Error::from_errno(EISDIR, "is a directory");
        inode = TRY(fs::create_inode(fs::mode_regular | (mode & 07777 & ~current_umask())));
        if (auto added = fs::add_entry(*resolved.parent, resolved.name, resolved.name_length, *inode); added.is_error()) {
            inode->references = 1;
            fs::release_inode(inode);
            return added.release_error();
        }
    } else {
        if (inode->is_symlink())
            return Error::from_errno(ELOOP, "O_NOFOLLOW on a symlink");
        if ((flags & fs::o_directory) && !inode->is_directory())
            return Error::from_errno(ENOTDIR, "not a directory");
        if (inode->is_directory() && (flags & fs::o_accmode) != fs::o_rdonly)
            return Error::from_errno(EISDIR, "is a directory");
        if ((flags & fs::o_trunc) && inode->is_regular() && (flags & fs::o_accmode) != fs::o_rdonly) {
            TRY(fs::resize(*inode, 0));
            inode->mtime_ns = inode->ctime_ns = fs::now_ns();
        }
    }
    auto* file = TRY(fs::open_inode(*inode, static_cast<u32>(flags)));
    return static_cast<u64>(TRY(fs::install(file, flags & fs::o_cloexec)));
}

ErrorOr<u64> access_at(int dirfd, u64 user_path, u64 mode, u64 flags)
{
    fs::FsLock lock;
    Inode* inode = TRY(existing_at(dirfd, user_path, !(flags & at_symlink_nofollow), flags));
    // Root passes read and write checks; execute needs an x bit on anything but a directory (as Linux).
    if ((mode & 1) && !inode->is_directory() && !(inode->mode & 0111))
        return Error::from_errno(EACCES, "no execute permission");
    return u64(0);
}

ErrorOr<u64> readlink_at(int dirfd, u64 user_path, u64 buffer, u64 size)
{
    if (static_cast<i64>(size) <= 0)
        return Error::from_errno(EINVAL, "buffer size");
    fs::FsLock lock;
    Inode* inode = TRY(existing_at(dirfd, user_path, false));
    if (!inode->is_symlink())
        return Error::from_errno(EINVAL, "not a symbolic link");
    u64 length = inode->size < size ? inode->size : size;
    TRY(copy_to_user(buffer, inode->data, length));
    return length;
}

ErrorOr<u64> mkdir_at(int dirfd, u64 user_path, u32 mode)
{
    fs::FsLock lock;
    Path path;
    TRY(path.copy_in(user_path));
    auto resolved = TRY(resolve_at(dirfd, path, false));
    if (resolved.inode)
        return Error::from_errno(EEXIST, "file exists");
    Inode* inode = TRY(fs::create_inode(fs::mode_directory | (mode & 07777 & ~current_umask())));
    TRY(fs::add_entry(*resolved.parent, resolved.name, resolved.name_length, *inode));
    return u64(0);
}

ErrorOr<u64> unlink_at(int dirfd, u64 user_path, u64 flags)
{
    fs::FsLock lock;
    Path path;
    TRY(path.copy_in(user_path));
    auto resolved = TRY(resolve_at(dirfd, path, false));
    if (!resolved.inode)
        return Error::from_errno(ENOENT, "no such file or directory");
    if (resolved.name_length == 1 && resolved.name[0] == '.')
        return Error::from_errno(EINVAL, "cannot remove '.'");
    if (flags & at_removedir) {
        if (!resolved.inode->is_directory())
            return Error::from_errno(ENOTDIR, "not a directory");
        if (resolved.inode->entries)
            return Error::from_errno(ENOTEMPTY, "directory not empty");
        if (resolved.inode == fs::root())
            return Error::from_errno(EBUSY, "the root directory");
    } else if (resolved.inode->is_directory()) {
        return Error::from_errno(EISDIR, "is a directory");
    }
    TRY(fs::remove_entry(*resolved.parent, resolved.name, resolved.name_length));
    return u64(0);
}

bool is_ancestor(Inode* ancestor, Inode* node)
{
    for (Inode* current = node; current; current = current->parent) {
        if (current == ancestor)
            return true;
        if (current == fs::root())
            return false;
    }
    return false;
}

ErrorOr<u64> rename_at(int old_dirfd, u64 old_user_path, int new_dirfd, u64 new_user_path, u64 flags)
{
    if (flags & ~rename_noreplace)
        return Error::from_errno(EINVAL, "rename flag not supported");
    fs::FsLock lock;
    Path old_path, new_path;
    TRY(old_path.copy_in(old_user_path));
    TRY(new_path.copy_in(new_user_path));
    auto from = TRY(resolve_at(old_dirfd, old_path, false));
    auto to = TRY(resolve_at(new_dirfd, new_path, false));
    if (!from.inode)
        return Error::from_errno(ENOENT, "no such file or directory");
    if (from.inode == to.inode)
        return u64(0);
    if (to.inode && (flags & rename_noreplace))
        return Error::from_errno(EEXIST, "file exists");
    if (from.inode->is_directory()) {
        if (is_ancestor(from.inode, to.parent))
            return Error::from_errno(EINVAL, "cannot move a directory into itself");
        if (to.inode && !to.inode->is_directory())
            return Error::from_errno(ENOTDIR, "not a directory");
        if (to.inode && to.inode->entries)
            return Error::from_errno(ENOTEMPTY, "directory not empty");
    } else if (to.inode && to.inode->is_directory()) {
        return Error::from_errno(EISDIR, "is a directory");
    }
    Inode* moving = from.inode;
    ++moving->references; // keep it alive between removing and adding
    if (to.inode)
        TRY(fs::remove_entry(*to.parent, to.name, to.name_length));
    // Copy the new name first: removing the old entry must not free what `to.name` points into (it points
    // into our own buffer, but keep the order obvious).
    auto removed = fs::remove_entry(*from.parent, from.name, from.name_length);
    if (!removed.is_error()) {
        if (moving->is_directory())
            moving->nlink = 0; // add_entry sets it again
        removed = fs::add_entry(*to.parent, to.name, to.name_length, *moving);
    }
    fs::release_inode(moving);
    TRY(removed);
    moving->ctime_ns = fs::now_ns();
    return u64(0);
}

ErrorOr<u64> link_at(int old_dirfd, u64 old_user_path, int new_dirfd, u64 new_user_path, u64 flags)
{
    fs::FsLock lock;
    Inode* inode = TRY(existing_at(old_dirfd, old_user_path, flags & at_symlink_follow, flags));
    if (inode->is_directory())
        return Error::from_errno(EPERM, "hard links to directories are not allowed");
    Path new_path;
    TRY(new_path.copy_in(new_user_path));
    auto to = TRY(resolve_at(new_dirfd, new_path, false));
    if (to.inode)
        return Error::from_errno(EEXIST, "file exists");
    TRY(fs::add_entry(*to.parent, to.name, to.name_length, *inode));
    return u64(0);
}

ErrorOr<u64> symlink_at(u64 user_target, int dirfd, u64 user_path)
{
    fs::FsLock lock;
    Path target, path;
    TRY(target.copy_in(user_target));
    TRY(path.copy_in(user_path));
    usize target_length = __builtin_strlen(target.get());
    if (target_length == 0)
        return Error::from_errno(ENOENT, "empty symlink target");
    auto resolved = TRY(resolve_at(dirfd, path, false));
    if (resolved.inode)
        return Error::from_errno(EEXIST, "file exists");
    Inode* inode = TRY(fs::create_inode(fs::mode_symlink | 0777));
    TRY(fs::write_data(*inode, 0, reinterpret_cast<u8 const*>(target.get()), target_length));
    TRY(fs::add_entry(*resolved.parent, resolved.name, resolved.name_length, *inode));
    return u64(0);
}

ErrorOr<u64> stat_at(int dirfd, u64 user_path, u64 buffer, u64 flags)
{
    fs::FsLock lock;
    Path path;
    TRY(path.copy_in(user_path));
    if (path.get()[0] == 0 && (flags & at_empty_path)) {
        if (dirfd == at_fdcwd)
            return TRY(write_stat(nullptr, fs::cwd(), buffer)), u64(0);
        auto* file = TRY(fs::file_for(dirfd));
        TRY(write_stat(file, file->inode, buffer));
        return u64(0);
    }
    auto resolved = TRY(resolve_at(dirfd, path, !(flags & at_symlink_nofollow)));
    if (!resolved.inode)
        return Error::from_errno(ENOENT, "no such file or directory");
    TRY(write_stat(nullptr, resolved.inode, buffer));
    return u64(0);
}

ErrorOr<u64> chmod_inode(Inode* inode, u32 mode)
{
    inode->mode = (inode->mode & fs::mode_type_mask) | (mode & 07777);
    inode->ctime_ns = fs::now_ns();
    return u64(0);
}

} // namespace

Result sys_read(Arguments& arguments)
{
    fs::FsLock lock;
    auto* file = TRY(fs::file_for(static_cast<int>(arguments.a0)));
    return read_into_user(*file, arguments.a1, arguments.a2, &file->offset);
}

Result sys_write(Arguments& arguments)
{
    fs::FsLock lock;
    auto* file = TRY(fs::file_for(static_cast<int>(arguments.a0)));
    return write_from_user(*file, arguments.a1, arguments.a2, &file->offset);
}

Result sys_readv(Arguments& arguments)
{
    fs::FsLock lock;
    return vector_io(static_cast<int>(arguments.a0), arguments.a1, arguments.a2, false, nullptr);
}

Result sys_writev(Arguments& arguments)
{
    fs::FsLock lock;
    return vector_io(static_cast<int>(arguments.a0), arguments.a1, arguments.a2, true, nullptr);
}

Result sys_pread64(Arguments& arguments)
{
    if (static_cast<i64>(arguments.a3) < 0)
        return Error::from_errno(EINVAL, "negative offset");
    fs::FsLock lock;
    auto* file = TRY(fs::file_for(static_cast<int>(arguments.a0)));
    if (file->pipe)
        return Error::from_errno(ESPIPE, "pipes have no offset");
    u64 offset = arguments.a3;
    return read_into_user(*file, arguments.a1, arguments.a2, &offset);
}

Result sys_pwrite64(Arguments& arguments)
{
    if (static_cast<i64>(arguments.a3) < 0)
        return Error::from_errno(EINVAL, "negative offset");
    fs::FsLock lock;
    auto* file = TRY(fs::file_for(static_cast<int>(arguments.a0)));
    if (file->pipe)
        return Error::from_errno(ESPIPE, "pipes have no offset");
    u64 offset = arguments.a3;
    u32 saved_flags = file->flags;
    file->flags &= ~fs::o_append; // pwrite writes at its offset (Linux ignores O_APPEND here only for... all files)
    auto result = write_from_user(*file, arguments.a1, arguments.a2, &offset);
    file->flags = saved_flags;
    return result;
}

Result sys_open(Arguments& arguments) { return open_at(at_fdcwd, arguments.a0, arguments.a1, static_cast<u32>(arguments.a2)); }
Result sys_openat(Arguments& arguments)
{
    return open_at(static_cast<int>(arguments.a0), arguments.a1, arguments.a2, static_cast<u32>(arguments.a3));
}
Result sys_creat(Arguments& arguments)
{
    return open_at(at_fdcwd, arguments.a0, fs::o_creat | fs::o_wronly | fs::o_trunc, static_cast<u32>(arguments.a1));
}

Result sys_close(Arguments& arguments)
{
    fs::FsLock lock;
    TRY(fs::close_fd(static_cast<int>(arguments.a0)));
    return u64(0);
}

Result sys_lseek(Arguments& arguments)
{
    fs::FsLock lock;
    auto* file = TRY(fs::file_for(static_cast<int>(arguments.a0)));
    if (file->pipe)
        return Error::from_errno(ESPIPE, "pipes cannot seek");
    if (file->inode->device != fs::Device::None)
        return u64(0);
    i64 offset = static_cast<i64>(arguments.a1);
    i64 base = 0;
    i64 size = static_cast<i64>(file->inode->size);
    switch (arguments.a2) {
    case 0: base = 0; break;
    case 1: base = static_cast<i64>(file->offset); break;
    case 2: base = size; break;
    case 3: // SEEK_DATA: everything is data
        if (offset >= size)
            return Error::from_errno(ENXIO, "beyond the end");
        base = 0;
        break;
    case 4: // SEEK_HOLE: the only hole is at the end
        if (offset >= size)
            return Error::from_errno(ENXIO, "beyond the end");
        file->offset = static_cast<u64>(size);
        return file->offset;
    default: return Error::from_errno(EINVAL, "whence");
    }
    i64 position = 0;
    if (__builtin_add_overflow(base, offset, &position) || position < 0)
        return Error::from_errno(EINVAL, "resulting offset");
    file->offset = static_cast<u64>(position);
    return file->offset;
}

Result sys_fstat(Arguments& arguments)
{
    fs::FsLock lock;
    auto* file = TRY(fs::file_for(static_cast<int>(arguments.a0)));
    TRY(write_stat(file, file->inode, arguments.a1));
    return u64(0);
}

Result sys_stat(Arguments& arguments) { return stat_at(at_fdcwd, arguments.a0, arguments.a1, 0); }
Result sys_lstat(Arguments& arguments) { return stat_at(at_fdcwd, arguments.a0, arguments.a1, at_symlink_nofollow); }
Result sys_newfstatat(Arguments& arguments)
{
    return stat_at(static_cast<int>(arguments.a0), arguments.a1, arguments.a2, arguments.a3);
}

Result sys_statx(Arguments& arguments)
{
    fs::FsLock lock;
    Inode* inode = nullptr;
    Path path;
    TRY(path.copy_in(arguments.a1));
    int dirfd = static_cast<int>(arguments.a0);
    if (path.get()[0] == 0 && (arguments.a2 & at_empty_path)) {
        if (dirfd == at_fdcwd) {
            inode = fs::cwd();
        } else {
            auto* file = TRY(fs::file_for(dirfd));
            inode = file->inode;
        }
    } else {
        auto resolved = TRY(resolve_at(dirfd, path, !(arguments.a2 & at_symlink_nofollow)));
        if (!resolved.inode)
            return Error::from_errno(ENOENT, "no such file or directory");
        inode = resolved.inode;
    }
    LinuxStatx st {};
    st.mask = 0x7ff; // STATX_BASIC_STATS
    st.blksize = 4096;
    if (inode) {
        LinuxStat basic = stat_of(*inode);
        st.nlink = static_cast<u32>(basic.nlink);
        st.mode = static_cast<u16>(basic.mode);
        st.ino = basic.ino;
        st.size = static_cast<u64>(basic.size);
        st.blocks = static_cast<u64>(basic.blocks);
        st.atime = { static_cast<i64>(basic.atime), static_cast<u32>(basic.atime_nsec), 0 };
        st.mtime = { static_cast<i64>(basic.mtime), static_cast<u32>(basic.mtime_nsec), 0 };
        st.ctime = { static_cast<i64>(basic.ctime), static_cast<u32>(basic.ctime_nsec), 0 };
        st.btime = st.ctime;
        st.rdev_major = static_cast<u32>(basic.rdev >> 8);
        st.rdev_minor = static_cast<u32>(basic.rdev & 0xff);
        st.dev_major = 0;
        st.dev_minor = 1;
    } else {
        st.mode = static_cast<u16>(fs::mode_fifo | 0600);
        st.nlink = 1;
    }
    TRY(UserPtr<LinuxStatx>(arguments.a4).write(st));
    return u64(0);
}

Result sys_getdents64(Arguments& arguments)
{
    fs::FsLock lock;
    auto* file = TRY(fs::file_for(static_cast<int>(arguments.a0)));
    if (!file->inode || !file->inode->is_directory())
        return Error::from_errno(ENOTDIR, "not a directory");
    Inode& directory = *file->inode;
    u64 capacity = arguments.a2;
    u64 used = 0;
    u8 record[8 + 8 + 2 + 1 + fs::max_name + 1 + 8];
    auto emit = [&](u64 ino, u64 cookie, u8 type, char const* name) -> ErrorOr<bool> {
        usize length = __builtin_strlen(name);
        u16 reclen = static_cast<u16>(ktl::align_up_const(19 + length + 1, 8));
        if (used + reclen > capacity) {
            if (used == 0)
                return Error::from_errno(EINVAL, "buffer too small for one entry");
            return false;
        }
        __builtin_memset(record, 0, reclen);
        __builtin_memcpy(record, &ino, 8);
        i64 next = static_cast<i64>(cookie);
        __builtin_memcpy(record + 8, &next, 8);
        __builtin_memcpy(record + 16, &reclen, 2);
        record[18] = type;
        __builtin_memcpy(record + 19, name, length);
        TRY(copy_to_user(arguments.a1 + used, record, reclen));
        used += reclen;
        return true;
    };
    auto type_of = [](Inode const& inode) -> u8 {
        switch (inode.mode & fs::mode_type_mask) {
        case fs::mode_directory: return 4;
        case fs::mode_regular: return 8;
        case fs::mode_symlink: return 10;
        case fs::mode_char: return 2;
        case fs::mode_fifo: return 1;
        default: return 0;
        }
    };
    // Cookies: 1 = ".", 2 = "..", then each entry's own increasing cookie; the file's position is the cookie of
    // the next entry to return, so entries added or removed between calls are neither repeated nor skipped.
    if (file->directory_cookie < 1) {
        if (!TRY(emit(directory.ino, 1, 4, ".")))
            return used;
        file->directory_cookie = 1;
    }
    if (file->directory_cookie < 2) {
        if (!TRY(emit(directory.parent->ino, 2, 4, "..")))
            return used;
        file->directory_cookie = 2;
    }
    for (auto* entry = directory.entries; entry; entry = entry->next) {
        if (entry->cookie <= file->directory_cookie)
            continue;
        if (!TRY(emit(entry->inode->ino, entry->cookie, type_of(*entry->inode), entry->name)))
            return used;
        file->directory_cookie = entry->cookie;
    }
    return used;
}

Result sys_access(Arguments& arguments) { return access_at(at_fdcwd, arguments.a0, arguments.a1, 0); }
Result sys_faccessat(Arguments& arguments) { return access_at(static_cast<int>(arguments.a0), arguments.a1, arguments.a2, 0); }
Result sys_faccessat2(Arguments& arguments)
{
    return access_at(static_cast<int>(arguments.a0), arguments.a1, arguments.a2, arguments.a3 & ~at_eaccess);
}
Result sys_readlink(Arguments& arguments) { return readlink_at(at_fdcwd, arguments.a0, arguments.a1, arguments.a2); }
Result sys_readlinkat(Arguments& arguments)
{
    return readlink_at(static_cast<int>(arguments.a0), arguments.a1, arguments.a2, arguments.a3);
}

Result sys_getcwd(Arguments& arguments)
{
    fs::FsLock lock;
    char* buffer = static_cast<char*>(ktl::allocate(fs::max_path + 1));
    if (!buffer)
        return Error::from_errno(ENOMEM, "out of memory");
    auto length = fs::path_of(*fs::cwd(), buffer, fs::max_path + 1);
    ErrorOr<u64> result = u64(0);
    if (length.is_error())
        result = length.release_error();
    else if (length.value() > arguments.a1)
        result = Error::from_errno(ERANGE, "buffer too small");
    else if (auto copied = copy_to_user(arguments.a0, buffer, length.value()); copied.is_error())
        result = copied.release_error();
    else
        result = u64(length.value());
    ktl::deallocate(buffer);
    return result;
}

Result sys_chdir(Arguments& arguments)
{
    fs::FsLock lock;
    Inode* inode = TRY(existing_at(at_fdcwd, arguments.a0, true));
    if (!inode->is_directory())
        return Error::from_errno(ENOTDIR, "not a directory");
    fs::set_cwd(inode);
    return u64(0);
}

Result sys_fchdir(Arguments& arguments)
{
    fs::FsLock lock;
    Inode* inode = TRY(directory_for(static_cast<int>(arguments.a0)));
    fs::set_cwd(inode);
    return u64(0);
}

Result sys_mkdir(Arguments& arguments) { return mkdir_at(at_fdcwd, arguments.a0, static_cast<u32>(arguments.a1)); }
Result sys_mkdirat(Arguments& arguments)
{
    return mkdir_at(static_cast<int>(arguments.a0), arguments.a1, static_cast<u32>(arguments.a2));
}
Result sys_rmdir(Arguments& arguments) { return unlink_at(at_fdcwd, arguments.a0, at_removedir); }
Result sys_unlink(Arguments& arguments) { return unlink_at(at_fdcwd, arguments.a0, 0); }
Result sys_unlinkat(Arguments& arguments) { return unlink_at(static_cast<int>(arguments.a0), arguments.a1, arguments.a2); }
Result sys_rename(Arguments& arguments) { return rename_at(at_fdcwd, arguments.a0, at_fdcwd, arguments.a1, 0); }
Result sys_renameat(Arguments& arguments)
{
    return rename_at(static_cast<int>(arguments.a0), arguments.a1, static_cast<int>(arguments.a2), arguments.a3, 0);
}
Result sys_renameat2(Arguments& arguments)
{
    return rename_at(static_cast<int>(arguments.a0), arguments.a1, static_cast<int>(arguments.a2), arguments.a3, arguments.a4);
}
Result sys_link(Arguments& arguments) { return link_at(at_fdcwd, arguments.a0, at_fdcwd, arguments.a1, 0); }
Result sys_linkat(Arguments& arguments)
{
    return link_at(static_cast<int>(arguments.a0), arguments.a1, static_cast<int>(arguments.a2), arguments.a3, arguments.a4);
}
Result sys_symlink(Arguments& arguments) { return symlink_at(arguments.a0, at_fdcwd, arguments.a1); }
Result sys_symlinkat(Arguments& arguments) { return symlink_at(arguments.a0, static_cast<int>(arguments.a1), arguments.a2); }

Result sys_ftruncate(Arguments& arguments)
{
    if (static_cast<i64>(arguments.a1) < 0)
        return Error::from_errno(EINVAL, "negative length");
    fs::FsLock lock;
    auto* file = TRY(fs::file_for(static_cast<int>(arguments.a0)));
    if (!file->inode || !file->inode->is_regular() || (file->flags & fs::o_accmode) == fs::o_rdonly)
        return Error::from_errno(EINVAL, "not a regular file open for writing");
    TRY(fs::resize(*file->inode, arguments.a1));
    file->inode->mtime_ns = file->inode->ctime_ns = fs::now_ns();
    return u64(0);
}

Result sys_truncate(Arguments& arguments)
{
    if (static_cast<i64>(arguments.a1) < 0)
        return Error::from_errno(EINVAL, "negative length");
    fs::FsLock lock;
    Inode* inode = TRY(existing_at(at_fdcwd, arguments.a0, true));
    if (inode->is_directory())
        return Error::from_errno(EISDIR, "is a directory");
    if (!inode->is_regular())
        return Error::from_errno(EINVAL, "not a regular file");
    TRY(fs::resize(*inode, arguments.a1));
    return u64(0);
}

Result sys_fsync(Arguments& arguments)
{
    fs::FsLock lock;
    TRY(fs::file_for(static_cast<int>(arguments.a0)));
    return u64(0); // memory is the storage
}
Result sys_fdatasync(Arguments& arguments) { return sys_fsync(arguments); }
Result sys_sync(Arguments&) { return u64(0); }

Result sys_dup(Arguments& arguments)
{
    fs::FsLock lock;
    return static_cast<u64>(TRY(fs::duplicate(static_cast<int>(arguments.a0), 0, false, false)));
}

Result sys_dup2(Arguments& arguments)
{
    fs::FsLock lock;
    return static_cast<u64>(TRY(fs::duplicate(static_cast<int>(arguments.a0), static_cast<int>(arguments.a1), false, true)));
}

Result sys_dup3(Arguments& arguments)
{
    if (arguments.a0 == arguments.a1)
        return Error::from_errno(EINVAL, "dup3 to the same descriptor");
    if (arguments.a2 & ~u64(fs::o_cloexec))
        return Error::from_errno(EINVAL, "dup3 flags");
    fs::FsLock lock;
    return static_cast<u64>(TRY(fs::duplicate(static_cast<int>(arguments.a0), static_cast<int>(arguments.a1),
        arguments.a2 & fs::o_cloexec, true)));
}

Result sys_fcntl(Arguments& arguments)
{
    fs::FsLock lock;
    int fd = static_cast<int>(arguments.a0);
    auto* file = TRY(fs::file_for(fd));
    constexpr u32 settable = fs::o_append | fs::o_nonblock | fs::o_dsync;
    switch (arguments.a1) {
    case 0: return static_cast<u64>(TRY(fs::duplicate(fd, static_cast<int>(arguments.a2), false, false)));    // F_DUPFD
    case 1030: return static_cast<u64>(TRY(fs::duplicate(fd, static_cast<int>(arguments.a2), true, false))); // F_DUPFD_CLOEXEC
    case 1: return fs::fd_cloexec(fd) ? u64(1) : u64(0);                                                    // F_GETFD
    case 2: fs::set_fd_cloexec(fd, arguments.a2 & 1); return u64(0);                                        // F_SETFD
    case 3: return u64(file->flags);                                                                       // F_GETFL
    case 4: file->flags = (file->flags & ~settable) | (static_cast<u32>(arguments.a2) & settable); return u64(0); // F_SETFL
    case 5: {                                                                                              // F_GETLK
        // One process holds every lock it asks for: report the range as unlocked (l_type = F_UNLCK).
        u16 unlocked = 2;
        TRY(copy_to_user(arguments.a2, &unlocked, sizeof(unlocked)));
        return u64(0);
    }
    case 6:
    case 7:
    case 36:
    case 37:
    case 38: return u64(0);      // F_SETLK, F_SETLKW, F_OFD_*: granted (no other process can contend)
    case 1031: return u64(65536); // F_SETPIPE_SZ
    case 1032: return u64(65536); // F_GETPIPE_SZ
    default: return Error::from_errno(EINVAL, "fcntl command not supported");
    }
}

Result sys_ioctl(Arguments& arguments)
{
    fs::FsLock lock;
    int fd = static_cast<int>(arguments.a0);
    auto* file = TRY(fs::file_for(fd));
    switch (arguments.a1) {
    case 0x5451: fs::set_fd_cloexec(fd, true); return u64(0);  // FIOCLEX
    case 0x5450: fs::set_fd_cloexec(fd, false); return u64(0); // FIONCLEX
    case 0x541b: {                                            // FIONREAD
        u32 available = file->pipe ? static_cast<u32>(file->pipe->count)
            : file->inode && file->inode->size > file->offset ? static_cast<u32>(file->inode->size - file->offset) : 0;
        TRY(UserPtr<u32>(arguments.a2).write(available));
        return u64(0);
    }
    case 0x5421: // FIONBIO
    {
        u32 on = TRY(UserPtr<u32>(arguments.a2).read());
        file->flags = on ? (file->flags | fs::o_nonblock) : (file->flags & ~fs::o_nonblock);
        return u64(0);
    }
    default:
        // TCGETS, TIOCGWINSZ and every other terminal request: the program's streams are not terminals.
        return Error::from_errno(ENOTTY, "not a terminal");
    }
}

Result sys_pipe2(Arguments& arguments)
{
    if (arguments.a1 & ~u64(fs::o_cloexec | fs::o_nonblock | 040000 /* O_DIRECT */))
        return Error::from_errno(EINVAL, "pipe2 flags");
    fs::FsLock lock;
    OpenFile* reader = nullptr;
    OpenFile* writer = nullptr;
    TRY(fs::create_pipe(&reader, &writer, static_cast<u32>(arguments.a1)));
    bool cloexec = arguments.a1 & fs::o_cloexec;
    auto read_fd = fs::install(reader, cloexec);
    if (read_fd.is_error()) {
        fs::release_file(writer);
        return read_fd.release_error();
    }
    auto write_fd = fs::install(writer, cloexec);
    if (write_fd.is_error()) {
        (void)fs::close_fd(read_fd.value());
        return write_fd.release_error();
    }
    i32 fds[2] = { read_fd.value(), write_fd.value() };
    if (auto copied = copy_to_user(arguments.a0, fds, sizeof(fds)); copied.is_error()) {
        (void)fs::close_fd(fds[0]);
        (void)fs::close_fd(fds[1]);
        return copied.release_error();
    }
    return u64(0);
}

Result sys_pipe(Arguments& arguments)
{
    Arguments forwarded { arguments.a0, 0, 0, 0, 0, 0, arguments.frame };
    return sys_pipe2(forwarded);
}

namespace {

struct PollFd {
    i32 fd;
    i16 events;
    i16 revents;
};
constexpr i16 pollin = 1, pollpri = 2, pollout = 4, pollerr = 8, pollhup = 0x10, pollnval = 0x20, pollrdnorm = 0x40,
              pollwrnorm = 0x100;

i16 poll_state(int fd, i16 events)
{
    auto file = fs::file_for(fd);
    if (file.is_error())
        return pollnval;
    i16 state = 0;
    if ((events & (pollin | pollrdnorm)) && fs::file_readable(*file.value()))
        state |= events & (pollin | pollrdnorm);
    if ((events & (pollout | pollwrnorm)) && fs::file_writable(*file.value()))
        state |= events & (pollout | pollwrnorm);
    if (fs::file_hung_up(*file.value()))
        state |= file.value()->pipe_writer ? pollerr : pollhup;
    (void)pollpri;
    return state;
}

// Waits until `ready()` reports something or the deadline (0: no wait, ~0: forever) passes.
template<typename Ready>
ErrorOr<u64> wait_ready(u64 deadline_tsc, Ready ready)
{
    fs::FsLock lock;
    for (;;) {
        u64 count = TRY(ready());
        if (count || deadline_tsc == 0)
            return count;
        process::output::flush();
        if (deadline_tsc == ~u64(0))
            fs::poll_waiters().wait_locked();
        else if (!fs::poll_waiters().wait_locked_until(deadline_tsc))
            return TRY(ready());
    }
}

ErrorOr<u64> poll_common(u64 fds_address, u64 count, u64 deadline_tsc)
{
    if (count > fs::max_fds)
        return Error::from_errno(EINVAL, "too many poll descriptors");
    auto* fds = static_cast<PollFd*>(ktl::allocate((count ? count : 1) * sizeof(PollFd)));
    if (!fds)
        return Error::from_errno(ENOMEM, "out of memory");
    ErrorOr<u64> result = u64(0);
    if (auto copied = copy_from_user(fds, fds_address, count * sizeof(PollFd)); copied.is_error()) {
        result = copied.release_error();
    } else {
        result = wait_ready(deadline_tsc, [&]() -> ErrorOr<u64> {
            u64 ready = 0;
            for (u64 i = 0; i < count; ++i) {
                fds[i].revents = fds[i].fd < 0 ? 0 : poll_state(fds[i].fd, fds[i].events);
                if (fds[i].revents)
                    ++ready;
            }
            return ready;
        });
        if (!result.is_error())
            if (auto copied_out = copy_to_user(fds_address, fds, count * sizeof(PollFd)); copied_out.is_error())
                result = copied_out.release_error();
    }
    ktl::deallocate(fds);
    return result;
}

u64 deadline_after_ms(i64 ms)
{
    if (ms < 0)
        return ~u64(0);
    if (ms == 0)
        return 0;
    return time::tsc_deadline_after_ns(static_cast<u64>(ms) * 1'000'000);
}

struct Timespec {
    i64 seconds;
    i64 nanoseconds;
};

ErrorOr<u64> deadline_from_timespec(u64 address)
{
    if (!address)
        return ~u64(0);
    auto value = TRY(UserPtr<Timespec>(address).read());
    if (value.seconds < 0 || value.nanoseconds < 0 || value.nanoseconds >= 1'000'000'000)
        return Error::from_errno(EINVAL, "bad timeout");
    u64 ns = static_cast<u64>(value.seconds) * 1'000'000'000 + static_cast<u64>(value.nanoseconds);
    return ns == 0 ? 0 : time::tsc_deadline_after_ns(ns);
}

ErrorOr<u64> select_common(int nfds, u64 read_set, u64 write_set, u64 except_set, u64 deadline_tsc)
{
    if (nfds < 0 || nfds > fs::max_fds)
        return Error::from_errno(EINVAL, "nfds");
    u64 words = (static_cast<u64>(nfds) + 63) / 64;
    u64 in_read[16] {}, in_write[16] {}, in_except[16] {};
    if (read_set)
        TRY(copy_from_user(in_read, read_set, words * 8));
    if (write_set)
        TRY(copy_from_user(in_write, write_set, words * 8));
    if (except_set)
        TRY(copy_from_user(in_except, except_set, words * 8));
    u64 out_read[16] {}, out_write[16] {};
    auto count = TRY(wait_ready(deadline_tsc, [&]() -> ErrorOr<u64> {
        u64 ready = 0;
        for (int fd = 0; fd < nfds; ++fd) {
            u64 bit = 1ull << (fd % 64);
            bool want_read = in_read[fd / 64] & bit, want_write = in_write[fd / 64] & bit;
            if (!want_read && !want_write && !(in_except[fd / 64] & bit))
                continue;
            auto file = fs::file_for(fd);
            if (file.is_error())
                return Error::from_errno(EBADF, "bad descriptor in select set");
            if (want_read && (fs::file_readable(*file.value()) || fs::file_hung_up(*file.value()))) {
                out_read[fd / 64] |= bit;
                ++ready;
            }
            if (want_write && fs::file_writable(*file.value())) {
                out_write[fd / 64] |= bit;
                ++ready;
            }
        }
        return ready;
    }));
    u64 none[16] {};
    if (read_set)
        TRY(copy_to_user(read_set, out_read, words * 8));
    if (write_set)
        TRY(copy_to_user(write_set, out_write, words * 8));
    if (except_set)
        TRY(copy_to_user(except_set, none, words * 8));
    return count;
}

} // namespace

Result sys_poll(Arguments& arguments)
{
    return poll_common(arguments.a0, arguments.a1, deadline_after_ms(static_cast<i32>(arguments.a2)));
}

Result sys_ppoll(Arguments& arguments)
{
    u64 deadline = TRY(deadline_from_timespec(arguments.a2));
    return poll_common(arguments.a0, arguments.a1, deadline);
}

Result sys_select(Arguments& arguments)
{
    u64 deadline = ~u64(0);
    if (arguments.a4) {
        struct Timeval {
            i64 seconds, microseconds;
        };
        auto value = TRY(UserPtr<Timeval>(arguments.a4).read());
        if (value.seconds < 0 || value.microseconds < 0)
            return Error::from_errno(EINVAL, "bad timeout");
        u64 ns = static_cast<u64>(value.seconds) * 1'000'000'000 + static_cast<u64>(value.microseconds) * 1000;
        deadline = ns ? time::tsc_deadline_after_ns(ns) : 0;
    }
    return select_common(static_cast<int>(arguments.a0), arguments.a1, arguments.a2, arguments.a3, deadline);
}

Result sys_pselect6(Arguments& arguments)
{
    u64 deadline = TRY(deadline_from_timespec(arguments.a4));
    return select_common(static_cast<int>(arguments.a0), arguments.a1, arguments.a2, arguments.a3, deadline);
}

Result sys_chmod(Arguments& arguments)
{
    fs::FsLock lock;
    return chmod_inode(TRY(existing_at(at_fdcwd, arguments.a0, true)), static_cast<u32>(arguments.a1));
}

Result sys_fchmod(Arguments& arguments)
{
    fs::FsLock lock;
    auto* file = TRY(fs::file_for(static_cast<int>(arguments.a0)));
    if (!file->inode)
        return Error::from_errno(EINVAL, "a pipe");
    return chmod_inode(file->inode, static_cast<u32>(arguments.a1));
}

Result sys_fchmodat(Arguments& arguments)
{
    fs::FsLock lock;
    return chmod_inode(TRY(existing_at(static_cast<int>(arguments.a0), arguments.a1, true)), static_cast<u32>(arguments.a2));
}

// Everything belongs to root; changing owners to root is a no-op, to anyone else impossible here.
static Result chown_to(u64 uid, u64 gid)
{
    bool root_or_unchanged = (static_cast<u32>(uid) == 0 || static_cast<u32>(uid) == ~u32(0))
        && (static_cast<u32>(gid) == 0 || static_cast<u32>(gid) == ~u32(0));
    if (!root_or_unchanged)
        return Error::from_errno(EINVAL, "the VM has no users but root");
    return u64(0);
}

Result sys_chown(Arguments& arguments)
{
    fs::FsLock lock;
    TRY(existing_at(at_fdcwd, arguments.a0, true));
    return chown_to(arguments.a1, arguments.a2);
}
Result sys_fchown(Arguments& arguments)
{
    fs::FsLock lock;
    TRY(fs::file_for(static_cast<int>(arguments.a0)));
    return chown_to(arguments.a1, arguments.a2);
}
Result sys_lchown(Arguments& arguments)
{
    fs::FsLock lock;
    TRY(existing_at(at_fdcwd, arguments.a0, false));
    return chown_to(arguments.a1, arguments.a2);
}
Result sys_fchownat(Arguments& arguments)
{
    fs::FsLock lock;
    TRY(existing_at(static_cast<int>(arguments.a0), arguments.a1, !(arguments.a4 & at_symlink_nofollow), arguments.a4));
    return chown_to(arguments.a2, arguments.a3);
}

Result sys_utimensat(Arguments& arguments)
{
    fs::FsLock lock;
    Inode* inode = nullptr;
    if (arguments.a1 == 0) {
        auto* file = TRY(fs::file_for(static_cast<int>(arguments.a0)));
        inode = file->inode;
    } else {
        inode = TRY(existing_at(static_cast<int>(arguments.a0), arguments.a1, !(arguments.a3 & at_symlink_nofollow)));
    }
    if (!inode)
        return Error::from_errno(EINVAL, "a pipe");
    constexpr i64 utime_now = (1l << 30) - 1, utime_omit = (1l << 30) - 2;
    Timespec times[2] = { { 0, utime_now }, { 0, utime_now } };
    if (arguments.a2)
        TRY(copy_from_user(times, arguments.a2, sizeof(times)));
    u64 now = fs::now_ns();
    auto apply = [&](Timespec const& value, u64& field) {
        if (value.nanoseconds == utime_omit)
            return;
        field = value.nanoseconds == utime_now ? now : static_cast<u64>(value.seconds) * 1'000'000'000 + static_cast<u64>(value.nanoseconds);
    };
    apply(times[0], inode->atime_ns);
    apply(times[1], inode->mtime_ns);
    inode->ctime_ns = now;
    return u64(0);
}

static Result write_statfs(u64 address)
{
    u64 buffer[15] {};
    buffer[0] = 0x858458f6; // f_type: RAMFS_MAGIC
    buffer[1] = 4096;       // f_bsize
    buffer[2] = 1 << 20;    // f_blocks (nominal)
    buffer[3] = 1 << 19;    // f_bfree
    buffer[4] = 1 << 19;    // f_bavail
    buffer[5] = 1 << 20;    // f_files
    buffer[6] = 1 << 19;    // f_ffree
    buffer[8] = fs::max_name; // f_namelen
    buffer[9] = 4096;       // f_frsize
    TRY(copy_to_user(address, buffer, 120));
    return u64(0);
}

Result sys_statfs(Arguments& arguments)
{
    fs::FsLock lock;
    TRY(existing_at(at_fdcwd, arguments.a0, true));
    return write_statfs(arguments.a1);
}
Result sys_fstatfs(Arguments& arguments)
{
    fs::FsLock lock;
    TRY(fs::file_for(static_cast<int>(arguments.a0)));
    return write_statfs(arguments.a1);
}
Result sys_flock(Arguments& arguments)
{
    fs::FsLock lock;
    TRY(fs::file_for(static_cast<int>(arguments.a0)));
    return u64(0);
}
Result sys_fadvise64(Arguments& arguments)
{
    fs::FsLock lock;
    TRY(fs::file_for(static_cast<int>(arguments.a0)));
    return u64(0);
}
Result sys_fallocate(Arguments& arguments)
{
    fs::FsLock lock;
    auto* file = TRY(fs::file_for(static_cast<int>(arguments.a0)));
    if (!file->inode || !file->inode->is_regular())
        return Error::from_errno(ENODEV, "not a regular file");
    if (arguments.a1 != 0)
        return Error::from_errno(ENOTSUP, "fallocate mode");
    u64 end = 0;
    if (!ktl::checked_add(arguments.a2, arguments.a3, &end))
        return Error::from_errno(EFBIG, "range");
    if (end > file->inode->size)
        TRY(fs::resize(*file->inode, end));
    return u64(0);
}

Result sys_sendfile(Arguments& arguments)
{
    fs::FsLock lock;
    auto* out = TRY(fs::file_for(static_cast<int>(arguments.a0)));
    auto* in = TRY(fs::file_for(static_cast<int>(arguments.a1)));
    u64 offset = in->offset;
    bool explicit_offset = arguments.a2 != 0;
    if (explicit_offset)
        offset = TRY(UserPtr<u64>(arguments.a2).read());
    auto* bounce = static_cast<u8*>(ktl::allocate(bounce_size));
    if (!bounce)
        return Error::from_errno(ENOMEM, "out of memory");
    u64 done = 0;
    ErrorOr<u64> result = u64(0);
    while (done < arguments.a3) {
        usize want = arguments.a3 - done < bounce_size ? arguments.a3 - done : bounce_size;
        auto got = fs::file_read(*in, bounce, want, &offset);
        if (got.is_error() || got.value() == 0) {
            if (got.is_error() && !done)
                result = got.release_error();
            break;
        }
        auto wrote = fs::file_write(*out, bounce, got.value(), &out->offset);
        if (wrote.is_error()) {
            if (!done)
                result = wrote.release_error();
            break;
        }
        done += wrote.value();
    }
    ktl::deallocate(bounce);
    if (explicit_offset)
        TRY(UserPtr<u64>(arguments.a2).write(offset));
    else
        in->offset = offset;
    if (done)
        return done;
    return result;
}

Result sys_copy_file_range(Arguments&) { return Error::from_errno(ENOSYS, "copy_file_range: programs fall back to read and write"); }

} // namespace kernite::syscalls
