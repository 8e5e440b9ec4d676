// The hardened slab allocator: see include/heap/hardened_heap.h for the design and its reasons.
#include <heap/hardened_heap.h>

namespace kernite::heap {

using detail::class_count;
using detail::class_of;
using detail::class_tables;
using detail::load_u64;
using detail::store_u64;

namespace {

constexpr u16 large_class = 0xffff;
static_assert(detail::class_sizes[class_count - 1] == largest_slab_size);
static_assert(detail::redzone_size >= 8 && detail::redzone_size % alignment == 0);
static_assert(class_of(1) == 0 && class_of(16) == 0 && class_of(17) == 1 && class_of(2048) == class_count - 1);
static_assert(class_of(129) == 8 && class_of(160) == 8 && class_of(161) == 9);
static_assert(HardenedHeap::fast_poison_bytes <= detail::stride_of(0), "fast poison stays inside the smallest slot");
constexpr usize chunk_bytes = usize(1) << HardenedHeap::chunk_shift;
constexpr usize max_slots = HardenedHeap::max_slots;

// A slab is big enough for 16 objects (one page at least), holds at most `max_slots`, and fits its chunk with
// at least one unmapped page after it.
constexpr usize slab_pages_of(unsigned size_class)
{
    usize pages = (detail::stride_of(size_class) * 16 + page_size - 1) / page_size;
    return pages == 0 ? 1 : pages;
}
constexpr usize capacity_of(unsigned size_class)
{
    usize slots = slab_pages_of(size_class) * page_size / detail::stride_of(size_class);
    return slots > max_slots ? max_slots : slots;
}
static_assert(slab_pages_of(class_count - 1) * page_size + page_size <= chunk_bytes);
static_assert(chunk_bytes < (1u << 16) + 1, "the reciprocal slot test needs offsets below 2^16");

// Compares [object, object + size) with the poison, a word at a time; the last word overlaps when size is not
// a multiple of 8 (a byte checked twice costs little). Sizes below 8 check byte by byte.
bool poison_intact(u8 const* object, usize size)
{
    if (size < 8) {
        u8 difference = 0;
        for (usize i = 0; i < size; ++i)
            difference |= static_cast<u8>(object[i] ^ HardenedHeap::poison_byte);
        return difference == 0;
    }
    u64 difference = load_u64(object + size - 8) ^ detail::poison_word;
    for (usize offset = 0; offset + 8 < size; offset += 8)
        difference |= load_u64(object + offset) ^ detail::poison_word;
    return difference == 0;
}

struct IdentityOrder {
    u8 slots[max_slots];
};
constexpr IdentityOrder make_identity_order()
{
    IdentityOrder order {};
    for (usize i = 0; i < max_slots; ++i)
        order.slots[i] = static_cast<u8>(i);
    return order;
}
constexpr IdentityOrder identity_order = make_identity_order();
static_assert(max_slots <= 256, "slot indices are bytes");

uptr hash_page(uptr page) { return static_cast<uptr>((page >> 12) * 0x9e3779b97f4a7c15ull); }

u64 xorshift(u64& state)
{
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545f4914f6cdd1dull;
}

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

// Address space for the descriptors and the slab region; nothing is committed until a slab needs it. The first
// lookup table and large-block descriptors live in the heap object itself (zero already, in the kernel's .bss).
bool HardenedHeap::initialize()
{
    u64 secrets[2];
    m_random(secrets, sizeof(secrets));
    m_canary_secret = secrets[0];
    m_choice_state = secrets[1] | 1; // xorshift needs a nonzero state
    __builtin_memset(secrets, 0, sizeof(secrets));
    m_slabs = static_cast<Slab*>(m_pages.reserve((chunk_count * sizeof(Slab) + page_size - 1) & ~(page_size - 1)));
    m_region = static_cast<u8*>(m_pages.reserve(chunk_count * chunk_bytes));
    if (!m_slabs || !m_region)
        return false;
    m_region_reserved = chunk_count * chunk_bytes;
    for (LargeBlock& block : m_initial_blocks) {
        block.next = m_free_blocks;
        m_free_blocks = &block;
    }
    m_table = m_initial_table;
    m_table_capacity = initial_table_capacity;
    m_initialized = true;
    return true;
}

// Three 16-bit draws of one xorshift step, above the marker bit that says when they are used up.
u64 HardenedHeap::refill_draws() { return (xorshift(m_choice_state) >> 16) | (u64(1) << 48); }

void HardenedHeap::report(Misuse misuse, void const* pointer, char const* message)
{
    ++m_statistics.misuse_reports;
    m_report(misuse, pointer, message);
}

void* HardenedHeap::allocate_slow(usize size)
{
    if (!m_initialized && !initialize())
        return nullptr;
    if (size == 0)
        size = 1;
    if (size > largest_slab_size)
        return allocate_large(size);
    return refill(class_of(size), size);
}

// The current slab has no free slot: take a partial slab or make a new one.
void* HardenedHeap::refill(unsigned size_class, usize size)
{
    SizeClass& sc = m_classes[size_class];
    if (Slab* current = sc.current; current != &no_slab) {
        if (current->free_count)
            return allocate(size); // size 0 comes here with slots left: served as 1 byte by the inline path
        current->is_current = false;
        sc.current = &no_slab;
    }
    Slab* slab = sc.partial;
    if (slab) {
        sc.partial = slab->next;
        if (slab->next)
            slab->next->prev = nullptr;
        slab->in_partial = false;
        if (slab->free_count == slab->capacity)
            --sc.empty_slabs;
    } else {
        slab = new_slab(size_class);
        if (!slab)
            return nullptr;
    }
    slab->is_current = true;
    sc.current = slab;
    return allocate(size);
}

HardenedHeap::Slab* HardenedHeap::new_slab(unsigned size_class)
{
    Slab* slab = m_free_chunks;
    if (slab) {
        m_free_chunks = slab->next;
    } else {
        if (m_chunks_used == chunk_count)
            return nullptr;
        usize needed = ((m_chunks_used + 1) * sizeof(Slab) + page_size - 1) / page_size;
        if (needed > m_descriptor_pages) {
            u8* at = reinterpret_cast<u8*>(m_slabs) + m_descriptor_pages * page_size;
            if (!m_pages.commit(at, needed - m_descriptor_pages))
                return nullptr;
            m_statistics.metadata_pages += needed - m_descriptor_pages;
            m_descriptor_pages = needed;
        }
        slab = &m_slabs[m_chunks_used];
        slab->base = nullptr;
        ++m_chunks_used;
        m_region_bytes = m_chunks_used * chunk_bytes;
    }
    usize index = static_cast<usize>(slab - m_slabs);
    u8* base = m_region + index * chunk_bytes;
    usize pages = slab_pages_of(size_class);
    if (!m_pages.commit(base, pages)) {
        slab->next = m_free_chunks;
        m_free_chunks = slab;
        return nullptr;
    }
    usize capacity = capacity_of(size_class);
    usize stride = detail::stride_of(size_class);
    slab->next = nullptr;
    slab->prev = nullptr;
    slab->bytes = static_cast<u32>(capacity * stride);
    slab->size_class = static_cast<u16>(size_class);
    slab->capacity = static_cast<u16>(capacity);
    slab->free_count = static_cast<u16>(capacity);
    slab->pages = static_cast<u16>(pages);
    slab->in_partial = false;
    slab->is_current = false;
    slab->allocated[0] = slab->allocated[1] = 0;

    // Allocation picks a random free slot, so the array starts in slot order; the slab mixes 8 fresh random bytes
    // into the heap's slot-choice generator.
    u64 fresh;
    m_random(&fresh, sizeof(fresh));
    m_choice_state ^= fresh;
    if (m_choice_state == 0)
        m_choice_state = 1;
    __builtin_memcpy(slab->free_slots, identity_order.slots, capacity);
    slab->base = base;
    m_statistics.slab_pages += pages;
    return slab;
}

void HardenedHeap::release_slab(Slab& slab)
{
    SizeClass& sc = m_classes[slab.size_class];
    if (slab.in_partial) {
        if (slab.prev)
            slab.prev->next = slab.next;
        else
            sc.partial = slab.next;
        if (slab.next)
            slab.next->prev = slab.prev;
        slab.in_partial = false;
    }
    m_pages.decommit(slab.base, slab.pages);
    m_statistics.slab_pages -= slab.pages;
    slab.base = nullptr;
    slab.free_count = 0;
    slab.bytes = 0;
    slab.next = m_free_chunks;
    m_free_chunks = &slab;
}

// The oldest quarantined object goes back on its slab's free list, once its poison (and, with full checks, its
// canary) shows nobody wrote to it after free.
void HardenedHeap::release_from_quarantine(u8* object)
{
    uptr address = reinterpret_cast<uptr>(object);
    Slab& slab = *slab_of(address);
    if (m_checks == Checks::Full) {
        u32 slot = static_cast<u32>(
            ((address - reinterpret_cast<uptr>(slab.base)) * class_tables.reciprocal[slab.size_class]) >> 32);
        usize size = slab.sizes[slot];
        if (!poison_intact(object, size)) {
            report(Misuse::UseAfterFree, object, "freed object written while in quarantine: write after free");
            return; // the slot stays out of circulation
        }
        if (load_u64(object + size) != canary_for(address)) {
            report(Misuse::HeapCorruption, object, "canary of a freed object overwritten: heap overflow");
            return;
        }
    } else if (!poison_intact(object, fast_poison_bytes)) {
        report(Misuse::UseAfterFree, object, "freed object written while in quarantine: write after free");
        return;
    }
    // Back among the slab's free slots (allocation picks among them at random).
    u32 slot = static_cast<u32>(
        ((address - reinterpret_cast<uptr>(slab.base)) * class_tables.reciprocal[slab.size_class]) >> 32);
    u32 count = slab.free_count;
    slab.free_slots[count] = static_cast<u8>(slot);
    slab.free_count = static_cast<u16>(count + 1);
    if (slab.is_current)
        return;
    SizeClass& sc = m_classes[slab.size_class];
    if (!slab.in_partial) {
        slab.prev = nullptr;
        slab.next = sc.partial;
        if (sc.partial)
            sc.partial->prev = &slab;
        sc.partial = &slab;
        slab.in_partial = true;
    }
    if (slab.free_count == slab.capacity) {
        // Keep one empty slab per class for the next refill; give the others back.
        if (sc.empty_slabs >= 1)
            release_slab(slab);
        else
            ++sc.empty_slabs;
    }
}

void HardenedHeap::deallocate_sized(void* pointer, usize size)
{
    if (pointer)
        deallocate_slow(pointer, true, size == 0 ? 1 : size);
}

void HardenedHeap::deallocate_slow(void* pointer, bool sized, usize size)
{
    uptr address = reinterpret_cast<uptr>(pointer);
    if (!m_initialized) {
        report(Misuse::InvalidFree, pointer, "free of a pointer that is not from this heap");
        return;
    }
    if (address - reinterpret_cast<uptr>(m_region) >= m_region_reserved) {
        deallocate_large(pointer, sized, size);
        return;
    }
    if (address - reinterpret_cast<uptr>(m_region) >= m_region_bytes) {
        report(Misuse::InvalidFree, pointer, "free of a pointer into the heap's unused slab region");
        return;
    }
    Slab& slab = *slab_of(address);
    uptr offset = address - reinterpret_cast<uptr>(slab.base);
    if (!slab.base || offset >= slab.bytes) {
        report(Misuse::InvalidFree, pointer, "free of a pointer outside every heap object");
        return;
    }
    u64 reciprocal = class_tables.reciprocal[slab.size_class];
    u64 scaled = offset * reciprocal;
    if (static_cast<u32>(scaled) >= reciprocal) {
        report(Misuse::InvalidFree, pointer, "free of a pointer that is not the start of a heap object");
        return;
    }
    u32 slot = static_cast<u32>(scaled >> 32);
    u64 bit = 1ull << (slot % 64);
    if (!(slab.allocated[slot / 64] & bit)) {
        report(Misuse::DoubleFree, pointer, "object freed twice (its slot is free or in quarantine)");
        return;
    }
    if (sized && (size > largest_slab_size || class_of(size) != slab.size_class)) {
        report(Misuse::HeapCorruption, pointer, "object freed into another size class");
        return;
    }
    u8* object = static_cast<u8*>(pointer);
    usize object_size = slab.sizes[slot];
    if (load_u64(object + object_size) != canary_for(address)) {
        report(Misuse::HeapCorruption, pointer, "canary after the object overwritten: heap overflow");
        return; // the slot stays allocated: never reused
    }
    slab.allocated[slot / 64] &= ~bit;
    if (m_checks == Checks::Full)
        __builtin_memset(object, poison_byte, object_size);
    else
        __builtin_memset(object, poison_byte, fast_poison_bytes);
    quarantine(object);
}

void* HardenedHeap::allocate_large(usize size)
{
    usize rounded = (size + alignment - 1) & ~(alignment - 1);
    if (rounded < size)
        return nullptr;
    usize pages = rounded / page_size + (rounded % page_size != 0);
    LargeBlock* block = new_block();
    if (!block)
        return nullptr;
    auto* base = static_cast<u8*>(m_pages.allocate_guarded(pages));
    if (!base) {
        delete_block(block);
        return nullptr;
    }
    // Against the upper guard page: an overflow past the 16-byte-rounded size faults at once.
    uptr pointer = reinterpret_cast<uptr>(base) + pages * page_size - rounded;
    block->base = base;
    block->pages = pages;
    block->size = size;
    block->pointer = pointer;
    if (!insert(pointer & ~(page_size - 1), block)) {
        m_pages.free_guarded(base, pages);
        delete_block(block);
        return nullptr;
    }
    m_statistics.large_pages += pages;
    ++m_statistics.live_allocations;
    m_statistics.live_bytes += size;
    return reinterpret_cast<void*>(pointer);
}

void HardenedHeap::deallocate_large(void* pointer, bool sized, usize size)
{
    uptr address = reinterpret_cast<uptr>(pointer);
    LargeBlock* block = lookup(address & ~(page_size - 1));
    if (!block) {
        for (uptr recent : m_recent_large) {
            if (recent == address) {
                report(Misuse::DoubleFree, pointer, "large allocation freed twice");
                return;
            }
        }
        report(Misuse::InvalidFree, pointer, "free of a pointer that is not from this heap");
        return;
    }
    if (address != block->pointer) {
        report(Misuse::InvalidFree, pointer, "free of a pointer into the middle of a large allocation");
        return;
    }
    if (sized && (size <= largest_slab_size || (size + page_size - 1) / page_size != block->pages)) {
        report(Misuse::HeapCorruption, pointer, "large allocation freed with the size of another size class");
        return;
    }
    remove(address & ~(page_size - 1));
    m_pages.free_guarded(block->base, block->pages);
    m_recent_large[m_recent_large_next] = address;
    m_recent_large_next = (m_recent_large_next + 1) % recent_large_capacity;
    m_statistics.large_pages -= block->pages;
    --m_statistics.live_allocations;
    m_statistics.live_bytes -= block->size;
    delete_block(block);
}

HeapStatistics HardenedHeap::statistics() const
{
    HeapStatistics result = m_statistics;
    for (usize chunk = 0; chunk < m_chunks_used; ++chunk) {
        Slab const& slab = m_slabs[chunk];
        if (!slab.base)
            continue;
        for (unsigned word = 0; word < 2; ++word) {
            for (u64 bits = slab.allocated[word]; bits; bits &= bits - 1) {
                ++result.live_allocations;
                result.live_bytes += slab.sizes[word * 64 + static_cast<unsigned>(__builtin_ctzll(bits))];
            }
        }
    }
    return result;
}

usize HardenedHeap::allocation_size(void const* pointer) const
{
    if (!m_initialized)
        return 0;
    uptr address = reinterpret_cast<uptr>(pointer);
    if (address - reinterpret_cast<uptr>(m_region) < m_region_bytes) {
        Slab const& slab = *slab_of(address);
        uptr offset = address - reinterpret_cast<uptr>(slab.base);
        if (!slab.base || offset >= slab.bytes)
            return 0;
        u64 reciprocal = class_tables.reciprocal[slab.size_class];
        u64 scaled = offset * reciprocal;
        u32 slot = static_cast<u32>(scaled >> 32);
        if (static_cast<u32>(scaled) >= reciprocal || !((slab.allocated[slot / 64] >> (slot % 64)) & 1))
            return 0;
        return slab.sizes[slot];
    }
    LargeBlock* block = lookup(address & ~(page_size - 1));
    return block && address == block->pointer ? block->size : 0;
}

// Large-block descriptors come from metadata pages, never from the object pages they describe.
HardenedHeap::LargeBlock* HardenedHeap::new_block()
{
    if (!m_free_blocks) {
        auto* page = static_cast<LargeBlock*>(m_pages.allocate_pages(1));
        if (!page)
            return nullptr;
        ++m_statistics.metadata_pages;
        for (usize i = 0; i < page_size / sizeof(LargeBlock); ++i) {
            page[i].next = m_free_blocks;
            m_free_blocks = &page[i];
        }
    }
    LargeBlock* block = m_free_blocks;
    m_free_blocks = block->next;
    *block = {};
    return block;
}

void HardenedHeap::delete_block(LargeBlock* block)
{
    *block = {};
    block->next = m_free_blocks;
    m_free_blocks = block;
}

// The large blocks' page -> descriptor table: open addressing with linear probing, at most half full.
HardenedHeap::LargeBlock* HardenedHeap::lookup(uptr page) const
{
    usize mask = m_table_capacity - 1;
    for (usize index = hash_page(page) & mask;; index = (index + 1) & mask) {
        if (m_table[index].page == page)
            return m_table[index].block;
        if (m_table[index].page == 0)
            return nullptr;
    }
}

bool HardenedHeap::insert(uptr page, LargeBlock* block)
{
    if ((m_table_used + 1) * 2 > m_table_capacity && !grow_table())
        return false;
    usize mask = m_table_capacity - 1;
    usize index = hash_page(page) & mask;
    while (m_table[index].page != 0)
        index = (index + 1) & mask;
    m_table[index] = { page, block };
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
    if (capacity * sizeof(LargeEntry) < page_size)
        capacity = page_size / sizeof(LargeEntry);
    usize pages = capacity * sizeof(LargeEntry) / page_size;
    auto* table = static_cast<LargeEntry*>(m_pages.allocate_pages(pages));
    if (!table)
        return false;
    __builtin_memset(table, 0, capacity * sizeof(LargeEntry));
    LargeEntry* old = m_table;
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
    usize old_pages = old_capacity * sizeof(LargeEntry) / page_size;
    if (old != m_initial_table)
        m_pages.free_pages(old, old_pages);
    m_statistics.metadata_pages += pages - old_pages;
    return true;
}

} // namespace kernite::heap
