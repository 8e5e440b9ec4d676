// Every access to program memory goes through here (issue 3 item 4; DESIGN.md "FORTIFY / usercopy"). A program
// address is a plain u64 that the kernel never dereferences directly; UserPtr<T> copies a T in or out and turns
// a bad address into EFAULT. The copies check the range (lower half, no overflow) and survive faults (an
// unmapped or read-only page fails the copy instead of crashing the kernel), whatever the isolation mode.
#pragma once

#include <arch/x86_64/user_mode.h>
#include <kernel/boot/boot_params.h>
#include <ktl/error.h>
#include <ktl/types.h>

#include <type_traits>

namespace kernite::process {

// Hardened usercopy: the kernel side of a copy must fit the kernel object it names, when the compiler knows
// that object's size (__builtin_dynamic_object_size, resolved after inlining); a copy that would overflow it is
// a kernel bug, and stops the kernel.
[[noreturn]] void usercopy_overflow(usize object_size, usize length);

// Where the compiler does not know the object (issue 5 item 5): a kernel pointer to the start of a live heap
// object (slabs on the direct map, page-backed blocks in the heap region) is checked against the size the heap
// recorded for it. With FORTIFY only (KERNITE_FORTIFY: hardened and debug); stacks and the image are skipped
// before any lookup, so the common case (a syscall's stack buffer) costs two compares.
void check_heap_usercopy(void const* pointer, usize length);
[[gnu::always_inline]] inline void check_unknown_kernel_object(void const* pointer, usize length)
{
#if KERNITE_FORTIFY
    u64 address = reinterpret_cast<u64>(pointer);
    if ((address >= direct_map_base && address < kernel_stacks_base)
        || (address >= kernel_heap_base && address < device_mmio_base))
        check_heap_usercopy(pointer, length);
#else
    (void)pointer;
    (void)length;
#endif
}

#define KERNITE_CHECK_KERNEL_OBJECT(pointer, length)                                                          \
    do {                                                                                                      \
        usize _kernite_object_size = __builtin_dynamic_object_size((pointer), 0);                            \
        if (_kernite_object_size == static_cast<usize>(-1))                                                   \
            ::kernite::process::check_unknown_kernel_object((pointer), (length));                             \
        else if (_kernite_object_size < (length)) [[unlikely]]                                                \
            ::kernite::process::usercopy_overflow(_kernite_object_size, (length));                            \
    } while (0)

[[gnu::always_inline]] inline ErrorOr<void> copy_from_user(void* destination, u64 source, usize length)
{
    KERNITE_CHECK_KERNEL_OBJECT(destination, length);
    if (!arch::copy_from_user(destination, source, length))
        return Error::from_errno(EFAULT, "bad address");
    return {};
}

[[gnu::always_inline]] inline ErrorOr<void> copy_to_user(u64 destination, void const* source, usize length)
{
    KERNITE_CHECK_KERNEL_OBJECT(source, length);
    if (!arch::copy_to_user(destination, source, length))
        return Error::from_errno(EFAULT, "bad address");
    return {};
}

inline ErrorOr<void> clear_user(u64 destination, usize length)
{
    if (!arch::clear_user(destination, length))
        return Error::from_errno(EFAULT, "bad address");
    return {};
}

// A NUL-terminated string (a path): EFAULT, or ENAMETOOLONG when it does not fit `capacity` with its NUL.
ErrorOr<usize> copy_string_from_user(char* destination, u64 source, usize capacity);

template<typename T>
class UserPtr {
    static_assert(std::is_trivially_copyable_v<T>);

public:
    explicit UserPtr(u64 address)
        : m_address(address)
    {
    }
    u64 address() const { return m_address; }
    bool is_null() const { return m_address == 0; }
    UserPtr element(usize index) const { return UserPtr(m_address + index * sizeof(T)); }

    ErrorOr<T> read() const
    {
        T value;
        TRY(copy_from_user(&value, m_address, sizeof(T)));
        return value;
    }
    ErrorOr<void> write(T const& value) const { return copy_to_user(m_address, &value, sizeof(T)); }

private:
    u64 m_address;
};

} // namespace kernite::process
