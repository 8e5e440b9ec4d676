// Pipe ring buffer: see include/vfs/pipe.h.
#include <vfs/linux_types.h>
#include <vfs/pipe.h>

#include <ktl/allocator.h>

namespace kernite::vfs {

ErrorOr<Pipe*> Pipe::create(WakeHook hook)
{
    auto* buffer = static_cast<u8*>(ktl::allocate(linux_abi::pipe_capacity));
    if (!buffer)
        return Error::from_errno(ENOMEM, "out of memory for a pipe buffer");
    void* memory = ktl::allocate(sizeof(Pipe));
    if (!memory) {
        ktl::deallocate(buffer);
        return Error::from_errno(ENOMEM, "out of memory for a pipe");
    }
    return new (memory) Pipe(buffer, linux_abi::pipe_capacity, hook);
}

Pipe::Pipe(u8* buffer, usize capacity, WakeHook hook)
    : m_buffer(buffer)
    , m_capacity(capacity)
    , m_hook(hook)
{
}

Pipe::~Pipe() { ktl::deallocate(m_buffer); }

void Pipe::changed()
{
    ++m_generation;
    if (m_hook.notify)
        m_hook.notify(m_hook.context);
}

void Pipe::open_end(bool write_end)
{
    if (write_end)
        ++m_writers;
    else
        ++m_readers;
}

void Pipe::close_end(bool write_end)
{
    if (write_end) {
        VERIFY(m_writers > 0);
        --m_writers;
    } else {
        VERIFY(m_readers > 0);
        --m_readers;
    }
    changed();
}

ErrorOr<usize> Pipe::read(void* buffer, usize count)
{
    if (count == 0)
        return usize(0);
    if (m_used == 0) {
        if (m_writers == 0)
            return usize(0);
        return Error::from_errno(EAGAIN, "pipe is empty");
    }
    if (count > m_used)
        count = m_used;
    auto* out = static_cast<u8*>(buffer);
    // At most two pieces: up to the end of the ring, then from its start.
    usize first = m_capacity - m_head;
    if (first > count)
        first = count;
    __builtin_memcpy(out, m_buffer + m_head, first);
    __builtin_memcpy(out + first, m_buffer, count - first);
    m_head = (m_head + count) % m_capacity;
    m_used -= count;
    if (m_used == 0)
        m_head = 0; // keeps later writes contiguous; harmless either way
    changed();
    return count;
}

ErrorOr<usize> Pipe::write(void const* buffer, usize count)
{
    if (m_readers == 0)
        return Error::from_errno(EPIPE, "pipe has no reader");
    if (count == 0)
        return usize(0);
    usize free = space();
    if (count <= linux_abi::pipe_buf && free < count)
        return Error::from_errno(EAGAIN, "pipe has no room for an atomic write");
    if (free == 0)
        return Error::from_errno(EAGAIN, "pipe is full");
    if (count > free)
        count = free;
    auto const* in = static_cast<u8 const*>(buffer);
    usize tail = (m_head + m_used) % m_capacity;
    usize first = m_capacity - tail;
    if (first > count)
        first = count;
    __builtin_memcpy(m_buffer + tail, in, first);
    __builtin_memcpy(m_buffer, in + first, count - first);
    m_used += count;
    changed();
    return count;
}

} // namespace kernite::vfs
