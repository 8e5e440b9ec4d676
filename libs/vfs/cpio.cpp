// Loading a cpio "newc" archive into the tree (FileSystem::load_cpio). The format, as Linux's
// Documentation/driver-api/early-userspace/buffer-format.rst describes it: each entry is a 110-byte ASCII
// header ("070701" or "070702", then 13 fields of 8 hex digits), the NUL-terminated name (namesize bytes),
// padding to a multiple of 4, the data (filesize bytes), padding to a multiple of 4; "TRAILER!!!" ends it.
// Offsets are relative to the start of the archive. The archive is hostile: every field is checked, every sum
// overflow-checked, nothing is read outside [archive, archive + size).
#include <vfs/filesystem.h>

#include <ktl/allocator.h>

namespace kernite::vfs {

using namespace linux_abi;

namespace {

constexpr usize header_size = 110;
constexpr usize field_count = 13;
constexpr char const trailer_name[] = "TRAILER!!!";

struct CpioHeader {
    u32 ino;
    u32 mode;
    u32 uid;
    u32 gid;
    u32 nlink;
    u32 mtime;
    u32 filesize;
    u32 devmajor;
    u32 devminor;
    u32 rdevmajor;
    u32 rdevminor;
    u32 namesize;
    u32 check;
};
static_assert(sizeof(CpioHeader) == field_count * sizeof(u32));

bool parse_hex8(u8 const* text, u32& out)
{
    u32 value = 0;
    for (usize i = 0; i < 8; ++i) {
        u8 c = text[i];
        u32 digit = 0;
        if (c >= '0' && c <= '9')
            digit = c - '0';
        else if (c >= 'a' && c <= 'f')
            digit = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            digit = c - 'A' + 10;
        else
            return false;
        value = (value << 4) | digit;
    }
    out = value;
    return true;
}

Error refuse(char const* reason) { return Error::from_errno(EINVAL, reason); }

} // namespace

// Hard links: newc stores every name of a multiply-linked file as its own entry with the same (dev, ino);
// GNU cpio puts the data on the last one, other writers on the first. An open-addressing table maps the key
// to the inode made for the first name; later names become real hard links to it.
class FileSystem::CpioLoader {
public:
    explicit CpioLoader(FileSystem& file_system)
        : m_file_system(file_system)
    {
    }
    CpioLoader(CpioLoader const&) = delete;
    CpioLoader& operator=(CpioLoader const&) = delete;
    ~CpioLoader()
    {
        for (usize i = 0; i < m_capacity; ++i) {
            if (m_links[i].inode)
                m_links[i].inode->unref();
        }
        ktl::deallocate(m_links);
    }

    ErrorOr<void> load(u8 const* archive, usize size, usize* failed_offset);

private:
    struct Link {
        u32 ino;
        u32 devmajor;
        u32 devminor;
        Inode* inode; // holds a reference; null: free slot
    };

    ErrorOr<void> add(CpioHeader const& header, char const* name, u8 const* data);
    Inode* find_link(CpioHeader const& header) const;
    ErrorOr<void> remember_link(CpioHeader const& header, Inode& inode);
    static usize slot_of(CpioHeader const& header, usize capacity);

