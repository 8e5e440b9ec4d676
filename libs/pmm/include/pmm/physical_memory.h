// Physical page allocator: one bit per 4 KiB frame (1 = in use or not RAM), next-fit search.
//
// Why a bitmap: it detects double and invalid frees for free, needs no metadata inside free pages (nothing
// for a stray write to corrupt), and its cost at boot is small: 1 bit per page is 4 KiB of bitmap per
// 128 MiB of RAM, and only that bitmap is touched at boot (PLATFORM.md: each first touch costs ~15 µs).
// Ranges are set and cleared a 64-bit word at a time: on the nested KVM of our test machines guest ring-0 code
// is emulated (~0.7 µs per instruction, docs/platform-notes.md), so a bit-per-iteration loop over 128 MiB of
// frames cost 300 ms of boot; word operations make it a few hundred instructions.
// Architecture-independent and host-tested; the caller provides the bitmap's storage.
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::pmm {

inline constexpr u64 frame_size = 4096;

class PhysicalMemory {
public:
    // Bytes of bitmap needed to describe frames [0, max_phys).
    static constexpr u64 bitmap_bytes_for(u64 max_phys) { return (max_phys / frame_size + 63) / 64 * 8; }

    // Starts with every frame in use; add_usable() then releases the RAM the memory map reports.
    // `bitmap` must be 8-byte aligned and bitmap_bytes_for(max_phys) long.
    void initialize(u64* bitmap, u64 max_phys);

    struct Range {
        u64 base;
        u64 length;
    };
    // The fast path for a bitmap (and all RAM) known to be zero: marks only the gaps between the usable ranges
    // (at most max_ranges of them) as in use, instead of filling and clearing every word. Frames never handed
    // out since boot are then known to be zero (allocate_frame's `pristine`).
    void initialize_zeroed(u64* bitmap, u64 max_phys, Range const* usable, u64 count);
    // At most max_ranges of each; past that, extra ranges still change the bitmap but frees inside them are
    // refused (ranges_overflowed() tells the caller, which should treat it as a boot error).
    void add_usable(u64 base, u64 length); // rounds inwards to whole frames
    void reserve(u64 base, u64 length);    // rounds outwards to whole frames
    bool ranges_overflowed() const { return m_ranges_overflowed; }

    // `pristine`, when given, says whether the frame is known to hold only zeros (initialize_zeroed() and never
    // allocated since): the caller may skip clearing it.
    ErrorOr<u64> allocate_frame(bool* pristine = nullptr);
    // The same with the `pristine` answer in bit 0 of the address (frames are page-aligned): one value that comes
    // back in registers, so a hot caller keeps no address-taken flag on its stack (which would give it a canary
    // check under -fstack-protector-strong). frame_address() strips the tag.
    static constexpr u64 pristine_tag = 1;
    ErrorOr<u64> allocate_frame_tagged();
    static constexpr u64 frame_address(u64 tagged) { return tagged & ~pristine_tag; }
    // `pristine` as for allocate_frame, for the whole run.
    ErrorOr<u64> allocate_contiguous(u64 frames, u64 alignment = frame_size, bool* pristine = nullptr);
    // Frees frames that were allocated; a frame that is not in use is EINVAL (double or invalid free).
    ErrorOr<void> free_frames(u64 phys, u64 frames = 1);

    bool is_in_use(u64 phys) const;
    u64 total_frames() const { return m_total_usable; }
    u64 free_frames_count() const { return m_free; }
    u64 max_phys() const { return m_frame_count * frame_size; }

    // The bitmap moves when the kernel leaves the identity map for its direct map.
    void rebase_bitmap(u64* bitmap) { m_bitmap = bitmap; }
    u64* bitmap() const { return m_bitmap; }

    static constexpr u64 max_ranges = 32;

private:
    struct FrameRange {
        u64 first_frame;
        u64 end_frame;
    };
    static bool in_ranges(FrameRange const* ranges, u64 count, u64 first, u64 end);
    bool test(u64 frame) const { return m_bitmap[frame / 64] & (1ull << (frame % 64)); }
    void set(u64 frame) { m_bitmap[frame / 64] |= 1ull << (frame % 64); }
    void clear(u64 frame) { m_bitmap[frame / 64] &= ~(1ull << (frame % 64)); }
    // Sets or clears frames [first, end) and returns how many changed.
    u64 set_range(u64 first, u64 end);
    u64 clear_range(u64 first, u64 end);
    bool any_clear(u64 first, u64 end) const;

    u64* m_bitmap { nullptr };
    u64 m_frame_count { 0 };
    u64 m_total_usable { 0 };
    u64 m_free { 0 };
    u64 m_hint { 0 };
    u64 m_pristine_from { ~0ull }; // frames at or above this index are zero and were never handed out
    // Frees are only valid inside RAM that was made usable and is not reserved (the kernel image, the bitmap).
    FrameRange m_usable[max_ranges] {};
    u64 m_usable_count { 0 };
    FrameRange m_reserved[max_ranges] {};
    u64 m_reserved_count { 0 };
    bool m_ranges_overflowed { false };
};

} // namespace kernite::pmm
