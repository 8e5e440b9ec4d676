// The KASAN runtime (kernel/security/kasan.h). Compiled without instrumentation (kernel/CMakeLists.txt).
//
// Shadow: shadow(a) = (a >> 3) + KERNITE_KASAN_SHADOW_OFFSET, the same formula GCC's inline stack redzone code
// uses (cmake/KernelFlags.cmake), so the kernel half's shadow is [0xffffa00000000000, 0xffffb00000000000).
// Only the shadow of memory the kernel uses is backed, and lazily, one 4 KiB shadow page (32 KiB of memory) at
// a time: a guest page touch costs 11-16 us here (PLATFORM.md), and mapping the shadow of all RAM at boot would
// cost more than the boot itself. Which shadow pages exist is a bitmap per region, so a check of memory without
// shadow is a few instructions and passes (unchecked, never a false report):
//   image      [__kernel_start, __kernel_end): mapped once at initialize() (globals, boot and IST stacks)
//   direct map the first 4 GiB
//   stacks     every kernel thread stack, when it is allocated (GCC's stack redzones write its shadow inline)
//   heap       the page-backed blocks of the heap region (its first 1 GiB)
//   slabs      the slab region's chunks, as the heap commits them
// The stacks, heap and slab regions start at bases randomized per boot (kernel/mm/aslr.h).
// Reports (a `kasan` event, then stop with 125) name the access, the address and the kind of memory from the
// shadow byte, with a symbolized backtrace (security::stop).
#include <arch/x86_64/interrupts_disabled.h>
#include <kernel/boot/boot_params.h>
#include <kernel/lib/format.h>
#include <kernel/lib/log.h>
#include <kernel/mm/aslr.h>
#include <kernel/mm/kernel_image.h>
#include <kernel/mm/memory.h>
#include <kernel/security/events.h>
#include <kernel/security/kasan.h>

#if KERNITE_KASAN

namespace kernite::kasan {

namespace {

constexpr u64 granule = 8;
constexpr u64 page = paging::page_size;
constexpr u64 chunk = page * granule; // memory covered by one shadow page

inline i8* shadow_of(u64 address) { return reinterpret_cast<i8*>((address >> 3) + KERNITE_KASAN_SHADOW_OFFSET); }

// Plain stores rather than memset: where guest ring 0 is emulated a `rep stos` costs far more than the handful
// of stores a redzone needs (measured: 15,700 global redzones took 10 s of boot with memset), and this runs
// for every global at boot and for every kmalloc/kfree. (-fno-tree-loop-distribute-patterns keeps GCC from
// turning the loop back into memset, kernel/CMakeLists.txt.)
[[gnu::always_inline]] inline void fill_shadow(i8* shadow, u8 value, usize count)
{
    while (count && reinterpret_cast<u64>(shadow) % 8) {
        *shadow++ = static_cast<i8>(value);
        --count;
    }
    u64 word = 0x0101010101010101ull * value;
    for (; count >= 8; count -= 8, shadow += 8)
        *reinterpret_cast<u64*>(shadow) = word;
    while (count--)
        *shadow++ = static_cast<i8>(value);
}

// A region whose shadow is mapped a chunk at a time, with a bit per chunk. Its base is set in initialize(): the
// kernel's stacks and heap regions sit at bases randomized per boot (kernel/mm/aslr.h); until then it contains
// nothing.
// The chunk grid is aligned to 32 KiB (one shadow page each) whatever the region's page-aligned base: one chunk
// more than the size covers a base inside a chunk.
template<u64 Size>
struct LazyRegion {
    static constexpr u64 span = Size + chunk;
    static constexpr u64 chunks = span / chunk;
    u64 base;
    bool placed;
    u64 mapped[(chunks + 63) / 64];

