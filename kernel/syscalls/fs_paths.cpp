// Path and metadata system calls: open, the stat family, access, readlink, getcwd/chdir, mkdir, unlink/rmdir,
// rename, link, symlink, truncate, chmod, chown, utimensat, statfs. Each copies the program's strings and
// structs into kernel memory and hands the work to libs/vfs, whose errors follow Linux (fs/namei.c, fs/open.c).
#include <kernel/syscalls/fs_common.h>

namespace kernite::syscalls {

using namespace files;

namespace {

constexpr int at_fdcwd = lx::at_fdcwd;

ErrorOr<u64> open_at(int dirfd, u64 user_path, u64 flags, u64 mode)
{
    fs::FsLock lock;
    UserPath path;
    TRY(path.copy_in(user_path));
    Inode* start = TRY(start_for(dirfd, path.get()));
    u32 create_mode = static_cast<u32>(mode) & lx::s_permissions & ~current_umask();
    auto* file = TRY(fs::tree().open(start, path.get(), static_cast<u32>(flags), create_mode));
    auto fd = fs::fds().install(*file, flags & lx::o_cloexec);
    file->unref(); // the table holds its own reference
    return static_cast<u64>(TRY(fd));
}

ErrorOr<u64> stat_at(int dirfd, u64 user_path, u64 buffer, u64 flags)
{
    fs::FsLock lock;
    UserPath path;
    TRY(path.copy_in(user_path));
    Inode* inode = TRY(inode_at(dirfd, path, !(flags & lx::at_symlink_nofollow), flags));
    TRY(UserPtr<lx::LinuxStat>(buffer).write(inode->stat()));
    return u64(0);
}

ErrorOr<u64> access_at(int dirfd, u64 user_path, u64 mode, u64 flags)
{
    if (flags & ~(lx::at_symlink_nofollow | lx::at_eaccess | lx::at_empty_path))
        return Error::from_errno(EINVAL, "faccessat2 flags");
    fs::FsLock lock;
    UserPath path;
    TRY(path.copy_in(user_path));
    bool follow = !(flags & lx::at_symlink_nofollow);
    if (path.is_empty() && (flags & lx::at_empty_path)) {
        // The fd's own inode, with the rule libs/vfs applies to paths (root: R and W pass, X needs a directory
        // or an x bit).
        Inode* inode = TRY(inode_at(dirfd, path, follow, flags));
        if (mode & ~u64(lx::r_ok | lx::w_ok | lx::x_ok))
            return Error::from_errno(EINVAL, "access mode");
        if ((mode & lx::x_ok) && !inode->is_directory() && !(inode->mode() & lx::s_ixugo))
            return Error::from_errno(EACCES, "no execute permission");
        return u64(0);
    }
    Inode* start = TRY(start_for(dirfd, path.get()));
    TRY(fs::tree().access(start, path.get(), static_cast<u32>(mode), follow));
    return u64(0);
}

ErrorOr<u64> readlink_at(int dirfd, u64 user_path, u64 buffer, u64 size)
{
    if (static_cast<i64>(size) <= 0)
        return Error::from_errno(EINVAL, "readlink buffer size");
    fs::FsLock lock;
    UserPath path;
    TRY(path.copy_in(user_path));
    Inode* start = TRY(start_for(dirfd, path.get()));
    usize capacity = size < lx::path_max ? size : lx::path_max;
    return fill_and_copy_out(buffer, capacity,
        [&](u8* target) { return fs::tree().readlink(start, path.get(), reinterpret_cast<char*>(target), capacity); });
}

ErrorOr<u64> mkdir_at(int dirfd, u64 user_path, u64 mode)
{
    fs::FsLock lock;
    UserPath path;
    TRY(path.copy_in(user_path));
    Inode* start = TRY(start_for(dirfd, path.get()));
    // mkdir(2): mode & ~umask & 01777 (the sticky bit survives, setuid/setgid do not).
    TRY(fs::tree().mkdir(start, path.get(), static_cast<u32>(mode) & 01777 & ~current_umask()));
    return u64(0);
}

ErrorOr<u64> unlink_at(int dirfd, u64 user_path, u64 flags)
{
    if (flags & ~u64(lx::at_removedir))
        return Error::from_errno(EINVAL, "unlinkat flags");
    fs::FsLock lock;
    UserPath path;
    TRY(path.copy_in(user_path));
    Inode* start = TRY(start_for(dirfd, path.get()));
    if (flags & lx::at_removedir)
        TRY(fs::tree().rmdir(start, path.get()));
    else
        TRY(fs::tree().unlink(start, path.get()));
    return u64(0);
}

ErrorOr<u64> rename_at(int old_dirfd, u64 old_user_path, int new_dirfd, u64 new_user_path, u64 flags)
{
    fs::FsLock lock;
    UserPath old_path, new_path;
    TRY(old_path.copy_in(old_user_path));
    TRY(new_path.copy_in(new_user_path));
    Inode* old_start = TRY(start_for(old_dirfd, old_path.get()));
    Inode* new_start = TRY(start_for(new_dirfd, new_path.get()));
    TRY(fs::tree().rename(old_start, old_path.get(), new_start, new_path.get(), static_cast<u32>(flags)));
    return u64(0);
}

ErrorOr<u64> link_at(int old_dirfd, u64 old_user_path, int new_dirfd, u64 new_user_path, u64 flags)
{
    if (flags & ~u64(lx::at_symlink_follow | lx::at_empty_path))
        return Error::from_errno(EINVAL, "linkat flags");
    fs::FsLock lock;
    UserPath old_path, new_path;
    TRY(old_path.copy_in(old_user_path));
    TRY(new_path.copy_in(new_user_path));
    Inode* inode = TRY(inode_at(old_dirfd, old_path, flags & lx::at_symlink_follow, flags));
    Inode* new_start = TRY(start_for(new_dirfd, new_path.get()));
    TRY(fs::tree().link_inode(*inode, new_start, new_path.get()));
    return u64(0);
}

ErrorOr<u64> symlink_at(u64 user_target, int dirfd, u64 user_path)
{
    fs::FsLock lock;
    UserPath target, path;
    TRY(target.copy_in(user_target));
    TRY(path.copy_in(user_path));
    Inode* start = TRY(start_for(dirfd, path.get()));
    TRY(fs::tree().symlink(target.get(), start, path.get()));
    return u64(0);
}

ErrorOr<u64> chmod_at(int dirfd, u64 user_path, u64 mode)
{
    fs::FsLock lock;
    UserPath path;
    TRY(path.copy_in(user_path));
    Inode* start = TRY(start_for(dirfd, path.get()));
    TRY(fs::tree().chmod(start, path.get(), static_cast<u32>(mode)));
    return u64(0);
}

// Everything belongs to root; changing owners to root is a no-op, to anyone else impossible here.
ErrorOr<u64> chown_to(u64 uid, u64 gid)
{
    bool root_or_unchanged = (static_cast<u32>(uid) == 0 || static_cast<u32>(uid) == ~u32(0))
        && (static_cast<u32>(gid) == 0 || static_cast<u32>(gid) == ~u32(0));
    if (!root_or_unchanged)
        return Error::from_errno(EINVAL, "the VM has no users but root");
    return u64(0);
}

ErrorOr<u64> chown_at(int dirfd, u64 user_path, u64 uid, u64 gid, u64 flags)
{
    fs::FsLock lock;
    UserPath path;
    TRY(path.copy_in(user_path));
    TRY(inode_at(dirfd, path, !(flags & lx::at_symlink_nofollow), flags));
    return chown_to(uid, gid);
}

ErrorOr<u64> write_statfs(u64 address)
{
    u64 buffer[15] {};
    buffer[0] = 0x858458f6;   // f_type: RAMFS_MAGIC
    buffer[1] = 4096;         // f_bsize
    buffer[2] = 1 << 20;      // f_blocks (nominal)
    buffer[3] = 1 << 19;      // f_bfree
    buffer[4] = 1 << 19;      // f_bavail
    buffer[5] = 1 << 20;      // f_files
    buffer[6] = 1 << 19;      // f_ffree
    buffer[8] = lx::name_max; // f_namelen
    buffer[9] = 4096;         // f_frsize
    TRY(copy_to_user(address, buffer, 120));
    return u64(0);
}

} // namespace

Result sys_open(Arguments& arguments) { return open_at(at_fdcwd, arguments.a0, arguments.a1, arguments.a2); }
Result sys_openat(Arguments& arguments)
{
    return open_at(static_cast<int>(arguments.a0), arguments.a1, arguments.a2, arguments.a3);
}
Result sys_creat(Arguments& arguments)
{
    return open_at(at_fdcwd, arguments.a0, lx::o_creat | lx::o_wronly | lx::o_trunc, arguments.a1);
}

Result sys_stat(Arguments& arguments) { return stat_at(at_fdcwd, arguments.a0, arguments.a1, 0); }
Result sys_lstat(Arguments& arguments)
{
    return stat_at(at_fdcwd, arguments.a0, arguments.a1, lx::at_symlink_nofollow);
}
Result sys_newfstatat(Arguments& arguments)
{
    return stat_at(static_cast<int>(arguments.a0), arguments.a1, arguments.a2, arguments.a3);
}

Result sys_statx(Arguments& arguments)
{
    fs::FsLock lock;
    UserPath path;
    TRY(path.copy_in(arguments.a1));
    Inode* inode
        = TRY(inode_at(static_cast<int>(arguments.a0), path, !(arguments.a2 & lx::at_symlink_nofollow), arguments.a2));
    auto statx = TRY(inode->statx(static_cast<u32>(arguments.a3)));
    TRY(UserPtr<lx::LinuxStatx>(arguments.a4).write(statx));
    return u64(0);
}

Result sys_access(Arguments& arguments) { return access_at(at_fdcwd, arguments.a0, arguments.a1, 0); }
Result sys_faccessat(Arguments& arguments)
{
    return access_at(static_cast<int>(arguments.a0), arguments.a1, arguments.a2, 0);
}
Result sys_faccessat2(Arguments& arguments)
{
    return access_at(static_cast<int>(arguments.a0), arguments.a1, arguments.a2, arguments.a3);
}
Result sys_readlink(Arguments& arguments) { return readlink_at(at_fdcwd, arguments.a0, arguments.a1, arguments.a2); }
Result sys_readlinkat(Arguments& arguments)
{
    return readlink_at(static_cast<int>(arguments.a0), arguments.a1, arguments.a2, arguments.a3);
}

// getcwd(2) returns the length including the NUL, or ERANGE when `size` is smaller than that (fs/d_path.c):
// "/" fits in 2 bytes.
Result sys_getcwd(Arguments& arguments)
{
    fs::FsLock lock;
    usize size = arguments.a1 < lx::path_max ? arguments.a1 : lx::path_max;
    if (size == 0)
        return Error::from_errno(ERANGE, "getcwd buffer of 0 bytes");
    return fill_and_copy_out(arguments.a0, size,
        [&](u8* buffer) { return fs::tree().absolute_path(&fs::cwd(), reinterpret_cast<char*>(buffer), size); });
}

Result sys_chdir(Arguments& arguments)
{
    fs::FsLock lock;
    UserPath path;
    TRY(path.copy_in(arguments.a0));
    Inode* inode = TRY(inode_at(at_fdcwd, path, true, 0));
    if (!inode->is_directory())
        return Error::from_errno(ENOTDIR, "not a directory");
    fs::set_cwd(*inode);
    return u64(0);
}

Result sys_fchdir(Arguments& arguments)
{
    fs::FsLock lock;
    auto* file = TRY(file_for(static_cast<int>(arguments.a0)));
    if (!file->inode()->is_directory())
        return Error::from_errno(ENOTDIR, "not a directory");
    fs::set_cwd(*file->inode());
    return u64(0);
}

Result sys_mkdir(Arguments& arguments) { return mkdir_at(at_fdcwd, arguments.a0, arguments.a1); }
Result sys_mkdirat(Arguments& arguments)
{
    return mkdir_at(static_cast<int>(arguments.a0), arguments.a1, arguments.a2);
}
Result sys_rmdir(Arguments& arguments) { return unlink_at(at_fdcwd, arguments.a0, lx::at_removedir); }
Result sys_unlink(Arguments& arguments) { return unlink_at(at_fdcwd, arguments.a0, 0); }
Result sys_unlinkat(Arguments& arguments)
{
    return unlink_at(static_cast<int>(arguments.a0), arguments.a1, arguments.a2);
}
Result sys_rename(Arguments& arguments) { return rename_at(at_fdcwd, arguments.a0, at_fdcwd, arguments.a1, 0); }
Result sys_renameat(Arguments& arguments)
{
    return rename_at(static_cast<int>(arguments.a0), arguments.a1, static_cast<int>(arguments.a2), arguments.a3, 0);
}
Result sys_renameat2(Arguments& arguments)
{
    return rename_at(static_cast<int>(arguments.a0), arguments.a1, static_cast<int>(arguments.a2), arguments.a3,
        arguments.a4);
}
Result sys_link(Arguments& arguments) { return link_at(at_fdcwd, arguments.a0, at_fdcwd, arguments.a1, 0); }
Result sys_linkat(Arguments& arguments)
{
    return link_at(static_cast<int>(arguments.a0), arguments.a1, static_cast<int>(arguments.a2), arguments.a3,
        arguments.a4);
}
Result sys_symlink(Arguments& arguments) { return symlink_at(arguments.a0, at_fdcwd, arguments.a1); }
Result sys_symlinkat(Arguments& arguments)
{
    return symlink_at(arguments.a0, static_cast<int>(arguments.a1), arguments.a2);
}

Result sys_truncate(Arguments& arguments)
{
    fs::FsLock lock;
    UserPath path;
    TRY(path.copy_in(arguments.a0));
    TRY(fs::tree().truncate(&fs::cwd(), path.get(), static_cast<i64>(arguments.a1)));
    return u64(0);
}

Result sys_chmod(Arguments& arguments) { return chmod_at(at_fdcwd, arguments.a0, arguments.a1); }
Result sys_fchmodat(Arguments& arguments)
{
    return chmod_at(static_cast<int>(arguments.a0), arguments.a1, arguments.a2);
}
Result sys_fchmod(Arguments& arguments)
{
    fs::FsLock lock;
    auto* file = TRY(file_for(static_cast<int>(arguments.a0)));
    fs::tree().chmod_inode(*file->inode(), static_cast<u32>(arguments.a1));
    return u64(0);
}

Result sys_chown(Arguments& arguments) { return chown_at(at_fdcwd, arguments.a0, arguments.a1, arguments.a2, 0); }
Result sys_lchown(Arguments& arguments)
{
    return chown_at(at_fdcwd, arguments.a0, arguments.a1, arguments.a2, lx::at_symlink_nofollow);
}
Result sys_fchownat(Arguments& arguments)
{
    return chown_at(static_cast<int>(arguments.a0), arguments.a1, arguments.a2, arguments.a3, arguments.a4);
}
Result sys_fchown(Arguments& arguments)
{
    fs::FsLock lock;
    TRY(file_for(static_cast<int>(arguments.a0)));
    return chown_to(arguments.a1, arguments.a2);
}

// utimensat(2); a null path is futimens(3) on dirfd.
Result sys_utimensat(Arguments& arguments)
{
    fs::FsLock lock;
    lx::LinuxTimespec times[2] {};
    if (arguments.a2)
        TRY(copy_from_user(times, arguments.a2, sizeof(times)));
    lx::LinuxTimespec const* requested = arguments.a2 ? times : nullptr;
    Inode* inode = nullptr;
    if (arguments.a1 == 0) {
        inode = TRY(file_for(static_cast<int>(arguments.a0)))->inode();
    } else {
        UserPath path;
        TRY(path.copy_in(arguments.a1));
        inode = TRY(
            inode_at(static_cast<int>(arguments.a0), path, !(arguments.a3 & lx::at_symlink_nofollow), arguments.a3));
    }
    TRY(fs::tree().set_inode_times(*inode, requested));
    return u64(0);
}

Result sys_statfs(Arguments& arguments)
{
    fs::FsLock lock;
    UserPath path;
    TRY(path.copy_in(arguments.a0));
    TRY(inode_at(at_fdcwd, path, true, 0));
    return write_statfs(arguments.a1);
}

Result sys_fstatfs(Arguments& arguments)
{
    fs::FsLock lock;
    TRY(file_for(static_cast<int>(arguments.a0)));
    return write_statfs(arguments.a1);
}

} // namespace kernite::syscalls
