#include "boot_layout.h"

#include "io.h"

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

} // namespace

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
    if (!fill_random(info.entropy_seed, sizeof(info.entropy_seed)) || !fill_random(info.boot_id, sizeof(info.boot_id)))
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
    // RAM from 1 MiB is usable, except the kernel page tables the monitor built at the top (BootFlagKernelTables).
    u64 usable_end = memory.size();
    if (setup.kernel_tables_root != 0) {
        if (setup.relocated_to == 0 || setup.kernel_tables_base <= kernel_min_gpa
            || setup.kernel_tables_base > memory.size())
            return fail("kernel page tables without relocation, or outside guest memory");
        usable_end = setup.kernel_tables_base;
        info.flags |= abi::BootFlagKernelTables;
        info.kernel_page_table_root = setup.kernel_tables_root;
    }
    info.memory_region_count = 2;
    info.memory_regions[0] = { 0, kernel_min_gpa, static_cast<u32>(abi::MemoryType::Reserved), 0 };
    info.memory_regions[1]
        = { kernel_min_gpa, usable_end - kernel_min_gpa, static_cast<u32>(abi::MemoryType::Usable), 0 };
    if (usable_end < memory.size()) {
        info.memory_region_count = 3;
        info.memory_regions[2]
            = { usable_end, memory.size() - usable_end, static_cast<u32>(abi::MemoryType::Reserved), 0 };
    }

    char const nul = '\0';
    if (!memory.write(GuestPtr<abi::BootInfo>(boot_info_gpa), info)
        || !memory.write_bytes(cmdline_gpa, setup.cmdline.data(), setup.cmdline.size())
        || !memory.write_bytes(cmdline_gpa + setup.cmdline.size(), &nul, 1)
        || !write_page_tables(memory, info.identity_map_limit))
        return fail("guest memory is too small for the boot layout");
    return info;
}

} // namespace kernite::monitor