    void place(u64 start)
    {
        base = start & ~(chunk - 1);
        placed = true;
    }
    bool contains(u64 address) const { return placed && address - base < span; }
    bool has_shadow(u64 address) const
    {
        u64 index = (address - base) / chunk;
        return mapped[index / 64] & (1ull << (index % 64));
    }
    // Maps the shadow of [start, end) (inside the region); false when out of memory.
    bool ensure(u64 start, u64 end)
    {
        for (u64 index = (start - base) / chunk; index <= (end - 1 - base) / chunk; ++index) {
            if (mapped[index / 64] & (1ull << (index % 64)))
                continue;
            auto frame = mm::allocate_zeroed_frame(); // zero shadow: accessible, until poisoned
            if (frame.is_error())
                return false;
            u64 shadow_page = reinterpret_cast<u64>(shadow_of(base + index * chunk));
            arch::InterruptsDisabled guard;
            auto result = mm::kernel_address_space().map(shadow_page, frame.value(), page,
                paging::AccessRead | paging::AccessWrite | paging::AccessGlobal);
            if (result.is_error()) {
                mm::free_frames(frame.value(), 1);
                return false;
            }
            mapped[index / 64] |= 1ull << (index % 64);
        }
        return true;
    }
};

LazyRegion<4ull << 30> g_direct_map;
LazyRegion<mm::kernel_stacks_region_size> g_stacks; // 4096 slots of 128 KiB (kernel/mm/memory.cpp)
LazyRegion<1ull << 30> g_heap;                      // the large-block region's first 1 GiB
LazyRegion<2ull << 30> g_slabs;                     // the slab region: 1 GiB of chunks, then descriptors

u64 g_image_start;
u64 g_image_size;
bool g_ready;      // shadow of the image mapped, redzones in place
u32 g_suspended;   // > 0 while the allocator works (Suspend)
bool g_reporting;

// Inlined into every __asan_* entry: it runs for nearly every instrumented access (a third of the debug kernel's
// instructions on a thread-heavy program, when it was a call made twice per access).
[[gnu::always_inline]] inline bool has_shadow(u64 address)
{
    if (address - g_image_start < g_image_size)
        return true;
    if (g_direct_map.contains(address))
        return g_direct_map.has_shadow(address);
    if (g_stacks.contains(address))
        return g_stacks.has_shadow(address);
    if (g_heap.contains(address))
        return g_heap.has_shadow(address);
    if (g_slabs.contains(address))
        return g_slabs.has_shadow(address);
    return false;
}

bool ensure_shadow(u64 start, u64 end)
{
    if (start >= end)
        return true;
    if (start - g_image_start < g_image_size && end - 1 - g_image_start < g_image_size)
        return g_ready;
    if (g_direct_map.contains(start) && g_direct_map.contains(end - 1))
        return g_direct_map.ensure(start, end);
    if (g_stacks.contains(start) && g_stacks.contains(end - 1))
        return g_stacks.ensure(start, end);
    if (g_heap.contains(start) && g_heap.contains(end - 1))
        return g_heap.ensure(start, end);
    if (g_slabs.contains(start) && g_slabs.contains(end - 1))
        return g_slabs.ensure(start, end);
    return false;
}

// The globals GCC registers (its asan.cc `__asan_global`, 8 words in GCC >= 7), recorded by the constructors
// that kernel_main runs before memory is set up, applied in initialize().
struct AsanGlobal {
    u64 begin;
    usize size;
    usize size_with_redzone;
    char const* name;
    char const* module_name;
    usize has_dynamic_init;
    void const* location;
    u64 odr_indicator;
};
static_assert(sizeof(AsanGlobal) == 64);

struct GlobalsBatch {
    AsanGlobal const* globals;
    usize count;
};
constexpr usize max_batches = 256; // one per instrumented translation unit
GlobalsBatch g_batches[max_batches];
usize g_batch_count;
usize g_batches_dropped;

usize g_global_count;

// At boot, for each of the image's globals (some 15,700 in the debug image, string literals included): the
// fewest instructions, since each costs ~1 us here. The image's shadow is mapped, so no ensure_shadow().
[[gnu::always_inline]] inline void poison_global(AsanGlobal const& global)
{
    u64 end = global.begin + global.size;
    i8* shadow = shadow_of(end);
    if (end % granule)
        *shadow++ = static_cast<i8>(end % granule);
    i8* shadow_end = shadow_of(global.begin + global.size_with_redzone);
    if (shadow < shadow_end)
        fill_shadow(shadow, static_cast<u8>(Poison::GlobalRedzone), static_cast<usize>(shadow_end - shadow));
}

char const* kind_of(u8 shadow)
{
    switch (static_cast<Poison>(shadow)) {
    case Poison::HeapRedzone: return "slab-out-of-bounds";
    case Poison::HeapFreed: return "use-after-free";
    case Poison::PageRedzone: return "page-out-of-bounds";
    case Poison::GlobalRedzone: return "global-out-of-bounds";
    case Poison::StackLeft:
    case Poison::StackMiddle:
    case Poison::StackRight: return "stack-out-of-bounds";
    case Poison::StackAfterReturn: return "stack-use-after-return";
    case Poison::StackAfterScope: return "stack-use-after-scope";
    }
    return "wild-access";
}

char const* object_of(u8 shadow)
{
    switch (static_cast<Poison>(shadow)) {
    case Poison::HeapRedzone: return "heap object redzone";
    case Poison::HeapFreed: return "freed heap object";
    case Poison::PageRedzone: return "page-backed heap block, outside the object";
    case Poison::GlobalRedzone: return "global variable redzone";
    case Poison::StackLeft:
    case Poison::StackMiddle:
    case Poison::StackRight: return "stack variable redzone";
    case Poison::StackAfterReturn:
    case Poison::StackAfterScope: return "stack variable out of scope";
    }
    return "unknown shadow value";
}

// The first byte of [address, address + size) that may not be accessed, or 0.
u64 first_bad_byte(u64 address, usize size)
{
    for (u64 byte = address; byte < address + size;) {
        i8 value = *shadow_of(byte);
        if (value == 0) {
            byte = (byte | (granule - 1)) + 1;
            continue;
        }
        if (value < 0 || static_cast<i8>(byte % granule) >= value)
            return byte;
        ++byte;
    }
    return 0;
}

[[noreturn, gnu::noinline]] void report(u64 address, usize size, bool write, u64 bad, u64 rip)
{
    g_reporting = true;
    i8 value = *shadow_of(bad);
    if (value > 0) // a partial granule: the kind is what follows it
        value = *shadow_of((bad | (granule - 1)) + 1);
    u8 code = static_cast<u8>(value);
    char message[abi::event_message_size];
    format(message, sizeof(message), "%s %s of size %lu at %p (first bad byte %p: %s, shadow %02x)", kind_of(code),
        write ? "write" : "read", size, reinterpret_cast<void*>(address), reinterpret_cast<void*>(bad),
        object_of(code), code);
    security::EventDetails details;
    details.rip = rip;
    details.has_rip = true;
    details.addr = bad;
    details.has_addr = true;
    security::stop(abi::EventType::Kasan, message, details);
}

[[gnu::always_inline]] inline void check(u64 address, usize size, bool write, u64 rip)
{
    if (!g_ready || g_suspended || size == 0 || address < direct_map_base || g_reporting)
        return;
    // Shadow exists per region, and every region boundary (the image's included: kernel.ld aligns its end) is
    // page aligned: an access inside one page needs one lookup.
    u64 last = address + size - 1;
    if (!has_shadow(address) || ((address ^ last) >= page && !has_shadow(last)))
        return;
    // Fast path: an access within one granule whose shadow is 0.
    if (size <= granule && (address % granule) + size <= granule) {
        i8 value = *shadow_of(address);
        if (value == 0 || (value > 0 && static_cast<i8>((address + size - 1) % granule) < value))
            return;
    }
    u64 bad = first_bad_byte(address, size);
    if (bad)
        report(address, size, write, bad, rip);
}

} // namespace

void initialize()
{
    g_direct_map.place(direct_map_base);
    g_stacks.place(mm::kernel_stacks_start());
    g_heap.place(mm::kernel_heap_start());
    g_slabs.place(mm::kernel_slab_start());
    g_image_start = reinterpret_cast<u64>(__kernel_start);
    g_image_size = reinterpret_cast<u64>(__kernel_end) - g_image_start;
    // The image's shadow in one run of frames and one mapping (a page at a time costs ~0.3 ms each here).
    u64 shadow_start = reinterpret_cast<u64>(shadow_of(g_image_start)) & ~(page - 1);
    u64 shadow_end = (reinterpret_cast<u64>(shadow_of(g_image_start + g_image_size - 1)) | (page - 1)) + 1;
    u64 pages = (shadow_end - shadow_start) / page;
    auto frames = mm::allocate_zeroed_frames(pages); // zero shadow: all accessible (cleared only if used)
    VERIFY(!frames.is_error());
    {
        arch::InterruptsDisabled guard;
        auto mapped = mm::kernel_address_space().map(shadow_start, frames.value(), pages * page,
            paging::AccessRead | paging::AccessWrite | paging::AccessGlobal);
        VERIFY(!mapped.is_error());
    }
    g_ready = true;
    for (usize i = 0; i < g_batch_count; ++i) {
        for (usize j = 0; j < g_batches[i].count; ++j)
            poison_global(g_batches[i].globals[j]);
        g_global_count += g_batches[i].count;
    }
    if (g_batches_dropped)
        klog("kasan: %lu translation units' globals not registered (table full)", g_batches_dropped);
}

bool unpoison(void const* address, usize size)
{
    u64 start = reinterpret_cast<u64>(address);
    if (!g_ready || size == 0 || !ensure_shadow(start, start + size))
        return false;
    u64 end = start + size;
    u64 full_end = end & ~(granule - 1);
    if (full_end > start)
        fill_shadow(shadow_of(start), 0, (full_end - start + granule - 1) / granule);
    if (end % granule)
        *shadow_of(full_end) = static_cast<i8>(end % granule);
    return true;
}

void poison(void const* address, usize size, Poison why)
{
    u64 start = reinterpret_cast<u64>(address);
    if (!g_ready || size == 0 || !ensure_shadow(start, start + size))
        return;
    fill_shadow(shadow_of(start), static_cast<u8>(why), (size + granule - 1) / granule);
}

void check_range(void const* address, usize size, bool write, void const* rip)
{
    check(reinterpret_cast<u64>(address), size, write, reinterpret_cast<u64>(rip));
}

void unpoison_stack_below(void const* top_pointer)
{
    u64 top = reinterpret_cast<u64>(top_pointer) & ~(granule - 1);
    if (!g_ready)
        return;
    u64 bottom;
    if (image::contains(__boot_stack_bottom, __boot_stack_top, top))
        bottom = reinterpret_cast<u64>(__boot_stack_bottom);
    else if (image::contains(__ist_stacks_start, __ist_stacks_end, top))
        bottom = top - (top - reinterpret_cast<u64>(__ist_stacks_start)) % image::ist_slot_size + image::ist_guard_size;
    else if (g_stacks.contains(top))
        bottom = top - (top - mm::kernel_stacks_start()) % mm::kernel_stack_slot_size;
    else
        return;
    // Only where the shadow exists: a thread stack fills only the top of its slot.
    for (u64 start = bottom; start < top;) {
        u64 end = ((start | (chunk - 1)) + 1) < top ? ((start | (chunk - 1)) + 1) : top;
        if (has_shadow(start))
            fill_shadow(shadow_of(start), 0, (end - start) / granule);
        start = end;
    }
}

Suspend::Suspend() { ++g_suspended; }
Suspend::~Suspend() { --g_suspended; }

} // namespace kernite::kasan

