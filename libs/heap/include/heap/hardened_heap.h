// The hardened slab allocator (issue 5, item 1). Architecture-independent: the kernel and the host unit tests
// inject everything hardware-ish (pages, random numbers, what to do on misuse).
//
// Design (docs/security-model.md, "The hardened heap, in detail"), built so that the common allocation and free
// stay short and out of line of everything rare:
//   - size classes from 16 B to 2 KiB; every slab sits at the start of its own 64 KiB chunk of a reserved slab
//     region, the rest of the chunk left unmapped (a guard after every slab). A pointer's slab descriptor is found
//     by arithmetic (chunk index), not by a table lookup;
//   - out-of-line descriptors (an array beside the region): allocation bitmap, requested sizes and the free slots
//     as an array of indices. Nothing about a free slot is kept inside it, so an overflow or a write after free
//     cannot steer an allocation, and allocating reads no object memory;
//   - randomized slot choice: every allocation takes a random one of the current slab's free slots (16 bits of a
//     per-heap xorshift generator that each new slab reseeds with fresh random bytes);
//   - a canary (8 bytes, a keyed hash of the slot address) right after the requested size, checked on free;
//   - double-free and invalid-free detection: one allocation bit per slot, slot-start and region checks;
//   - a quarantine: a FIFO of the last 256 freed objects, not reused until they leave it;
//   - poison on free: the first 32 bytes of the slot by default (`Checks::Fast`), checked when the slot leaves the
//     quarantine; `Checks::Full` poisons and checks every requested byte and checks the canary again;
//   - large allocations (> 2 KiB) on their own pages with unmapped guard pages on both sides (the page source
//     provides those), the object placed against the upper guard so an overflow faults.
// Misuse is reported through the injected callback. The kernel's callback stops the VM; a callback that returns
// (host tests) makes the heap abandon the operation: the offending slot is never reused.
#pragma once

#include <ktl/types.h>

