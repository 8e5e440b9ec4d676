#include <pmm/physical_memory.h>

namespace kernite::pmm {

namespace {

// Mask of bits [from, to) within one 64-bit word, 0 <= from < to <= 64.
constexpr u64 word_mask(u64 from, u64 to)
{
    u64 high = to == 64 ? ~0ull : (1ull << to) - 1;
    return high & ~((1ull << from) - 1);
}

} // namespace

u64 PhysicalMemory::set_range(u64 first, u64 end)
{
    u64 changed = 0;
    while (first < end) {
        u64 word = first / 64;
        u64 to = (end - word * 64) < 64 ? end - word * 64 : 64;
        u64 mask = word_mask(first % 64, to);
        u64 newly = ~m_bitmap[word] & mask;
        // Whole words are the common case: skip the bit count (libgcc's popcount is a loop).
        changed += newly == mask && mask == ~0ull ? 64 : static_cast<u64>(__builtin_popcountll(newly));
        m_bitmap[word] |= mask;
        first = word * 64 + to;
    }
    return changed;
}

u64 PhysicalMemory::clear_range(u64 first, u64 end)
{
    u64 changed = 0;
    while (first < end) {
        u64 word = first / 64;
        u64 to = (end - word * 64) < 64 ? end - word * 64 : 64;
        u64 mask = word_mask(first % 64, to);
        u64 newly = m_bitmap[word] & mask;
        changed += newly == mask && mask == ~0ull ? 64 : static_cast<u64>(__builtin_popcountll(newly));
        m_bitmap[word] &= ~mask;
        first = word * 64 + to;
    }
    return changed;
}

bool PhysicalMemory::any_clear(u64 first, u64 end) const
{
    while (first < end) {
        u64 word = first / 64;
        u64 to = (end - word * 64) < 64 ? end - word * 64 : 64;
        if (~m_bitmap[word] & word_mask(first % 64, to))
            return true;
        first = word * 64 + to;
    }
    return false;
}

void PhysicalMemory::initialize(u64* bitmap, u64 max_phys)
{
    m_bitmap = bitmap;
    m_frame_count = max_phys / frame_size;
    u64 words = bitmap_bytes_for(max_phys) / 8;
    for (u64 i = 0; i < words; ++i)
        m_bitmap[i] = ~0ull;
    m_total_usable = 0;
    m_free = 0;
    m_hint = 0;
    m_usable_count = 0;
    m_reserved_count = 0;
    m_ranges_overflowed = false;
    m_pristine_from = ~0ull;
}

void PhysicalMemory::initialize_zeroed(u64* bitmap, u64 max_phys, Range const* usable, u64 count)
{
    m_bitmap = bitmap;
    m_frame_count = max_phys / frame_size;
    m_usable_count = 0;
    m_reserved_count = 0;
    m_ranges_overflowed = count > max_ranges;
    m_hint = 0;
    m_pristine_from = 0;
    // Usable frame ranges, sorted by start (insertion sort: there are at most a handful).
    FrameRange sorted[max_ranges];
    u64 n = 0;
    for (u64 i = 0; i < count && n < max_ranges; ++i) {
        u64 first = 0, end = 0;
        if (!ktl::align_up(usable[i].base, frame_size, &first)
            || !ktl::checked_add(usable[i].base, usable[i].length, &end))
            continue;
        first /= frame_size;
        end = ktl::align_down(end, frame_size) / frame_size;
        if (end > m_frame_count)
            end = m_frame_count;
        if (first >= end)
            continue;
        u64 j = n++;
        while (j > 0 && sorted[j - 1].first_frame > first) {
            sorted[j] = sorted[j - 1];
            --j;
        }
        sorted[j] = { first, end };
    }
    // Everything that is not usable is in use: the gaps, and the bits past the last frame in the last word.
    u64 cursor = 0;
    m_total_usable = 0;
    for (u64 i = 0; i < n; ++i) {
        u64 first = sorted[i].first_frame < cursor ? cursor : sorted[i].first_frame;
        if (first > cursor)
            set_range(cursor, first);
        if (sorted[i].end_frame > first)
            m_total_usable += sorted[i].end_frame - first;
        if (sorted[i].end_frame > cursor)
            cursor = sorted[i].end_frame;
        m_usable[m_usable_count++] = sorted[i];
    }
    u64 words_end = (m_frame_count + 63) / 64 * 64;
    if (cursor < words_end)
        set_range(cursor, words_end);
    m_free = m_total_usable;
}

bool PhysicalMemory::in_ranges(FrameRange const* ranges, u64 count, u64 first, u64 end)
{
    for (u64 i = 0; i < count; ++i) {
        if (first < ranges[i].end_frame && ranges[i].first_frame < end)
            return true;
    }
    return false;
}

void PhysicalMemory::add_usable(u64 base, u64 length)
{
    u64 first = 0;
    if (!ktl::align_up(base, frame_size, &first))
        return;
    u64 end = 0;
    if (!ktl::checked_add(base, length, &end))
        end = ~0ull;
    end = ktl::align_down(end, frame_size);
    if (end <= first)
        return;
    if (m_usable_count < max_ranges)
        m_usable[m_usable_count++] = { first / frame_size, end / frame_size };
    else
        m_ranges_overflowed = true;
    u64 last = end / frame_size < m_frame_count ? end / frame_size : m_frame_count;
    if (first / frame_size < last) {
        u64 changed = clear_range(first / frame_size, last);
        m_total_usable += changed;
        m_free += changed;
    }
}

void PhysicalMemory::reserve(u64 base, u64 length)
{
    if (length == 0)
        return;
    u64 first = ktl::align_down(base, frame_size) / frame_size;
    u64 end = 0;
    if (!ktl::checked_add(base, length, &end) || !ktl::align_up(end, frame_size, &end))
        end = ~0ull & ~(frame_size - 1);
    if (m_reserved_count < max_ranges)
        m_reserved[m_reserved_count++] = { first, end / frame_size };
    else
        m_ranges_overflowed = true;
    u64 last = end / frame_size < m_frame_count ? end / frame_size : m_frame_count;
    if (first < last) {
        u64 changed = set_range(first, last);
        m_total_usable -= changed;
        m_free -= changed;
    }
}

ErrorOr<u64> PhysicalMemory::allocate_frame(bool* pristine)
{
    u64 tagged = TRY(allocate_frame_tagged());
    if (pristine)
        *pristine = tagged & pristine_tag;
    return frame_address(tagged);
}

ErrorOr<u64> PhysicalMemory::allocate_frame_tagged()
{
    if (m_free == 0)
        return Error::from_errno(ENOMEM, "out of physical memory");
    u64 words = (m_frame_count + 63) / 64;
    u64 start = m_hint / 64;
    for (u64 i = 0; i < words; ++i) {
        u64 word = (start + i) % words;
        u64 free_bits = ~m_bitmap[word];
        if (free_bits == 0)
            continue;
        u64 frame = word * 64 + static_cast<u64>(__builtin_ctzll(free_bits));
        if (frame >= m_frame_count)
            continue;
        set(frame);
        --m_free;
        m_hint = frame + 1;
        u64 tag = 0;
        if (frame >= m_pristine_from) {
            tag = pristine_tag;
            m_pristine_from = frame + 1;
        }
        return frame * frame_size | tag;
    }
    return Error::from_errno(ENOMEM, "out of physical memory");
}

ErrorOr<u64> PhysicalMemory::allocate_contiguous(u64 frames, u64 alignment, bool* pristine)
{
    if (frames == 0 || alignment < frame_size || !ktl::is_power_of_two(alignment))
        return Error::from_errno(EINVAL, "bad contiguous allocation request");
    if (frames == 1 && alignment == frame_size)
        return allocate_frame();
    if (frames > m_free)
        return Error::from_errno(ENOMEM, "out of physical memory");
    u64 step = alignment / frame_size;
    auto round_up = [&](u64 frame) { return (frame + step - 1) / step * step; };
    // Next fit from the hint, then from the start. A word at a time: a stretch of used frames is skipped with one
    // count of trailing ones and a free run measured with counts of trailing zeros, never a test per frame (where
    // guest ring 0 is emulated every instruction costs ~0.7 us, and the boot's first stacks searched bit by bit
    // past the holes early boot leaves in low memory).
    u64 words = (m_frame_count + 63) / 64;
    auto search = [&](u64 from, u64 to) -> u64 {
        u64 start = round_up(from);
        while (start < to && frames <= to - start) {
            u64 bits = m_bitmap[start / 64] >> (start % 64); // bit 0 is `start`; the bits shifted in are free
            if (bits & 1) {
                // Used: skip to the next free frame of this word, or to the next word. ~bits is zero only for a
                // whole used word read from its first bit.
                start = round_up(start + (~bits ? static_cast<u64>(__builtin_ctzll(~bits)) : 64));
                continue;
            }
            u64 run = bits ? static_cast<u64>(__builtin_ctzll(bits)) : 64 - start % 64;
            while (run < frames && (start + run) % 64 == 0 && (start + run) / 64 < words) {
                u64 next = m_bitmap[(start + run) / 64];
                run += next ? static_cast<u64>(__builtin_ctzll(next)) : 64;
                if (next)
                    break;
            }
            if (run >= frames)
                return start;
            start = round_up(start + run + 1);
        }
        return ~0ull;
    };
    u64 start = search(m_hint, m_frame_count);
    if (start == ~0ull)
        start = search(0, m_hint + frames < m_frame_count ? m_hint + frames : m_frame_count);
    if (start == ~0ull)
        return Error::from_errno(ENOMEM, "no contiguous physical range");
    m_free -= set_range(start, start + frames);
    if (pristine)
        *pristine = start >= m_pristine_from;
    if (start + frames > m_pristine_from)
        m_pristine_from = start + frames;
    m_hint = start + frames;
    return start * frame_size;
}

ErrorOr<void> PhysicalMemory::free_frames(u64 phys, u64 frames)
{
    if (phys % frame_size != 0)
        return Error::from_errno(EINVAL, "free of an unaligned frame");
    u64 first = phys / frame_size;
    u64 end = 0;
    if (frames == 0 || !ktl::checked_add(first, frames, &end) || end > m_frame_count)
        return Error::from_errno(EINVAL, "free outside physical memory");
    for (u64 frame = first; frame < end; ++frame) {
        if (!in_ranges(m_usable, m_usable_count, frame, frame + 1))
            return Error::from_errno(EINVAL, "free of a frame that is not usable RAM");
    }
    if (in_ranges(m_reserved, m_reserved_count, first, end))
        return Error::from_errno(EINVAL, "free of a reserved frame");
    if (any_clear(first, end))
        return Error::from_errno(EINVAL, "double free of a physical frame");
    m_free += clear_range(first, end);
    if (first < m_hint)
        m_hint = first;
    return {};
}

bool PhysicalMemory::is_in_use(u64 phys) const
{
    u64 frame = phys / frame_size;
    return frame >= m_frame_count || test(frame);
}

} // namespace kernite::pmm
