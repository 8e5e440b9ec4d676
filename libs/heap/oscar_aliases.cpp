// OSCAR-style aliases: see include/heap/oscar_aliases.h for the scheme and its reasons.
#include <heap/oscar_aliases.h>

namespace kernite::heap {

namespace {

constexpr uptr page_mask = page_size - 1;
constexpr usize canary_bytes = 8; // the heap's canary right after the object: reachable through the alias too

uptr hash(uptr page) { return static_cast<uptr>((page >> 12) * 0x9e3779b97f4a7c15ull); }

} // namespace

void* OscarAliases::allocate(usize size, uptr site)
{
    if (size == 0)
        size = 1;
    if (size > largest_slab_size)
        return m_heap.allocate(size);
    auto* object = static_cast<u8*>(m_heap.allocate(size));
    if (!object)
        return nullptr;
    uptr offset = reinterpret_cast<uptr>(object) & page_mask;
    usize pages = (offset + size + canary_bytes + page_mask) / page_size;
    // One unmapped page after each alias (never mapped): a linear overflow past the alias faults too.
    usize span = (pages + 1) * page_size;
    if (m_cursor + span > m_region_end || m_cursor + span < m_cursor) {
        // Address space used up: no silent fallback to unaliased objects.
        m_heap.deallocate(object);
        return nullptr;
    }
    uptr alias = m_cursor;
    if ((m_used + 1) * 2 > m_capacity && !grow()) {
        m_heap.deallocate(object);
        return nullptr;
    }
    if (!m_mapper.map_alias(alias, object - offset, pages)) {
        m_heap.deallocate(object);
        return nullptr;
    }
    m_cursor += span;
    (void)insert({ alias, object, site, static_cast<u32>(size), static_cast<u32>(pages) });
    ++m_statistics.live_aliases;
    m_statistics.mapped_pages += pages;
    m_statistics.address_space_used = m_cursor - m_region;
    return reinterpret_cast<void*>(alias + offset);
}

void OscarAliases::deallocate(void* pointer)
{
    uptr address = reinterpret_cast<uptr>(pointer);
    if (!pointer)
        return;
    if (!in_region(address)) {
        m_heap.deallocate(pointer); // a large block, or not the heap's: the heap decides
        return;
    }
    Record* record = find(address & ~page_mask);
    if (!record) {
        FaultInfo info;
        if (describe(address, info) && info.freed && info.known && info.pointer == address)
            report(Misuse::DoubleFree, pointer, "object freed twice (its alias is already unmapped)");
        else
            report(Misuse::InvalidFree, pointer, "free of a pointer that is not the start of an aliased object");
        return;
    }
    if ((reinterpret_cast<uptr>(record->object) & page_mask) != (address & page_mask)) {
        report(Misuse::InvalidFree, pointer, "free of a pointer into the middle of an aliased object");
        return;
    }
    Record copy = *record;
    m_mapper.unmap_alias(copy.alias_page, copy.pages);
    remove(copy.alias_page);
    m_recent[m_recent_next] = copy;
    m_recent_next = (m_recent_next + 1) % recent_capacity;
    --m_statistics.live_aliases;
    m_statistics.mapped_pages -= copy.pages;
    m_heap.deallocate(copy.object);
}

bool OscarAliases::describe(uptr address, FaultInfo& info) const
{
    if (!in_region(address) || address >= m_cursor)
        return false;
    uptr page = address & ~page_mask;
    // A live alias starts at this page or up to two pages below (its own pages, then its guard page).
    for (uptr back = 0; back <= 3 * page_size && page - back >= m_region; back += page_size) {
        if (Record const* record = find(page - back)) {
            if (address >= record->alias_page + (record->pages + 1) * page_size)
                break; // an earlier alias: the address belongs to a freed one after it
            if (address < record->alias_page + record->pages * page_size)
                return false; // mapped: not a fault of ours
            info = { false, true, record->site, record->size,
                record->alias_page + (reinterpret_cast<uptr>(record->object) & page_mask) };
            return true;
        }
    }
    for (Record const& record : m_recent) {
        if (record.alias_page != 0 && address >= record.alias_page
            && address < record.alias_page + (record.pages + 1) * page_size) {
            bool freed = address < record.alias_page + record.pages * page_size;
            info = { true, true, record.site, record.size,
                record.alias_page + (reinterpret_cast<uptr>(record.object) & page_mask) };
            if (!freed)
                info.freed = true; // the guard of a freed alias: still a use of freed memory
            return true;
        }
    }
    info = { true, false, 0, 0, 0 };
    return true;
}

OscarAliases::Record* OscarAliases::find(uptr alias_page) const
{
    if (m_capacity == 0)
        return nullptr;
    usize mask = m_capacity - 1;
    for (usize index = hash(alias_page) & mask;; index = (index + 1) & mask) {
        if (m_table[index].alias_page == alias_page)
            return &m_table[index];
        if (m_table[index].alias_page == 0)
            return nullptr;
    }
}

bool OscarAliases::insert(Record const& record)
{
    usize mask = m_capacity - 1;
    usize index = hash(record.alias_page) & mask;
    while (m_table[index].alias_page != 0)
        index = (index + 1) & mask;
    m_table[index] = record;
    ++m_used;
    return true;
}

// Backward-shift deletion, as in the heap's large-block table: no tombstones.
void OscarAliases::remove(uptr alias_page)
{
    usize mask = m_capacity - 1;
    usize hole = hash(alias_page) & mask;
    while (m_table[hole].alias_page != alias_page) {
        if (m_table[hole].alias_page == 0)
            return;
        hole = (hole + 1) & mask;
    }
    for (usize index = (hole + 1) & mask; m_table[index].alias_page != 0; index = (index + 1) & mask) {
        usize home = hash(m_table[index].alias_page) & mask;
        bool home_between = hole <= index ? (home > hole && home <= index) : (home > hole || home <= index);
        if (!home_between) {
            m_table[hole] = m_table[index];
            hole = index;
        }
    }
    m_table[hole] = {};
    --m_used;
}

bool OscarAliases::grow()
{
    usize capacity = m_capacity == 0 ? page_size / sizeof(Record) : m_capacity * 2;
    usize pages = capacity * sizeof(Record) / page_size;
    auto* table = static_cast<Record*>(m_pages.allocate_pages(pages));
    if (!table)
        return false;
    __builtin_memset(table, 0, pages * page_size);
    Record* old = m_table;
    usize old_capacity = m_capacity;
    m_table = table;
    m_capacity = capacity;
    m_used = 0;
    for (usize i = 0; i < old_capacity; ++i)
        if (old[i].alias_page != 0)
            (void)insert(old[i]);
    if (old)
        m_pages.free_pages(old, old_capacity * sizeof(Record) / page_size);
    m_statistics.table_pages = pages;
    return true;
}

} // namespace kernite::heap
