// A host page source for the hardened heap (tests and bench): pages from mmap, guard pages as PROT_NONE.
#pragma once

#include <heap/hardened_heap.h>
#include <sys/mman.h>

namespace kernite::heap {

// A deterministic xorshift64* stream for host tests and the benchmark (the kernel uses its DRBG): reproducible
// slot choices, good enough to spread them.
inline u64 xorshift_next(u64& state)
{
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545f4914f6cdd1dull;
}

inline void xorshift_fill(u64& state, void* buffer, usize length)
{
    for (usize i = 0; i < length; i += 8) {
        u64 value = xorshift_next(state);
        __builtin_memcpy(static_cast<u8*>(buffer) + i, &value, length - i < 8 ? length - i : 8);
    }
}

class MmapPageSource final : public PageSource {
public:
    // `page_limit`: pages it hands out at most (guards not counted), to test out-of-memory paths.
    explicit MmapPageSource(usize page_limit = ~usize(0))
        : m_limit(page_limit)
    {
    }

    void* allocate_pages(usize count) override
    {
        if (count > m_limit - m_pages_in_use)
            return nullptr;
        void* pages = mmap(nullptr, count * page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (pages == MAP_FAILED)
            return nullptr;
        m_pages_in_use += count;
        return pages;
    }
    void free_pages(void* pages, usize count) override
    {
        munmap(pages, count * page_size);
        m_pages_in_use -= count;
    }
    void* allocate_guarded(usize count) override
    {
        if (count > m_limit - m_pages_in_use)
            return nullptr;
        auto* block
            = static_cast<u8*>(mmap(nullptr, (count + 2) * page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        if (block == MAP_FAILED)
            return nullptr;
        if (mprotect(block + page_size, count * page_size, PROT_READ | PROT_WRITE) != 0) {
            munmap(block, (count + 2) * page_size);
            return nullptr;
        }
        m_pages_in_use += count;
        ++m_guarded_blocks;
        return block + page_size;
    }
    void free_guarded(void* pages, usize count) override
    {
        munmap(static_cast<u8*>(pages) - page_size, (count + 2) * page_size);
        m_pages_in_use -= count;
        --m_guarded_blocks;
    }

    void* reserve(usize bytes) override
    {
        void* region = mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        return region == MAP_FAILED ? nullptr : region;
    }
    bool commit(void* pages, usize count) override
    {
        if (count > m_limit - m_pages_in_use)
            return false;
        if (mprotect(pages, count * page_size, PROT_READ | PROT_WRITE) != 0)
            return false;
        m_pages_in_use += count;
        return true;
    }
    void decommit(void* pages, usize count) override
    {
        // Fresh zero pages, inaccessible: like the kernel's unmap and frame release.
        mmap(pages, count * page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
        m_pages_in_use -= count;
    }

    usize pages_in_use() const { return m_pages_in_use; }
    usize guarded_blocks() const { return m_guarded_blocks; }

private:
    usize m_limit;
    usize m_pages_in_use { 0 };
    usize m_guarded_blocks { 0 };
};

} // namespace kernite::heap
