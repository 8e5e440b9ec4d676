// Open file descriptions: I/O, seeking and directory reading. See include/vfs/open_file.h.
#include <vfs/open_file.h>
#include <vfs/pipe.h>

#include <ktl/allocator.h>

namespace kernite::vfs {

using namespace linux_abi;

namespace {

// F_SETFL's changeable bits (fs/fcntl.c, SETFL_MASK).
constexpr u32 setfl_mask = o_append | o_nonblock | o_async | o_direct | o_noatime;
// Bits that open(2) consumes and F_GETFL never reports.
constexpr u32 open_only_flags = o_accmode | o_creat | o_excl | o_noctty | o_trunc | o_cloexec;

} // namespace

OpenFile::OpenFile(Kind kind, Inode& inode, u32 flags)
    : m_kind(kind)
    , m_access(flags & o_accmode)
    , m_status(flags & ~open_only_flags)
    , m_inode(&inode)
{
    inode.ref();
    if (kind != Kind::Path) {
        m_can_read = m_access == o_rdonly || m_access == o_rdwr;
        m_can_write = m_access == o_wronly || m_access == o_rdwr;
    }
    if (kind == Kind::PipeRead || kind == Kind::PipeWrite)
        inode.m_pipe->open_end(kind == Kind::PipeWrite);
}

OpenFile::~OpenFile()
{
    if (is_pipe())
        m_inode->m_pipe->close_end(m_kind == Kind::PipeWrite);
    ktl::destroy(m_generated);
    m_inode->unref();
}

void OpenFile::unref()
{
    VERIFY(m_references > 0);
    if (--m_references > 0)
        return;
    this->~OpenFile();
    ktl::deallocate(this);
}

u32 OpenFile::status_flags() const { return m_access | m_status | o_largefile; }

void OpenFile::set_status_flags(u32 flags) { m_status = (m_status & ~setfl_mask) | (flags & setfl_mask); }

ErrorOr<usize> OpenFile::read_at(void* buffer, usize count, u64 offset)
{
    switch (m_kind) {
    case Kind::Regular: return m_inode->m_data.read(offset, buffer, count);
    case Kind::Generated: return m_generated->read(offset, buffer, count);
    case Kind::Device: {
        DeviceOps const* ops = m_inode->device_ops();
        if (!ops || !ops->read)
            return Error::from_errno(EINVAL, "device cannot be read");
        usize done = TRY(ops->read(m_inode->device_context(), buffer, count, offset));
        VERIFY(done <= count);
        return done;
    }
    case Kind::Directory: return Error::from_errno(EISDIR, "is a directory");
    case Kind::PipeRead:
    case Kind::PipeWrite: return Error::from_errno(ESPIPE, "pipes have no offsets");
    case Kind::Path: break;
    }
    return Error::from_errno(EBADF, "not open for reading");
}

ErrorOr<usize> OpenFile::write_at(void const* buffer, usize count, u64 offset, u64* end_offset)
{
    switch (m_kind) {
    case Kind::Regular: {
        if (m_status & o_append)
            offset = m_inode->m_data.size();
        usize done = TRY(m_inode->m_data.write(offset, buffer, count));
        if (done > 0)
            m_inode->touch_modified();
        *end_offset = offset + done;
        return done;
    }
    case Kind::Device: {
        DeviceOps const* ops = m_inode->device_ops();
        if (!ops || !ops->write)
            return Error::from_errno(EINVAL, "device cannot be written");
        usize done = TRY(ops->write(m_inode->device_context(), buffer, count, offset));
        VERIFY(done <= count);
        *end_offset = offset + done;
        return done;
    }
    case Kind::Directory: return Error::from_errno(EISDIR, "is a directory");
    case Kind::PipeRead:
    case Kind::PipeWrite: return Error::from_errno(ESPIPE, "pipes have no offsets");
    case Kind::Generated:
    case Kind::Path: break;
    }
    return Error::from_errno(EBADF, "not open for writing");
}

ErrorOr<usize> OpenFile::read(void* buffer, usize count)
{
    if (!m_can_read)
        return Error::from_errno(EBADF, "not open for reading");
    if (count > max_rw_count)
        count = max_rw_count;
    if (m_kind == Kind::PipeRead)
        return m_inode->m_pipe->read(buffer, count);
    usize done = TRY(read_at(buffer, count, static_cast<u64>(m_offset)));
    if (m_kind != Kind::Device) // character devices keep position 0, as Linux's memory devices do
        m_offset += static_cast<i64>(done);
    return done;
}

ErrorOr<usize> OpenFile::write(void const* buffer, usize count)
{
    if (!m_can_write)
        return Error::from_errno(EBADF, "not open for writing");
    if (count > max_rw_count)
        count = max_rw_count;
    if (m_kind == Kind::PipeWrite)
        return m_inode->m_pipe->write(buffer, count);
    u64 end = 0;
    usize done = TRY(write_at(buffer, count, static_cast<u64>(m_offset), &end));
    if (m_kind != Kind::Device)
        m_offset = static_cast<i64>(end);
    return done;
}

ErrorOr<usize> OpenFile::pread(void* buffer, usize count, i64 offset)
{
    if (!m_can_read)
        return Error::from_errno(EBADF, "not open for reading");
    if (offset < 0)
        return Error::from_errno(EINVAL, "negative offset");
    if (count > max_rw_count)
        count = max_rw_count;
    return read_at(buffer, count, static_cast<u64>(offset));
}

ErrorOr<usize> OpenFile::pwrite(void const* buffer, usize count, i64 offset)
{
    if (!m_can_write)
        return Error::from_errno(EBADF, "not open for writing");
    if (offset < 0)
        return Error::from_errno(EINVAL, "negative offset");
    if (count > max_rw_count)
        count = max_rw_count;
    u64 end = 0;
    return write_at(buffer, count, static_cast<u64>(offset), &end);
}

ErrorOr<i64> OpenFile::lseek(i64 offset, int whence)
{
    switch (m_kind) {
    case Kind::Path: return Error::from_errno(EBADF, "O_PATH file");
    case Kind::PipeRead:
    case Kind::PipeWrite: return Error::from_errno(ESPIPE, "pipes cannot seek");
    case Kind::Device: return i64(0); // Linux's null_lseek/zero: the position stays 0
    case Kind::Directory: {
        // dcache_dir_lseek: SEEK_SET and SEEK_CUR only; the offset is a cookie.
        i64 target = 0;
        if (whence == seek_set)
            target = offset;
        else if (whence != seek_cur || !ktl::checked_add(m_offset, offset, &target))
            return Error::from_errno(EINVAL, "invalid directory seek");
        if (target < 0)
            return Error::from_errno(EINVAL, "negative offset");
        m_offset = target;
        return target;
    }
    case Kind::Regular:
    case Kind::Generated: break;
    }
    FileData const& data = m_kind == Kind::Generated ? *m_generated : m_inode->m_data;
    i64 size = static_cast<i64>(data.size());
    i64 target = 0;
    switch (whence) {
    case seek_set: target = offset; break;
    case seek_cur:
        if (!ktl::checked_add(m_offset, offset, &target))
            return Error::from_errno(EINVAL, "offset overflows");
        break;
    case seek_end:
        if (!ktl::checked_add(size, offset, &target))
            return Error::from_errno(EINVAL, "offset overflows");
        break;
    case seek_data:
    case seek_hole:
        // Unsigned comparison as Linux's generic_file_llseek_size: a negative offset is ENXIO too.
        if (static_cast<u64>(offset) >= static_cast<u64>(size))
            return Error::from_errno(ENXIO, "offset at or past the end of the file");
        target = static_cast<i64>(
            whence == seek_data ? data.next_data(static_cast<u64>(offset)) : data.next_hole(static_cast<u64>(offset)));
        if (whence == seek_data && target >= size)
            return Error::from_errno(ENXIO, "no data past the offset");
        break;
    default: return Error::from_errno(EINVAL, "invalid whence");
    }
    if (target < 0)
        return Error::from_errno(EINVAL, "negative offset");
    m_offset = target;
    return target;
}

ErrorOr<void> OpenFile::truncate(i64 length)
{
    if (length < 0)
        return Error::from_errno(EINVAL, "negative length");
    if (m_kind == Kind::Path)
        return Error::from_errno(EBADF, "O_PATH file");
    if (m_kind != Kind::Regular || !m_can_write)
        return Error::from_errno(EINVAL, "not a regular file open for writing");
    TRY(m_inode->m_data.resize(static_cast<u64>(length)));
    m_inode->touch_modified();
    return {};
}

ErrorOr<usize> OpenFile::getdents64(void* buffer, usize size)
{
    if (m_kind == Kind::Path)
        return Error::from_errno(EBADF, "O_PATH file");
    if (m_kind != Kind::Directory)
        return Error::from_errno(ENOTDIR, "not a directory");
    Inode& directory = *m_inode;
    if (directory.is_removed())
        return Error::from_errno(ENOENT, "directory has been removed");

    auto* out = static_cast<u8*>(buffer);
    usize used = 0;
    bool full = false;
    // One linux_dirent64 record; false (and `full`) when it does not fit.
    auto emit = [&](u64 ino, u64 next, u8 type, char const* name, usize length) {
        usize record = dirent64_record_length(length);
        if (record > size - used) {
            full = true;
            return false;
        }
        u8* at = out + used;
        __builtin_memset(at, 0, record);
        i64 next_offset = static_cast<i64>(next);
        u16 record_length = static_cast<u16>(record);
        __builtin_memcpy(at + dirent64_ino_offset, &ino, sizeof(ino));
        __builtin_memcpy(at + dirent64_off_offset, &next_offset, sizeof(next_offset));
        __builtin_memcpy(at + dirent64_reclen_offset, &record_length, sizeof(record_length));
        at[dirent64_type_offset] = type;
        __builtin_memcpy(at + dirent64_name_offset, name, length);
        used += record;
        return true;
    };

    u64 position = static_cast<u64>(m_offset);
    if (position == 0 && emit(directory.ino(), 1, dt_dir, ".", 1))
        position = 1;
    if (position == 1) {
        Inode const* parent = directory.parent() ? directory.parent() : &directory;
        if (emit(parent->ino(), 2, dt_dir, "..", 2))
            position = 2;
    }
    if (position >= 2) {
        for (usize i = directory.first_entry_at(position); i < directory.m_entry_slots; ++i) {
            DirectoryEntry const& entry = directory.m_entries[i];
            if (!entry.inode)
                continue;
            if (!emit(entry.inode->ino(), entry.cookie + 1, entry.inode->dirent_type(), entry.name, entry.length))
                break;
            position = entry.cookie + 1;
        }
    }
    if (used == 0 && full)
        return Error::from_errno(EINVAL, "buffer too small for a directory entry");
    m_offset = static_cast<i64>(position);
    return used;
}

bool OpenFile::readable() const
{
    switch (m_kind) {
    // Linux's pipe_poll (fs/pipe.c): EPOLLIN only while bytes are buffered. A drained pipe whose writers are
    // gone is hung_up() (POLLHUP alone); select(2) counts that as readable, read(2) returns 0 at once.
    case Kind::PipeRead: return m_inode->m_pipe->buffered() > 0;
    case Kind::PipeWrite: return false;
    default: return true;
    }
}

bool OpenFile::writable() const
{
    switch (m_kind) {
    case Kind::PipeWrite: return m_inode->m_pipe->readers() == 0 || m_inode->m_pipe->space() >= pipe_buf;
    case Kind::PipeRead: return false;
    default: return true;
    }
}

bool OpenFile::hung_up() const
{
    switch (m_kind) {
    case Kind::PipeRead: return m_inode->m_pipe->writers() == 0;
    case Kind::PipeWrite: return m_inode->m_pipe->readers() == 0;
    default: return false;
    }
}

u64 OpenFile::generation() const { return is_pipe() ? m_inode->m_pipe->generation() : 0; }

usize OpenFile::bytes_available() const
{
    u64 size = 0;
    switch (m_kind) {
    case Kind::PipeRead: return m_inode->m_pipe->buffered();
    case Kind::Regular: size = m_inode->m_data.size(); break;
    case Kind::Generated: size = m_generated->size(); break;
    default: return 0;
    }
    u64 offset = static_cast<u64>(m_offset);
    return offset < size ? static_cast<usize>(size - offset) : 0;
}

} // namespace kernite::vfs
