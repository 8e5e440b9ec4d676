// The program's address map: see include/vma/region_map.h. Each public operation validates everything (Linux's
// errno for each case, cited per system call), reserves the array slots it may need, and only then changes
// the map, so that a failure changes nothing.
#include <vma/region_map.h>

#include <ktl/allocator.h>

namespace kernite::vma {

namespace {

bool same_name(char const* a, char const* b)
{
    if (a == b)
        return true;
    if (a == nullptr || b == nullptr)
        return false;
    while (*a && *a == *b) {
        ++a;
        ++b;
    }
    return *a == *b;
}

// Program and File regions carry a file offset that must continue across a merge and follow a split.
bool has_file_offset(RegionKind kind) { return kind == RegionKind::Program || kind == RegionKind::File; }

bool mergeable(Region const& left, Region const& right)
{
    if (left.end != right.start || left.prot != right.prot || left.kind != right.kind
        || left.was_writable != right.was_writable || !same_name(left.name, right.name))
        return false;
    if (has_file_offset(left.kind)) {
        u64 continued = 0;
        return ktl::checked_add(left.offset, left.length(), &continued) && continued == right.offset;
    }
    return left.offset == right.offset;
}

char const* default_name(RegionKind kind)
{
    switch (kind) {
    case RegionKind::Heap: return "[heap]";
    case RegionKind::Stack: return "[stack]";
    default: return nullptr;
    }
}

// Page-rounds a length; false on overflow.
bool round_length(u64 length, u64* rounded) { return ktl::align_up(length, page_size, rounded); }

u64 page_up(u64 value) { return ktl::align_down(value + page_size - 1, page_size); } // value < 2^47 only

} // namespace

char const* region_kind_name(RegionKind kind)
{
    switch (kind) {
    case RegionKind::Program: return "program";
    case RegionKind::File: return "file";
    case RegionKind::Heap: return "heap";
    case RegionKind::Anonymous: return "anonymous";
    case RegionKind::Stack: return "stack";
    case RegionKind::Guard: return "guard";
    case RegionKind::ThreadStack: return "thread-stack";
    }
    return "?";
}

RegionMap::~RegionMap() { ktl::deallocate(m_regions); }

void RegionMap::set_mmap_base(u64 base)
{
    m_mmap_base = ktl::align_down(base < user_address_limit ? base : user_address_limit, page_size);
}

void RegionMap::set_search_floor(u64 floor)
{
    m_search_floor = floor > minimum_user_address ? page_up(floor < user_address_limit ? floor : user_address_limit)
                                                  : minimum_user_address;
}

Region const& RegionMap::region(usize index) const
{
    VERIFY(index < m_count);
    return m_regions[index];
}

// Binary search: the first region whose end lies above `address` (it holds `address` or is the next one up).
usize RegionMap::first_ending_after(u64 address) const
{
    usize low = 0;
    usize high = m_count;
    while (low < high) {
        usize const middle = low + (high - low) / 2;
        if (m_regions[middle].end <= address)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

Region const* RegionMap::find(u64 address) const
{
    usize const index = first_ending_after(address);
    if (index < m_count && m_regions[index].start <= address)
        return &m_regions[index];
    return nullptr;
}

bool RegionMap::is_free(u64 start, u64 length) const
{
    if (length == 0)
        return true;
    // The first region ending above `start` overlaps the range unless it starts at or after its end.
    usize const index = first_ending_after(start);
    return index == m_count || (m_regions[index].start >= start && m_regions[index].start - start >= length);
}

// Where the free space below a region ends: its start, or stack_gap lower for the main stack (Linux
// vm_start_gap(): the guard gap below a stack is never handed out).
u64 RegionMap::gap_start(Region const& region) const
{
    if (region.kind != RegionKind::Stack)
        return region.start;
    return region.start > m_stack_gap ? region.start - m_stack_gap : 0;
}

// True when no region, or stack gap, overlaps [start, end).
bool RegionMap::is_free_with_gaps(u64 start, u64 end) const
{
    u64 horizon = 0;
    if (!ktl::checked_add(end, m_stack_gap, &horizon))
        horizon = ~0ull;
    for (usize index = first_ending_after(start); index < m_count && m_regions[index].start < horizon; ++index) {
        if (gap_start(m_regions[index]) < end)
            return false;
    }
    return true;
}

ErrorOr<u64> RegionMap::find_free(u64 length, u64 alignment) const
{
    if (length == 0 || !is_page_aligned(length))
        return Error::from_errno(EINVAL, "find_free: length not a nonzero multiple of the page size");
    if (alignment < page_size)
        alignment = page_size;
    if (!ktl::is_power_of_two(alignment))
        return Error::from_errno(EINVAL, "find_free: alignment not a power of two");
    u64 const floor = m_search_floor;
    u64 const ceiling = m_mmap_base;

    // Top-down below mmap_base (Linux arch_get_unmapped_area_topdown()): the gaps between regions, highest first.
    // Gap `index` lies between region index-1 (or the floor) and region index (or the ceiling).
    for (usize index = first_ending_after(ceiling) + 1; index-- > 0;) {
        u64 top = index < m_count ? gap_start(m_regions[index]) : user_address_limit;
        u64 const bottom_edge = index > 0 ? m_regions[index - 1].end : 0;
        if (top > ceiling)
            top = ceiling;
        u64 const bottom = bottom_edge > floor ? bottom_edge : floor;
        if (bottom_edge >= ceiling)
            continue; // this gap lies wholly above the ceiling: the bottom-up pass below handles it
        if (top <= bottom || top - bottom < length)
            continue;
        u64 const candidate = ktl::align_down(top - length, alignment);
        if (candidate >= bottom)
            return candidate;
    }

    // Then bottom-up above mmap_base, as Linux falls back to its bottom-up search when the top-down one fails.
    for (usize index = first_ending_after(ceiling); index <= m_count; ++index) {
        u64 const bottom_edge = index > 0 ? m_regions[index - 1].end : 0;
        u64 const top = index < m_count ? gap_start(m_regions[index]) : user_address_limit;
        u64 bottom = bottom_edge > ceiling ? bottom_edge : ceiling;
        if (bottom < floor)
            bottom = floor;
        u64 candidate = 0;
        if (!ktl::align_up(bottom, alignment, &candidate) || candidate >= top || top - candidate < length)
            continue;
        return candidate;
    }
    return Error::from_errno(ENOMEM, "no free range of that size in the address space");
}

// Regions that straddle `start` or `end` (each split makes one more region).
static usize splits_needed(RegionMap const& map, u64 start, u64 end)
{
    usize count = 0;
    Region const* region = map.find(start);
    if (region && region->start < start)
        ++count;
    region = map.find(end);
    if (region && region->start < end)
        ++count;
    return count;
}

ErrorOr<void> RegionMap::reserve(usize extra)
{
    if (extra > m_max_regions || m_count > m_max_regions - extra)
        return Error::from_errno(ENOMEM, "too many mappings (vm.max_map_count)");
    if (m_count + extra <= m_capacity)
        return {};
    usize capacity = m_capacity < 8 ? 16 : m_capacity * 2;
    if (capacity < m_count + extra)
        capacity = m_count + extra;
    u64 bytes = 0;
    if (!ktl::checked_mul<u64>(capacity, sizeof(Region), &bytes))
        return Error::from_errno(ENOMEM, "region map too large");
    auto* regions = static_cast<Region*>(ktl::allocate(bytes));
    if (regions == nullptr)
        return Error::from_errno(ENOMEM, "out of memory for the region map");
    if (m_count > 0)
        __builtin_memcpy(static_cast<void*>(regions), m_regions, m_count * sizeof(Region));
    ktl::deallocate(m_regions);
    m_regions = regions;
    m_capacity = capacity;
    return {};
}

// Opens a slot at `index` (the regions from there move up one) and returns it, for the caller to fill in.
Region& RegionMap::open_slot(usize index)
{
    VERIFY(m_count < m_capacity && index <= m_count);
    if (index < m_count)
        __builtin_memmove(static_cast<void*>(&m_regions[index + 1]), &m_regions[index],
            (m_count - index) * sizeof(Region));
    ++m_count;
    return m_regions[index];
}

void RegionMap::insert_at(usize index, Region const& region) { open_slot(index) = region; }

void RegionMap::erase(usize index, usize count)
{
    VERIFY(index <= m_count && count <= m_count - index);
    if (count == 0)
        return;
    usize const tail = m_count - index - count;
    if (tail > 0)
        __builtin_memmove(static_cast<void*>(&m_regions[index]), &m_regions[index + count], tail * sizeof(Region));
    m_count -= count;
}

// Splits the region strictly containing `address` (if any) into two at `address`. Needs a reserved slot.
void RegionMap::split_at(u64 address)
{
    usize const index = first_ending_after(address);
    if (index == m_count || m_regions[index].start >= address)
        return;
    // Built in place: a Region on the stack, passed by reference, would make this hot function carry a canary.
    Region& right = open_slot(index + 1);
    right = m_regions[index];
    right.start = address;
    if (has_file_offset(right.kind))
        right.offset += address - m_regions[index].start;
    m_regions[index].end = address;
}

// Merges every mergeable neighbour pair among regions first-1 .. last+1.
void RegionMap::merge_around(usize first, usize last)
{
    usize index = first > 0 ? first - 1 : 0;
    usize stop = last + 1; // the last index that may merge into its left neighbour
    while (index + 1 < m_count && index + 1 <= stop) {
        if (mergeable(m_regions[index], m_regions[index + 1])) {
            m_regions[index].end = m_regions[index + 1].end;
            erase(index + 1, 1);
            --stop;
        } else {
            ++index;
        }
    }
}

// Removes [start, end) from the map, reporting each removed piece. Needs splits_needed() reserved slots.
void RegionMap::remove_range(u64 start, u64 end, RemovedCallback on_removed)
{
    split_at(start);
    split_at(end);
    usize const first = first_ending_after(start);
    usize last = first;
    while (last < m_count && m_regions[last].start < end) {
        on_removed(m_regions[last]);
        ++last;
    }
    erase(first, last - first);
}

// Inserts a region into free space and merges it with its neighbours. Needs one reserved slot.
void RegionMap::insert_merged(Region const& region)
{
    usize const index = first_ending_after(region.start);
    VERIFY(index == m_count || m_regions[index].start >= region.end);
    insert_at(index, region);
    merge_around(index, index);
}

ErrorOr<void> RegionMap::map(MapRequest const& request, WxMode mode, RemovedCallback on_removed)
{
    // mm/mmap.c do_mmap(): zero length EINVAL, rounding overflow ENOMEM; MAP_FIXED needs an aligned address.
    if (request.length == 0)
        return Error::from_errno(EINVAL, "mmap of zero length");
    if (!is_page_aligned(request.start))
        return Error::from_errno(EINVAL, "mmap address not page-aligned");
    if (request.prot & ~prot_mask)
        return Error::from_errno(EINVAL, "unknown PROT_ bits");
    u64 length = 0;
    if (!round_length(request.length, &length))
        return Error::from_errno(ENOMEM, "mmap length overflows");
    // security_mmap_addr() with mmap_min_addr = 64 KiB: EPERM.
    if (request.start < minimum_user_address)
        return Error::from_errno(EPERM, "mapping below 64 KiB is refused (null-pointer guard)");
    if (length > user_address_limit || request.start > user_address_limit - length)
        return Error::from_errno(ENOMEM, "mapping beyond the user address space");
    TRY(check_wx_policy_for_new_mapping(request.prot, mode));
    u64 const end = request.start + length;
    // MAP_FIXED_NOREPLACE: EEXIST when anything is mapped in the range.
    if (!request.replace && !is_free(request.start, length))
        return Error::from_errno(EEXIST, "the range is already mapped (MAP_FIXED_NOREPLACE)");
    TRY(reserve(splits_needed(*this, request.start, end) + 1));

    remove_range(request.start, end, on_removed);
    insert_merged(Region {
        .start = request.start,
        .end = end,
        .prot = request.prot,
        .kind = request.kind,
        .was_writable = (request.prot & prot_write) != 0,
        .name = request.name ? request.name : default_name(request.kind),
        .offset = has_file_offset(request.kind) ? request.offset : 0,
    });
    return {};
}

ErrorOr<void> RegionMap::unmap(u64 start, u64 length, RemovedCallback on_removed)
{
    // mm/mmap.c do_vmi_munmap(): unaligned start, range beyond TASK_SIZE, or zero length: EINVAL.
    u64 rounded = 0;
    if (!is_page_aligned(start) || length == 0 || !round_length(length, &rounded) || start > user_address_limit
        || rounded > user_address_limit - start)
        return Error::from_errno(EINVAL, "munmap: bad address or length");
    u64 const end = start + rounded;
    TRY(reserve(splits_needed(*this, start, end)));
    remove_range(start, end, on_removed);
    return {};
}

ErrorOr<void> RegionMap::protect(u64 start, u64 length, u32 prot, WxMode mode, ProtectCallback on_changed)
{
    // mm/mprotect.c do_mprotect_pkey(): unaligned start EINVAL; zero length is success before anything else;
    // rounding overflow ENOMEM; unknown prot bits EINVAL; unmapped pages ENOMEM.
    if (!is_page_aligned(start))
        return Error::from_errno(EINVAL, "mprotect address not page-aligned");
    if (length == 0)
        return {};
    u64 rounded = 0;
    u64 end = 0;
    if (!round_length(length, &rounded) || !ktl::checked_add(start, rounded, &end))
        return Error::from_errno(ENOMEM, "mprotect range overflows");
    if (prot & ~prot_mask)
        return Error::from_errno(EINVAL, "unknown PROT_ bits");

    // Every page mapped, and the policy satisfied for every region, before anything changes.
    u64 cursor = start;
    for (usize index = first_ending_after(start); cursor < end; ++index) {
        if (index == m_count || m_regions[index].start > cursor)
            return Error::from_errno(ENOMEM, "mprotect of memory that is not mapped");
        Region const& region = m_regions[index];
        TRY(check_wx_policy(region.prot, prot, region.was_writable, mode));
        cursor = region.end;
    }
    TRY(reserve(splits_needed(*this, start, end)));

    split_at(start);
    split_at(end);
    usize const first = first_ending_after(start);
    usize last = first;
    for (; last < m_count && m_regions[last].start < end; ++last) {
        Region& region = m_regions[last];
        if (region.prot != prot) {
            on_changed(ProtectionChange { region.start, region.end, region.prot, prot });
            region.prot = prot;
        }
        if (prot & prot_write)
            region.was_writable = true;
    }
    merge_around(first, last - 1);
    return {};
}

ErrorOr<u64> RegionMap::remap(u64 old_address, u64 old_length, u64 new_length, u32 flags, u64 new_address,
    RemovedCallback on_removed, MoveCallback on_moved)
{
    // mm/mremap.c, for private memory.
    if (flags & ~(mremap_maymove | mremap_fixed | mremap_dontunmap))
        return Error::from_errno(EINVAL, "mremap: unknown flags");
    if (flags & mremap_dontunmap)
        return Error::from_errno(EINVAL, "mremap: MREMAP_DONTUNMAP is not supported");
    if ((flags & mremap_fixed) && !(flags & mremap_maymove))
        return Error::from_errno(EINVAL, "mremap: MREMAP_FIXED without MREMAP_MAYMOVE");
    if (!is_page_aligned(old_address))
        return Error::from_errno(EINVAL, "mremap: old address not page-aligned");
    u64 old_size = 0;
    u64 new_size = 0;
    if (!round_length(old_length, &old_size) || !round_length(new_length, &new_size) || new_size == 0)
        return Error::from_errno(EINVAL, "mremap: bad length");
    // A zero old length duplicates a shared mapping in Linux; for private memory it is EINVAL.
    if (old_size == 0)
        return Error::from_errno(EINVAL, "mremap: zero old length on private memory");
    if (old_address > user_address_limit || old_size > user_address_limit - old_address)
        return Error::from_errno(EINVAL, "mremap: old range beyond the user address space");
    u64 const kept = old_size < new_size ? old_size : new_size; // bytes of the old range that survive

    // The part that survives must lie inside one region (vma_to_resize(): EFAULT otherwise). Checked for
    // MREMAP_FIXED and growth; a plain shrink just unmaps the tail, as Linux does, mapped or not.
    auto check_source = [&]() -> ErrorOr<Region const*> {
        Region const* region = find(old_address);
        if (region == nullptr || kept > region->end - old_address)
            return Error::from_errno(EFAULT, "mremap: old range not inside one mapping");
        return region;
    };

    // Moves [old_address, old_address + kept) to `target` and extends it to new_size. Needs 3 reserved slots.
    auto move_to = [&](u64 target) {
        split_at(old_address);
        split_at(old_address + kept);
        usize const index = first_ending_after(old_address);
        Region moved = m_regions[index];
        VERIFY(moved.start == old_address && moved.end == old_address + kept);
        erase(index, 1);
        on_moved(Move { old_address, target, kept, moved.prot });
        moved.start = target;
        moved.end = target + new_size;
        insert_merged(moved);
    };

    if (flags & mremap_fixed) {
        // mremap_to(): aligned target inside the user address space, not overlapping the old range.
        if (!is_page_aligned(new_address))
            return Error::from_errno(EINVAL, "mremap: new address not page-aligned");
        if (new_size > user_address_limit || new_address > user_address_limit - new_size)
            return Error::from_errno(EINVAL, "mremap: new range beyond the user address space");
        if (ktl::ranges_overlap(old_address, old_size, new_address, new_size))
            return Error::from_errno(EINVAL, "mremap: old and new ranges overlap");
        if (new_address < minimum_user_address)
            return Error::from_errno(EPERM, "mremap: target below 64 KiB is refused (null-pointer guard)");
        TRY(check_source());
        TRY(reserve(splits_needed(*this, new_address, new_address + new_size)
            + splits_needed(*this, old_address + kept, old_address + old_size) + 3));
        remove_range(new_address, new_address + new_size, on_removed);
        if (old_size > kept)
            remove_range(old_address + kept, old_address + old_size, on_removed);
        move_to(new_address);
        return new_address;
    }

    if (new_size <= old_size) {
        if (new_size < old_size) {
            TRY(reserve(splits_needed(*this, old_address + new_size, old_address + old_size)));
            remove_range(old_address + new_size, old_address + old_size, on_removed);
        }
        return old_address;
    }

    Region const* region = TRY(check_source());
    u64 const old_end = old_address + old_size;
    // Grow in place when the range ends where its region does and the pages after it are free (vma_expandable()).
    if (old_end == region->end && new_size - old_size <= user_address_limit - old_end
        && is_free(old_end, new_size - old_size)) {
        usize const index = first_ending_after(old_address);
        m_regions[index].end = old_address + new_size;
        merge_around(index, index);
        return old_address;
    }
    if (!(flags & mremap_maymove))
        return Error::from_errno(ENOMEM, "mremap: cannot grow in place without MREMAP_MAYMOVE");
    u64 const target = TRY(find_free(new_size));
    TRY(reserve(3));
    move_to(target);
    return target;
}

ErrorOr<void> RegionMap::set_brk_area(u64 start, u64 limit)
{
    if (!is_page_aligned(start) || start < minimum_user_address || limit < start || limit > user_address_limit)
        return Error::from_errno(EINVAL, "bad brk area");
    if (m_brk != m_brk_start)
        return Error::from_errno(EINVAL, "the brk area is in use");
    m_brk_start = start;
    m_brk_limit = limit;
    m_brk = start;
    return {};
}

ErrorOr<u64> RegionMap::set_brk(u64 requested, RemovedCallback on_removed)
{
    // mm/mmap.c SYSCALL_DEFINE1(brk): outside [start_brk, limit] or colliding with a mapping, the break stays.
    if (m_brk_limit == 0)
        return Error::from_errno(ENOMEM, "brk: no heap area");
    if (requested < m_brk_start || requested > m_brk_limit)
        return Error::from_errno(ENOMEM, "brk: outside the heap area");
    u64 const new_top = page_up(requested);
    u64 const old_top = page_up(m_brk);
    if (new_top < old_top) {
        TRY(reserve(splits_needed(*this, new_top, old_top)));
        remove_range(new_top, old_top, on_removed);
    } else if (new_top > old_top) {
        // Linux keeps one free page (plus the stack gap) between the new break and the next mapping.
        u64 const clearance_end = user_address_limit - new_top >= page_size ? new_top + page_size : user_address_limit;
        if (!is_free_with_gaps(old_top, clearance_end))
            return Error::from_errno(ENOMEM, "brk: the heap would run into another mapping");
        TRY(reserve(1));
        insert_merged(Region {
            .start = old_top,
            .end = new_top,
            .prot = prot_read | prot_write,
            .kind = RegionKind::Heap,
            .was_writable = true,
            .name = default_name(RegionKind::Heap),
            .offset = 0,
        });
    }
    m_brk = requested;
    return requested;
}

} // namespace kernite::vma
