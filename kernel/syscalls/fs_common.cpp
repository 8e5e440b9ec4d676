#include <kernel/syscalls/fs_common.h>

namespace kernite::syscalls::files {

ErrorOr<void> UserPath::copy_in(u64 address)
{
    auto* buffer = reinterpret_cast<char*>(m_buffer.data());
    if (!buffer)
        return Error::from_errno(ENOMEM, "out of memory for a path");
    auto length = TRY(copy_string_from_user(buffer, address, lx::path_max + 1));
    if (length >= lx::path_max)
        return Error::from_errno(ENAMETOOLONG, "path is longer than PATH_MAX");
    return {};
}

ErrorOr<OpenFile*> file_for(int fd) { return fs::fds().get(fd); }

ErrorOr<Inode*> start_for(int dirfd, char const* path)
{
    if (path[0] == '/')
        return fs::tree().root();
    if (dirfd == lx::at_fdcwd)
        return &fs::cwd();
    auto* file = TRY(file_for(dirfd));
    if (!file->inode()->is_directory())
        return Error::from_errno(ENOTDIR, "dirfd is not a directory");
    return file->inode();
}

ErrorOr<Inode*> inode_at(int dirfd, UserPath const& path, bool follow, u64 flags)
{
    if (path.is_empty() && (flags & lx::at_empty_path)) {
        if (dirfd == lx::at_fdcwd)
            return &fs::cwd();
        return TRY(file_for(dirfd))->inode();
    }
    Inode* start = TRY(start_for(dirfd, path.get()));
    return fs::tree().resolve(start, path.get(), follow);
}

ErrorOr<usize> read_to_user(OpenFile& file, u64 address, usize length)
{
    return in_pieces(length, !reads_in_pieces(file), [&](u8* bounce, usize done, usize want) -> ErrorOr<usize> {
        usize got = TRY(fs::read(file, bounce, want));
        TRY(copy_to_user(address + done, bounce, got));
        return got;
    });
}

ErrorOr<usize> write_from_user(OpenFile& file, u64 address, usize length)
{
    return in_pieces(length, false, [&](u8* bounce, usize done, usize want) -> ErrorOr<usize> {
        TRY(copy_from_user(bounce, address + done, want));
        return fs::write(file, bounce, want);
    });
}

} // namespace kernite::syscalls::files
