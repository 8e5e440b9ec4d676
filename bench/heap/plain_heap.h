// The reference for the hardened heap's cost: a plain size-class allocator with the same size classes and the
// same page source, and none of the hardening (free lists inside free objects, a size header, no checks, no
// quarantine, no guards). What issue 2's kernel heap is, with the hardened heap's classes.
#pragma once

#include <heap/hardened_heap.h>

namespace kernite::heap {

inline constexpr u16 plain_class_sizes[] = { 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512,
    640, 768, 896, 1024, 1280, 1536, 1792, 2048 };

struct PlainClassTable {
    u8 by_granule[largest_slab_size / 16 + 1];
};
constexpr PlainClassTable make_plain_class_table()
{
    PlainClassTable table {};
    unsigned size_class = 0;
    for (usize granule = 0; granule <= largest_slab_size / 16; ++granule) {
        while (plain_class_sizes[size_class] < granule * 16)
            ++size_class;
        table.by_granule[granule] = static_cast<u8>(size_class);
    }
    return table;
}
inline constexpr PlainClassTable plain_class_table = make_plain_class_table();

class PlainHeap {
public:
    explicit PlainHeap(PageSource& pages)
        : m_pages(pages)
    {
    }

    void* allocate(usize size)
    {
        if (size == 0)
            size = 1;
        if (size > largest_slab_size)
            return allocate_large(size);
        unsigned size_class = class_of(size);
        FreeObject* object = m_free[size_class];
        if (object) {
            m_free[size_class] = object->next;
        } else {
            usize stride = header_size + class_sizes[size_class];
            if (m_carve_left[size_class] < stride) {
                m_carve[size_class] = static_cast<u8*>(m_pages.allocate_pages(carve_pages));
                if (!m_carve[size_class])
                    return nullptr;
                m_carve_left[size_class] = carve_pages * page_size;
                m_slab_pages += carve_pages;
            }
            object = reinterpret_cast<FreeObject*>(m_carve[size_class]);
            m_carve[size_class] += stride;
            m_carve_left[size_class] -= stride;
        }
        auto* header = reinterpret_cast<u64*>(object);
        header[0] = size_class;
        return header + 2;
    }

    void deallocate(void* pointer)
    {
        if (!pointer)
            return;
        auto* header = static_cast<u64*>(pointer) - 2;
        if (header[0] == large_marker) {
            m_large_pages -= header[1];
            m_pages.free_pages(header, header[1]);
            return;
        }
        u64 size_class = header[0];
        auto* object = reinterpret_cast<FreeObject*>(header);
        object->next = m_free[size_class];
        m_free[size_class] = object;
    }

    usize pages_in_use() const { return m_slab_pages + m_large_pages; }

    static constexpr auto& class_sizes = plain_class_sizes;
    static constexpr unsigned class_count = sizeof(plain_class_sizes) / sizeof(plain_class_sizes[0]);

private:
    struct FreeObject {
        FreeObject* next;
    };
    static constexpr usize header_size = 16;
    static constexpr u64 large_marker = ~0ull;
    static constexpr usize carve_pages = 4;

    // The same table lookup as the hardened heap, so the comparison measures hardening, not class search.
    static unsigned class_of(usize size) { return plain_class_table.by_granule[(size + 15) / 16]; }

    void* allocate_large(usize size)
    {
        usize pages = (size + header_size + page_size - 1) / page_size;
        auto* header = static_cast<u64*>(m_pages.allocate_pages(pages));
        if (!header)
            return nullptr;
        header[0] = large_marker;
        header[1] = pages;
        m_large_pages += pages;
        return header + 2;
    }

    PageSource& m_pages;
    FreeObject* m_free[class_count] {};
    u8* m_carve[class_count] {};
    usize m_carve_left[class_count] {};
    usize m_slab_pages { 0 };
    usize m_large_pages { 0 };
};

} // namespace kernite::heap
