#include "guest_memory.h"

#include <sys/mman.h>

namespace kernite::monitor {

std::optional<GuestMemory> GuestMemory::allocate(u64 size)
{
    if (size == 0)
        return std::nullopt;
    void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return std::nullopt;
    return GuestMemory(static_cast<u8*>(base), size);
}

GuestMemory::GuestMemory(GuestMemory&& other) noexcept
    : m_base(other.m_base)
    , m_size(other.m_size)
{
    other.m_base = nullptr;
    other.m_size = 0;
}

GuestMemory::~GuestMemory()
{
    if (m_base)
        munmap(m_base, m_size);
}

bool GuestMemory::contains(u64 gpa, u64 length) const
{
    u64 end = 0;
    return ktl::checked_add(gpa, length, &end) && end <= m_size;
}

bool GuestMemory::read_bytes(u64 gpa, void* out, u64 length) const
{
    if (!contains(gpa, length))
        return false;
    if (length)
        std::memcpy(out, m_base + gpa, length);
    return true;
}

bool GuestMemory::write_bytes(u64 gpa, void const* data, u64 length)
{
    if (!contains(gpa, length))
        return false;
    if (length)
        std::memcpy(m_base + gpa, data, length);
    return true;
}

} // namespace kernite::monitor
