// The directory tree of the in-memory filesystem: inodes, entries, path resolution, the cpio loader.
#include <kernel/fs/internal.h>
#include <kernel/time/clock.h>
#include <ktl/allocator.h>
#include <platform/platform.h>

namespace kernite::fs {

namespace {

Inode* g_root;
u64 g_next_ino = 2;
u64 g_realtime_offset;

bool names_equal(char const* a, char const* b, usize length)
{
    return __builtin_memcmp(a, b, length) == 0 && a[length] == 0;
}

void free_inode(Inode* inode)
{
    ktl::deallocate(inode->data);
    ktl::destroy(inode);
}

// Unlinked and unreferenced: gone.
void maybe_free(Inode* inode)
{
    if (inode->nlink == 0 && inode->references == 0 && inode != g_root)
        free_inode(inode);
}

} // namespace

Inode* root() { return g_root; }

u64 now_ns()
{
    if (g_realtime_offset == 0) {
        u64 host = platform::host_realtime_ns();
        g_realtime_offset = host > time::monotonic_ns() ? host - time::monotonic_ns() : 1;
    }
    return time::monotonic_ns() + g_realtime_offset;
}

ErrorOr<Inode*> create_inode(u32 mode)
{
    auto* inode = TRY(ktl::try_create<Inode>());
    inode->ino = g_next_ino++;
    inode->mode = mode;
    inode->atime_ns = inode->mtime_ns = inode->ctime_ns = now_ns();
    if (!g_root && (mode & mode_type_mask) == mode_directory) {
        g_root = inode;
        inode->parent = inode;
        inode->nlink = 2;
    }
    return inode;
}

void release_inode(Inode* inode)
{
    VERIFY(inode->references > 0);
    --inode->references;
    maybe_free(inode);
}

ErrorOr<void> resize(Inode& inode, u64 size)
{
    if (size > max_file_size)
        return Error::from_errno(EFBIG, "file too large for the in-memory filesystem");
    if (size > inode.capacity) {
        u64 capacity = inode.capacity ? inode.capacity : 256;
        while (capacity < size)
            capacity *= 2;
        auto* data = static_cast<u8*>(ktl::allocate(capacity));
        if (!data)
            return Error::from_errno(ENOSPC, "out of memory for file data");
        if (inode.size)
            __builtin_memcpy(data, inode.data, inode.size);
        ktl::deallocate(inode.data);
        inode.data = data;
        inode.capacity = capacity;
    }
    if (size > inode.size)
        __builtin_memset(inode.data + inode.size, 0, size - inode.size);
    inode.size = size;
    return {};
}

ErrorOr<void> write_data(Inode& inode, u64 offset, u8 const* data, usize length)
{
    u64 end = 0;
    if (!ktl::checked_add(offset, u64(length), &end))
        return Error::from_errno(EFBIG, "write beyond the largest file");
    if (end > inode.size)
        TRY(resize(inode, end));
    __builtin_memcpy(inode.data + offset, data, length);
    inode.mtime_ns = inode.ctime_ns = now_ns();
    return {};
}

Inode* lookup(Inode& directory, char const* name, usize length)
{
    if (length == 1 && name[0] == '.')
        return &directory;
    if (length == 2 && name[0] == '.' && name[1] == '.')
        return directory.parent;
    for (auto* entry = directory.entries; entry; entry = entry->next) {
        if (names_equal(entry->name, name, length) || (__builtin_strlen(entry->name) == length && __builtin_memcmp(entry->name, name, length) == 0))
            return entry->inode;
    }
    return nullptr;
}

ErrorOr<void> add_entry(Inode& directory, char const* name, usize length, Inode& inode)
{
    if (length == 0 || length > max_name)
        return Error::from_errno(length ? ENAMETOOLONG : ENOENT, "bad file name");
    auto* copy = static_cast<char*>(ktl::allocate(length + 1));
    if (!copy)
        return Error::from_errno(ENOMEM, "out of memory");
    __builtin_memcpy(copy, name, length);
    copy[length] = 0;
    auto entry = ktl::try_create<DirectoryEntry>();
    if (entry.is_error()) {
        ktl::deallocate(copy);
        return entry.release_error();
    }
    *entry.value() = { copy, &inode, nullptr, directory.next_cookie++ };
    // Appended, so getdents64 cookies increase along the list.
    DirectoryEntry** link = &directory.entries;
    while (*link)
        link = &(*link)->next;
    *link = entry.value();
    ++inode.nlink;
    if (inode.is_directory()) {
        inode.parent = &directory;
        ++directory.nlink; // the child's ".."
        inode.nlink = 2;
    }
    directory.mtime_ns = directory.ctime_ns = now_ns();
    return {};
}

ErrorOr<void> remove_entry(Inode& directory, char const* name, usize length)
{
    for (DirectoryEntry** link = &directory.entries; *link; link = &(*link)->next) {
        DirectoryEntry* entry = *link;
        if (__builtin_strlen(entry->name) != length || __builtin_memcmp(entry->name, name, length) != 0)
            continue;
        *link = entry->next;
        Inode* inode = entry->inode;
        if (inode->is_directory()) {
            --directory.nlink;
            inode->nlink = 0;
        } else {
            --inode->nlink;
        }
        ktl::deallocate(entry->name);
        ktl::destroy(entry);
        directory.mtime_ns = directory.ctime_ns = now_ns();
        maybe_free(inode);
        return {};
    }
    return Error::from_errno(ENOENT, "no such file or directory");
}

ErrorOr<Resolved> resolve(Inode* start, char const* path, bool follow_last)
{
    if (!path[0])
        return Error::from_errno(ENOENT, "empty path");
    Inode* directory = path[0] == '/' ? g_root : start;
    int links_followed = 0;
    char const* cursor = path;
    // Symlink targets are spliced in front of the rest of the path, in a heap buffer (kernel stacks are small)
    // allocated at the first symlink. Its contents may be referenced by the result's `name`, so the caller's
    // path buffer is reused: the spliced path is copied back into it (both are max_path + 1 bytes).
    char* path_buffer = const_cast<char*>(path);
    for (;;) {
        while (*cursor == '/')
            ++cursor;
        if (!*cursor)
            return Resolved { directory->parent, directory, ".", 1 };
        char const* name = cursor;
        while (*cursor && *cursor != '/')
            ++cursor;
        usize length = static_cast<usize>(cursor - name);
        if (length > max_name)
            return Error::from_errno(ENAMETOOLONG, "file name too long");
        char const* rest = cursor;
        while (*rest == '/')
            ++rest;
        bool last = *rest == 0;
        bool trailing_slash = *cursor == '/';
        if (!directory->is_directory())
            return Error::from_errno(ENOTDIR, "not a directory");
        Inode* inode = lookup(*directory, name, length);
        if (!inode) {
            if (last)
                return Resolved { directory, nullptr, name, length };
            return Error::from_errno(ENOENT, "no such file or directory");
        }
        if (inode->is_symlink() && (!last || follow_last || trailing_slash)) {
            if (++links_followed > 40)
                return Error::from_errno(ELOOP, "too many symbolic links");
            usize target_length = inode->size;
            usize rest_length = __builtin_strlen(rest);
            if (target_length == 0)
                return Error::from_errno(ENOENT, "empty symlink");
            if (target_length + 1 + rest_length > max_path)
                return Error::from_errno(ENAMETOOLONG, "path too long");
            auto* combined = static_cast<char*>(ktl::allocate(max_path + 1));
            if (!combined)
                return Error::from_errno(ENOMEM, "out of memory");
            __builtin_memcpy(combined, inode->data, target_length);
            combined[target_length] = rest_length ? '/' : 0;
            if (rest_length)
                __builtin_memcpy(combined + target_length + 1, rest, rest_length + 1);
            __builtin_memcpy(path_buffer, combined, max_path + 1);
            ktl::deallocate(combined);
            if (path_buffer[0] == '/')
                directory = g_root;
            cursor = path_buffer;
            continue;
        }
        if (last) {
            if (trailing_slash && !inode->is_directory())
                return Error::from_errno(ENOTDIR, "not a directory");
            return Resolved { directory, inode, name, length };
        }
        directory = inode;
    }
}

ErrorOr<usize> path_of(Inode& directory, char* buffer, usize size)
{
    // Walk up, collecting names, then write them root first.
    Inode* chain[256];
    usize depth = 0;
    for (Inode* node = &directory; node != g_root; node = node->parent) {
        if (depth == 256 || node->nlink == 0)
            return Error::from_errno(ENOENT, "the directory was removed");
        chain[depth++] = node;
    }
    usize used = 0;
    if (depth == 0) {
        if (size < 2)
            return Error::from_errno(ERANGE, "buffer too small");
        buffer[0] = '/';
        buffer[1] = 0;
        return usize(2);
    }
    for (usize i = depth; i-- > 0;) {
        Inode* node = chain[i];
        char const* name = nullptr;
        for (auto* entry = node->parent->entries; entry; entry = entry->next) {
            if (entry->inode == node)
                name = entry->name;
        }
        if (!name)
            return Error::from_errno(ENOENT, "the directory was removed");
        usize length = __builtin_strlen(name);
        if (used + 1 + length + 1 > size)
            return Error::from_errno(ERANGE, "buffer too small");
        buffer[used++] = '/';
        __builtin_memcpy(buffer + used, name, length);
        used += length;
    }
    buffer[used++] = 0;
    return used;
}

namespace {

ErrorOr<u64> parse_hex(u8 const* field)
{
    u64 value = 0;
    for (int i = 0; i < 8; ++i) {
        u8 c = field[i];
        u64 digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 99;
        if (digit > 15)
            return Error::from_errno(EINVAL, "rootfs archive: bad hex field");
        value = value * 16 + digit;
    }
    return value;
}

// Creates the directories of `path` up to (not including) its last component; returns the parent.
ErrorOr<Inode*> make_parents(char* path, usize length, usize* name_start)
{
    Inode* directory = g_root;
    usize start = 0;
    for (usize i = 0; i <= length; ++i) {
        if (i < length && path[i] != '/')
            continue;
        usize component = i - start;
        if (i == length) {
            *name_start = start;
            return directory;
        }
        if (component > 0 && !(component == 1 && path[start] == '.')) {
            Inode* next = lookup(*directory, path + start, component);
            if (!next) {
                next = TRY(create_inode(mode_directory | 0755));
                TRY(add_entry(*directory, path + start, component, *next));
            }
            if (!next->is_directory())
                return Error::from_errno(ENOTDIR, "rootfs archive: a path goes through a file");
            directory = next;
        }
        start = i + 1;
    }
    VERIFY_NOT_REACHED();
}

} // namespace

// cpio "newc" (070701; 070702 with its checksum ignored): a 110-byte ASCII header, the name, padding to 4, the
// data, padding to 4; "TRAILER!!!" ends it. Every field is checked against the archive's size.
ErrorOr<void> load_cpio(u8 const* data, usize size)
{
    usize offset = 0;
    for (;;) {
        if (size - offset < 110)
            return Error::from_errno(EINVAL, "rootfs archive: truncated header");
        u8 const* header = data + offset;
        if (__builtin_memcmp(header, "07070", 5) != 0 || (header[5] != '1' && header[5] != '2'))
            return Error::from_errno(EINVAL, "rootfs archive: not a cpio newc archive");
        u64 mode = TRY(parse_hex(header + 14));
        u64 mtime = TRY(parse_hex(header + 46));
        u64 file_size = TRY(parse_hex(header + 54));
        u64 name_size = TRY(parse_hex(header + 94));
        if (name_size == 0 || name_size > max_path || name_size > size - offset - 110)
            return Error::from_errno(EINVAL, "rootfs archive: bad name size");
        char name[max_path + 1];
        __builtin_memcpy(name, header + 110, name_size);
        name[name_size] = 0;
        if (name[name_size - 1] != 0)
            return Error::from_errno(EINVAL, "rootfs archive: name not terminated");
        u64 data_start = ktl::align_up_const(offset + 110 + name_size, 4);
        if (data_start > size || file_size > size - data_start)
            return Error::from_errno(EINVAL, "rootfs archive: entry beyond the archive");
        if (__builtin_strcmp(name, "TRAILER!!!") == 0)
            return {};
        offset = ktl::align_up_const(data_start + file_size, 4);
        if (offset > size)
            offset = size;
        char* path = name;
        while (*path == '/')
            ++path;
        if (path[0] == '.' && (path[1] == 0 || path[1] == '/'))
            path += path[1] ? 2 : 1;
        usize length = __builtin_strlen(path);
        if (length == 0)
            continue; // "." itself
        usize name_start = 0;
        Inode* parent = TRY(make_parents(path, length, &name_start));
        char const* leaf = path + name_start;
        usize leaf_length = length - name_start;
        if (leaf_length == 0 || (leaf_length == 2 && leaf[0] == '.' && leaf[1] == '.'))
            return Error::from_errno(EINVAL, "rootfs archive: bad entry name");
        u32 type = mode & mode_type_mask;
        Inode* existing = lookup(*parent, leaf, leaf_length);
        if (type == mode_directory) {
            if (existing) {
                if (!existing->is_directory())
                    return Error::from_errno(EINVAL, "rootfs archive: a directory replaces a file");
                existing->mode = static_cast<u32>(mode);
                continue;
            }
            Inode* directory = TRY(create_inode(static_cast<u32>(mode)));
            directory->mtime_ns = mtime * 1'000'000'000;
            TRY(add_entry(*parent, leaf, leaf_length, *directory));
            continue;
        }
        if (type != mode_regular && type != mode_symlink)
            return Error::from_errno(EINVAL, "rootfs archive: devices, fifos and sockets are not supported");
        if (existing)
            TRY(remove_entry(*parent, leaf, leaf_length));
        Inode* inode = TRY(create_inode(static_cast<u32>(mode)));
        TRY(write_data(*inode, 0, data + data_start, file_size));
        inode->mtime_ns = inode->ctime_ns = mtime * 1'000'000'000;
        TRY(add_entry(*parent, leaf, leaf_length, *inode));
    }
}

} // namespace kernite::fs
