// KASAN, the kernel address sanitizer (issue 5 item 4): the runtime behind GCC's -fsanitize=kernel-address in
// the debug profile (cmake/KernelFlags.cmake). One shadow byte per 8 bytes of kernel memory says how many of
// them may be accessed (0: all 8, 1..7: the first N, negative: none, and why). docs/security-model.md,
// "KASAN and UBSAN", has the threat, the mechanism and the limits.
//
// Every function here exists in every profile; without KERNITE_KASAN they compile to nothing, so callers need
// no #if.
#pragma once

#include <ktl/types.h>

namespace kernite::kasan {

// Why memory is inaccessible: the shadow byte's value (negative as s8), reported as the object's kind.
enum class Poison : u8 {
    HeapRedzone = 0xfa,      // past the requested size of a heap object
    HeapFreed = 0xfb,        // a freed heap object
    PageRedzone = 0xfc,      // the unused part of a page-backed heap block
    GlobalRedzone = 0xf9,    // past the end of a global (GCC's asan-globals redzone)
    StackLeft = 0xf1,        // GCC's stack redzones (asan.cc ASAN_STACK_MAGIC_*)
    StackMiddle = 0xf2,
    StackRight = 0xf3,
    StackAfterReturn = 0xf5,
    StackAfterScope = 0xf8,
};

#if KERNITE_KASAN
inline constexpr bool enabled = true;

// After mm::initialize: maps the image's shadow, applies the global redzones recorded by the constructors, and
// turns checking on. Before it, every check passes (nothing has shadow yet).
void initialize();

// Marks [address, address + size) accessible, mapping its shadow first if needed (false: out of memory for the
// shadow; the range then stays unchecked, which is safe).
bool unpoison(void const* address, usize size);
// Marks it inaccessible for `why`. `address` must be 8-byte aligned; a partial last granule is poisoned whole.
void poison(void const* address, usize size, Poison why);

// An explicit check for what the compiler does not instrument: memcpy/memmove/memset's `rep` instructions
// (kernel/lib/string.cpp). `rip` is the caller to report.
void check_range(void const* address, usize size, bool write, void const* rip);

// The frames below `top` on the current kernel stack are dead (the thread leaves them for good: entering user
// mode, a noreturn call): clears the stack redzones they left, which the next frames there would trip over.
void unpoison_stack_below(void const* top);

// Checks are suspended while the allocator itself works on its slabs (it writes canaries into redzones).
class Suspend {
public:
    Suspend();
    ~Suspend();
    Suspend(Suspend const&) = delete;
    Suspend& operator=(Suspend const&) = delete;
};
#else
inline constexpr bool enabled = false;
inline void initialize() { }
inline bool unpoison(void const*, usize) { return true; }
inline void poison(void const*, usize, Poison) { }
inline void check_range(void const*, usize, bool, void const*) { }
inline void unpoison_stack_below(void const*) { }
class Suspend {
public:
    Suspend() { }
};
#endif

} // namespace kernite::kasan