// --- The entry points GCC's instrumentation calls (gcc/sanitizer.def). -------------------------------------------
using namespace kernite;

#define KERNITE_KASAN_ACCESS(size)                                                                              \
    extern "C" void __asan_load##size##_noabort(u64 address)                                                   \
    {                                                                                                           \
        kasan::check(address, size, false, reinterpret_cast<u64>(__builtin_return_address(0)));                \
    }                                                                                                           \
    extern "C" void __asan_store##size##_noabort(u64 address)                                                  \
    {                                                                                                           \
        kasan::check(address, size, true, reinterpret_cast<u64>(__builtin_return_address(0)));                 \
    }                                                                                                           \
    extern "C" void __asan_report_load##size##_noabort(u64 address)                                            \
    {                                                                                                           \
        kasan::report(address, size, false, address, reinterpret_cast<u64>(__builtin_return_address(0)));      \
    }                                                                                                           \
    extern "C" void __asan_report_store##size##_noabort(u64 address)                                           \
    {                                                                                                           \
        kasan::report(address, size, true, address, reinterpret_cast<u64>(__builtin_return_address(0)));       \
    }

KERNITE_KASAN_ACCESS(1)
KERNITE_KASAN_ACCESS(2)
KERNITE_KASAN_ACCESS(4)
KERNITE_KASAN_ACCESS(8)
KERNITE_KASAN_ACCESS(16)