namespace kernite::heap {

inline constexpr usize page_size = 4096;
inline constexpr usize alignment = 16; // every pointer handed out is 16-byte aligned
inline constexpr usize largest_slab_size = 2048;

enum class Misuse : u8 {
    DoubleFree,     // freeing a slot that is already free or in quarantine (or a large block freed recently)
    HeapCorruption, // a canary overwritten: a write past the end of an object
    UseAfterFree,   // the poison of a quarantined slot changed: a write after free
    InvalidFree,    // a pointer this heap never handed out: foreign, or not at the start of an object
};
char const* misuse_name(Misuse);

namespace detail {
// Size classes: steps of 16 up to 128, then four steps per doubling (at most 25% internal waste).
inline constexpr u16 class_sizes[] = { 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640,
    768, 896, 1024, 1280, 1536, 1792, 2048 };
inline constexpr unsigned class_count = sizeof(class_sizes) / sizeof(class_sizes[0]);
// The redzone after each object's class size keeps slots 16-byte aligned and always leaves room for the 8-byte
// canary, which sits right after the requested size (so a one-byte overflow is caught).
inline constexpr usize redzone_size = 16;
constexpr usize stride_of(unsigned size_class) { return class_sizes[size_class] + redzone_size; }

struct ClassTables {
    u8 by_granule[largest_slab_size / alignment + 1]; // (size + 15) / 16 -> class
    u32 stride[class_count];
    // Slot index of a byte offset inside a slab without a division: offset * ceil(2^32 / stride) >> 32 is exact
    // for offsets and strides below 2^16; and the low 32 bits of that product are below the reciprocal exactly
    // when the offset is a multiple of the stride (a slot start), so one multiply answers both.
    u64 reciprocal[class_count];
};
constexpr ClassTables make_class_tables()
{
    ClassTables tables {};
    unsigned size_class = 0;
    for (usize granule = 0; granule <= largest_slab_size / alignment; ++granule) {
        while (class_sizes[size_class] < granule * alignment)
            ++size_class;
        tables.by_granule[granule] = static_cast<u8>(size_class);
    }
    for (unsigned c = 0; c < class_count; ++c) {
        tables.stride[c] = static_cast<u32>(stride_of(c));
        tables.reciprocal[c] = ((1ull << 32) + stride_of(c) - 1) / stride_of(c);
    }
    return tables;
}
inline constexpr ClassTables class_tables = make_class_tables();
constexpr unsigned class_of(usize size) { return class_tables.by_granule[(size + alignment - 1) / alignment]; }

inline u64 load_u64(void const* address)
{
    u64 value;
    __builtin_memcpy(&value, address, sizeof(value));
    return value;
}
inline void store_u64(void* address, u64 value) { __builtin_memcpy(address, &value, sizeof(value)); }
inline constexpr u64 poison_word = 0xdedededededededeull;
} // namespace detail

// How much poisoning and checking frees carry (docs/security-model.md has what each detects and costs).
enum class Checks : u8 {
    Fast, // poison and check the first 32 bytes of each freed slot; the canary checked on free
    Full, // poison and check every requested byte; the canary checked on free and again leaving the quarantine
};

// Where memory comes from.
class PageSource {
public:
    // Plain readable/writable pages (the large-block lookup table and descriptors).
    virtual void* allocate_pages(usize count) = 0; // page-aligned, or nullptr when out of memory
    virtual void free_pages(void* pages, usize count) = 0;
    // Guarded blocks have an inaccessible (unmapped) page right below and right above them, and their pages are
    // unmapped when freed.
    virtual void* allocate_guarded(usize count) = 0; // page-aligned, guard pages around, or nullptr
    virtual void free_guarded(void* pages, usize count) = 0;
    // Address space only (inaccessible), page-aligned, reserved once for the slab region; then pages in it are
    // committed (backed and readable/writable) and decommitted (inaccessible again, memory returned).
    virtual void* reserve(usize bytes) = 0;
    virtual bool commit(void* pages, usize count) = 0;
    virtual void decommit(void* pages, usize count) = 0;

protected:
    ~PageSource() = default;
};

// Fills `length` bytes with random bytes: 16 bytes at the first allocation (secrets), 8 bytes per new slab (its
// slot-choice reseed). Small draws on purpose: the kernel's DRBG serves them from its buffer (docs/platform-notes.md).
using RandomSource = void (*)(void* buffer, usize length);
// May return (tests); the kernel's does not.
using ReportMisuse = void (*)(Misuse, void const* pointer, char const* message);

struct HeapStatistics {
    u64 live_allocations { 0 };
    u64 live_bytes { 0 };     // sum of requested sizes
    u64 slab_pages { 0 };     // pages holding small objects
    u64 metadata_pages { 0 }; // descriptors, lookup table
    u64 large_pages { 0 };    // pages of large allocations (guards not counted)
    u64 quarantined { 0 };
    u64 misuse_reports { 0 };
};

class HardenedHeap {
public:
    static constexpr usize max_slots = 128;       // per slab: two bitmap words
    static constexpr usize chunk_shift = 16;      // one slab per 64 KiB of the slab region
    static constexpr usize chunk_count = 16384;   // 1 GiB of slab region
    static constexpr usize quarantine_capacity = 256;
    static constexpr usize recent_large_capacity = 32;
    static constexpr usize fast_poison_bytes = 32;
    static constexpr u8 poison_byte = 0xde;

    // A slab's descriptor, in the descriptor array beside the slab region: never inside the object pages.
    struct Slab {
        u8* base;      // the chunk's first byte; nullptr while the chunk holds no slab
        Slab* next;    // in its class's partial list, or the free-chunk list
        Slab* prev;
        u32 bytes;     // capacity * stride: a slot offset must be below it
        u16 size_class;
        u16 capacity;
        u16 free_count; // entries of `free_slots` in use
        u16 pages;
        bool in_partial;
        bool is_current;
        u64 allocated[2]; // one bit per slot handed out
        // The free slots (not in quarantine) as indices, in random order: allocation takes the last one. Nothing
        // about free slots is kept inside them, so no allocation reads object memory and no overflow reaches this.
        u8 free_slots[max_slots];
        u16 sizes[max_slots]; // requested size of each slot in use or in quarantine
    };
    // A large block's descriptor (metadata pages), found through a hash table of its object page.
    struct LargeBlock {
        u8* base; // the first usable page (the guard is below)
        LargeBlock* next; // descriptor free list
        usize pages;
        usize size;
        uptr pointer; // what allocate() returned
    };

