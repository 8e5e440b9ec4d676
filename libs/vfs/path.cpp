// Path resolution (path_resolution(7)) and getcwd's reverse walk: see include/vfs/filesystem.h.
//
// The walk is a loop over components, never a recursion: a symbolic link is expanded by splicing its target in
// front of the unwalked rest of the path (in one of two scratch buffers, allocated on the first link only), so
// neither deep trees nor link chains grow the kernel stack.
#include <vfs/filesystem.h>

#include <ktl/allocator.h>

namespace kernite::vfs {

using namespace linux_abi;

namespace {

// Length of a NUL-terminated path, or path_max when there is no NUL within path_max bytes (ENAMETOOLONG).
usize bounded_length(char const* path)
{
    usize length = 0;
    while (length < path_max && path[length] != '\0')
        ++length;
    return length;
}

bool is_dot(char const* name, usize length) { return length == 1 && name[0] == '.'; }

bool is_dotdot(char const* name, usize length) { return length == 2 && name[0] == '.' && name[1] == '.'; }

// Two path_max buffers used alternately: the new text is built in one while the rest of the path may still
// live in the other.
class SpliceBuffers {
public:
    SpliceBuffers() = default;
    SpliceBuffers(SpliceBuffers const&) = delete;
    SpliceBuffers& operator=(SpliceBuffers const&) = delete;
    ~SpliceBuffers() { ktl::deallocate(m_memory); }

    // target + ("/" if slash) + rest, NUL-terminated; ENAMETOOLONG when that reaches path_max.
    ErrorOr<char const*> splice(char const* target, usize target_length, bool slash, char const* rest,
        usize rest_length, usize* total_length)
    {
        usize total = target_length + (slash ? 1 : 0) + rest_length;
        if (total >= path_max)
            return Error::from_errno(ENAMETOOLONG, "path grows too long through a symbolic link");
        if (!m_memory) {
            m_memory = static_cast<char*>(ktl::allocate(2 * path_max));
            if (!m_memory)
                return Error::from_errno(ENOMEM, "out of memory resolving a symbolic link");
        }
        char* out = m_memory + (m_next ? path_max : 0);
        m_next = !m_next;
        __builtin_memcpy(out, target, target_length);
        if (slash)
            out[target_length] = '/';
        __builtin_memmove(out + target_length + (slash ? 1 : 0), rest, rest_length);
        out[total] = '\0';
        *total_length = total;
        return out;
    }

private:
    char* m_memory { nullptr };
    bool m_next { false };
};

} // namespace

bool Lookup::is_dot_or_dotdot() const { return is_dot(name, name_length) || is_dotdot(name, name_length); }

ErrorOr<void> FileSystem::walk(Inode* start, char const* path, WalkMode mode, Lookup& out)
{
    if (!path)
        return Error::from_errno(EFAULT, "null path");
    usize text_length = bounded_length(path);
    if (text_length == 0)
        return Error::from_errno(ENOENT, "empty path");
    if (text_length >= path_max)
        return Error::from_errno(ENAMETOOLONG, "path is longer than PATH_MAX");

    char const* text = path;
    Inode* current = path[0] == '/' ? m_root : start;
    VERIFY(current);
    SpliceBuffers buffers;
    u32 follows = 0;
    usize position = 0;
    for (;;) {
        while (position < text_length && text[position] == '/')
            ++position;
        if (position == text_length) {
            // Only slashes were left ("/", or a link to "/"): the path names `current` itself.
            out.parent = current;
            out.inode = current;
            out.name[0] = '\0';
            out.name_length = 0;
            out.trailing_slash = true;
            return {};
        }
        usize begin = position;
        while (position < text_length && text[position] != '/')
            ++position;
        usize length = position - begin;
        if (length > name_max)
            return Error::from_errno(ENAMETOOLONG, "path component is longer than NAME_MAX");
        bool slash_after = position < text_length;
        usize rest = position;
        while (rest < text_length && text[rest] == '/')
            ++rest;
        bool last = rest == text_length;

        if (!current->is_directory())
            return Error::from_errno(ENOTDIR, "path component is not a directory");
        char const* component = text + begin;
        Inode* next = nullptr;
        if (is_dot(component, length))
            next = current;
        else if (is_dotdot(component, length))
            next = current == m_root ? current : current->parent(); // null in a removed directory
        else
            next = current->lookup(component, length);

        bool follow = !last || slash_after || mode == WalkMode::FollowLast;
        if (last && mode == WalkMode::Parent)
            follow = false;
        if (next && next->is_symlink() && follow) {
            if (++follows > symlink_max_follows)
                return Error::from_errno(ELOOP, "too many levels of symbolic links");
            char const* target = next->symlink_target();
            usize target_length = static_cast<usize>(next->size());
            if (target_length == 0)
                return Error::from_errno(ENOENT, "empty symbolic link");
            usize new_length = 0;
            text
                = TRY(buffers.splice(target, target_length, slash_after, text + rest, text_length - rest, &new_length));
            text_length = new_length;
            position = 0;
            if (target[0] == '/')
                current = m_root;
            continue; // relative targets continue from the directory holding the link
        }
        if (!last) {
            if (!next)
                return Error::from_errno(ENOENT, "no such file or directory");
            if (!next->is_directory())
                return Error::from_errno(ENOTDIR, "path component is not a directory");
            current = next;
            position = rest;
            continue;
        }
        out.parent = current;
        out.inode = next;
        __builtin_memcpy(out.name, component, length);
        out.name[length] = '\0';
        out.name_length = length;
        out.trailing_slash = slash_after;
        return {};
    }
}

ErrorOr<Inode*> FileSystem::resolve(Inode* start, char const* path, bool follow_last)
{
    Lookup lookup;
    TRY(walk(start, path, follow_last ? WalkMode::FollowLast : WalkMode::NoFollowLast, lookup));
    if (!lookup.inode)
        return Error::from_errno(ENOENT, "no such file or directory");
    if (lookup.trailing_slash && !lookup.inode->is_directory())
        return Error::from_errno(ENOTDIR, "trailing slash on a non-directory");
    return lookup.inode;
}

ErrorOr<usize> FileSystem::absolute_path(Inode const* directory, char* buffer, usize size) const
{
    VERIFY(directory);
    if (!directory->is_directory())
        return Error::from_errno(ENOTDIR, "not a directory");
    if (directory->is_removed())
        return Error::from_errno(ENOENT, "current directory has been removed");
    if (size == 0)
        return Error::from_errno(ERANGE, "buffer too small for the path");
    // Built right to left at the end of the buffer, then moved to its start.
    usize position = size - 1;
    buffer[position] = '\0';
    for (Inode const* node = directory; node != m_root;) {
        Inode* parent = node->parent();
        VERIFY(parent); // only the root and removed directories have none
        DirectoryEntry const* entry = nullptr;
        for (usize i = 0; i < parent->m_entry_slots; ++i) {
            if (parent->m_entries[i].inode == node) {
                entry = &parent->m_entries[i];
                break;
            }
        }
        VERIFY(entry);
        if (position < static_cast<usize>(entry->length) + 1)
            return Error::from_errno(ERANGE, "buffer too small for the path");
        position -= entry->length;
        __builtin_memcpy(buffer + position, entry->name, entry->length);
        buffer[--position] = '/';
        node = parent;
    }
    if (position == size - 1) {
        if (position == 0)
            return Error::from_errno(ERANGE, "buffer too small for the path");
        buffer[--position] = '/';
    }
    usize length = size - position; // including the NUL
    __builtin_memmove(buffer, buffer + position, length);
    return length;
}

} // namespace kernite::vfs