    FileSystem& m_file_system;
    Link* m_links { nullptr };
    usize m_capacity { 0 };
    usize m_count { 0 };
};

usize FileSystem::CpioLoader::slot_of(CpioHeader const& header, usize capacity)
{
    u64 key = (static_cast<u64>(header.ino) << 24) ^ (static_cast<u64>(header.devmajor) << 12) ^ header.devminor;
    key *= 0x9e3779b97f4a7c15ull;
    return static_cast<usize>(key >> 32) & (capacity - 1);
}

Inode* FileSystem::CpioLoader::find_link(CpioHeader const& header) const
{
    if (!m_capacity)
        return nullptr;
    for (usize i = slot_of(header, m_capacity);; i = (i + 1) & (m_capacity - 1)) {
        Link const& link = m_links[i];
        if (!link.inode)
            return nullptr;
        if (link.ino == header.ino && link.devmajor == header.devmajor && link.devminor == header.devminor)
            return link.inode;
    }
}

ErrorOr<void> FileSystem::CpioLoader::remember_link(CpioHeader const& header, Inode& inode)
{
    if ((m_count + 1) * 2 > m_capacity) {
        usize capacity = m_capacity ? m_capacity * 2 : 16;
        auto* grown = static_cast<Link*>(ktl::allocate(capacity * sizeof(Link)));
        if (!grown)
            return Error::from_errno(ENOMEM, "out of memory for the archive's hard links");
        __builtin_memset(grown, 0, capacity * sizeof(Link));
        for (usize i = 0; i < m_capacity; ++i) {
            Link const& old = m_links[i];
            if (!old.inode)
                continue;
            CpioHeader key {};
            key.ino = old.ino;
            key.devmajor = old.devmajor;
            key.devminor = old.devminor;
            usize j = slot_of(key, capacity);
            while (grown[j].inode)
                j = (j + 1) & (capacity - 1);
            grown[j] = old;
        }
        ktl::deallocate(m_links);
        m_links = grown;
        m_capacity = capacity;
    }
    usize i = slot_of(header, m_capacity);
    while (m_links[i].inode)
        i = (i + 1) & (m_capacity - 1);
    inode.ref();
    m_links[i] = { header.ino, header.devmajor, header.devminor, &inode };
    ++m_count;
    return {};
}

ErrorOr<void> FileSystem::CpioLoader::add(CpioHeader const& header, char const* name, u8 const* data)
{
    FileSystem& fs = m_file_system;
    u32 type = header.mode & s_ifmt;
    switch (type) {
    case s_ifreg:
    case s_ifdir:
    case s_iflnk: break;
    case s_ifchr:
    case s_ifblk: return refuse("archive holds a device node; the kernel provides /dev itself");
    case s_ififo: return refuse("archive holds a FIFO (named pipes are not supported)");
    case s_ifsock: return refuse("archive holds a socket");
    default: return refuse("archive entry has an unknown file type");
    }
    if (type != s_ifreg && type != s_iflnk && header.filesize != 0)
        return refuse("archive directory entry has data");

    // "./a", "/a" and "a" all name /a; "." (or nothing) is the root itself.
    while (name[0] == '/' || (name[0] == '.' && name[1] == '/'))
        name += name[0] == '/' ? 1 : 2;
    for (char const* component = name; *component;) {
        char const* end = component;
        while (*end && *end != '/')
            ++end;
        if (end - component == 2 && component[0] == '.' && component[1] == '.')
            return refuse("archive entry name contains \"..\"");
        component = *end ? end + 1 : end;
    }

    Lookup lookup;
    bool names_root = name[0] == '\0' || (name[0] == '.' && name[1] == '\0');
    if (!names_root) {
        auto walked = fs.walk(fs.m_root, name, WalkMode::Parent, lookup);
        if (walked.is_error()) {
            if (walked.error().code() != ENOENT)
                return walked.release_error();
            // A missing parent: create the intermediate directories, as cpio -d and the initramfs do.
            TRY(fs.ensure_parents(name));
            TRY(fs.walk(fs.m_root, name, WalkMode::Parent, lookup));
        }
        names_root = lookup.name_length == 0;
        if (lookup.is_dot_or_dotdot())
            return refuse("archive entry name ends in \".\"");
        if (lookup.trailing_slash && type != s_ifdir)
            return refuse("archive entry name of a non-directory ends in \"/\"");
    }
    Timespec mtime { header.mtime, 0 };
    if (names_root) {
        if (type != s_ifdir)
            return refuse("archive entry for the root is not a directory");
        fs.m_root->m_mode = s_ifdir | (header.mode & s_permissions);
        fs.m_root->m_mtime = mtime;
        return {};
    }

    if (Inode* existing = lookup.inode) {
        // A later entry wins, as in Linux's initramfs unpacker; an existing directory is merged.
        if (existing->is_directory() && type == s_ifdir) {
            existing->m_mode = s_ifdir | (header.mode & s_permissions);
            existing->m_mtime = mtime;
            return {};
        }
        if (existing->is_directory() && existing->entry_count() > 0)
            return refuse("archive entry replaces a non-empty directory");
        DirectoryEntry* entry = lookup.parent->find_entry(lookup.name, lookup.name_length);
        VERIFY(entry);
        fs.remove_child(*lookup.parent, *entry);
    }

    bool hard_linked = type == s_ifreg && header.nlink > 1;
    if (hard_linked) {
        if (Inode* first = find_link(header)) {
            TRY(fs.attach(lookup, *first));
            if (header.filesize > 0) {
                TRY(first->m_data.resize(0));
                if (TRY(first->m_data.write(0, data, header.filesize)) != header.filesize)
                    return Error::from_errno(ENOMEM, "out of memory for archive file data");
            }
            return {};
        }
    }

    InodeType inode_type = type == s_ifdir ? InodeType::Directory
        : type == s_iflnk                  ? InodeType::Symlink
                                           : InodeType::Regular;
    Inode* inode = TRY(fs.create_inode(inode_type, type | (header.mode & s_permissions)));
    auto filled = [&]() -> ErrorOr<void> {
        if (type == s_iflnk) {
            if (header.filesize == 0)
                return refuse("archive symlink has an empty target");
            if (header.filesize >= path_max)
                return refuse("archive symlink target is longer than PATH_MAX");
            for (u32 i = 0; i < header.filesize; ++i) {
                if (data[i] == 0)
                    return refuse("archive symlink target contains a NUL byte");
            }
            inode->m_symlink_target = static_cast<char*>(ktl::allocate(header.filesize + 1));
            if (!inode->m_symlink_target)
                return Error::from_errno(ENOMEM, "out of memory for a symlink");
            __builtin_memcpy(inode->m_symlink_target, data, header.filesize);
            inode->m_symlink_target[header.filesize] = '\0';
            inode->m_symlink_length = header.filesize;
        } else if (type == s_ifreg && header.filesize > 0) {
            if (TRY(inode->m_data.write(0, data, header.filesize)) != header.filesize)
                return Error::from_errno(ENOMEM, "out of memory for archive file data");
        }
        TRY(fs.attach(lookup, *inode));
        if (hard_linked)
            TRY(remember_link(header, *inode));
        return {};
    }();
    inode->m_atime = inode->m_mtime = mtime;
    inode->unref();
    return filled;
}

ErrorOr<void> FileSystem::CpioLoader::load(u8 const* archive, usize size, usize* failed_offset)
{
    if (!archive && size != 0)
        return Error::from_errno(EFAULT, "null archive");
    usize offset = 0;
    for (;;) {
        if (failed_offset)
            *failed_offset = offset;
        if (offset == size)
            return refuse("archive ends without a TRAILER!!! entry");
        if (size - offset < header_size)
            return refuse("archive is truncated inside an entry header");
        u8 const* head = archive + offset;
        if (__builtin_memcmp(head, "07070", 5) != 0 || (head[5] != '1' && head[5] != '2'))
            return refuse("not a cpio newc entry (magic 070701 or 070702 expected)");
        u32 fields[field_count];
        for (usize i = 0; i < field_count; ++i) {
            if (!parse_hex8(head + 6 + 8 * i, fields[i]))
                return refuse("cpio header field is not 8 hex digits");
        }
        CpioHeader header;
        __builtin_memcpy(&header, fields, sizeof(header));

        if (header.namesize == 0)
            return refuse("archive entry has an empty name");
        if (header.namesize > path_max)
            return Error::from_errno(ENAMETOOLONG, "archive entry name is longer than PATH_MAX");
        usize name_offset = offset + header_size; // cannot overflow: offset + header_size <= size
        usize name_end = 0;
        if (!ktl::checked_add<usize>(name_offset, header.namesize, &name_end) || name_end > size)
            return refuse("archive entry name runs past the end of the archive");
        auto const* name = reinterpret_cast<char const*>(archive + name_offset);
        if (name[header.namesize - 1] != '\0')
            return refuse("archive entry name is not NUL-terminated");
        if (__builtin_strlen(name) != header.namesize - 1)
            return refuse("archive entry name contains a NUL byte");
        if (header.namesize == sizeof(trailer_name) && __builtin_memcmp(name, trailer_name, sizeof(trailer_name)) == 0)
            return {};

        u64 data_offset = 0;
        u64 data_end = 0;
        if (!ktl::align_up(name_end, 4, &data_offset) || !ktl::checked_add<u64>(data_offset, header.filesize, &data_end)
            || data_end > size)
            return refuse("archive entry data runs past the end of the archive");
        if (header.filesize > max_file_size)
            return Error::from_errno(EFBIG, "archive file is larger than the largest file");
        TRY(add(header, name, archive + data_offset));
        u64 next = 0;
        if (!ktl::align_up(data_end, 4, &next) || next > size)
            next = size; // a missing final pad: the trailer check above reports the truncation
        offset = static_cast<usize>(next);
    }
}

ErrorOr<void> FileSystem::load_cpio(u8 const* archive, usize size, usize* failed_offset)
{
    CpioLoader loader(*this);
    return loader.load(archive, size, failed_offset);
}

} // namespace kernite::vfs