    // Nothing is allocated until the first allocation; the random source is first called then, too.
    // constexpr, so that a heap in static storage is constant-initialized: its tables are all zero, which .bss
    // already is, and a dynamic initializer would clear them again at every boot (thousands of instructions).
    constexpr HardenedHeap(PageSource& pages, RandomSource random, ReportMisuse report, Checks checks = Checks::Fast)
        : m_pages(pages)
        , m_random(random)
        , m_report(report)
        , m_checks(checks)
    {
    }
    HardenedHeap(HardenedHeap const&) = delete;
    HardenedHeap& operator=(HardenedHeap const&) = delete;
    ~HardenedHeap() = default; // pages are not returned: heaps live as long as their page source

    // Before the first allocation only (the kernel sets it from its command line).
    void set_checks(Checks checks) { m_checks = checks; }
    Checks checks() const { return m_checks; }

    // nullptr when out of memory (size 0 is served as 1 byte). The common cases are inline (below).
    void* allocate(usize size);
    void deallocate(void* pointer);
    // Free with the size the caller believes the object has: a size of another size class (or another large
    // size) is reported as heap corruption, like freeing into the wrong kmem_cache.
    void deallocate_sized(void* pointer, usize size);

    // Requested size of a live allocation (0 if `pointer` is not one).
    usize allocation_size(void const* pointer) const;
    // Whether `pointer` is inside this heap's slab region (for the fault handler and the OSCAR layer).
    bool in_slab_region(void const* pointer) const
    {
        return reinterpret_cast<uptr>(pointer) - reinterpret_cast<uptr>(m_region) < m_region_reserved;
    }
    // Counts the live slab objects from the allocation bits (the fast paths keep no counters: a counter update per
    // operation costs more than the rest of the bookkeeping).
    HeapStatistics statistics() const;

private:
    // What a size class's `current` points at before its first slab: no free slot, so the fast path needs no
    // null test. Never written.
    static inline Slab no_slab {};
    struct SizeClass {
        Slab* current { &no_slab }; // the slab allocations come from; `no_slab` (never any free slot) when none
        Slab* partial { nullptr }; // other slabs with free slots (doubly linked)
        u32 empty_slabs { 0 };     // fully free slabs kept in `partial`
    };
    struct LargeEntry {
        uptr page; // 0: empty
        LargeBlock* block;
    };

    bool initialize();
    void* allocate_slow(usize size);
    u64 refill_draws();
    void* refill(unsigned size_class, usize size);
    Slab* new_slab(unsigned size_class);
    void release_slab(Slab&);
    void* allocate_large(usize size);
    void deallocate_slow(void* pointer, bool sized, usize size);
    void deallocate_large(void* pointer, bool sized, usize size);
    void release_from_quarantine(u8* object);
    // A freed slot (already poisoned) enters the quarantine ring; the oldest one leaves it.
    [[gnu::always_inline]] void quarantine(u8* object)
    {
        u8* oldest = m_quarantine[m_quarantine_next];
        m_quarantine[m_quarantine_next] = object;
        m_quarantine_next = (m_quarantine_next + 1) % quarantine_capacity;
        if (oldest)
            release_from_quarantine(oldest);
        else
            m_statistics.quarantined = ++m_quarantine_count;
    }
    Slab* slab_of(uptr address) const { return &m_slabs[(address - reinterpret_cast<uptr>(m_region)) >> chunk_shift]; }

    LargeBlock* new_block();
    void delete_block(LargeBlock*);
    LargeBlock* lookup(uptr page) const;
    bool insert(uptr page, LargeBlock*);
    void remove(uptr page);
    bool grow_table();

    void report(Misuse, void const* pointer, char const* message);
    u64 canary_for(uptr slot_address) const { return (slot_address ^ m_canary_secret) * 0x9e3779b97f4a7c15ull; }

    PageSource& m_pages;
    RandomSource m_random;
    ReportMisuse m_report;
    Checks m_checks;
    bool m_initialized { false };
    u64 m_canary_secret { 0 };
    u64 m_choice_state { 0 };
    // Random bits for slot choice, 16 per allocation, above a marker bit: 1 (or 0) means none are left.
    u64 m_draws { 0 };

