// open(2) and pipe2(2): creating open file descriptions. See include/vfs/filesystem.h and open_file.h.
#include <vfs/filesystem.h>

#include <ktl/allocator.h>

namespace kernite::vfs {

using namespace linux_abi;

ErrorOr<OpenFile*> FileSystem::allocate_open_file(OpenFile::Kind kind, Inode& inode, u32 flags)
{
    void* memory = ktl::allocate(sizeof(OpenFile));
    if (!memory)
        return Error::from_errno(ENOMEM, "out of memory for an open file");
    return new (memory) OpenFile(kind, inode, flags);
}

ErrorOr<OpenFile*> FileSystem::open_inode(Inode& inode, u32 flags)
{
    if (flags & o_path)
        return allocate_open_file(OpenFile::Kind::Path, inode, flags & (o_path | o_directory | o_nofollow));
    u32 access = flags & o_accmode;
    bool wants_write = access != o_rdonly || (flags & o_trunc);
    switch (inode.type()) {
    case InodeType::Directory:
        if (wants_write || (flags & o_creat))
            return Error::from_errno(EISDIR, "is a directory");
        return allocate_open_file(OpenFile::Kind::Directory, inode, flags);
    case InodeType::Symlink: return Error::from_errno(ELOOP, "is a symbolic link (O_NOFOLLOW)");
    case InodeType::CharDevice: return allocate_open_file(OpenFile::Kind::Device, inode, flags);
    case InodeType::Fifo: return Error::from_errno(ENXIO, "reopening a pipe is not supported");
    case InodeType::Regular: break;
    }
    if (!inode.is_generated())
        return allocate_open_file(OpenFile::Kind::Regular, inode, flags);

    if (access != o_rdonly)
        return Error::from_errno(EACCES, "generated files are read-only");
    void* memory = ktl::allocate(sizeof(FileData));
    if (!memory)
        return Error::from_errno(ENOMEM, "out of memory for a generated file");
    auto* snapshot = new (memory) FileData();
    auto generated = inode.m_generate(inode.m_generate_context, *snapshot);
    auto file = generated.is_error() ? ErrorOr<OpenFile*>(generated.release_error())
                                     : allocate_open_file(OpenFile::Kind::Generated, inode, flags);
    if (file.is_error()) {
        ktl::destroy(snapshot);
        return file.release_error();
    }
    file.value()->m_generated = snapshot;
    return file.release_value();
}

ErrorOr<OpenFile*> FileSystem::open(Inode* start, char const* path, u32 flags, u32 mode)
{
    if (flags & o_tmpfile_bit) {
        if ((flags & o_tmpfile) != o_tmpfile)
            return Error::from_errno(EINVAL, "__O_TMPFILE without O_DIRECTORY");
        return Error::from_errno(ENOTSUP, "O_TMPFILE is not supported");
    }
    if (flags & o_path)
        flags &= o_path | o_directory | o_nofollow | o_cloexec; // O_PATH ignores the rest (open(2))
    bool create = flags & o_creat;
    if (create && (flags & o_directory))
        return Error::from_errno(EINVAL, "O_CREAT with O_DIRECTORY");
    bool exclusive = create && (flags & o_excl);
    // O_CREAT|O_EXCL never follows a final symlink: an existing link is EEXIST (open(2)).
    WalkMode mode_of_walk = (flags & o_nofollow) || exclusive ? WalkMode::NoFollowLast : WalkMode::FollowLast;
    Lookup lookup;
    TRY(walk(start, path, mode_of_walk, lookup));

    Inode* inode = lookup.inode;
    bool created = false;
    if (!inode) {
        if (!create)
            return Error::from_errno(ENOENT, "no such file or directory");
        if (lookup.trailing_slash)
            return Error::from_errno(EISDIR, "cannot create a regular file with a trailing slash");
        inode = TRY(create_inode(InodeType::Regular, s_ifreg | (mode & s_permissions)));
        auto attached = attach(lookup, *inode);
        inode->unref(); // the directory entry holds it now (or, on error, nothing does and it is gone)
        TRY(attached);
        created = true;
    } else {
        if (exclusive)
            return Error::from_errno(EEXIST, "file exists (O_EXCL)");
        if (lookup.trailing_slash && !inode->is_directory())
            return Error::from_errno(ENOTDIR, "trailing slash on a non-directory");
        // Linux checks O_DIRECTORY (do_open) before refusing a final symlink (may_open).
        if ((flags & o_directory) && !inode->is_directory())
            return Error::from_errno(ENOTDIR, "not a directory (O_DIRECTORY)");
        if (inode->is_symlink() && !(flags & o_path))
            return Error::from_errno(ELOOP, "is a symbolic link (O_NOFOLLOW)");
    }

    auto file = open_inode(*inode, flags);
    if (file.is_error()) {
        if (created) {
            // Undo the creation: nothing else can have seen the new name yet.
            DirectoryEntry* entry = lookup.parent->find_entry(lookup.name, lookup.name_length);
            VERIFY(entry && entry->inode == inode);
            remove_child(*lookup.parent, *entry);
        }
        return file.release_error();
    }
    // Linux truncates on O_TRUNC even with O_RDONLY (fs/open.c, handle_truncate); never a device or generated.
    if ((flags & o_trunc) && !created && !(flags & o_path) && inode->data()) {
        (void)inode->data()->resize(0); // shrinking cannot fail
        inode->touch_modified();
    }
    return file.release_value();
}

ErrorOr<PipeEnds> FileSystem::create_pipe(u32 flags, WakeHook hook)
{
    if (flags & ~(o_nonblock | o_cloexec | o_direct))
        return Error::from_errno(EINVAL, "invalid pipe2 flags");
    Inode* inode = TRY(create_inode(InodeType::Fifo, s_ififo | 0600));
    inode->m_nlink = 1; // as Linux's pipefs reports
    auto pipe = Pipe::create(hook);
    if (pipe.is_error()) {
        inode->unref();
        return pipe.release_error();
    }
    inode->m_pipe = pipe.value();
    u32 status = flags & o_nonblock;
    auto read_end = allocate_open_file(OpenFile::Kind::PipeRead, *inode, o_rdonly | status);
    if (read_end.is_error()) {
        inode->unref();
        return read_end.release_error();
    }
    auto write_end = allocate_open_file(OpenFile::Kind::PipeWrite, *inode, o_wronly | status);
    if (write_end.is_error()) {
        read_end.value()->unref();
        inode->unref();
        return write_end.release_error();
    }
    inode->unref(); // the two ends hold it
    return PipeEnds { read_end.value(), write_end.value() };
}

} // namespace kernite::vfs
