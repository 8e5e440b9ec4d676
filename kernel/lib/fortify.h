// FORTIFY for the kernel (issue 5 item 5; docs/security-model.md "FORTIFY"): force-included into every kernel
// file of the profiles that have it (KERNITE_FORTIFY, cmake/KernelFlags.cmake), like glibc's
// _FORTIFY_SOURCE=3 wrappers but for the builtins the kernel calls (__builtin_memcpy and friends; the kernel
// has no <string.h>). Each call checks its length against __builtin_dynamic_object_size of the destination and
// source, which GCC works out after inlining (a known array, struct member, or an allocation whose size it can
// see); when it knows neither, the check costs nothing. A violation calls __kernite_fortify_chk (the "_chk" name
// is what `kernite checksec` counts), which reports a `fortify-violation` event and stops the VM (125).
#pragma once

#if KERNITE_FORTIFY

extern "C" [[noreturn]] void __kernite_fortify_chk(char const* function, __SIZE_TYPE__ object_size,
    __SIZE_TYPE__ length);

namespace kernite::fortify {

using Size = __SIZE_TYPE__;
inline constexpr Size unknown = static_cast<Size>(-1);

[[gnu::always_inline, gnu::artificial]] inline void check(char const* function, Size object_size, Size length)
{
    if (object_size != unknown && object_size < length) [[unlikely]]
        __kernite_fortify_chk(function, object_size, length);
}

[[gnu::always_inline, gnu::artificial]] inline void* memcpy(void* destination, void const* source, Size length)
{
    check("memcpy (destination)", __builtin_dynamic_object_size(destination, 0), length);
    check("memcpy (source)", __builtin_dynamic_object_size(source, 0), length);
    return __builtin_memcpy(destination, source, length);
}

[[gnu::always_inline, gnu::artificial]] inline void* memmove(void* destination, void const* source, Size length)
{
    check("memmove (destination)", __builtin_dynamic_object_size(destination, 0), length);
    check("memmove (source)", __builtin_dynamic_object_size(source, 0), length);
    return __builtin_memmove(destination, source, length);
}

[[gnu::always_inline, gnu::artificial]] inline void* memset(void* destination, int value, Size length)
{
    check("memset", __builtin_dynamic_object_size(destination, 0), length);
    return __builtin_memset(destination, value, length);
}

[[gnu::always_inline, gnu::artificial]] inline int memcmp(void const* a, void const* b, Size length)
{
    check("memcmp", __builtin_dynamic_object_size(a, 0), length);
    check("memcmp", __builtin_dynamic_object_size(b, 0), length);
    return __builtin_memcmp(a, b, length);
}

// strlen must find the NUL inside the object: it scans at most the object's size (glibc's strnlen-based
// check, Linux's fortify strlen), so it never reads past the object even on the failing path.
[[gnu::always_inline, gnu::artificial]] inline Size strlen(char const* string)
{
    Size object_size = __builtin_dynamic_object_size(string, 1);
    if (object_size == unknown)
        return __builtin_strlen(string);
    Size length = 0;
    while (length < object_size && string[length])
        ++length;
    if (length == object_size)
        __kernite_fortify_chk("strlen (no NUL inside the object)", object_size, length + 1);
    return length;
}

} // namespace kernite::fortify

// After the wrappers, which call the real builtins: every later __builtin_X(...) in the file is checked.
#    define __builtin_memcpy(destination, source, length) ::kernite::fortify::memcpy((destination), (source), (length))
#    define __builtin_memmove(destination, source, length) ::kernite::fortify::memmove((destination), (source), (length))
#    define __builtin_memset(destination, value, length) ::kernite::fortify::memset((destination), (value), (length))
#    define __builtin_memcmp(a, b, length) ::kernite::fortify::memcmp((a), (b), (length))
#    define __builtin_strlen(string) ::kernite::fortify::strlen((string))

#endif