    u8* m_region { nullptr };    // chunk_count chunks of 64 KiB
    usize m_region_reserved { 0 };
    usize m_region_bytes { 0 };  // the chunks used so far (their descriptors exist); 0 before the first slab
    Slab* m_slabs { nullptr };   // descriptor array (reserved, committed page by page)
    usize m_chunks_used { 0 };   // chunks ever used (their descriptors are committed)
    usize m_descriptor_pages { 0 };
    Slab* m_free_chunks { nullptr };

    SizeClass m_classes[24] {};

    LargeBlock* m_free_blocks { nullptr };
    LargeBlock m_initial_blocks[4] {};
    static constexpr usize initial_table_capacity = 64;
    LargeEntry m_initial_table[initial_table_capacity] {};
    LargeEntry* m_table { nullptr };
    usize m_table_capacity { 0 }; // a power of two
    usize m_table_used { 0 };

    u8* m_quarantine[quarantine_capacity] {};
    usize m_quarantine_next { 0 }; // next entry to fill, which holds the oldest object once the ring is full
    usize m_quarantine_count { 0 };

    uptr m_recent_large[recent_large_capacity] {};
    usize m_recent_large_next { 0 };

    HeapStatistics m_statistics; // live_allocations and live_bytes: the large blocks only
};

// The fast paths: a slot from the current slab's free-slot array, and a free into the quarantine. Everything else
// (a new slab, a misuse, a large block, full checks) is out of line.
[[gnu::always_inline]] inline void* HardenedHeap::allocate(usize size)
{
    if (size - 1 < largest_slab_size) { // size 0 wraps: the slow path serves it as 1 byte
        unsigned size_class = detail::class_of(size);
        Slab* slab = m_classes[size_class].current;
        if (u16 count = slab->free_count) [[likely]] {
            // A random one of the slab's free slots; the last one takes its place in the array.
            u64 draws = m_draws;
            if (draws <= 1) [[unlikely]]
                draws = refill_draws();
            u32 pick = static_cast<u32>(((draws & 0xffff) * count) >> 16);
            m_draws = draws >> 16;
            u32 slot = slab->free_slots[pick];
            slab->free_slots[pick] = slab->free_slots[count - 1];
            slab->free_count = static_cast<u16>(count - 1);
            u8* object = slab->base + slot * detail::class_tables.stride[size_class];
            slab->allocated[slot / 64] |= 1ull << (slot % 64);
            slab->sizes[slot] = static_cast<u16>(size);
            detail::store_u64(object + size, canary_for(reinterpret_cast<uptr>(object)));
            return object;
        }
    }
    return allocate_slow(size);
}

[[gnu::always_inline]] inline void HardenedHeap::deallocate(void* pointer)
{
    uptr address = reinterpret_cast<uptr>(pointer);
    if (address - reinterpret_cast<uptr>(m_region) < m_region_bytes && m_checks == Checks::Fast) [[likely]] {
        Slab* slab = slab_of(address);
        uptr offset = address - reinterpret_cast<uptr>(slab->base);
        u64 reciprocal = detail::class_tables.reciprocal[slab->size_class];
        u64 scaled = offset * reciprocal;
        u32 slot = static_cast<u32>(scaled >> 32);
        u64 bit = 1ull << (slot % 64);
        // A slot start of a live slab whose bit is set; any other case (also a chunk without a slab: its base is
        // nullptr, so the offset is out of range) is a misuse the slow path names.
        if (offset < slab->bytes && static_cast<u32>(scaled) < reciprocal && (slab->allocated[slot / 64] & bit)) [[likely]] {
            u16 size = slab->sizes[slot];
            u8* object = static_cast<u8*>(pointer);
            if (detail::load_u64(object + size) == canary_for(address)) [[likely]] {
                slab->allocated[slot / 64] &= ~bit;
                for (usize i = 0; i < fast_poison_bytes; i += 8)
                    detail::store_u64(object + i, detail::poison_word);
                quarantine(object);
                return;
            }
        }
    }
    if (pointer)
        deallocate_slow(pointer, false, 0);
}

} // namespace kernite::heap
