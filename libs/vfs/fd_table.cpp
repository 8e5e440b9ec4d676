// File descriptor table: see include/vfs/fd_table.h. Error values follow dup(2), fcntl(2) and close(2).
#include <vfs/fd_table.h>

#include <ktl/allocator.h>

namespace kernite::vfs {

ErrorOr<FdTable*> FdTable::create()
{
    void* memory = ktl::allocate(sizeof(FdTable));
    if (!memory)
        return Error::from_errno(ENOMEM, "out of memory for an fd table");
    return new (memory) FdTable();
}

void FdTable::destroy(FdTable* table)
{
    if (!table)
        return;
    table->close_all();
    table->~FdTable();
    ktl::deallocate(table);
}

static bool in_range(int fd) { return fd >= 0 && fd < FdTable::max_fds; }

ErrorOr<int> FdTable::install(OpenFile& file, bool cloexec, int min_fd)
{
    if (min_fd < 0 || min_fd >= max_fds)
        return Error::from_errno(EINVAL, "minimum fd out of range");
    for (int fd = min_fd; fd < max_fds; ++fd) {
        if (!m_slots[fd].file) {
            file.ref();
            m_slots[fd] = { &file, cloexec };
            ++m_open_count;
            return fd;
        }
    }
    return Error::from_errno(EMFILE, "no free file descriptor");
}

ErrorOr<OpenFile*> FdTable::get(int fd) const
{
    if (!in_range(fd) || !m_slots[fd].file)
        return Error::from_errno(EBADF, "fd is not open");
    return m_slots[fd].file;
}

ErrorOr<void> FdTable::close(int fd)
{
    OpenFile* file = TRY(get(fd));
    m_slots[fd] = { nullptr, false };
    --m_open_count;
    file->unref();
    return {};
}

void FdTable::replace(int fd, OpenFile& file, bool cloexec)
{
    // Take the new reference before dropping the old one: dup2(fd, other) where both share a description.
    file.ref();
    OpenFile* previous = m_slots[fd].file;
    m_slots[fd] = { &file, cloexec };
    if (previous)
        previous->unref();
    else
        ++m_open_count;
}

ErrorOr<int> FdTable::dup(int fd)
{
    OpenFile* file = TRY(get(fd));
    return install(*file, false);
}

ErrorOr<int> FdTable::dup2(int old_fd, int new_fd)
{
    OpenFile* file = TRY(get(old_fd));
    if (!in_range(new_fd))
        return Error::from_errno(EBADF, "new fd out of range");
    if (old_fd == new_fd)
        return new_fd;
    replace(new_fd, *file, false);
    return new_fd;
}

ErrorOr<int> FdTable::dup3(int old_fd, int new_fd, u32 flags)
{
    if (flags & ~linux_abi::o_cloexec)
        return Error::from_errno(EINVAL, "dup3 flags other than O_CLOEXEC");
    if (old_fd == new_fd)
        return Error::from_errno(EINVAL, "dup3 onto the same fd");
    OpenFile* file = TRY(get(old_fd));
    if (!in_range(new_fd))
        return Error::from_errno(EBADF, "new fd out of range");
    replace(new_fd, *file, flags & linux_abi::o_cloexec);
    return new_fd;
}

ErrorOr<int> FdTable::dup_min(int fd, int min_fd, bool cloexec)
{
    OpenFile* file = TRY(get(fd));
    return install(*file, cloexec, min_fd);
}

ErrorOr<bool> FdTable::cloexec(int fd) const
{
    TRY(get(fd));
    return m_slots[fd].cloexec;
}

ErrorOr<void> FdTable::set_cloexec(int fd, bool cloexec)
{
    TRY(get(fd));
    m_slots[fd].cloexec = cloexec;
    return {};
}

void FdTable::close_all()
{
    for (int fd = 0; fd < max_fds; ++fd) {
        if (m_slots[fd].file)
            (void)close(fd);
    }
}

void FdTable::close_on_exec()
{
    for (int fd = 0; fd < max_fds; ++fd) {
        if (m_slots[fd].file && m_slots[fd].cloexec)
            (void)close(fd);
    }
}

} // namespace kernite::vfs
