// The hardened slab allocator: see include/heap/hardened_heap.h for the design and its reasons.
#include <heap/hardened_heap.h>

namespace kernite::heap {

namespace {

// Size classes: steps of 16 up to 128, then four steps per doubling (at most 25% internal waste).
constexpr u16 class_sizes[] = { 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896,
    1024, 1280, 1536, 1792, 2048 };
constexpr unsigned class_count = sizeof(class_sizes) / sizeof(class_sizes[0]);
constexpr u16 large_class = 0xffff;
static_assert(class_sizes[class_count - 1] == largest_slab_size);

constexpr usize canary_size = 8;
// The redzone after each object's class size keeps slots 16-byte aligned and always leaves room for the
// canary, which sits right after the requested size (so a one-byte overflow is caught).
constexpr usize redzone_size = 16;
static_assert(redzone_size >= canary_size && redzone_size % alignment == 0);
constexpr usize max_slots = HardenedHeap::max_slots;

constexpr usize stride_of(unsigned size_class) { return class_sizes[size_class] + redzone_size; }
// Slot index of a byte offset inside a slab without a division: offset * ceil(2^32 / stride) >> 32 is exact for
// offsets and strides below 2^16 (the error term stays under 2^-16 while a fraction is at most 1 - 1/stride).
constexpr u64 reciprocal_of(unsigned size_class)
{
    return ((1ull << 32) + stride_of(size_class) - 1) / stride_of(size_class);
}
struct Reciprocals {
    u64 values[class_count];
};
constexpr Reciprocals make_reciprocals()
{
    Reciprocals table {};
    for (unsigned size_class = 0; size_class < class_count; ++size_class)
        table.values[size_class] = reciprocal_of(size_class);
    return table;
}
constexpr Reciprocals reciprocals = make_reciprocals();
// A slab is big enough for 16 objects (one page at least) and holds at most `max_slots`.
constexpr usize slab_pages_of(unsigned size_class)
{
    usize pages = (stride_of(size_class) * 16 + page_size - 1) / page_size;
    return pages == 0 ? 1 : pages;
}
constexpr usize capacity_of(unsigned size_class)
{
    usize slots = slab_pages_of(size_class) * page_size / stride_of(size_class);
    return slots > max_slots ? max_slots : slots;
}

// Which slot `offset` (bytes from the slab's start) is in, and whether it is that slot's first byte.
struct SlotPosition {
    u32 slot;
    bool at_start;
};
SlotPosition slot_of(unsigned size_class, usize offset)
{
    u64 slot = (offset * reciprocals.values[size_class]) >> 32;
    return { static_cast<u32>(slot), slot * stride_of(size_class) == offset };
}
static_assert(slab_pages_of(class_count - 1) * page_size < (1u << 16), "slot_of's reciprocal needs offsets below 2^16");

struct ClassTable {
    u8 by_granule[largest_slab_size / alignment + 1]; // (size + 15) / 16 -> class
};
constexpr ClassTable make_class_table()
{
    ClassTable table {};
    unsigned size_class = 0;
    for (usize granule = 0; granule <= largest_slab_size / alignment; ++granule) {
        while (class_sizes[size_class] < granule * alignment)
            ++size_class;
        table.by_granule[granule] = static_cast<u8>(size_class);
    }
    return table;
}
constexpr ClassTable class_table = make_class_table();

constexpr unsigned class_of(usize size) { return class_table.by_granule[(size + alignment - 1) / alignment]; }
static_assert(class_of(1) == 0 && class_of(16) == 0 && class_of(17) == 1 && class_of(2048) == class_count - 1);
static_assert(class_of(129) == 8 && class_of(160) == 8 && class_of(161) == 9);

bool test_bit(u64 const* words, u32 bit) { return (words[bit / 64] >> (bit % 64)) & 1; }
void set_bit(u64* words, u32 bit) { words[bit / 64] |= 1ull << (bit % 64); }
void clear_bit(u64* words, u32 bit) { words[bit / 64] &= ~(1ull << (bit % 64)); }

// The first set bit at or after `start`, wrapping around; -1 when there is none.
int find_from(u64 const bits[2], unsigned start)
{
    unsigned word = start / 64;
    unsigned shift = start % 64;
    u64 above = bits[word] & (~0ull << shift);
    if (above)
        return static_cast<int>(word * 64 + __builtin_ctzll(above));
    unsigned other = word ^ 1;
    if (bits[other])
        return static_cast<int>(other * 64 + __builtin_ctzll(bits[other]));
    u64 below = bits[word] & ~(~0ull << shift);
    if (below)
        return static_cast<int>(word * 64 + __builtin_ctzll(below));
    return -1;
}

u64 load_u64(u8 const* address)
{
    u64 value;
    __builtin_memcpy(&value, address, sizeof(value));
    return value;
}
void store_u64(u8* address, u64 value) { __builtin_memcpy(address, &value, sizeof(value)); }

constexpr u64 poison_word = 0x0101010101010101ull * HardenedHeap::poison_byte;

void poison(u8* object, usize size) { __builtin_memset(object, HardenedHeap::poison_byte, size); }

// Checks every byte of [object, object + size). Requested sizes are random, so the loop's exit is the branch a
// check cannot predict: there is one loop, over 32-byte blocks, and the remainder is one more 32-byte block that
// overlaps the last (a byte checked twice costs little), not a word loop and a byte loop after it. Below 32
// bytes, overlapping loads (like a small memcpy) replace loops altogether. General registers only: the kernel is
// built with -mgeneral-regs-only; on the host the compiler may vectorise the block.
bool poison_intact(u8 const* object, usize size)
{
    u64 difference;
    if (size >= 32) {
        auto block = [&](u8 const* at) {
            return (load_u64(at) ^ poison_word) | (load_u64(at + 8) ^ poison_word) | (load_u64(at + 16) ^ poison_word)
                | (load_u64(at + 24) ^ poison_word);
        };
        difference = block(object + size - 32);
        for (usize offset = 0; offset + 32 < size; offset += 32)
            difference |= block(object + offset);
    } else if (size >= 8) {
        // Words at 0, 8, 16 (each clamped to end at `size`) and size - 8 cover [0, size).
        usize last = size - 8;
        difference = (load_u64(object) ^ poison_word) | (load_u64(object + (last < 8 ? last : 8)) ^ poison_word)
            | (load_u64(object + (last < 16 ? last : 16)) ^ poison_word) | (load_u64(object + last) ^ poison_word);
    } else if (size >= 4) {
        u32 first, last;
        __builtin_memcpy(&first, object, sizeof(first));
        __builtin_memcpy(&last, object + size - 4, sizeof(last));
        difference = (first ^ static_cast<u32>(poison_word)) | (last ^ static_cast<u32>(poison_word));
    } else {
        // 1 to 3 bytes: the first, the middle and the last byte cover them.
        difference = (object[0] ^ HardenedHeap::poison_byte) | (object[size / 2] ^ HardenedHeap::poison_byte)
            | (object[size - 1] ^ HardenedHeap::poison_byte);
    }
    return difference == 0;
}

uptr hash_page(uptr page) { return static_cast<uptr>((page >> 12) * 0x9e3779b97f4a7c15ull); }

} // namespace

char const* misuse_name(Misuse misuse)
{
    switch (misuse) {
    case Misuse::DoubleFree: return "double-free";
    case Misuse::HeapCorruption: return "heap-corruption";
    case Misuse::UseAfterFree: return "use-after-free";
    case Misuse::InvalidFree: return "invalid-free";
    }
    return "unknown";
}

// The first lookup table and descriptors live in the heap object itself (zero already, in the kernel's .bss): no page
// to clear at the first allocation, which matters where every guest instruction is emulated (docs/platform-notes.md).
bool HardenedHeap::initialize()
{
    u8 first[sizeof(u64) + random_pool_size];
    m_random(first, sizeof(first));
    __builtin_memcpy(&m_canary_secret, first, sizeof(u64));
    __builtin_memcpy(m_random_pool, first + sizeof(u64), random_pool_size);
    m_random_left = random_pool_size;
    __builtin_memset(first, 0, sizeof(first));
    // Likewise the first descriptors: the first slabs need no metadata page.
    for (Span& span : m_initial_spans) {
        span.next = m_free_spans;
        m_free_spans = &span;
    }
    m_table = m_initial_table;
    m_table_capacity = initial_table_capacity;
    m_initialized = true;
    return true;
}

void HardenedHeap::report(Misuse misuse, void const* pointer, char const* message)
{
    ++m_statistics.misuse_reports;
    m_report(misuse, pointer, message);
}

u64 HardenedHeap::canary_for(uptr slot_address) const
{
    u64 value = (slot_address ^ m_canary_secret) * 0x9e3779b97f4a7c15ull;
    return value ^ (value >> 29) ^ m_canary_secret;
}

void* HardenedHeap::allocate(usize size)
{
    if (!m_initialized && !initialize())
        return nullptr;
    if (size == 0)
        size = 1;
    if (size > largest_slab_size)
        return allocate_large(size);
    return allocate_small(class_of(size), size);
}

void* HardenedHeap::allocate_small(unsigned size_class, usize size)
{
    SizeClass& sc = m_classes[size_class];
    Span* span = sc.partial;
    if (!span) {
        span = new_span();
        if (!span)
            return nullptr;
        usize pages = slab_pages_of(size_class);
        span->base = static_cast<u8*>(m_pages.allocate_pages(pages));
        if (!span->base) {
            delete_span(span);
            return nullptr;
        }
        span->pages = pages;
        span->size_class = static_cast<u16>(size_class);
        span->capacity = static_cast<u16>(capacity_of(size_class));
        // Slots past the capacity do not exist: mark them taken for good (never counted in `used`).
        span->allocated[0] = span->capacity >= 64 ? 0 : ~0ull << span->capacity;
        span->allocated[1] = span->capacity <= 64 ? ~0ull : span->capacity >= 128 ? 0 : ~0ull << (span->capacity - 64);
        for (usize page = 0; page < pages; ++page) {
            if (!insert(reinterpret_cast<uptr>(span->base) + page * page_size, span)) {
                for (usize undo = 0; undo < page; ++undo)
                    remove(reinterpret_cast<uptr>(span->base) + undo * page_size);
                m_pages.free_pages(span->base, pages);
                delete_span(span);
                return nullptr;
            }
        }
        m_statistics.slab_pages += pages;
        span->in_partial = true;
        span->next = nullptr;
        sc.partial = span;
        ++sc.empty_slabs;
    }

    if (span->used == 0 && span->quarantined == 0)
        --sc.empty_slabs;
    // Bits past the capacity are set in `allocated` from the slab's creation: no mask to build here.
    u64 free_slots[2] = { ~(span->allocated[0] | span->quarantine[0]), ~(span->allocated[1] | span->quarantine[1]) };
    // A random start among the slab's slots, one random byte each; the multiply-shift maps a byte onto
    // [0, capacity) with a bias under 1/256 per slot, which does not matter for placement.
    if (m_random_left == 0) {
        m_random(m_random_pool, random_pool_size);
        m_random_left = random_pool_size;
    }
    unsigned start = static_cast<unsigned>((m_random_pool[--m_random_left] * span->capacity) >> 8);
    int found = find_from(free_slots, start);
    if (found < 0) {
        // A slab in the partial list always has a free slot: the lists are corrupt.
        report(Misuse::HeapCorruption, span->base, "slab in the partial list has no free slot");
        return nullptr;
    }
    u32 slot = static_cast<u32>(found);
    set_bit(span->allocated, slot);
    ++span->used;
    span->sizes[slot] = static_cast<u16>(size);
    if (span->used + span->quarantined == span->capacity) {
        // Full: off the partial list until a slot leaves the quarantine.
        sc.partial = span->next;
        if (span->next)
            span->next->prev = nullptr;
        span->in_partial = false;
    }
    u8* object = span->base + slot * stride_of(size_class);
    store_u64(object + size, canary_for(reinterpret_cast<uptr>(object)));
    ++m_statistics.live_allocations;
    m_statistics.live_bytes += size;
    return object;
}

void* HardenedHeap::allocate_large(usize size)
{
    usize rounded = (size + alignment - 1) & ~(alignment - 1);
    if (rounded < size)
        return nullptr;
    usize pages = rounded / page_size + (rounded % page_size != 0);
    Span* span = new_span();
    if (!span)
        return nullptr;
    auto* base = static_cast<u8*>(m_pages.allocate_guarded(pages));
    if (!base) {
        delete_span(span);
        return nullptr;
    }
    // Against the upper guard page: an overflow past the 16-byte-rounded size faults at once.
    uptr pointer = reinterpret_cast<uptr>(base) + pages * page_size - rounded;
    span->base = base;
    span->pages = pages;
    span->large_size = size;
    span->large_pointer = pointer;
    span->size_class = large_class;
    if (!insert(pointer & ~(page_size - 1), span)) {
        m_pages.free_guarded(base, pages);
        delete_span(span);
        return nullptr;
    }
    m_statistics.large_pages += pages;
    ++m_statistics.live_allocations;
    m_statistics.live_bytes += size;
    return reinterpret_cast<void*>(pointer);
}

void HardenedHeap::deallocate(void* pointer)
{
    if (pointer)
        deallocate_checked(pointer, false, 0);
}

void HardenedHeap::deallocate_sized(void* pointer, usize size)
{
    if (pointer)
        deallocate_checked(pointer, true, size == 0 ? 1 : size);
}

void HardenedHeap::deallocate_checked(void* pointer, bool sized, usize size)
{
    uptr address = reinterpret_cast<uptr>(pointer);
    Span* span = m_initialized ? lookup(address & ~(page_size - 1)) : nullptr;
    if (!span) {
        for (uptr recent : m_recent_large) {
            if (recent == address) {
                report(Misuse::DoubleFree, pointer, "large allocation freed twice");
                return;
            }
        }
        report(Misuse::InvalidFree, pointer, "free of a pointer that is not from this heap");
        return;
    }

    if (span->size_class == large_class) {
        if (address != span->large_pointer) {
            report(Misuse::InvalidFree, pointer, "free of a pointer into the middle of a large allocation");
            return;
        }
        if (sized && (size <= largest_slab_size || (size + page_size - 1) / page_size != span->pages)) {
            report(Misuse::HeapCorruption, pointer, "large allocation freed with the size of another size class");
            return;
        }
        remove(address & ~(page_size - 1));
        m_pages.free_guarded(span->base, span->pages);
        m_recent_large[m_recent_large_next] = address;
        m_recent_large_next = (m_recent_large_next + 1) % recent_large_capacity;
        m_statistics.large_pages -= span->pages;
        --m_statistics.live_allocations;
        m_statistics.live_bytes -= span->large_size;
        delete_span(span);
        return;
    }

    SlotPosition position = slot_of(span->size_class, address - reinterpret_cast<uptr>(span->base));
    if (!position.at_start || position.slot >= span->capacity) {
        report(Misuse::InvalidFree, pointer, "free of a pointer that is not the start of a heap object");
        return;
    }
    u32 slot = position.slot;
    if (!test_bit(span->allocated, slot)) {
        report(Misuse::DoubleFree, pointer,
            test_bit(span->quarantine, slot) ? "object freed twice (still in quarantine)"
                                             : "object freed twice (slot is free)");
        return;
    }
    if (sized && (size > largest_slab_size || class_of(size) != span->size_class)) {
        report(Misuse::HeapCorruption, pointer, "object freed into another size class");
        return;
    }
    u8* object = static_cast<u8*>(pointer);
    usize object_size = span->sizes[slot];
    if (load_u64(object + object_size) != canary_for(address)) {
        report(Misuse::HeapCorruption, pointer, "canary after the object overwritten: heap overflow");
        return; // the slot stays allocated: never reused
    }

    clear_bit(span->allocated, slot);
    set_bit(span->quarantine, slot);
    --span->used;
    ++span->quarantined;
    poison(object, object_size);
    --m_statistics.live_allocations;
    m_statistics.live_bytes -= object_size;

    if (m_quarantine_count == quarantine_capacity)
        release_from_quarantine();
    m_quarantine[(m_quarantine_head + m_quarantine_count) % quarantine_capacity] = { span, slot };
    ++m_quarantine_count;
    m_statistics.quarantined = m_quarantine_count;
}

// The oldest quarantined slot becomes free, once its poison and canary show nobody wrote to it after free.
void HardenedHeap::release_from_quarantine()
{
    QuarantineEntry entry = m_quarantine[m_quarantine_head];
    m_quarantine_head = (m_quarantine_head + 1) % quarantine_capacity;
    --m_quarantine_count;
    m_statistics.quarantined = m_quarantine_count;

    Span& span = *entry.span;
    u8* object = span.base + entry.slot * stride_of(span.size_class);
    usize size = span.sizes[entry.slot];
    bool poison_ok = poison_intact(object, size);
    bool canary_ok = load_u64(object + size) == canary_for(reinterpret_cast<uptr>(object));
    if (!poison_ok || !canary_ok) {
        // Keep the slot out of circulation for good (counted as in use) before reporting.
        clear_bit(span.quarantine, entry.slot);
        --span.quarantined;
        set_bit(span.allocated, entry.slot);
        ++span.used;
        if (!poison_ok)
            report(Misuse::UseAfterFree, object, "freed object written while in quarantine: write after free");
        else
            report(Misuse::HeapCorruption, object, "canary of a freed object overwritten: heap overflow");
        return;
    }
    make_free(span, entry.slot);
}

void HardenedHeap::make_free(Span& span, u32 slot)
{
    clear_bit(span.quarantine, slot);
    --span.quarantined;
    SizeClass& sc = m_classes[span.size_class];
    if (!span.in_partial) {
        span.prev = nullptr;
        span.next = sc.partial;
        if (sc.partial)
            sc.partial->prev = &span;
        sc.partial = &span;
        span.in_partial = true;
    }
    if (span.used == 0 && span.quarantined == 0) {
        ++sc.empty_slabs;
        // Keep one empty slab per class for the next allocation; give the others back.
        if (sc.empty_slabs > 1)
            release_slab(span);
    }
}

void HardenedHeap::release_slab(Span& span)
{
    SizeClass& sc = m_classes[span.size_class];
    if (span.prev)
        span.prev->next = span.next;
    else
        sc.partial = span.next;
    if (span.next)
        span.next->prev = span.prev;
    --sc.empty_slabs;
    for (usize page = 0; page < span.pages; ++page)
        remove(reinterpret_cast<uptr>(span.base) + page * page_size);
    m_pages.free_pages(span.base, span.pages);
    m_statistics.slab_pages -= span.pages;
    delete_span(&span);
}

usize HardenedHeap::allocation_size(void const* pointer) const
{
    uptr address = reinterpret_cast<uptr>(pointer);
    Span* span = m_initialized ? lookup(address & ~(page_size - 1)) : nullptr;
    if (!span)
        return 0;
    if (span->size_class == large_class)
        return address == span->large_pointer ? span->large_size : 0;
    SlotPosition position = slot_of(span->size_class, address - reinterpret_cast<uptr>(span->base));
    if (!position.at_start || position.slot >= span->capacity)
        return 0;
    return test_bit(span->allocated, position.slot) ? span->sizes[position.slot] : 0;
}

// Descriptors come from metadata pages, never from the object pages they describe.
HardenedHeap::Span* HardenedHeap::new_span()
{
    if (!m_free_spans) {
        auto* page = static_cast<Span*>(m_pages.allocate_pages(1));
        if (!page)
            return nullptr;
        ++m_statistics.metadata_pages;
        for (usize i = 0; i < page_size / sizeof(Span); ++i) {
            page[i].next = m_free_spans;
            m_free_spans = &page[i];
        }
    }
    Span* span = m_free_spans;
    m_free_spans = span->next;
    // Everything but `sizes`, which is written for a slot before it is read.
    __builtin_memset(span, 0, __builtin_offsetof(Span, sizes));
    return span;
}

void HardenedHeap::delete_span(Span* span)
{
    span->size_class = 0;
    span->base = nullptr;
    span->next = m_free_spans;
    m_free_spans = span;
}

// The page -> descriptor table: open addressing with linear probing, at most half full.
HardenedHeap::Span* HardenedHeap::lookup(uptr page) const
{
    usize mask = m_table_capacity - 1;
    for (usize index = hash_page(page) & mask;; index = (index + 1) & mask) {
        if (m_table[index].page == page)
            return m_table[index].span;
        if (m_table[index].page == 0)
            return nullptr;
    }
}

bool HardenedHeap::insert(uptr page, Span* span)
{
    if ((m_table_used + 1) * 2 > m_table_capacity && !grow_table())
        return false;
    usize mask = m_table_capacity - 1;
    usize index = hash_page(page) & mask;
    while (m_table[index].page != 0)
        index = (index + 1) & mask;
    m_table[index] = { page, span };
    ++m_table_used;
    return true;
}

// Backward-shift deletion: no tombstones, so lookups stay short however long the heap runs.
void HardenedHeap::remove(uptr page)
{
    usize mask = m_table_capacity - 1;
    usize hole = hash_page(page) & mask;
    while (m_table[hole].page != page) {
        if (m_table[hole].page == 0)
            return;
        hole = (hole + 1) & mask;
    }
    for (usize index = (hole + 1) & mask; m_table[index].page != 0; index = (index + 1) & mask) {
        usize home = hash_page(m_table[index].page) & mask;
        // Move the entry into the hole if its home is not cyclically inside (hole, index].
        bool home_between = hole <= index ? (home > hole && home <= index) : (home > hole || home <= index);
        if (!home_between) {
            m_table[hole] = m_table[index];
            hole = index;
        }
    }
    m_table[hole] = { 0, nullptr };
    --m_table_used;
}

bool HardenedHeap::grow_table()
{
    usize capacity = m_table_capacity * 2;
    if (capacity * sizeof(TableEntry) < page_size)
        capacity = page_size / sizeof(TableEntry);
    usize pages = capacity * sizeof(TableEntry) / page_size;
    auto* table = static_cast<TableEntry*>(m_pages.allocate_pages(pages));
    if (!table)
        return false;
    __builtin_memset(table, 0, capacity * sizeof(TableEntry));
    TableEntry* old = m_table;
    usize old_capacity = m_table_capacity;
    m_table = table;
    m_table_capacity = capacity;
    for (usize i = 0; i < old_capacity; ++i) {
        if (old[i].page == 0)
            continue;
        usize index = hash_page(old[i].page) & (capacity - 1);
        while (m_table[index].page != 0)
            index = (index + 1) & (capacity - 1);
        m_table[index] = old[i];
    }
    usize old_pages = old_capacity * sizeof(TableEntry) / page_size;
    if (old != m_initial_table)
        m_pages.free_pages(old, old_pages);
    m_statistics.metadata_pages += pages - old_pages;
    return true;
}

} // namespace kernite::heap