extern "C" void __asan_loadN_noabort(u64 address, usize size)
{
    kasan::check(address, size, false, reinterpret_cast<u64>(__builtin_return_address(0)));
}
extern "C" void __asan_storeN_noabort(u64 address, usize size)
{
    kasan::check(address, size, true, reinterpret_cast<u64>(__builtin_return_address(0)));
}
extern "C" void __asan_report_load_n_noabort(u64 address, usize size)
{
    kasan::report(address, size, false, address, reinterpret_cast<u64>(__builtin_return_address(0)));
}
extern "C" void __asan_report_store_n_noabort(u64 address, usize size)
{
    kasan::report(address, size, true, address, reinterpret_cast<u64>(__builtin_return_address(0)));
}

// Called by each instrumented translation unit's constructor, before kernel memory is set up: record only.
extern "C" void __asan_register_globals(kasan::AsanGlobal const* globals, usize count)
{
    if (kasan::g_batch_count == kasan::max_batches) {
        ++kasan::g_batches_dropped;
        return;
    }
    kasan::g_batches[kasan::g_batch_count++] = { globals, count };
}
extern "C" void __asan_unregister_globals(kasan::AsanGlobal const*, usize) { } // never: the kernel never unloads

// Before a noreturn call: nothing below this frame is live; clear what earlier frames left there. (The callers'
// own redzones stay: where a noreturn call abandons them for good, e.g. entering user mode, its code calls
// unpoison_stack_below itself.)
extern "C" void __asan_handle_no_return()
{
    kasan::unpoison_stack_below(__builtin_frame_address(0));
}

#endif
