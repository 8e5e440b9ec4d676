#include "boot_layout.h"

#include "io.h"

#include <algorithm>
#include <cstring>

namespace kernite::monitor {

namespace {

bool write_page_tables(GuestMemory& memory, u64 identity_map_limit)
{
    constexpr u64 gib = 1ull << 30;
    constexpr u64 large_page = 2ull << 20;
    u64 const directories = (identity_map_limit + gib - 1) / gib;
    if (!memory.write(GuestPtr<u64>(pml4_gpa), pdpt_gpa | pte_present | pte_writable))
        return false;
    for (u64 directory = 0; directory < directories; ++directory) {
        u64 const pd_gpa = first_pd_gpa + directory * 0x1000;
        if (!memory.write(GuestPtr<u64>(pdpt_gpa + directory * 8), pd_gpa | pte_present | pte_writable))
            return false;
        u64 entries[512] = {};
        for (u64 entry = 0; entry < 512; ++entry) {
            u64 const address = directory * gib + entry * large_page;
            if (address >= identity_map_limit)
                break;
            entries[entry] = address | pte_present | pte_writable | pde_large_page;
        }
        if (!memory.write_bytes(pd_gpa, entries, sizeof(entries)))
            return false;
    }
    return true;
}

struct Range {
    u64 base;
    u64 end;
};

// Reserved [0, 1 MiB), then [1 MiB, size) as Usable except the `reserved` ranges (which must lie in it, and not
// overlap each other). Adjacent reserved ranges merge into one region.
bool build_memory_map(abi::BootInfo& info, u64 size, std::span<Range> reserved)
{
    std::sort(reserved.begin(), reserved.end(), [](Range a, Range b) { return a.base < b.base; });
    info.memory_region_count = 0;
    auto add = [&](u64 base, u64 end, abi::MemoryType type) {
        if (base == end)
            return;
        if (info.memory_region_count > 0) {
            auto& last = info.memory_regions[info.memory_region_count - 1];
            if (last.type == static_cast<u32>(type) && last.base + last.length == base) {
                last.length += end - base;
                return;
            }
        }
        info.memory_regions[info.memory_region_count++] = { base, end - base, static_cast<u32>(type), 0 };
    };
    add(0, kernel_min_gpa, abi::MemoryType::Reserved);
    u64 cursor = kernel_min_gpa;
    for (Range const& range : reserved) {
        if (range.base < cursor || range.end < range.base || range.end > size)
            return false;
        add(cursor, range.base, abi::MemoryType::Usable);
        add(range.base, range.end, abi::MemoryType::Reserved);
        cursor = range.end;
    }
    add(cursor, size, abi::MemoryType::Usable);
    return true;
}

} // namespace

Result<u64> fit_modules(u64 total, u64 floor, u64 top, u64 memory_size)
{
    u64 const limit = std::min({ top, memory_size, identity_map_limit_for(memory_size) }) & ~(guest_page_size - 1);
    u64 const available = floor <= limit ? limit - floor : 0;
    if (total <= available)
        return limit - total;
    // Growing guest memory by the shortfall moves `top` up by as much (the kernel's page tables sit at the very end
    // and grow by a page per GiB: the slack covers that).
    u64 shortfall = 0;
    u64 needed = 0;
    if (!ktl::checked_add(total - available, floor > limit ? floor - limit : 0, &shortfall)
        || !ktl::checked_add(shortfall, 16 * guest_page_size, &shortfall)
        || !ktl::checked_add(memory_size, shortfall, &needed) || !ktl::align_up(needed, 2ull << 20, &needed))
        needed = ~0ull;
    return fail("the program, its arguments and rootfs (" + std::to_string((total + (1ull << 20) - 1) >> 20)
        + " MiB) do not fit in " + std::to_string(memory_size >> 20)
        + " MiB of guest memory beside the kernel: use --mem " + std::to_string(needed >> 20) + "M or more");
}

Result<ModulePlacement> place_modules(GuestMemory& memory, std::span<ModuleView const> modules, u64 floor, u64 top)
{
    ModulePlacement placement;
    if (modules.empty())
        return placement;
    if (modules.size() > abi::max_boot_modules)
        return fail("too many boot modules");
    u64 total = 0;
    for (auto const& module : modules) {
        u64 pages = 0;
        if (module.size == 0 || !ktl::align_up(module.size, guest_page_size, &pages)
            || !ktl::checked_add(total, pages, &total))
            return fail(std::string("boot module ") + module.name + " is empty or too large");
    }
    auto base = fit_modules(total, floor, top, memory.size());
    if (!base.ok())
        return fail(base.error());
    placement.base = base.value();
    placement.end = base.value() + total;
    u64 gpa = placement.base;
    for (auto const& module : modules) {
        abi::BootModule& entry = placement.modules[placement.count++];
        usize const name_length = std::strlen(module.name);
        if (name_length >= sizeof(entry.name))
            return fail(std::string("boot module name too long: ") + module.name);
        std::memcpy(entry.name, module.name, name_length);
        entry.gpa = gpa;
        entry.size = module.size;
        // The only copy into the guest. The tail of the last page stays zero: guest memory is fresh.
        if (!memory.write_bytes(gpa, module.data, module.size))
            return fail("boot modules outside guest memory");
        gpa += (module.size + guest_page_size - 1) & ~(guest_page_size - 1);
    }
    return placement;
}

Result<abi::BootInfo> write_boot_layout(GuestMemory& memory, BootSetup const& setup)
{
    if (memory.size() < kernel_min_gpa + (1ull << 20))
        return fail("guest memory is too small");
    if (setup.cmdline.size() + 1 > abi::max_cmdline_length)
        return fail("kernel command line is too long");

    abi::BootInfo info {};
    info.magic = abi::boot_info_magic;
    info.version_major = abi::abi_version_major;
    info.version_minor = abi::abi_version_minor;
    info.size = sizeof(abi::BootInfo);
    info.tsc_khz = setup.tsc_khz;
    info.identity_map_limit = identity_map_limit_for(memory.size());
    if (!fill_random(info.entropy_seed, sizeof(info.entropy_seed)) || !fill_random(info.boot_id, sizeof(info.boot_id))
        || !fill_random(info.entropy_pool, sizeof(info.entropy_pool)))
        return fail(std::string("getrandom failed: ") + std::strerror(errno));
    info.cmdline_gpa = cmdline_gpa;
    info.cmdline_length = static_cast<u32>(setup.cmdline.size());
    info.module_count = 0;
    // Guest memory is a fresh anonymous mapping: zero everywhere we did not write (abi.h BootFlagMemoryZeroed).
    info.flags = abi::BootFlagMemoryZeroed;
    if (setup.relocated_to != 0) {
        info.flags |= abi::BootFlagRelocated;
        info.kernel_virt_base = setup.relocated_to;
    }
    // RAM from 1 MiB is usable, except the kernel page tables the monitor built at the top (BootFlagKernelTables)
    // and the boot modules.
    Range reserved[2] {};
    usize reserved_count = 0;
    if (setup.kernel_tables_root != 0) {
        if (setup.relocated_to == 0 || setup.kernel_tables_base <= kernel_min_gpa
            || setup.kernel_tables_base > memory.size())
            return fail("kernel page tables without relocation, or outside guest memory");
        reserved[reserved_count++] = { setup.kernel_tables_base, memory.size() };
        info.flags |= abi::BootFlagKernelTables;
        info.kernel_page_table_root = setup.kernel_tables_root;
    }
    if (setup.modules && setup.modules->count != 0) {
        ModulePlacement const& placed = *setup.modules;
        if (placed.count > abi::max_boot_modules || placed.base < kernel_min_gpa || placed.base > placed.end
            || placed.end > memory.size())
            return fail("boot modules outside guest memory");
        reserved[reserved_count++] = { placed.base, placed.end };
        info.module_count = placed.count;
        std::memcpy(info.modules, placed.modules, sizeof(info.modules));
    }
    if (!build_memory_map(info, memory.size(), std::span(reserved, reserved_count)))
        return fail("boot modules overlap the kernel's page tables");

    char const nul = '\0';
    if (!memory.write(GuestPtr<abi::BootInfo>(boot_info_gpa), info)
        || !memory.write_bytes(cmdline_gpa, setup.cmdline.data(), setup.cmdline.size())
        || !memory.write_bytes(cmdline_gpa + setup.cmdline.size(), &nul, 1)
        || !write_page_tables(memory, info.identity_map_limit))
        return fail("guest memory is too small for the boot layout");
    return info;
}

} // namespace kernite::monitor
