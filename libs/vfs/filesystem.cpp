// Namespace operations of the in-memory filesystem: see include/vfs/filesystem.h. Each error and its order
// follow Linux's fs/namei.c, fs/open.c and fs/stat.c for the cases a program can observe.
#include <vfs/filesystem.h>

#include <ktl/allocator.h>

namespace kernite::vfs {

using namespace linux_abi;

namespace {

usize bounded_length(char const* string)
{
    usize length = 0;
    while (length < path_max && string[length] != '\0')
        ++length;
    return length;
}

// A heap copy of a path, released on scope exit (path_max bytes do not belong on a kernel stack).
class PathCopy {
public:
    PathCopy() = default;
    PathCopy(PathCopy const&) = delete;
    PathCopy& operator=(PathCopy const&) = delete;
    ~PathCopy() { ktl::deallocate(m_text); }

    ErrorOr<char*> copy(char const* path)
    {
        usize length = bounded_length(path);
        if (length >= path_max)
            return Error::from_errno(ENAMETOOLONG, "path is longer than PATH_MAX");
        m_text = static_cast<char*>(ktl::allocate(length + 1));
        if (!m_text)
            return Error::from_errno(ENOMEM, "out of memory for a path");
        __builtin_memcpy(m_text, path, length + 1);
        m_length = length;
        return m_text;
    }
    usize length() const { return m_length; }

private:
    char* m_text { nullptr };
    usize m_length { 0 };
};

} // namespace

ErrorOr<FileSystem*> FileSystem::create()
{
    void* memory = ktl::allocate(sizeof(FileSystem));
    if (!memory)
        return Error::from_errno(ENOMEM, "out of memory for a filesystem");
    auto* file_system = new (memory) FileSystem();
    auto root = file_system->create_inode(InodeType::Directory, s_ifdir | 0755);
    if (root.is_error()) {
        file_system->~FileSystem();
        ktl::deallocate(memory);
        return root.release_error();
    }
    file_system->m_root = root.value(); // keeps the creation reference
    file_system->m_root->m_nlink = 2;
    return file_system;
}

void FileSystem::destroy(FileSystem* file_system)
{
    if (!file_system)
        return;
    // Bottom-up and iterative: descend into the last non-empty subdirectory, remove leaves, climb back.
    Inode* root = file_system->m_root;
    Inode* current = root;
    for (;;) {
        DirectoryEntry* last = current->m_entry_slots ? &current->m_entries[current->m_entry_slots - 1] : nullptr;
        if (last) {
            VERIFY(last->inode); // remove_entry() trims trailing tombstones
            Inode* child = last->inode;
            if (child->is_directory() && child->entry_count() > 0 && child->parent() == current) {
                current = child;
                continue;
            }
            file_system->remove_child(*current, *last);
            continue;
        }
        if (current == root)
            break;
        current = current->parent();
    }
    root->unref();
    file_system->~FileSystem();
    ktl::deallocate(file_system);
}

ErrorOr<Inode*> FileSystem::create_inode(InodeType type, u32 mode)
{
    void* memory = ktl::allocate(sizeof(Inode));
    if (!memory)
        return Error::from_errno(ENOMEM, "out of memory for an inode");
    auto* inode = new (memory) Inode(*this, type, m_next_ino++, mode);
    inode->ref();
    return inode;
}

ErrorOr<void> FileSystem::attach(Lookup const& lookup, Inode& inode)
{
    Inode& parent = *lookup.parent;
    VERIFY(lookup.name_length > 0 && !lookup.is_dot_or_dotdot());
    if (parent.is_removed())
        return Error::from_errno(ENOENT, "directory has been removed");
    TRY(parent.add_entry(lookup.name, lookup.name_length, inode));
    if (inode.is_directory()) {
        VERIFY(!inode.m_parent);
        inode.m_nlink = 2; // its entry and its "."
        inode.m_parent = &parent;
        parent.ref();
        ++parent.m_nlink; // the child's ".."
    } else {
        ++inode.m_nlink;
        inode.touch_changed();
    }
    parent.touch_modified();
    return {};
}

void FileSystem::remove_child(Inode& parent, DirectoryEntry& entry)
{
    Inode* inode = entry.inode;
    VERIFY(inode);
    if (inode->is_directory()) {
        VERIFY(inode->m_parent == &parent);
        inode->m_removed = true;
        inode->m_nlink = 0;
        inode->m_parent = nullptr;
        --parent.m_nlink;
        parent.remove_entry(entry);
        parent.unref(); // the child's ".." reference; the parent is still referenced by its own entry or root
    } else {
        --inode->m_nlink;
        inode->touch_changed();
        parent.remove_entry(entry);
    }
    parent.touch_modified();
}

ErrorOr<void> FileSystem::mkdir(Inode* start, char const* path, u32 mode)
{
    Lookup lookup;
    TRY(walk(start, path, WalkMode::Parent, lookup));
    if (lookup.inode)
        return Error::from_errno(EEXIST, "file exists");
    Inode* directory = TRY(create_inode(InodeType::Directory, s_ifdir | (mode & (s_isvtx | 0777))));
    auto attached = attach(lookup, *directory);
    directory->unref();
    return attached;
}

ErrorOr<void> FileSystem::rmdir(Inode* start, char const* path)
{
    Lookup lookup;
    TRY(walk(start, path, WalkMode::Parent, lookup));
    if (!lookup.inode)
        return Error::from_errno(ENOENT, "no such directory");
    if (lookup.name_length == 0)
        return Error::from_errno(EBUSY, "cannot remove the root");
    if (lookup.name_length == 1 && lookup.name[0] == '.')
        return Error::from_errno(EINVAL, "cannot remove \".\"");
    if (lookup.is_dot_or_dotdot())
        return Error::from_errno(ENOTEMPTY, "cannot remove \"..\"");
    Inode* inode = lookup.inode;
    if (!inode->is_directory())
        return Error::from_errno(ENOTDIR, "not a directory");
    if (inode->entry_count() > 0)
        return Error::from_errno(ENOTEMPTY, "directory not empty");
    DirectoryEntry* entry = lookup.parent->find_entry(lookup.name, lookup.name_length);
    VERIFY(entry && entry->inode == inode);
    remove_child(*lookup.parent, *entry);
    return {};
}

ErrorOr<void> FileSystem::unlink(Inode* start, char const* path)
{
    Lookup lookup;
    TRY(walk(start, path, WalkMode::Parent, lookup));
    if (!lookup.inode)
        return Error::from_errno(ENOENT, "no such file");
    if (lookup.name_length == 0 || lookup.is_dot_or_dotdot() || lookup.inode->is_directory())
        return Error::from_errno(EISDIR, "is a directory");
    if (lookup.trailing_slash)
        return Error::from_errno(ENOTDIR, "trailing slash on a non-directory");
    DirectoryEntry* entry = lookup.parent->find_entry(lookup.name, lookup.name_length);
    VERIFY(entry);
    remove_child(*lookup.parent, *entry);
    return {};
}

ErrorOr<void> FileSystem::rename(Inode* old_start, char const* old_path, Inode* new_start, char const* new_path,
    u32 flags)
{
    if (flags & ~rename_noreplace)
        return Error::from_errno(EINVAL, "unsupported rename flags (RENAME_EXCHANGE, RENAME_WHITEOUT)");
    Lookup from;
    TRY(walk(old_start, old_path, WalkMode::Parent, from));
    Lookup to;
    TRY(walk(new_start, new_path, WalkMode::Parent, to));
    if (from.name_length == 0 || from.is_dot_or_dotdot() || to.name_length == 0 || to.is_dot_or_dotdot())
        return Error::from_errno(EBUSY, "cannot rename \"/\", \".\" or \"..\"");
    Inode* moving = from.inode;
    if (!moving)
        return Error::from_errno(ENOENT, "no such file");
    if (!moving->is_directory() && (from.trailing_slash || to.trailing_slash))
        return Error::from_errno(ENOTDIR, "trailing slash on a non-directory");
    if (to.parent->is_removed())
        return Error::from_errno(ENOENT, "target directory has been removed");
    Inode* target = to.inode;
    if (target) {
        if (flags & rename_noreplace)
            return Error::from_errno(EEXIST, "target exists (RENAME_NOREPLACE)");
        if (target == moving)
            return {}; // two names of one file: POSIX says do nothing
        if (moving->is_directory()) {
            if (!target->is_directory())
                return Error::from_errno(ENOTDIR, "cannot replace a non-directory with a directory");
            if (target->entry_count() > 0)
                return Error::from_errno(ENOTEMPTY, "target directory not empty");
        } else if (target->is_directory()) {
            return Error::from_errno(EISDIR, "cannot replace a directory with a non-directory");
        }
    }
    if (moving->is_directory()) {
        for (Inode* ancestor = to.parent; ancestor; ancestor = ancestor->parent()) {
            if (ancestor == moving)
                return Error::from_errno(EINVAL, "cannot move a directory into itself");
        }
    }

    // Everything that can fail happens before the old entry goes away.
    moving->ref();
    if (target) {
        DirectoryEntry* slot = to.parent->find_entry(to.name, to.name_length);
        VERIFY(slot && slot->inode == target);
        if (target->is_directory()) {
            target->m_removed = true;
            target->m_nlink = 0;
            target->m_parent = nullptr;
            --to.parent->m_nlink;
            to.parent->unref(); // the target's ".." (to.parent stays referenced by its own entry or root)
        } else {
            --target->m_nlink;
            target->touch_changed();
        }
        moving->ref();
        slot->inode = moving; // in place: no allocation, the slot keeps its cookie
        target->unref();
    } else {
        auto added = to.parent->add_entry(to.name, to.name_length, *moving);
        if (added.is_error()) {
            moving->unref();
            return added.release_error();
        }
    }
    DirectoryEntry* old_entry = from.parent->find_entry(from.name, from.name_length);
    VERIFY(old_entry && old_entry->inode == moving);
    from.parent->remove_entry(*old_entry);
    if (moving->is_directory() && from.parent != to.parent) {
        --from.parent->m_nlink;
        ++to.parent->m_nlink;
        to.parent->ref();
        Inode* old_parent = moving->m_parent;
        moving->m_parent = to.parent;
        old_parent->unref();
    }
    moving->touch_changed();
    from.parent->touch_modified();
    to.parent->touch_modified();
    moving->unref();
    return {};
}

ErrorOr<void> FileSystem::symlink(char const* target, Inode* start, char const* path)
{
    if (!target)
        return Error::from_errno(EFAULT, "null symlink target");
    usize target_length = bounded_length(target);
    if (target_length == 0)
        return Error::from_errno(ENOENT, "empty symlink target");
    if (target_length >= path_max)
        return Error::from_errno(ENAMETOOLONG, "symlink target is longer than PATH_MAX");
    Lookup lookup;
    TRY(walk(start, path, WalkMode::Parent, lookup));
    if (lookup.inode)
        return Error::from_errno(EEXIST, "file exists");
    if (lookup.trailing_slash)
        return Error::from_errno(ENOENT, "trailing slash on a new symlink");
    Inode* link = TRY(create_inode(InodeType::Symlink, s_iflnk | 0777));
    link->m_symlink_target = static_cast<char*>(ktl::allocate(target_length + 1));
    if (!link->m_symlink_target) {
        link->unref();
        return Error::from_errno(ENOMEM, "out of memory for a symlink");
    }
    __builtin_memcpy(link->m_symlink_target, target, target_length + 1);
    link->m_symlink_length = target_length;
    auto attached = attach(lookup, *link);
    link->unref();
    return attached;
}

ErrorOr<usize> FileSystem::readlink(Inode* start, char const* path, char* buffer, usize size)
{
    Inode* inode = TRY(resolve(start, path, false));
    if (!inode->is_symlink())
        return Error::from_errno(EINVAL, "not a symbolic link");
    if (size == 0)
        return Error::from_errno(EINVAL, "zero-sized readlink buffer");
    usize length = static_cast<usize>(inode->size());
    if (length > size)
        length = size;
    __builtin_memcpy(buffer, inode->symlink_target(), length);
    return length;
}

ErrorOr<void> FileSystem::link(Inode* old_start, char const* old_path, Inode* new_start, char const* new_path,
    bool follow)
{
    Inode* inode = TRY(resolve(old_start, old_path, follow));
    return link_inode(*inode, new_start, new_path);
}

ErrorOr<void> FileSystem::link_inode(Inode& inode, Inode* new_start, char const* new_path)
{
    if (inode.is_directory())
        return Error::from_errno(EPERM, "hard links to directories are not allowed");
    if (inode.nlink() == 0)
        return Error::from_errno(ENOENT, "file has been removed");
    Lookup lookup;
    TRY(walk(new_start, new_path, WalkMode::Parent, lookup));
    if (lookup.inode)
        return Error::from_errno(EEXIST, "file exists");
    if (lookup.trailing_slash)
        return Error::from_errno(ENOENT, "trailing slash on a new link");
    return attach(lookup, inode);
}

ErrorOr<LinuxStat> FileSystem::stat(Inode* start, char const* path, bool follow)
{
    Inode* inode = TRY(resolve(start, path, follow));
    return inode->stat();
}

ErrorOr<void> FileSystem::truncate(Inode* start, char const* path, i64 length)
{
    if (length < 0)
        return Error::from_errno(EINVAL, "negative length");
    Inode* inode = TRY(resolve(start, path, true));
    if (inode->is_directory())
        return Error::from_errno(EISDIR, "is a directory");
    if (!inode->is_regular())
        return Error::from_errno(EINVAL, "not a regular file");
    if (inode->is_generated())
        return Error::from_errno(EACCES, "generated files are read-only");
    TRY(inode->m_data.resize(static_cast<u64>(length)));
    inode->touch_modified();
    return {};
}

ErrorOr<void> FileSystem::access(Inode* start, char const* path, u32 mode, bool follow)
{
    if (mode & ~(r_ok | w_ok | x_ok))
        return Error::from_errno(EINVAL, "invalid access mode");
    Inode* inode = TRY(resolve(start, path, follow));
    // Root passes every read and write check; execute needs a directory or at least one x bit (Linux's
    // generic_permission with CAP_DAC_OVERRIDE).
    if ((mode & x_ok) && !inode->is_directory() && !(inode->mode() & s_ixugo))
        return Error::from_errno(EACCES, "no execute permission");
    return {};
}

ErrorOr<void> FileSystem::chmod(Inode* start, char const* path, u32 mode, bool follow)
{
    Inode* inode = TRY(resolve(start, path, follow));
    if (inode->is_symlink())
        return Error::from_errno(ENOTSUP, "symbolic link modes cannot be changed");
    chmod_inode(*inode, mode);
    return {};
}

void FileSystem::chmod_inode(Inode& inode, u32 mode)
{
    inode.m_mode = (inode.m_mode & s_ifmt) | (mode & s_permissions);
    inode.touch_changed();
}

ErrorOr<void> FileSystem::set_times(Inode* start, char const* path, LinuxTimespec const* times, bool follow)
{
    Inode* inode = TRY(resolve(start, path, follow));
    return set_inode_times(*inode, times);
}

ErrorOr<void> FileSystem::set_inode_times(Inode& inode, LinuxTimespec const* times)
{
    Timespec current = now();
    if (!times) {
        inode.m_atime = inode.m_mtime = inode.m_ctime = current;
        return {};
    }
    for (int i = 0; i < 2; ++i) {
        i64 nanoseconds = times[i].tv_nsec;
        if (nanoseconds != utime_now && nanoseconds != utime_omit && (nanoseconds < 0 || nanoseconds >= 1000000000))
            return Error::from_errno(EINVAL, "timestamp nanoseconds out of range");
    }
    if (times[0].tv_nsec == utime_omit && times[1].tv_nsec == utime_omit)
        return {};
    Timespec* fields[2] = { &inode.m_atime, &inode.m_mtime };
    for (int i = 0; i < 2; ++i) {
        if (times[i].tv_nsec == utime_omit)
            continue;
        *fields[i] = times[i].tv_nsec == utime_now ? current : Timespec { times[i].tv_sec, times[i].tv_nsec };
    }
    inode.m_ctime = current;
    return {};
}

ErrorOr<void> FileSystem::make_directories(char const* path, u32 mode)
{
    PathCopy copy;
    char* text = TRY(copy.copy(path));
    usize length = copy.length();
    for (usize i = 1; i <= length; ++i) {
        if ((i < length && text[i] != '/') || text[i - 1] == '/')
            continue;
        char saved = text[i];
        text[i] = '\0';
        auto existing = resolve(m_root, text, true);
        if (existing.is_error()) {
            if (existing.error().code() != ENOENT)
                return existing.release_error();
            TRY(mkdir(m_root, text, mode));
        } else if (!existing.value()->is_directory()) {
            return Error::from_errno(ENOTDIR, "path component is not a directory");
        }
        text[i] = saved;
    }
    return {};
}

ErrorOr<void> FileSystem::ensure_parents(char const* path)
{
    PathCopy copy;
    char* text = TRY(copy.copy(path));
    usize end = copy.length();
    while (end > 0 && text[end - 1] == '/') // "a/b/" names b
        --end;
    while (end > 0 && text[end - 1] != '/')
        --end;
    if (end == 0)
        return {}; // no parent component: the root (or the start directory) holds it
    text[end] = '\0';
    return make_directories(text);
}

ErrorOr<void> FileSystem::lookup_for_create(char const* path, Lookup& out)
{
    TRY(ensure_parents(path));
    TRY(walk(m_root, path, WalkMode::Parent, out));
    if (out.inode || out.name_length == 0)
        return Error::from_errno(EEXIST, "file exists");
    return {};
}

ErrorOr<void> FileSystem::add_device(char const* path, DeviceOps const* ops, void* context, u32 mode, u64 rdev)
{
    Lookup lookup;
    TRY(lookup_for_create(path, lookup));
    Inode* device = TRY(create_inode(InodeType::CharDevice, s_ifchr | (mode & s_permissions)));
    device->m_device_ops = ops;
    device->m_device_context = context;
    device->m_rdev = rdev;
    auto attached = attach(lookup, *device);
    device->unref();
    return attached;
}

ErrorOr<void> FileSystem::add_generated_file(char const* path, GenerateFn generate, void* context, u32 mode)
{
    VERIFY(generate);
    Lookup lookup;
    TRY(lookup_for_create(path, lookup));
    Inode* file = TRY(create_inode(InodeType::Regular, s_ifreg | (mode & s_permissions)));
    file->m_generate = generate;
    file->m_generate_context = context;
    auto attached = attach(lookup, *file);
    file->unref();
    return attached;
}

ErrorOr<void> FileSystem::add_symlink(char const* path, char const* target)
{
    TRY(ensure_parents(path));
    return symlink(target, m_root, path);
}

} // namespace kernite::vfs
