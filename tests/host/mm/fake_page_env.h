// A page-table environment for host tests of libs/paging: table pages in host memory, fake physical addresses.
#pragma once

#include <paging/address_space.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

namespace kernite::paging::testing {

// Table pages live in host memory; "physical" addresses are fake and map to them.
class FakeEnv {
public:
    ~FakeEnv()
    {
        for (auto& [phys, page] : m_pages)
            std::free(page);
    }
    ErrorOr<u64> allocate_table()
    {
        if (m_fail_after == 0)
            return Error::from_errno(ENOMEM);
        if (m_fail_after > 0)
            --m_fail_after;
        u64 phys = m_next;
        m_next += page_size;
        void* page = std::aligned_alloc(page_size, page_size);
        std::memset(page, 0, page_size);
        m_pages[phys] = static_cast<PageTableEntry*>(page);
        return phys;
    }
    void free_table(u64 phys)
    {
        auto it = m_pages.find(phys);
        ASSERT_NE(it, m_pages.end()) << "free of a table that was never allocated";
        std::free(it->second);
        m_pages.erase(it);
        m_freed.insert(phys);
    }
    PageTableEntry* table(u64 phys)
    {
        auto it = m_pages.find(phys);
        if (it == m_pages.end())
            std::abort();
        return it->second;
    }
    size_t live_tables() const { return m_pages.size(); }
    int m_fail_after { -1 };
    std::set<u64> m_freed;

private:
    u64 m_next { 0x100000 };
    std::map<u64, PageTableEntry*> m_pages;
};

} // namespace kernite::paging::testing
