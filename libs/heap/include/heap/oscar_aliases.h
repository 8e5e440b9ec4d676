// OSCAR-style aliases for the hardened heap (issue 5, item 2; after Dang, Maniatis and Wagner, "Oscar: A
// Practical Page-Permissions-Based Scheme for Thwarting Dangling Pointers", USENIX Security 2017).
//
// Every small allocation is handed out through its own virtual alias page(s), mapped onto the physical memory of
// its slab slot. Free unmaps the alias and the alias's addresses are never handed out again (a cursor that only
// moves up), so any later use of the dangling pointer, read or write, faults at once, however long after. The
// object itself goes back to the hardened heap (its canary, double-free bit and quarantine still apply).
//
// Host-testable: the page mapping is injected (AliasMapper); the kernel maps with its page tables
// (kernel/mm/heap_hardened.cpp), tests and the bench with memfd mappings.
#pragma once

#include <heap/hardened_heap.h>

namespace kernite::heap {

class AliasMapper {
public:
    // Maps [alias, alias + pages * page_size) onto the memory behind [object_pages, ...): the same frames.
    virtual bool map_alias(uptr alias, void const* object_pages, usize pages) = 0;
    virtual void unmap_alias(uptr alias, usize pages) = 0;

protected:
    ~AliasMapper() = default;
};

class OscarAliases {
public:
    static constexpr usize recent_capacity = 1024; // freed aliases remembered with their site

    // `region`: address space for aliases (nothing mapped there), used once from its start to its end.
    constexpr OscarAliases(HardenedHeap& heap, AliasMapper& mapper, PageSource& pages, ReportMisuse report,
        uptr region, usize region_bytes)
        : m_heap(heap)
        , m_mapper(mapper)
        , m_pages(pages)
        , m_report(report)
        , m_region(region)
        , m_cursor(region)
        , m_region_end(region + region_bytes)
    {
    }

    // Moves the alias region (the kernel's is chosen at boot, after this object is constant-initialized). Only
    // before the first allocation: false (and nothing changes) once an alias was handed out.
    bool place(uptr region, usize region_bytes)
    {
        if (m_cursor != m_region)
            return false;
        m_region = region;
        m_cursor = region;
        m_region_end = region + region_bytes;
        return true;
    }

    // `site`: who asked (the kmalloc caller's return address), kept for the fault report. Large sizes are not
    // aliased: the heap's large blocks already are page-backed and never reuse their addresses.
    void* allocate(usize size, uptr site);
    void deallocate(void* pointer);

    struct FaultInfo {
        bool freed;   // an alias that was unmapped on free (else: the guard page after a live alias)
        bool known;   // the record was still among the last `recent_capacity` frees (site and size valid)
        uptr site;
        usize size;
        uptr pointer; // the alias pointer that was handed out
    };
    // For the page-fault handler: is `address` in the alias region, and what was there?
    bool in_region(uptr address) const { return address - m_region < m_region_end - m_region; }
    bool describe(uptr address, FaultInfo& info) const;

    struct Statistics {
        u64 live_aliases { 0 };
        u64 mapped_pages { 0 };     // alias pages mapped now
        u64 address_space_used { 0 }; // bytes of the region consumed (never reused)
        u64 table_pages { 0 };
    };
    Statistics statistics() const { return m_statistics; }

private:
    struct Record {
        uptr alias_page; // 0: empty
        u8* object;
        uptr site;
        u32 size;
        u32 pages;
    };
    Record* find(uptr alias_page) const;
    bool insert(Record const&);
    void remove(uptr alias_page);
    bool grow();
    void report(Misuse misuse, void const* pointer, char const* message) { m_report(misuse, pointer, message); }

    HardenedHeap& m_heap;
    AliasMapper& m_mapper;
    PageSource& m_pages;
    ReportMisuse m_report;
    uptr m_region;
    uptr m_cursor;
    uptr m_region_end;

    Record* m_table { nullptr }; // open addressing, at most half full, by alias start page
    usize m_capacity { 0 };
    usize m_used { 0 };
    Record m_recent[recent_capacity] {};
    usize m_recent_next { 0 };
    Statistics m_statistics;
};

} // namespace kernite::heap
