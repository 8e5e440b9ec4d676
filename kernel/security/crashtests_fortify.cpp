// FORTIFY and usercopy crash tests (after Linux LKDTM's FORTIFY_MEM_OBJECT, FORTIFY_STR_OBJECT and
// USERCOPY_SLAB_SIZE_*). Expected: fortify-violation, exit 125 (abi/kernite/crashtests.h).
//   FORTIFY_MEM_OBJECT      memcpy of 16 bytes out of an 8-byte struct (the source's size is known)
//   FORTIFY_STR_OBJECT      strlen of an 8-byte array without a NUL (the scan stops at the object's end)
//   USERCOPY_HEAP_OVERFLOW  copy_to_user of 64 bytes from a 32-byte kmalloc object (the heap's recorded size:
//                           the compiler cannot know it)
// The lengths go through hide() so that GCC cannot prove the overflow at compile time (it would warn and
// could drop the call).
#include <kernel/lib/log.h>
#include <kernel/mm/heap.h>
#include <kernel/process/user_memory.h>
#include <kernel/security/crashtests_fortify.h>
#include <platform/platform.h>

namespace kernite::security {

namespace {

template<typename T>
T hide(T value)
{
    asm volatile("" : "+r"(value));
    return value;
}

struct Small {
    u8 bytes[8];
};

} // namespace

bool run_fortify_crash_test(char const* name, void (*arm)(char const*))
{
    auto is = [&](char const* candidate) { return __builtin_strcmp(name, candidate) == 0; };
    if (!is("FORTIFY_MEM_OBJECT") && !is("FORTIFY_STR_OBJECT") && !is("USERCOPY_HEAP_OVERFLOW"))
        return false;
#if !KERNITE_FORTIFY
    klog("crashtest: %s needs FORTIFY, which this kernel was not built with: run it with --kernel hardened or debug",
        name);
    platform::exit(127, abi::ExitReason::Normal);
#endif
    if (is("FORTIFY_MEM_OBJECT")) {
        Small source {};
        u8 target[32] {};
        usize length = hide(usize(16));
        arm(name);
        __builtin_memcpy(target, &source, length);
        asm volatile("" : : "r"(target) : "memory");
    } else if (is("FORTIFY_STR_OBJECT")) {
        char text[8];
        for (auto& c : text)
            c = 'A';
        asm volatile("" : : "r"(text) : "memory");
        arm(name);
        klog("length %lu", __builtin_strlen(text));
    } else {
        auto allocation = mm::kmalloc(32);
        VERIFY(!allocation.is_error());
        void* object = hide(allocation.value());
        arm(name);
        // Any program address: the check comes before the copy touches it.
        auto result = process::copy_to_user(0x10000, object, hide(usize(64)));
        klog("copy: %s", result.is_error() ? result.error().reason() : "done");
    }
    return true;
}

} // namespace kernite::security
