// Inode lifetime, stat, and directory entry storage: see include/vfs/inode.h.
#include <vfs/filesystem.h>
#include <vfs/inode.h>
#include <vfs/pipe.h>

#include <ktl/allocator.h>

namespace kernite::vfs {

using namespace linux_abi;

namespace {

// st_dev of every inode in the tree, and of pipes (Linux's pipefs is a separate anonymous filesystem).
constexpr u64 tree_device = 0x1;
constexpr u64 pipe_device = 0xc;
constexpr u32 directory_size = 4096; // what ls -l shows for a directory; tmpfs shows other small numbers

// FNV-1a: a cheap filter so that a lookup compares names only when the hashes agree.
u32 hash_name(char const* name, usize length)
{
    u32 hash = 2166136261u;
    for (usize i = 0; i < length; ++i) {
        hash ^= static_cast<u8>(name[i]);
        hash *= 16777619u;
    }
    return hash;
}

LinuxTimespec to_linux(Timespec time) { return { time.seconds, time.nanoseconds }; }

LinuxStatxTimestamp to_statx(Timespec time) { return { time.seconds, static_cast<u32>(time.nanoseconds), 0 }; }

} // namespace

Inode::Inode(FileSystem& file_system, InodeType type, u64 ino, u32 mode)
    : m_file_system(file_system)
    , m_ino(ino)
    , m_mode(mode)
    , m_type(type)
{
    m_atime = m_mtime = m_ctime = now();
}

Inode::~Inode()
{
    VERIFY(m_references == 0);
    // FileSystem::destroy empties directories bottom-up; this loop only runs for a directory freed with
    // entries, which the tree operations never do.
    for (usize i = 0; i < m_entry_slots; ++i) {
        Inode* child = m_entries[i].inode;
        if (!child)
            continue;
        if (child->m_parent == this) {
            // The child's ".." reference is the one being torn down with us: drop it without unref().
            child->m_parent = nullptr;
            child->m_removed = true;
        }
        remove_entry(m_entries[i]);
    }
    ktl::deallocate(m_entries);
    if (m_parent)
        m_parent->unref();
    ktl::deallocate(m_symlink_target);
    if (m_pipe) {
        m_pipe->~Pipe();
        ktl::deallocate(m_pipe);
    }
}

void Inode::unref()
{
    VERIFY(m_references > 0);
    if (--m_references > 0)
        return;
    this->~Inode();
    ktl::deallocate(this);
}

Timespec Inode::now() const { return m_file_system.now(); }

void Inode::touch_modified() { m_mtime = m_ctime = now(); }

void Inode::touch_changed() { m_ctime = now(); }

u64 Inode::size() const
{
    switch (m_type) {
    case InodeType::Regular: return m_data.size();
    case InodeType::Directory: return directory_size;
    case InodeType::Symlink: return m_symlink_length;
    default: return 0;
    }
}

u8 Inode::dirent_type() const
{
    switch (m_type) {
    case InodeType::Regular: return dt_reg;
    case InodeType::Directory: return dt_dir;
    case InodeType::Symlink: return dt_lnk;
    case InodeType::CharDevice: return dt_chr;
    case InodeType::Fifo: return dt_fifo;
    }
    return dt_unknown;
}

LinuxStat Inode::stat() const
{
    LinuxStat st {};
    st.st_dev = is_fifo() ? pipe_device : tree_device;
    st.st_ino = m_ino;
    st.st_nlink = m_nlink;
    st.st_mode = m_mode;
    st.st_rdev = m_rdev;
    st.st_size = static_cast<i64>(size());
    st.st_blksize = file_page_size;
    st.st_blocks = static_cast<i64>(m_data.allocated_bytes() / 512);
    st.st_atim = to_linux(m_atime);
    st.st_mtim = to_linux(m_mtime);
    st.st_ctim = to_linux(m_ctime);
    return st;
}

ErrorOr<LinuxStatx> Inode::statx(u32 mask) const
{
    if (mask & statx_reserved)
        return Error::from_errno(EINVAL, "statx mask has the reserved bit");
    LinuxStat st = stat();
    LinuxStatx stx {};
    stx.stx_mask = statx_basic_stats; // everything basic is always known, whatever was asked
    stx.stx_blksize = static_cast<u32>(st.st_blksize);
    stx.stx_nlink = m_nlink;
    stx.stx_mode = static_cast<u16>(m_mode);
    stx.stx_ino = m_ino;
    stx.stx_size = static_cast<u64>(st.st_size);
    stx.stx_blocks = static_cast<u64>(st.st_blocks);
    stx.stx_atime = to_statx(m_atime);
    stx.stx_mtime = to_statx(m_mtime);
    stx.stx_ctime = to_statx(m_ctime);
    // Linux's dev_t encoding: major in bits 8..19 (and 32..), minor in bits 0..7 and 20..31.
    stx.stx_rdev_major = static_cast<u32>(((m_rdev >> 8) & 0xfff) | ((m_rdev >> 32) & ~0xfffu));
    stx.stx_rdev_minor = static_cast<u32>((m_rdev & 0xff) | ((m_rdev >> 12) & ~0xffu));
    stx.stx_dev_major = 0;
    stx.stx_dev_minor = static_cast<u32>(st.st_dev);
    return stx;
}

DirectoryEntry* Inode::find_entry(char const* name, usize length) const
{
    if (!is_directory())
        return nullptr;
    u32 hash = hash_name(name, length);
    for (usize i = 0; i < m_entry_slots; ++i) {
        DirectoryEntry& entry = m_entries[i];
        if (entry.inode && entry.hash == hash && entry.length == length
            && __builtin_memcmp(entry.name, name, length) == 0)
            return &entry;
    }
    return nullptr;
}

Inode* Inode::lookup(char const* name, usize length) const
{
    DirectoryEntry* entry = find_entry(name, length);
    return entry ? entry->inode : nullptr;
}

ErrorOr<void> Inode::add_entry(char const* name, usize length, Inode& inode)
{
    VERIFY(is_directory() && length > 0 && length <= name_max);
    if (m_entry_slots == m_entry_capacity) {
        // Tombstones first: compacting is cheaper than growing and keeps the array small.
        if (m_live_entries < m_entry_slots)
            compact_entries();
    }
    if (m_entry_slots == m_entry_capacity) {
        usize capacity = m_entry_capacity ? m_entry_capacity * 2 : 8;
        auto* grown = static_cast<DirectoryEntry*>(ktl::allocate(capacity * sizeof(DirectoryEntry)));
        if (!grown)
            return Error::from_errno(ENOMEM, "out of memory for a directory");
        if (m_entry_slots)
            __builtin_memcpy(grown, m_entries, m_entry_slots * sizeof(DirectoryEntry));
        ktl::deallocate(m_entries);
        m_entries = grown;
        m_entry_capacity = capacity;
    }
    auto* copy = static_cast<char*>(ktl::allocate(length));
    if (!copy)
        return Error::from_errno(ENOMEM, "out of memory for a file name");
    __builtin_memcpy(copy, name, length);
    inode.ref();
    m_entries[m_entry_slots++] = { m_next_cookie++, &inode, copy, hash_name(name, length), static_cast<u16>(length) };
    ++m_live_entries;
    return {};
}

void Inode::remove_entry(DirectoryEntry& entry)
{
    VERIFY(entry.inode);
    Inode* inode = entry.inode;
    entry.inode = nullptr; // a tombstone: its slot and cookie stay until compaction, so offsets keep order
    ktl::deallocate(entry.name);
    entry.name = nullptr;
    --m_live_entries;
    // Trailing tombstones go at once (their cookies are never reused: m_next_cookie only grows).
    while (m_entry_slots > 0 && !m_entries[m_entry_slots - 1].inode)
        --m_entry_slots;
    inode->unref();
}

void Inode::compact_entries()
{
    usize kept = 0;
    for (usize i = 0; i < m_entry_slots; ++i) {
        if (m_entries[i].inode)
            m_entries[kept++] = m_entries[i];
    }
    m_entry_slots = kept;
}

usize Inode::first_entry_at(u64 cookie) const
{
    // Cookies increase along the array (tombstones included): binary search.
    usize low = 0;
    usize high = m_entry_slots;
    while (low < high) {
        usize middle = low + (high - low) / 2;
        if (m_entries[middle].cookie < cookie)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

} // namespace kernite::vfs
