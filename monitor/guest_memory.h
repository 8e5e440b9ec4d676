// Guest-physical memory as the monitor sees it (STYLE.md habits 7 and 8, after Solo5's hvt).
//
// A GuestPtr<T> is only a guest-physical address: it has no dereference operator, so host code cannot read
// guest memory by accident. All access goes through GuestMemory, which range- and overflow-checks every
// address and copies: requests are copied INTO host memory before they are validated, so the guest cannot
// change them between check and use.
#pragma once

#include <ktl/types.h>

#include <cstring>
#include <optional>
#include <type_traits>

namespace kernite::monitor {

template<typename T>
class GuestPtr {
public:
    explicit constexpr GuestPtr(u64 gpa)
        : m_gpa(gpa)
    {
    }
    constexpr u64 gpa() const { return m_gpa; }

private:
    u64 m_gpa;
};

// Owns an anonymous host mapping that backs guest RAM. Never PROT_EXEC on the host; MAP_NORESERVE so that
// only pages the guest touches cost anything (the mapping is zero-filled by the kernel: no memset).
class GuestMemory {
public:
    static std::optional<GuestMemory> allocate(u64 size);
    GuestMemory(GuestMemory&& other) noexcept;
    GuestMemory& operator=(GuestMemory&&) = delete;
    GuestMemory(GuestMemory const&) = delete;
    ~GuestMemory();

    u64 size() const { return m_size; }
    // The host address of the mapping, for KVM_SET_USER_MEMORY_REGION only.
    void* host_base_for_kvm() const { return m_base; }

    // True when [gpa, gpa + length) lies inside guest memory, without overflow. A zero length is inside when
    // gpa <= size.
    bool contains(u64 gpa, u64 length) const;

    [[nodiscard]] bool read_bytes(u64 gpa, void* out, u64 length) const;
    [[nodiscard]] bool write_bytes(u64 gpa, void const* data, u64 length);

    template<typename T>
    std::optional<T> read(GuestPtr<T> pointer) const
    {
        static_assert(std::is_trivially_copyable_v<T>);
        T value;
        if (!read_bytes(pointer.gpa(), &value, sizeof(T)))
            return std::nullopt;
        return value;
    }

    template<typename T>
    [[nodiscard]] bool write(GuestPtr<T> pointer, T const& value)
    {
        static_assert(std::is_trivially_copyable_v<T>);
        return write_bytes(pointer.gpa(), &value, sizeof(T));
    }

private:
    GuestMemory(u8* base, u64 size)
        : m_base(base)
        , m_size(size)
    {
    }
    u8* m_base;
    u64 m_size;
};

} // namespace kernite::monitor
