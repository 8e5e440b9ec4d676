// Force-included into every kernel translation unit (cmake/KernelFlags.cmake): the kernel is one static
// image, so no symbol needs default visibility. Hidden declarations (not only definitions, which
// -fvisibility=hidden covers) make every reference a direct RIP-relative one: no GOT, which early boot could
// not use anyway because it runs before relocation.
#pragma GCC visibility push(hidden)

// FORTIFY's checked memory and string builtins, in the profiles that have it (cmake/KernelFlags.cmake).
#if KERNITE_FORTIFY
#    include <kernel/lib/fortify.h>
#endif
