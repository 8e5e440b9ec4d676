// Split virtqueue, driver side (virtio 1.2 §2.7); the rules are in split_queue.h.
#include <virtio/split_queue.h>

namespace kernite::virtio {

namespace {

constexpr usize align_up(usize value, usize alignment) { return (value + alignment - 1) & ~(alignment - 1); }

// §2.7.13.3.1 / §2.7.14: the driver's ring writes must be visible before the index that publishes them, and
// the device's used element must be read after the used index that published it. On x86 (TSO) both are
// compiler barriers; written as fences so the code is right on any architecture the host tests run on.
inline void publish_barrier() { __atomic_thread_fence(__ATOMIC_RELEASE); }
inline void consume_barrier() { __atomic_thread_fence(__ATOMIC_ACQUIRE); }

} // namespace

ErrorOr<QueueLayout> QueueLayout::for_size(u16 size)
{
    if (size == 0 || size > max_queue_size || (size & (size - 1)) != 0)
        return Error::from_errno(EINVAL, "virtqueue size must be a power of two no larger than the driver's maximum");
    QueueLayout layout {};
    layout.size = size;
    layout.descriptor_offset = 0;
    // §2.7 table "Virtqueue Part Alignment": descriptor table 16, available ring 2, used ring 4.
    layout.available_offset = align_up(layout.descriptor_offset + 16u * size, 2);
    usize available_bytes = 6 + 2u * size; // flags, idx, ring[N], used_event
    layout.used_offset = align_up(layout.available_offset + available_bytes, 4);
    usize used_bytes = 6 + 8u * size; // flags, idx, ring[N], avail_event
    layout.total_bytes = layout.used_offset + used_bytes;
    return layout;
}

Error SplitQueue::fail(char const* reason)
{
    m_broken = true;
    return Error::from_errno(EIO, reason);
}

u16 volatile* SplitQueue::available_flags() const
{
    return reinterpret_cast<u16 volatile*>(m_memory + m_layout.available_offset);
}
u16 volatile* SplitQueue::available_index() const
{
    return reinterpret_cast<u16 volatile*>(m_memory + m_layout.available_offset + 2);
}
u16 volatile* SplitQueue::available_slot(u16 slot) const
{
    return reinterpret_cast<u16 volatile*>(m_memory + m_layout.available_offset + 4 + 2u * slot);
}
u16 const volatile* SplitQueue::used_flags() const
{
    return reinterpret_cast<u16 const volatile*>(m_memory + m_layout.used_offset);
}
u16 const volatile* SplitQueue::used_index() const
{
    return reinterpret_cast<u16 const volatile*>(m_memory + m_layout.used_offset + 2);
}
UsedElement const volatile* SplitQueue::used_slot(u16 slot) const
{
    return reinterpret_cast<UsedElement const volatile*>(m_memory + m_layout.used_offset + 4 + 8u * slot);
}

ErrorOr<void> SplitQueue::initialize(QueueLayout const& layout, void* memory, u64 memory_phys, usize memory_bytes)
{
    if (m_initialized)
        return Error::from_errno(EBUSY, "virtqueue already initialized");
    auto checked = TRY(QueueLayout::for_size(layout.size));
    if (checked.total_bytes != layout.total_bytes || checked.used_offset != layout.used_offset
        || checked.available_offset != layout.available_offset)
        return Error::from_errno(EINVAL, "virtqueue layout does not match its size");
    if (!memory || memory_bytes < layout.total_bytes)
        return Error::from_errno(EINVAL, "virtqueue memory too small");
    if (reinterpret_cast<uptr>(memory) % 16 != 0 || memory_phys % 16 != 0)
        return Error::from_errno(EINVAL, "virtqueue memory not 16-byte aligned (§2.7 descriptor table alignment)");
    if (memory_phys + layout.total_bytes < memory_phys)
        return Error::from_errno(EINVAL, "virtqueue memory wraps the address space");
    m_layout = layout;
    m_memory = static_cast<u8*>(memory);
    m_memory_phys = memory_phys;
    for (usize i = 0; i < layout.total_bytes; ++i)
        m_memory[i] = 0;
    for (u16 i = 0; i < layout.size; ++i) {
        m_next[i] = static_cast<u16>(i + 1);
        m_chain_length[i] = 0;
        m_writable_bytes[i] = 0;
        m_token[i] = 0;
    }
    m_free_head = 0;
    m_free_count = layout.size;
    m_in_flight_count = 0;
    m_available_index = 0;
    m_last_used = 0;
    // No interrupts wanted: the driver polls (VIRTQ_AVAIL_F_NO_INTERRUPT, §2.7.7; a hint the device may ignore).
    *available_flags() = 1;
    m_initialized = true;
    return {};
}

ErrorOr<void> SplitQueue::add(Buffer const* buffers, usize count, u64 token)
{
    if (!m_initialized)
        return Error::from_errno(EINVAL, "virtqueue not initialized");
    if (m_broken)
        return Error::from_errno(EIO, "virtqueue broken by a device error");
    if (!buffers || count == 0)
        return Error::from_errno(EINVAL, "empty virtqueue chain");
    if (count > m_free_count)
        return Error::from_errno(ENOSPC, "not enough free virtqueue descriptors");
    u64 writable = 0;
    bool seen_writable = false;
    for (usize i = 0; i < count; ++i) {
        auto const& buffer = buffers[i];
        if (buffer.length == 0)
            return Error::from_errno(EINVAL, "zero-length virtqueue buffer");
        if (buffer.address + buffer.length < buffer.address)
            return Error::from_errno(EINVAL, "virtqueue buffer wraps the address space");
        // §2.7.4.2: "The driver MUST place any device-writable descriptor elements after any device-readable".
        if (seen_writable && !buffer.device_writable)
            return Error::from_errno(EINVAL, "device-readable buffer after a device-writable one");
        if (buffer.device_writable) {
            seen_writable = true;
            writable += buffer.length;
        }
    }
    if (writable > 0xffffffffu)
        return Error::from_errno(EINVAL, "virtqueue chain's writable length does not fit the used length field");

    auto* table = reinterpret_cast<Descriptor volatile*>(m_memory + m_layout.descriptor_offset);
    u16 const head = m_free_head;
    u16 index = head;
    for (usize i = 0; i < count; ++i) {
        auto const& buffer = buffers[i];
        bool const last = i + 1 == count;
        table[index].address = buffer.address;
        table[index].length = buffer.length;
        table[index].flags = static_cast<u16>(
            (buffer.device_writable ? descriptor_flag_write : 0) | (last ? 0 : descriptor_flag_next));
        table[index].next = last ? 0 : m_next[index];
        if (!last)
            index = m_next[index];
    }
    m_free_head = m_next[index];
    m_free_count = static_cast<u16>(m_free_count - count);
    m_chain_length[head] = static_cast<u16>(count);
    m_writable_bytes[head] = static_cast<u32>(writable);
    m_token[head] = token;
    ++m_in_flight_count;

    // §2.7.13: the ring slot, then (after a barrier) the index that makes it visible.
    *available_slot(static_cast<u16>(m_available_index & (m_layout.size - 1))) = head;
    publish_barrier();
    ++m_available_index;
    *available_index() = m_available_index;
    publish_barrier();
    return {};
}

bool SplitQueue::device_wants_notification() const { return m_initialized && !(*used_flags() & used_flag_no_notify); }

ErrorOr<bool> SplitQueue::poll(Completion& completion)
{
    if (!m_initialized)
        return Error::from_errno(EINVAL, "virtqueue not initialized");
    if (m_broken)
        return Error::from_errno(EIO, "virtqueue broken by a device error");
    // Read once: the device may change it at any time; everything below uses this copy.
    u16 const published = *used_index();
    u16 const pending = static_cast<u16>(published - m_last_used);
    if (pending == 0)
        return false;
    if (pending > m_in_flight_count)
        return fail("virtio device moved the used index past the chains in flight");
    consume_barrier();
    auto const* slot = used_slot(static_cast<u16>(m_last_used & (m_layout.size - 1)));
    u32 const id = slot->id;
    u32 const length = slot->length;
    if (id >= m_layout.size)
        return fail("virtio device returned a descriptor id outside the queue");
    if (m_chain_length[id] == 0)
        return fail("virtio device returned a descriptor that is not the head of a chain in flight");
    if (length > m_writable_bytes[id])
        return fail("virtio device reported more bytes written than the chain can hold");

    // Back to the free list, walking our own links (the table in shared memory may have been overwritten).
    u16 const head = static_cast<u16>(id);
    u16 tail = head;
    for (u16 i = 1; i < m_chain_length[head]; ++i)
        tail = m_next[tail];
    m_next[tail] = m_free_head;
    m_free_head = head;
    m_free_count = static_cast<u16>(m_free_count + m_chain_length[head]);
    m_chain_length[head] = 0;
    m_writable_bytes[head] = 0;
    --m_in_flight_count;
    ++m_last_used;

    completion.token = m_token[head];
    completion.written = length;
    m_token[head] = 0;
    return true;
}

} // namespace kernite::virtio
