// The kernel's address space, built from the permission layout the linker script records in the image.
//
// arch/x86_64/kernel.ld writes a note (name "Kernite", type layout_note_type) whose descriptor is a
// LayoutNoteHeader followed by `count` LayoutRange entries: page-aligned link-time virtual ranges of the image
// with their access (paging::Access bits). Gaps between ranges (the boot and IST stacks' guard pages) stay
// unmapped. One function builds the tables from it, used twice:
//   - by the Kernite monitor, natively on the host, before the guest runs (the fast path: on hosts that emulate
//     guest ring 0 building them in the guest cost ~6 ms, docs/platform-notes.md);
//   - by the kernel's early boot when it was not given tables (QEMU/PVH).
// The ranges come from the image, so for the monitor they are hostile input: each is checked against the
// image's bounds, and the builder refuses W+X and the null guard whatever the note says.
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>
#include <paging/address_space.h>

namespace kernite::paging {

inline constexpr u32 layout_note_type = 0x4b4c4159; // "KLAY"
inline constexpr u64 layout_version = 2;
inline constexpr u64 max_layout_ranges = 32;

struct LayoutNoteHeader {
    u64 version;
    u64 count;              // LayoutRange entries that follow
    u64 direct_map_base;    // where the kernel expects RAM mapped (its phys_to_virt)
    u64 aslr_window_base;   // the kernel image may be placed anywhere in [base, base + size) (page-aligned)
    u64 aslr_window_size;
    u64 reserved;
};
static_assert(sizeof(LayoutNoteHeader) == 48);

// KASLR: a page-aligned base for an image of `image_size` bytes inside the window, from 64 random bits. Every
// page-aligned position is possible (the window's pages, less the image's, give the entropy: 2^32 positions for
// a 16 TiB window). Returns 0 when the image does not fit.
constexpr u64 choose_kernel_base(u64 window_base, u64 window_size, u64 image_size, u64 random)
{
    if (window_base % page_size != 0 || window_size % page_size != 0 || image_size == 0 || image_size > window_size)
        return 0;
    u64 positions = (window_size - ktl::align_down(image_size + page_size - 1, page_size)) / page_size + 1;
    // Multiply-shift maps 64 random bits onto [0, positions) with a bias below positions / 2^64 (negligible).
    __extension__ using u128 = unsigned __int128;
    u64 index = static_cast<u64>((u128(random) * positions) >> 64);
    return window_base + index * page_size;
}

struct LayoutRange {
    u64 start; // link-time virtual address, page-aligned
    u64 end;   // exclusive, page-aligned
    u64 access;
};
static_assert(sizeof(LayoutRange) == 24);

struct KernelPlacement {
    u64 link_base;   // link-time address of the image's first byte
    u64 virt_base;   // where that byte is mapped
    u64 phys_start;  // where the image is loaded
    u64 phys_end;    // end of the image (bss included): the direct map leaves [phys_start, phys_end) out
    u64 ram_start;   // direct map of RAM: [ram_start, ram_end) minus the image
    u64 ram_end;
    u64 direct_map_base;
};

namespace detail {

template<typename Env>
ErrorOr<void> map_direct(AddressSpace<Env>& space, u64 base, u64 from, u64 to)
{
    constexpr u8 access = AccessRead | AccessWrite | AccessGlobal;
    if (to <= from)
        return {};
    u64 large_start = 0;
    if (!ktl::align_up(from, large_page_size, &large_start))
        return Error::from_errno(EINVAL, "direct map range overflows");
    u64 large_end = ktl::align_down(to, large_page_size);
    if (large_start >= large_end)
        return space.map(base + from, from, to - from, access);
    if (large_start > from)
        TRY(space.map(base + from, from, large_start - from, access));
    TRY(space.map(base + large_start, large_start, large_end - large_start, access, true));
    if (to > large_end)
        TRY(space.map(base + large_end, large_end, to - large_end, access));
    return {};
}

} // namespace detail

// Builds the kernel's tables into a new address space and returns its root: every layout range at its
// virtual address, the executable ranges also at their physical address (the identity map the CR3 switch
// needs; the kernel removes it first thing), and the direct map.
template<typename Env>
ErrorOr<u64> build_kernel_address_space(Env& env, LayoutRange const* ranges, u64 count, KernelPlacement const& p)
{
    if (count == 0 || count > max_layout_ranges)
        return Error::from_errno(ENOEXEC, "kernel layout has no or too many ranges");
    if (p.phys_end <= p.phys_start || p.phys_start % page_size != 0 || p.virt_base % page_size != 0
        || p.link_base % page_size != 0 || p.ram_start % page_size != 0 || p.ram_end % page_size != 0)
        return Error::from_errno(EINVAL, "kernel placement not page-aligned");
    u64 image_size = p.phys_end - p.phys_start;
    auto space = TRY(AddressSpace<Env>::create(env));
    for (u64 i = 0; i < count; ++i) {
        auto const& range = ranges[i];
        if (range.start == range.end)
            continue; // an empty section (relro in a small image, ksyms in the first link pass)
        if (range.start > range.end || range.start < p.link_base || range.end - p.link_base > image_size
            || range.start % page_size != 0 || range.end % page_size != 0 || range.access > 0xff)
            return Error::from_errno(ENOEXEC, "kernel layout range outside the image or not page-aligned");
        u64 offset = range.start - p.link_base;
        u64 length = range.end - range.start;
        u8 access = static_cast<u8>(range.access);
        TRY(space.map(p.virt_base + offset, p.phys_start + offset, length, access));
        if (access & AccessExecute)
            TRY(space.map(p.phys_start + offset, p.phys_start + offset, length, AccessRead | AccessExecute));
    }
    TRY(detail::map_direct(space, p.direct_map_base, p.ram_start, p.phys_start));
    TRY(detail::map_direct(space, p.direct_map_base, p.phys_end, p.ram_end));
    return space.root();
}

} // namespace kernite::paging
