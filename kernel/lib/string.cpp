// The C memory functions the compiler may call on its own (GCC's freestanding contract: memcpy, memmove,
// memset, memcmp), plus strlen. Kept simple: `rep movsb/stosb` is fast on every CPU with ERMSB.
#include <kernel/security/kasan.h>
#include <ktl/copy_down.h>
#include <ktl/types.h>

extern "C" {

void* memcpy(void* destination, void const* source, usize length)
{
    // KASAN (debug profile): the `rep movs` below is not instrumented, so check both ranges here.
    kernite::kasan::check_range(source, length, false, __builtin_return_address(0));
    kernite::kasan::check_range(destination, length, true, __builtin_return_address(0));
    void* d = destination;
    usize words = length / 8;
    usize tail = length % 8;
    asm volatile("rep movsq" : "+D"(d), "+S"(source), "+c"(words)::"memory");
    asm volatile("rep movsb" : "+D"(d), "+S"(source), "+c"(tail)::"memory");
    return destination;
}

void* memmove(void* destination, void const* source, usize length)
{
    auto* d = static_cast<u8*>(destination);
    auto const* s = static_cast<u8 const*>(source);
    if (d == s || length == 0)
        return destination;
    if (d < s || d >= s + length)
        return memcpy(destination, source, length);
    // Overlapping with the destination above the source: downwards, a word at a time (ktl::copy_down). A byte
    // loop here was 15% of the kernel's instructions on the Lua script (RegionMap shifting its array up), and
    // under KASAN each byte was two checked accesses.
    kernite::kasan::check_range(source, length, false, __builtin_return_address(0));
    kernite::kasan::check_range(destination, length, true, __builtin_return_address(0));
    ktl::copy_down(d, s, length);
    return destination;
}

void* memset(void* destination, int value, usize length)
{
    kernite::kasan::check_range(destination, length, true, __builtin_return_address(0));
    // Eight bytes per iteration: where guest kernel code is emulated (docs/platform-notes.md) each `rep`
    // iteration is costed like an instruction.
    void* d = destination;
    usize words = length / 8;
    u64 pattern = 0x0101010101010101ull * static_cast<u8>(value);
    asm volatile("rep stosq" : "+D"(d), "+c"(words) : "a"(pattern) : "memory");
    usize tail = length % 8;
    asm volatile("rep stosb" : "+D"(d), "+c"(tail) : "a"(value) : "memory");
    return destination;
}

int memcmp(void const* a, void const* b, usize length)
{
    auto const* x = static_cast<u8 const*>(a);
    auto const* y = static_cast<u8 const*>(b);
    for (usize i = 0; i < length; ++i) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

int strcmp(char const* a, char const* b)
{
    while (*a && *a == *b) {
        ++a;
        ++b;
    }
    return static_cast<u8>(*a) - static_cast<u8>(*b);
}

usize strlen(char const* s)
{
    usize n = 0;
    while (s[n])
        ++n;
    return n;
}

}
