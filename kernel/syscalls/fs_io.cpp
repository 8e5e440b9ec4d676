// File I/O and descriptor system calls: read/write and their vector and positioned forms, lseek, fstat,
// getdents64, ftruncate, fsync, fallocate, sendfile, close, the dup family, fcntl and ioctl. Bytes move between
// program memory and libs/vfs through fs_common.h's bounce buffer; blocking is kernel/fs/blocking.cpp's.
#include <kernel/syscalls/fs_common.h>

namespace kernite::syscalls {

using namespace files;

namespace {

struct IoVector {
    u64 base;
    u64 length;
};

constexpr u64 max_iovecs = 1024; // UIO_MAXIOV

ErrorOr<u64> vector_io(int fd, u64 vectors, u64 count, bool write)
{
    if (count > max_iovecs)
        return Error::from_errno(EINVAL, "too many iovecs");
    auto* file = TRY(file_for(fd));
    u64 total = 0;
    for (u64 i = 0; i < count; ++i) {
        auto vector = TRY(UserPtr<IoVector>(vectors).element(i).read());
        if (vector.length == 0)
            continue;
        auto done = write ? write_from_user(*file, vector.base, vector.length)
                          : read_to_user(*file, vector.base, vector.length);
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

ErrorOr<OpenFile*> positioned_file(int fd, u64 offset)
{
    if (static_cast<i64>(offset) < 0)
        return Error::from_errno(EINVAL, "negative offset");
    auto* file = TRY(file_for(fd));
    if (file->is_pipe())
        return Error::from_errno(ESPIPE, "pipes have no offset");
    return file;
}

} // namespace

Result sys_read(Arguments& arguments)
{
    fs::FsLock lock;
    return read_to_user(*TRY(file_for(static_cast<int>(arguments.a0))), arguments.a1, arguments.a2);
}

Result sys_write(Arguments& arguments)
{
    fs::FsLock lock;
    return write_from_user(*TRY(file_for(static_cast<int>(arguments.a0))), arguments.a1, arguments.a2);
}

Result sys_readv(Arguments& arguments)
{
    fs::FsLock lock;
    return vector_io(static_cast<int>(arguments.a0), arguments.a1, arguments.a2, false);
}

Result sys_writev(Arguments& arguments)
{
    fs::FsLock lock;
    return vector_io(static_cast<int>(arguments.a0), arguments.a1, arguments.a2, true);
}

Result sys_pread64(Arguments& arguments)
{
    fs::FsLock lock;
    auto* file = TRY(positioned_file(static_cast<int>(arguments.a0), arguments.a3));
    i64 offset = static_cast<i64>(arguments.a3);
    return in_pieces(arguments.a2, !reads_in_pieces(*file), [&](u8* bounce, usize done, usize want) -> ErrorOr<usize> {
        usize got = TRY(file->pread(bounce, want, offset + static_cast<i64>(done)));
        TRY(copy_to_user(arguments.a1 + done, bounce, got));
        return got;
    });
}

// With O_APPEND, pwrite appends whatever the offset (pwrite(2), BUGS), as libs/vfs does.
Result sys_pwrite64(Arguments& arguments)
{
    fs::FsLock lock;
    auto* file = TRY(positioned_file(static_cast<int>(arguments.a0), arguments.a3));
    i64 offset = static_cast<i64>(arguments.a3);
    return in_pieces(arguments.a2, false, [&](u8* bounce, usize done, usize want) -> ErrorOr<usize> {
        TRY(copy_from_user(bounce, arguments.a1 + done, want));
        return file->pwrite(bounce, want, offset + static_cast<i64>(done));
    });
}

Result sys_close(Arguments& arguments)
{
    fs::FsLock lock;
    TRY(fs::fds().close(static_cast<int>(arguments.a0)));
    return u64(0);
}

Result sys_lseek(Arguments& arguments)
{
    fs::FsLock lock;
    auto* file = TRY(file_for(static_cast<int>(arguments.a0)));
    return static_cast<u64>(TRY(file->lseek(static_cast<i64>(arguments.a1), static_cast<int>(arguments.a2))));
}

Result sys_fstat(Arguments& arguments)
{
    fs::FsLock lock;
    auto* file = TRY(file_for(static_cast<int>(arguments.a0)));
    TRY(UserPtr<lx::LinuxStat>(arguments.a1).write(file->stat()));
    return u64(0);
}

Result sys_getdents64(Arguments& arguments)
{
    fs::FsLock lock;
    auto* file = TRY(file_for(static_cast<int>(arguments.a0)));
    // Records are built in a kernel buffer and copied out at once; 64 KiB per call is plenty (glibc asks 32 KiB).
    constexpr usize max_chunk = 64 * 1024;
    usize capacity = arguments.a2 < max_chunk ? arguments.a2 : max_chunk;
    return fill_and_copy_out(arguments.a1, capacity ? capacity : 1,
        [&](u8* buffer) { return file->getdents64(buffer, capacity); });
}

Result sys_ftruncate(Arguments& arguments)
{
    fs::FsLock lock;
    TRY(TRY(file_for(static_cast<int>(arguments.a0)))->truncate(static_cast<i64>(arguments.a1)));
    return u64(0);
}

// Memory is the storage: syncing an open fd succeeds.
Result sys_fsync(Arguments& arguments)
{
    fs::FsLock lock;
    TRY(file_for(static_cast<int>(arguments.a0)));
    return u64(0);
}
Result sys_fdatasync(Arguments& arguments) { return sys_fsync(arguments); }
Result sys_sync(Arguments&) { return u64(0); }
// One program holds every lock it asks for; advice changes nothing in memory.
Result sys_flock(Arguments& arguments) { return sys_fsync(arguments); }
Result sys_fadvise64(Arguments& arguments) { return sys_fsync(arguments); }

Result sys_fallocate(Arguments& arguments)
{
    fs::FsLock lock;
    auto* file = TRY(file_for(static_cast<int>(arguments.a0)));
    if (file->kind() != OpenFile::Kind::Regular || !file->inode()->data())
        return Error::from_errno(ENODEV, "not a regular file");
    if (!file->can_write())
        return Error::from_errno(EBADF, "not open for writing");
    if (arguments.a1 != 0)
        return Error::from_errno(ENOTSUP, "fallocate mode");
    i64 offset = static_cast<i64>(arguments.a2), length = static_cast<i64>(arguments.a3);
    i64 end = 0;
    if (offset < 0 || length <= 0)
        return Error::from_errno(EINVAL, "fallocate range");
    if (__builtin_add_overflow(offset, length, &end))
        return Error::from_errno(EFBIG, "fallocate range");
    auto* data = file->inode()->data();
    if (static_cast<u64>(end) > data->size())
        TRY(data->resize(static_cast<u64>(end)));
    return u64(0);
}

Result sys_sendfile(Arguments& arguments)
{
    fs::FsLock lock;
    auto* out = TRY(file_for(static_cast<int>(arguments.a0)));
    auto* in = TRY(file_for(static_cast<int>(arguments.a1)));
    bool explicit_offset = arguments.a2 != 0;
    i64 offset = 0;
    if (explicit_offset) {
        offset = TRY(UserPtr<i64>(arguments.a2).read());
        if (offset < 0)
            return Error::from_errno(EINVAL, "negative offset");
    }
    // What counts is what the output took: after a short (or failed) write the bytes read and not sent go back to
    // the input (its offset moves back), as Linux moves the input offset by the bytes transferred only. A pipe or
    // device input cannot take bytes back: there a short write still drops them (a known limit).
    bool const seekable = reads_in_pieces(*in);
    i64 sent = 0;
    auto moved = in_pieces(arguments.a3, !seekable, [&](u8* bounce, usize, usize want) -> ErrorOr<usize> {
        usize got = explicit_offset ? TRY(in->pread(bounce, want, offset + sent)) : TRY(fs::read(*in, bounce, want));
        if (got == 0)
            return usize(0);
        auto written = fs::write(*out, bounce, got);
        usize took = written.is_error() ? 0 : written.value();
        sent += static_cast<i64>(took);
        if (took < got && !explicit_offset && seekable)
            TRY(in->lseek(-static_cast<i64>(got - took), vfs::linux_abi::seek_cur));
        if (written.is_error())
            return written.release_error();
        return took;
    });
    if (explicit_offset)
        TRY(UserPtr<i64>(arguments.a2).write(offset + sent));
    return static_cast<u64>(TRY(moved));
}

Result sys_copy_file_range(Arguments&)
{
    return Error::from_errno(ENOSYS, "copy_file_range: programs fall back to read and write");
}

Result sys_dup(Arguments& arguments)
{
    fs::FsLock lock;
    return static_cast<u64>(TRY(fs::fds().dup(static_cast<int>(arguments.a0))));
}

Result sys_dup2(Arguments& arguments)
{
    fs::FsLock lock;
    return static_cast<u64>(TRY(fs::fds().dup2(static_cast<int>(arguments.a0), static_cast<int>(arguments.a1))));
}

Result sys_dup3(Arguments& arguments)
{
    fs::FsLock lock;
    return static_cast<u64>(TRY(fs::fds().dup3(static_cast<int>(arguments.a0), static_cast<int>(arguments.a1),
        static_cast<u32>(arguments.a2))));
}

Result sys_fcntl(Arguments& arguments)
{
    fs::FsLock lock;
    int fd = static_cast<int>(arguments.a0);
    auto* file = TRY(file_for(fd));
    auto& table = fs::fds();
    switch (static_cast<int>(arguments.a1)) {
    case lx::f_dupfd: return static_cast<u64>(TRY(table.dup_min(fd, static_cast<int>(arguments.a2), false)));
    case lx::f_dupfd_cloexec: return static_cast<u64>(TRY(table.dup_min(fd, static_cast<int>(arguments.a2), true)));
    case lx::f_getfd: return TRY(table.cloexec(fd)) ? u64(lx::fd_cloexec) : u64(0);
    case lx::f_setfd: TRY(table.set_cloexec(fd, arguments.a2 & lx::fd_cloexec)); return u64(0);
    case lx::f_getfl: return u64(file->status_flags());
    case lx::f_setfl: file->set_status_flags(static_cast<u32>(arguments.a2)); return u64(0);
    case 5: { // F_GETLK: one process holds every lock it asks for, so the range is unlocked (l_type = F_UNLCK)
        u16 unlocked = 2;
        TRY(copy_to_user(arguments.a2, &unlocked, sizeof(unlocked)));
        return u64(0);
    }
    case 6:  // F_SETLK
    case 7:  // F_SETLKW
    case 36: // F_OFD_GETLK... F_OFD_SETLKW: granted (no other process contends)
    case 37:
    case 38: return u64(0);
    case 1031:                                // F_SETPIPE_SZ: the size stays the default
    case 1032: return u64(lx::pipe_capacity); // F_GETPIPE_SZ
    default: return Error::from_errno(EINVAL, "fcntl command not supported");
    }
}

Result sys_ioctl(Arguments& arguments)
{
    fs::FsLock lock;
    int fd = static_cast<int>(arguments.a0);
    auto* file = TRY(file_for(fd));
    switch (arguments.a1) {
    case 0x5451: TRY(fs::fds().set_cloexec(fd, true)); return u64(0);  // FIOCLEX
    case 0x5450: TRY(fs::fds().set_cloexec(fd, false)); return u64(0); // FIONCLEX
    case 0x541b:                                                       // FIONREAD
        TRY(UserPtr<u32>(arguments.a2).write(static_cast<u32>(file->bytes_available())));
        return u64(0);
    case 0x5421: { // FIONBIO
        u32 on = TRY(UserPtr<u32>(arguments.a2).read());
        u32 status = file->status_flags();
        file->set_status_flags(on ? status | lx::o_nonblock : status & ~lx::o_nonblock);
        return u64(0);
    }
    default:
        // TCGETS, TIOCGWINSZ and every other terminal request: the program's streams are not terminals.
        return Error::from_errno(ENOTTY, "not a terminal");
    }
}

} // namespace kernite::syscalls
