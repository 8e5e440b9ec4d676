// KASAN and UBSAN crash tests (after Linux LKDTM and lib/test_kasan.c, lib/test_ubsan.c). Each commits one bug
// class the sanitizers of the debug profile detect (abi/kernite/crashtests.h gives the expected events):
//   KASAN_SLAB_OOB_READ/WRITE  one byte past a 30-byte kmalloc object (the partial shadow granule)   kasan
//   KASAN_USE_AFTER_FREE       a read of a kfree'd object (its shadow is "freed" while quarantined)  kasan
//   KASAN_GLOBAL_OOB           a read into a global's redzone (asan-globals)                         kasan
//   KASAN_STACK_OOB            a read into a stack array's redzone (asan-stack)                      kasan
//   KASAN_MEMMOVE_OOB          an overlapping memmove upwards that ends one byte past a 64-byte      kasan
//                              object: memmove's own range check (its `rep movs` is not instrumented)
//   ARRAY_BOUNDS               an index past an array's bound (-fsanitize=bounds)                    ubsan
//   UBSAN_SIGNED_OVERFLOW, UBSAN_SHIFT, UBSAN_MISALIGNED, UBSAN_NULL                                 ubsan
// The pointers and indices go through hide() (an empty asm) so that the compiler cannot see the bug at compile
// time: otherwise it folds it away, or another check (bounds before KASAN) fires first.
#include <kernel/lib/log.h>
#include <kernel/mm/heap.h>
#include <kernel/security/crashtests_sanitizers.h>
#include <platform/platform.h>

namespace kernite::security {

namespace {

template<typename T>
T hide(T value)
{
    asm volatile("" : "+r"(value));
    return value;
}

[[gnu::used]] u8 g_global_array[20] = { 1 };

#if defined(KERNITE_PROFILE_HARDENED)
constexpr char const* profile = "hardened";
#elif defined(KERNITE_PROFILE_DEBUG)
constexpr char const* profile = "debug";
#else
constexpr char const* profile = "baseline";
#endif

bool starts_with(char const* text, char const* prefix)
{
    while (*prefix && *text == *prefix) {
        ++text;
        ++prefix;
    }
    return *prefix == 0;
}

[[noreturn, maybe_unused]] void refuse(char const* name, char const* sanitizer)
{
    klog("crashtest: %s needs %s, which this kernel (profile %s) was not built with: run it with --kernel debug",
        name, sanitizer, profile);
    platform::exit(127, abi::ExitReason::Normal);
}

u8* allocate(usize size)
{
    auto allocation = mm::kmalloc(size);
    VERIFY(!allocation.is_error());
    return static_cast<u8*>(allocation.value());
}

[[gnu::noinline]] u8 read_past_stack_array(usize index)
{
    volatile u8 buffer[16];
    for (auto& byte : buffer)
        byte = 0;
    return hide(&buffer[0])[index];
}

[[gnu::noinline]] int index_array(usize index)
{
    int array[8];
    for (int i = 0; i < 8; ++i)
        array[i] = i;
    asm volatile("" : : "r"(array) : "memory");
    return array[index];
}

} // namespace

bool run_sanitizer_crash_test(char const* name, void (*arm)(char const*))
{
    auto is = [&](char const* candidate) { return __builtin_strcmp(name, candidate) == 0; };
    bool kasan_test = starts_with(name, "KASAN_");
    bool ubsan_test = starts_with(name, "UBSAN_") || is("ARRAY_BOUNDS");
    if (!kasan_test && !ubsan_test)
        return false;
#if !KERNITE_KASAN
    if (kasan_test)
        refuse(name, "KASAN");
#endif
#if !KERNITE_UBSAN
    if (ubsan_test)
        refuse(name, "UBSAN");
#endif
    if (is("KASAN_SLAB_OOB_READ")) {
        u8* object = allocate(30);
        arm(name);
        klog("read %u", *hide(object + 30));
    } else if (is("KASAN_SLAB_OOB_WRITE")) {
        u8* object = allocate(30);
        arm(name);
        *hide(object + 30) = 1;
    } else if (is("KASAN_USE_AFTER_FREE")) {
        u8* object = allocate(64);
        object[0] = 1;
        mm::kfree(object);
        arm(name);
        klog("read %u", *hide(object));
    } else if (is("KASAN_GLOBAL_OOB")) {
        arm(name);
        klog("read %u", *(hide(&g_global_array[0]) + 24));
    } else if (is("KASAN_STACK_OOB")) {
        arm(name);
        klog("read %u", read_past_stack_array(hide(usize(24))));
    } else if (is("KASAN_MEMMOVE_OOB")) {
        u8* object = allocate(64);
        arm(name);
        // Destination above the source and overlapping it: the downward copy (ktl::copy_down), whose range
        // check must see the destination's last byte at object[64].
        __builtin_memmove(hide(object + 17), hide(object + 1), hide(usize(48)));
        klog("copied %u", object[20]);
    } else if (is("ARRAY_BOUNDS")) {
        arm(name);
        klog("read %d", index_array(hide(usize(8))));
    } else if (is("UBSAN_SIGNED_OVERFLOW")) {
        int value = hide(__INT_MAX__);
        arm(name);
        klog("sum %d", value + hide(1));
    } else if (is("UBSAN_SHIFT")) {
        int count = hide(40);
        arm(name);
        klog("shifted %d", hide(1) << count);
    } else if (is("UBSAN_MISALIGNED")) {
        alignas(8) u8 buffer[16] = {};
        auto* word = reinterpret_cast<u32*>(hide(&buffer[1]));
        arm(name);
        klog("read %u", *word);
    } else if (is("UBSAN_NULL")) {
        int* pointer = hide(static_cast<int*>(nullptr));
        arm(name);
        klog("read %d", *pointer);
    } else {
        return false;
    }
    return true;
}

} // namespace kernite::security
