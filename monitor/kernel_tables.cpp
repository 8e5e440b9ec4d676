#include "kernel_tables.h"

#include <elf/notes.h>
#include <elf/relocations.h>
#include <paging/kernel_layout.h>

#include <cstring>
#include <memory>
#include <vector>

namespace kernite::monitor {

namespace {

constexpr u64 page_size = paging::page_size;
constexpr u64 max_table_pages = 256; // 1 MiB of tables: far more than any layout needs

// Table pages live in host memory while they are built, each with the guest-physical address it will have;
// they are copied into the guest when complete (the monitor never writes guest memory through a pointer).
class HostTableEnv {
public:
    explicit HostTableEnv(u64 top)
        : m_top(top)
    {
    }
    ErrorOr<u64> allocate_table()
    {
        if (m_pages.size() >= max_table_pages || m_top < (m_pages.size() + 1) * page_size)
            return Error::from_errno(ENOMEM, "too many kernel page tables");
        m_pages.push_back(std::make_unique<Page>());
        return gpa_of(m_pages.size() - 1);
    }
    void free_table(u64) { }
    paging::PageTableEntry* table(u64 gpa)
    {
        u64 index = (m_top - gpa) / page_size - 1;
        VERIFY(gpa % page_size == 0 && gpa < m_top && index < m_pages.size());
        return m_pages[index]->entries;
    }
    u64 lowest() const { return m_top - m_pages.size() * page_size; }
    bool copy_into(GuestMemory& memory) const
    {
        for (u64 i = 0; i < m_pages.size(); ++i) {
            if (!memory.write_bytes(gpa_of(i), m_pages[i]->entries, page_size))
                return false;
        }
        return true;
    }

private:
    struct Page {
        paging::PageTableEntry entries[paging::entries_per_table] {};
    };
    u64 gpa_of(u64 index) const { return m_top - (index + 1) * page_size; }

    u64 m_top;
    std::vector<std::unique_ptr<Page>> m_pages;
};

} // namespace

Result<KernelTables> build_kernel_tables(KernelFile const& file, elf::LoadableImage const& image, GuestMemory& memory,
    u64 virt_base)
{
    if (image.segment_count == 0)
        return fail("kernel image has no loadable segment");
    auto note = elf::find_note(file.bytes.get(), file.size, image, "Kernite", paging::layout_note_type);
    if (note.is_error() && note.error().code() == ENOENT)
        return KernelTables { 0, 0 };
    if (note.is_error())
        return fail(std::string("bad kernel layout note: ") + note.error().reason());
    paging::LayoutNoteHeader header;
    if (note.value().size < sizeof(header))
        return fail("kernel layout note too small");
    std::memcpy(&header, file.bytes.get() + note.value().file_offset, sizeof(header));
    if (header.version != paging::layout_version || header.count == 0 || header.count > paging::max_layout_ranges
        || note.value().size != sizeof(header) + header.count * sizeof(paging::LayoutRange))
        return fail("kernel layout note malformed or of an unknown version");
    paging::LayoutRange ranges[paging::max_layout_ranges];
    std::memcpy(ranges, file.bytes.get() + note.value().file_offset + sizeof(header), header.count * sizeof(ranges[0]));

    // The image must be one linear piece: the same load-minus-virtual offset in every PT_LOAD.
    u64 link_base = elf::link_base(image);
    u64 delta = image.segments[0].load_address - image.segments[0].virtual_address; // wraps, like the CPU
    u64 phys_start = link_base + delta, phys_end = 0;
    for (u32 i = 0; i < image.segment_count; ++i) {
        auto const& segment = image.segments[i];
        if (segment.load_address - segment.virtual_address != delta)
            return fail("kernel image segments are not mapped linearly");
        phys_end = std::max(phys_end, segment.load_address + segment.memory_size);
    }
    u64 aligned_end = 0;
    if (!ktl::align_up(phys_end, page_size, &aligned_end) || phys_start % page_size != 0)
        return fail("kernel image is not page-aligned");

    HostTableEnv env(memory.size());
    paging::KernelPlacement const placement { link_base, virt_base, phys_start, aligned_end, 0x100000, memory.size(),
        header.direct_map_base };
    auto root = paging::build_kernel_address_space(env, ranges, header.count, placement);
    if (root.is_error())
        return fail(std::string("cannot build the kernel's page tables: ") + root.error().reason());
    if (env.lowest() < aligned_end || !env.copy_into(memory))
        return fail("guest memory too small for the kernel's page tables");
    return KernelTables { root.value(), env.lowest() };
}

} // namespace kernite::monitor
