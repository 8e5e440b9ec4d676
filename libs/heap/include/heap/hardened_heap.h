// The hardened slab allocator (issue 5, item 1). Architecture-independent: the kernel and the host unit tests
// inject everything hardware-ish (pages, random numbers, what to do on misuse).
//
// Design (docs/security-model.md, "Hardened heap"):
//   - size classes from 16 B to 2 KiB, each served by slabs of one or more pages;
//   - out-of-line metadata: slab descriptors (in-use and quarantine bitmaps, requested sizes) live in separate
//     metadata pages, found from an object's page through a hash table; a free object holds no pointer;
//   - randomized slot choice: an allocation takes the first free slot after a random index of its slab;
//   - a canary (8 bytes, secret ^ slot address, low byte 0) right after the requested size, checked on free and
//     again when the slot leaves quarantine;
//   - double-free and invalid-free detection (not from this heap, not at a slot start, slot already free);
//   - a quarantine: a FIFO of recently freed slots that are not reused until they leave it;
//   - poison on free, checked when the slot leaves the quarantine (a write-after-free detector);
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

// Where pages come from. Slab and metadata pages are plain readable/writable memory; guarded blocks have an
// inaccessible (unmapped) page right below and right above them, and their pages are unmapped when freed.
class PageSource {
public:
    virtual void* allocate_pages(usize count) = 0; // page-aligned, or nullptr when out of memory
    virtual void free_pages(void* pages, usize count) = 0;
    virtual void* allocate_guarded(usize count) = 0; // page-aligned, guard pages around, or nullptr
    virtual void free_guarded(void* pages, usize count) = 0;

protected:
    ~PageSource() = default;
};

// Fills `length` bytes with random bytes. Called for 16 bytes at the first allocation (canary secret and eight
// slot choices in one draw), then for 8 bytes per eight slot choices. Small draws on purpose: the kernel's DRBG
// serves them from its buffer, while a draw past the buffer runs ChaCha20 blocks, which cost milliseconds where
// guest ring 0 is emulated (docs/platform-notes.md).
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
    // Nothing is allocated until the first allocation; the random source is first called then, too.
    // constexpr, so that a heap in static storage is constant-initialized: its tables are all zero, which .bss
    // already is, and a dynamic initializer would clear them again at every boot (thousands of instructions).
    constexpr HardenedHeap(PageSource& pages, RandomSource random, ReportMisuse report)
        : m_pages(pages)
        , m_random(random)
        , m_report(report)
    {
    }
    HardenedHeap(HardenedHeap const&) = delete;
    HardenedHeap& operator=(HardenedHeap const&) = delete;
    ~HardenedHeap() = default; // pages are not returned: heaps live as long as their page source

    // nullptr when out of memory (size 0 is served as 1 byte).
    void* allocate(usize size);
    void deallocate(void* pointer);
    // Free with the size the caller believes the object has: a size of another size class (or another large
    // size) is reported as heap corruption, like freeing into the wrong kmem_cache.
    void deallocate_sized(void* pointer, usize size);

    // Requested size of a live allocation (0 if `pointer` is not one).
    usize allocation_size(void const* pointer) const;
    HeapStatistics statistics() const { return m_statistics; }

    static constexpr usize quarantine_capacity = 256;
    static constexpr usize recent_large_capacity = 32;
    static constexpr u8 poison_byte = 0xde;

    static constexpr usize max_slots = 128; // per slab: two bitmap words

    // A slab's (or a large block's) descriptor: metadata pages only, never inside the object pages.
    struct Span {
        u8* base;   // slab: its first page; large: the first usable page (the guard is below)
        Span* next; // in its class's partial list, or the descriptor free list
        Span* prev;
        usize pages;
        usize large_size;   // large: the requested size
        uptr large_pointer; // large: what allocate() returned
        u16 size_class;     // large_class for a large allocation
        u16 capacity;
        u16 used;        // slots handed out
        u16 quarantined; // slots in quarantine
        bool in_partial;
        u64 allocated[2]; // slots handed out, and the bits past `capacity` (slots that do not exist)
        u64 quarantine[2];
        u16 sizes[max_slots]; // requested size of each slot in use or in quarantine
    };
    struct SizeClass {
        Span* partial { nullptr }; // slabs with at least one free slot (doubly linked)
        u32 empty_slabs { 0 };
    };

private:
    struct QuarantineEntry {
        Span* span;
        u32 slot;
    };
    struct TableEntry {
        uptr page; // 0: empty
        Span* span;
    };

    bool initialize();
    void* allocate_small(unsigned size_class, usize size);
    void* allocate_large(usize size);
    void deallocate_checked(void* pointer, bool sized, usize size);
    void release_from_quarantine();
    void make_free(Span&, u32 slot);
    void release_slab(Span&);

    Span* new_span();
    void delete_span(Span*);
    Span* lookup(uptr page) const;
    bool insert(uptr page, Span*);
    void remove(uptr page);
    bool grow_table();

    void report(Misuse, void const* pointer, char const* message);
    u64 canary_for(uptr slot_address) const;

    PageSource& m_pages;
    RandomSource m_random;
    ReportMisuse m_report;
    bool m_initialized { false };
    u64 m_canary_secret { 0 };
    static constexpr usize random_pool_size = 8;
    u8 m_random_pool[random_pool_size] {}; // random bytes for slot choice, used once each
    usize m_random_left { 0 };

    SizeClass m_classes[32] {};
    Span* m_free_spans { nullptr };
    Span m_initial_spans[4] {}; // unused descriptors (a list through their `next` field: metadata, not objects)

    static constexpr usize initial_table_capacity = 64;
    TableEntry m_initial_table[initial_table_capacity] {};
    TableEntry* m_table { nullptr };
    usize m_table_capacity { 0 }; // a power of two
    usize m_table_used { 0 };

    QuarantineEntry m_quarantine[quarantine_capacity] {};
    usize m_quarantine_head { 0 }; // oldest
    usize m_quarantine_count { 0 };

    uptr m_recent_large[recent_large_capacity] {};
    usize m_recent_large_next { 0 };

    HeapStatistics m_statistics;
};

} // namespace kernite::heap
