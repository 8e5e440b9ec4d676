#include "kernel_tables.h"

#include "io.h"

#include <elf/notes.h>
#include <elf/relocations.h>
#include <paging/kernel_layout.h>

#include <cerrno>
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

namespace {

struct LayoutNote {
    bool present { false };
    paging::LayoutNoteHeader header {};
    paging::LayoutRange ranges[paging::max_layout_ranges] {};
};

// The image's layout note (libs/paging/kernel_layout.h), checked; `present` is false when there is none.
Result<LayoutNote> read_layout_note(KernelFile const& file, elf::LoadableImage const& image)
{
    LayoutNote layout;
    auto note = elf::find_note(file.bytes.get(), file.size, image, "Kernite", paging::layout_note_type);
    if (note.is_error() && note.error().code() == ENOENT)
        return layout;
    if (note.is_error())
        return fail(std::string("bad kernel layout note: ") + note.error().reason());
    auto& header = layout.header;
    if (note.value().size < sizeof(header))
        return fail("kernel layout note too small");
    std::memcpy(&header, file.bytes.get() + note.value().file_offset, sizeof(header));
    if (header.version != paging::layout_version || header.count == 0 || header.count > paging::max_layout_ranges
        || note.value().size != sizeof(header) + header.count * sizeof(paging::LayoutRange))
        return fail("kernel layout note malformed or of an unknown version");
    std::memcpy(layout.ranges, file.bytes.get() + note.value().file_offset + sizeof(header),
        header.count * sizeof(paging::LayoutRange));
    layout.present = true;
    return layout;
}

// Size of the loaded image, first PT_LOAD byte to the end of the last one's memory, page-aligned.
u64 image_span(elf::LoadableImage const& image)
{
    u64 low = ~0ull, high = 0;
    for (u32 i = 0; i < image.segment_count; ++i) {
        low = std::min(low, image.segments[i].virtual_address);
        high = std::max(high, image.segments[i].virtual_address + image.segments[i].memory_size);
    }
    u64 aligned = 0;
    return image.segment_count && ktl::align_up(high - low, page_size, &aligned) ? aligned : 0;
}

} // namespace

Result<u64> choose_kernel_virt_base(KernelFile const& file, elf::LoadableImage const& image, bool no_aslr)
{
    auto layout = read_layout_note(file, image);
    if (!layout.ok())
        return fail(layout.error());
    u64 link = elf::link_base(image);
    if (no_aslr || !layout.value().present)
        return link; // --no-aslr (the kernel warns), or not a Kernite kernel: its image says nothing about where it may go
    auto const& header = layout.value().header;
    u64 random = 0;
    if (!fill_random(&random, sizeof(random)))
        return fail(std::string("getrandom failed: ") + std::strerror(errno));
    u64 base = paging::choose_kernel_base(header.aslr_window_base, header.aslr_window_size, image_span(image), random);
    if (base == 0 || !paging::is_canonical(base))
        return fail("the kernel image does not fit its KASLR window");
    return base;
}

Result<KernelTables> build_kernel_tables(KernelFile const& file, elf::LoadableImage const& image, GuestMemory& memory,
    u64 virt_base)
{
    if (image.segment_count == 0)
        return fail("kernel image has no loadable segment");
    auto layout_or_error = read_layout_note(file, image);
    if (!layout_or_error.ok())
        return fail(layout_or_error.error());
    auto const& layout = layout_or_error.value();
    if (!layout.present)
        return KernelTables { 0, 0 };
    auto const& header = layout.header;
    auto const* ranges = layout.ranges;
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
