// A host page source whose slab region is a memfd mapping, and an AliasMapper that maps the same file pages at
// alias addresses: what the kernel does with frames and page tables, for the OSCAR tests and bench.
#pragma once

#include "mmap_page_source.h"

#include <fcntl.h>
#include <heap/oscar_aliases.h>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace kernite::heap {

class MemfdPageSource final : public PageSource, public AliasMapper {
public:
    ~MemfdPageSource()
    {
        for (auto const& reservation : m_reservations)
            close(reservation.fd);
    }

    void* allocate_pages(usize count) override { return m_plain.allocate_pages(count); }
    void free_pages(void* pages, usize count) override { m_plain.free_pages(pages, count); }
    void* allocate_guarded(usize count) override { return m_plain.allocate_guarded(count); }
    void free_guarded(void* pages, usize count) override { m_plain.free_guarded(pages, count); }

    void* reserve(usize bytes) override
    {
        int fd = memfd_create("kernite-slabs", MFD_CLOEXEC);
        if (fd < 0 || ftruncate(fd, static_cast<off_t>(bytes)) != 0)
            return nullptr;
        void* region = mmap(nullptr, bytes, PROT_NONE, MAP_SHARED | MAP_NORESERVE, fd, 0);
        if (region == MAP_FAILED)
            return nullptr;
        m_reservations.push_back({ static_cast<u8*>(region), bytes, fd });
        return region;
    }
    bool commit(void* pages, usize count) override
    {
        m_committed += count;
        return mprotect(pages, count * page_size, PROT_READ | PROT_WRITE) == 0;
    }
    void decommit(void* pages, usize count) override
    {
        auto const* reservation = find(pages);
        fallocate(reservation->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
            static_cast<u8*>(pages) - reservation->base, static_cast<off_t>(count * page_size));
        mprotect(pages, count * page_size, PROT_NONE);
        m_committed -= count;
    }

    // The alias region: address space only.
    uptr reserve_aliases(usize bytes)
    {
        void* region = mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        return region == MAP_FAILED ? 0 : reinterpret_cast<uptr>(region);
    }
    bool map_alias(uptr alias, void const* object_pages, usize pages) override
    {
        auto const* reservation = find(object_pages);
        if (!reservation)
            return false;
        void* mapped = mmap(reinterpret_cast<void*>(alias), pages * page_size, PROT_READ | PROT_WRITE,
            MAP_SHARED | MAP_FIXED, reservation->fd, static_cast<u8 const*>(object_pages) - reservation->base);
        return mapped != MAP_FAILED;
    }
    void unmap_alias(uptr alias, usize pages) override
    {
        // Inaccessible again, the address space kept (never reused by the aliases' cursor anyway).
        mmap(reinterpret_cast<void*>(alias), pages * page_size, PROT_NONE,
            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    }

    usize pages_in_use() const { return m_committed + m_plain.pages_in_use(); }

private:
    struct Reservation {
        u8* base;
        usize bytes;
        int fd;
    };
    Reservation const* find(void const* address) const
    {
        for (auto const& reservation : m_reservations)
            if (static_cast<u8 const*>(address) >= reservation.base
                && static_cast<u8 const*>(address) < reservation.base + reservation.bytes)
                return &reservation;
        return nullptr;
    }
    MmapPageSource m_plain;
    std::vector<Reservation> m_reservations;
    usize m_committed { 0 };
};

} // namespace kernite::heap
