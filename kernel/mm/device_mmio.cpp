// Device register mappings; see device_mmio.h.
#include <arch/x86_64/cpu.h>
#include <kernel/boot/boot_params.h>
#include <kernel/mm/device_mmio.h>
#include <kernel/mm/memory.h>

namespace kernite::mm {

namespace {

// Page 0 of the window is the xAPIC's (arch/x86_64/apic.cpp); device pages follow it. 64 pages is more than any
// VMM here offers (QEMU microvm: 24 virtio-mmio transports, 512 bytes each, in 3 pages).
constexpr u64 first_slot = 1;
constexpr u64 slot_count = 64;
u64 g_next_slot = first_slot;

// Intel SDM Vol. 3A §12.12.3 (Table 12-11, power-on PAT): PCD|PWT selects PAT entry 3, UC. libs/paging has no
// cache attribute in its access flags, so the leaf map() created is adjusted here (as the xAPIC page's is).
ErrorOr<void> make_uncacheable(u64 virt)
{
    auto* table = static_cast<paging::PageTableEntry*>(phys_to_virt(kernel_address_space().root()));
    for (unsigned level = 4; level > 1; --level) {
        auto const& entry = table[paging::table_index(virt, level)];
        if (!entry.is_present() || entry.is_huge())
            return Error::from_errno(EFAULT, "device page not mapped by a 4 KiB leaf");
        table = static_cast<paging::PageTableEntry*>(phys_to_virt(entry.address()));
    }
    table[paging::table_index(virt, 1)].raw
        |= paging::PageTableEntry::cache_disable | paging::PageTableEntry::write_through;
    arch::invalidate_page(virt);
    return {};
}

bool overlaps(u64 start, u64 length, u64 other_start, u64 other_length)
{
    return other_length != 0 && start < other_start + other_length && other_start < start + length;
}

bool overlaps_memory(u64 page, BootParams const& params)
{
    for (u32 i = 0; i < params.usable_count && i < abi::max_memory_regions; ++i) {
        if (overlaps(page, paging::page_size, params.usable[i].base, params.usable[i].length))
            return true;
    }
    return overlaps(page, paging::page_size, params.kernel_phys_start,
               params.kernel_phys_end - params.kernel_phys_start)
        || overlaps(page, paging::page_size, params.bundle_phys, params.bundle_size);
}

} // namespace

ErrorOr<u64> map_device_page(u64 phys, BootParams const& params)
{
    u64 const page = phys & ~(paging::page_size - 1);
    if (page == 0 || page + paging::page_size < page || page >= (1ull << 52))
        return Error::from_errno(EINVAL, "device page address out of range");
    if (overlaps_memory(page, params))
        return Error::from_errno(EINVAL, "device page overlaps usable RAM");
    if (g_next_slot >= first_slot + slot_count)
        return Error::from_errno(ENOSPC, "device mapping window full");
    u64 const virt = device_mmio_base + g_next_slot * paging::page_size;
    // Read and write, never execute (no AccessExecute: NX), global like the xAPIC page.
    TRY(kernel_address_space().map(virt, page, paging::page_size,
        paging::AccessRead | paging::AccessWrite | paging::AccessGlobal));
    TRY(make_uncacheable(virt));
    ++g_next_slot;
    return virt + (phys - page);
}

} // namespace kernite::mm
