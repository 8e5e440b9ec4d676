#include <kernel/lib/log.h>
#include <kernel/mm/aslr.h>
#include <kernel/security/random.h>
#include <ktl/verify.h>

namespace kernite::mm {

namespace {

constexpr u64 page = 4096;
constexpr u64 stacks_window_size = 1ull << 44; // 16 TiB (boot_params.h)
static_assert(kernel_stacks_base + stacks_window_size == kernel_heap_base);
static_assert(kernel_alias_window_size == kernel_slab_window_size);

u64 g_heap_start;
u64 g_slab_start;
u64 g_alias_start;
u64 g_stacks_start;

// A page-aligned base for a region of `size` bytes inside [window, window + window_size): uniform over the
// (window_size - size) / page choices (the modulo bias of a 64-bit draw over ~2^30 choices is below 2^-33).
u64 choose(char const* name, u64 window, u64 window_size, u64 size, bool aslr)
{
    VERIFY(size > 0 && size < window_size && size % page == 0);
    u64 choices = (window_size - size) / page;
    u64 base = window + (aslr ? (security::random_u64() % choices) * page : 0);
    if (base < window || base + size > window + window_size || base % page != 0) {
        klog("aslr: the %s region at 0x%lx does not fit its window", name, base);
        VERIFY_NOT_REACHED();
    }
    return base;
}

} // namespace

void randomize_kernel_regions(bool aslr)
{
    g_heap_start = choose("kernel heap", kernel_heap_base, kernel_heap_window_size, kernel_heap_region_size, aslr);
    g_slab_start = choose("kernel slab", kernel_slab_window_base, kernel_slab_window_size, kernel_slab_region_size,
        aslr);
    g_alias_start = choose("kernel alias", kernel_alias_window_base, kernel_alias_window_size,
        kernel_alias_region_size, aslr);
    g_stacks_start = choose("kernel stack", kernel_stacks_base, stacks_window_size, kernel_stacks_region_size, aslr);
}

u64 kernel_heap_start()
{
    VERIFY(g_heap_start != 0); // used before randomize_kernel_regions(): a bug, never a fixed fallback
    return g_heap_start;
}

u64 kernel_slab_start()
{
    VERIFY(g_slab_start != 0);
    return g_slab_start;
}

u64 kernel_alias_start()
{
    VERIFY(g_alias_start != 0);
    return g_alias_start;
}

u64 kernel_stacks_start()
{
    VERIFY(g_stacks_start != 0);
    return g_stacks_start;
}

} // namespace kernite::mm
