#include <pmm/physical_memory.h>

namespace kernite::pmm {

void PhysicalMemory::initialize(u8* bitmap, u64 max_phys)
{
    m_bitmap = bitmap;
    m_frame_count = max_phys / frame_size;
    u64 bytes = bitmap_bytes_for(max_phys);
    for (u64 i = 0; i < bytes; ++i)
        m_bitmap[i] = 0xff;
    m_total_usable = 0;
    m_free = 0;
    m_hint = 0;
    m_usable_count = 0;
    m_reserved_count = 0;
    m_ranges_overflowed = false;
}

bool PhysicalMemory::in_ranges(Range const* ranges, u64 count, u64 first, u64 end)
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
    for (u64 frame = first / frame_size; frame < end / frame_size && frame < m_frame_count; ++frame) {
        if (test(frame)) {
            clear(frame);
            ++m_total_usable;
            ++m_free;
        }
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
    for (u64 frame = first; frame < end / frame_size && frame < m_frame_count; ++frame) {
        if (!test(frame)) {
            set(frame);
            --m_total_usable;
            --m_free;
        }
    }
}

ErrorOr<u64> PhysicalMemory::allocate_frame()
{
    if (m_free == 0)
        return Error::from_errno(ENOMEM, "out of physical memory");
    for (u64 pass = 0; pass < 2; ++pass) {
        u64 frame = pass == 0 ? m_hint : 0;
        u64 limit = pass == 0 ? m_frame_count : m_hint;
        while (frame < limit) {
            // Skip whole bytes of used frames quickly.
            if (frame % 8 == 0 && frame + 8 <= limit && m_bitmap[frame / 8] == 0xff) {
                frame += 8;
                continue;
            }
            if (!test(frame)) {
                set(frame);
                --m_free;
                m_hint = frame + 1;
                return frame * frame_size;
            }
            ++frame;
        }
    }
    return Error::from_errno(ENOMEM, "out of physical memory");
}

ErrorOr<u64> PhysicalMemory::allocate_contiguous(u64 frames, u64 alignment)
{
    if (frames == 0 || alignment < frame_size || !ktl::is_power_of_two(alignment))
        return Error::from_errno(EINVAL, "bad contiguous allocation request");
    if (frames == 1 && alignment == frame_size)
        return allocate_frame();
    if (frames > m_free)
        return Error::from_errno(ENOMEM, "out of physical memory");
    u64 step = alignment / frame_size;
    for (u64 start = 0; start + frames <= m_frame_count; start += step) {
        u64 run = 0;
        while (run < frames && !test(start + run))
            ++run;
        if (run == frames) {
            for (u64 i = 0; i < frames; ++i)
                set(start + i);
            m_free -= frames;
            return start * frame_size;
        }
        // Jump past the used frame that broke the run, keeping the alignment.
        u64 next = start + run + 1;
        start = ((next + step - 1) / step) * step - step;
    }
    return Error::from_errno(ENOMEM, "no contiguous physical range");
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
    for (u64 frame = first; frame < end; ++frame) {
        if (!test(frame))
            return Error::from_errno(EINVAL, "double free of a physical frame");
    }
    for (u64 frame = first; frame < end; ++frame)
        clear(frame);
    m_free += frames;
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
