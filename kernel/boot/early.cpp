// Early boot: runs on the loader's identity map, before relocation, before the IDT exists.
//
// Constraints (why this file looks the way it does):
//  - No absolute addresses: the image is not relocated yet, so no virtual calls, no function-pointer tables,
//    no reads of pointers stored in data. Globals are reached RIP-relative (-fpie, hidden visibility).
//  - Built without the stack protector: it sets the canary (kernel/CMakeLists.txt says so next to the flag).
//  - A fault here has no handler and becomes a triple fault, which the monitor reports; so every loader value
//    is range-checked before it is dereferenced, and an impossible boot ends in early_halt().
#include <kernel/boot/boot_params.h>
#include <kernel/boot/cmdline.h>
#include <kernel/boot/early.h>
#include <kernel/boot/pvh.h>
#include <kernel/mm/kernel_image.h>
#include <kernel/security/entropy.h>
#include <paging/address_space.h>
#include <paging/kernel_layout.h>
#include <pmm/physical_memory.h>

#include "../../arch/x86_64/boot/boot_protocol.h"

extern "C" u64 __stack_chk_guard;
extern "C" [[noreturn]] void kernel_main(kernite::BootParams*);

namespace kernite {

BootParams g_boot_params;
pmm::PhysicalMemory g_physical_memory;

namespace {

HandOff g_handoff;

[[noreturn]] void early_halt()
{
    // No console yet. A ud2 with no IDT triple-faults, which both VMMs report as a failed boot.
    for (;;)
        asm volatile("ud2");
}

u64 read_tsc()
{
    u32 low, high;
    asm volatile("rdtsc" : "=a"(low), "=d"(high));
    return (u64(high) << 32) | low;
}

// Word copies where both sides are aligned: early boot is instruction count (docs/platform-notes.md).
void copy_bytes(void* destination, void const* source, u64 length)
{
    auto* d = static_cast<u8*>(destination);
    auto const* s = static_cast<u8 const*>(source);
    u64 i = 0;
    if ((reinterpret_cast<uptr>(d) | reinterpret_cast<uptr>(s)) % 8 == 0) {
        for (; i + 8 <= length; i += 8)
            *reinterpret_cast<u64*>(d + i) = *reinterpret_cast<u64 const*>(s + i);
    }
    for (; i < length; ++i)
        d[i] = s[i];
}

// Secrets in loader memory: wiped with stores the compiler keeps.
void wipe_bytes(void const* memory, u64 length)
{
    auto address = reinterpret_cast<uptr>(memory);
    u64 i = 0;
    if (address % 8 == 0) {
        for (; i + 8 <= length; i += 8)
            *reinterpret_cast<u64 volatile*>(address + i) = 0;
    }
    for (; i < length; ++i)
        *reinterpret_cast<u8 volatile*>(address + i) = 0;
}

// Copies a NUL-terminated loader string, bounded, into the command-line buffer.
void copy_cmdline(u64 phys, u64 limit)
{
    auto& params = g_boot_params;
    params.cmdline[0] = 0;
    if (phys == 0 || phys >= limit)
        return;
    auto const* source = reinterpret_cast<char const*>(phys);
    u64 i = 0;
    for (; i + 1 < sizeof(params.cmdline) && phys + i < limit && source[i]; ++i)
        params.cmdline[i] = source[i];
    params.cmdline[i] = 0;
}

void add_usable(u64 base, u64 length)
{
    auto& params = g_boot_params;
    if (length == 0 || params.usable_count >= abi::max_memory_regions)
        return;
    u64 end = 0;
    if (!ktl::checked_add(base, length, &end))
        return;
    params.usable[params.usable_count++] = { base, length };
    if (end > params.max_phys)
        params.max_phys = end;
}

void add_module(char const* name, u64 name_capacity, u64 phys, u64 size);

void parse_monitor_boot_info(u64 info_phys, u64 magic)
{
    if (magic != abi::boot_magic || info_phys == 0 || info_phys % 8 != 0 || info_phys > (1ull << 30))
        early_halt();
    auto const& info = *reinterpret_cast<abi::BootInfo const*>(info_phys);
    // ABI 1.1 monitors end before entropy_pool; later fields are read only where `size` covers them.
    if (info.magic != abi::boot_info_magic || info.version_major != abi::abi_version_major
        || info.size < offsetof(abi::BootInfo, entropy_pool) || info.memory_region_count > abi::max_memory_regions)
        early_halt();
    auto& params = g_boot_params;
    params.tsc_khz = info.tsc_khz;
    copy_bytes(params.entropy_seed, info.entropy_seed, sizeof(params.entropy_seed));
    params.has_entropy_seed = true;
    copy_bytes(params.boot_id, info.boot_id, sizeof(params.boot_id));
    // Wipe the seed and the pool in guest memory the loader owns: nothing later should find them there.
    wipe_bytes(info.entropy_seed, sizeof(info.entropy_seed));
    if (info.size >= offsetof(abi::BootInfo, entropy_pool) + sizeof(info.entropy_pool)) {
        static_assert(sizeof(params.entropy_pool) == sizeof(info.entropy_pool));
        copy_bytes(params.entropy_pool, info.entropy_pool, sizeof(params.entropy_pool));
        params.entropy_pool_length = sizeof(params.entropy_pool);
        wipe_bytes(info.entropy_pool, sizeof(info.entropy_pool));
    }
    params.memory_zeroed = info.flags & abi::BootFlagMemoryZeroed;
    if (info.flags & abi::BootFlagRelocated) {
        params.relocated_by_loader = true;
        params.kernel_virt_base = info.kernel_virt_base;
        if (info.flags & abi::BootFlagKernelTables) {
            if (info.kernel_page_table_root == 0 || info.kernel_page_table_root % 4096 != 0)
                early_halt();
            params.page_table_root = info.kernel_page_table_root;
        }
    }
    copy_cmdline(info.cmdline_gpa, info.identity_map_limit);
    if (info.module_count > abi::max_boot_modules)
        early_halt();
    for (u32 i = 0; i < info.module_count; ++i)
        add_module(info.modules[i].name, sizeof(info.modules[i].name), info.modules[i].gpa, info.modules[i].size);
    for (u32 i = 0; i < info.memory_region_count; ++i) {
        auto const& region = info.memory_regions[i];
        if (region.type == static_cast<u32>(abi::MemoryType::Usable))
            add_usable(region.base, region.length);
    }
}

// Records a module (name from loader memory, copied and terminated here). The kernel checks the contents later;
// here only that the range is sane and page-aligned. A module that is not is a broken loader: halt.
void add_module(char const* name, u64 name_capacity, u64 phys, u64 size)
{
    auto& params = g_boot_params;
    u64 end = 0;
    if (params.module_count >= abi::max_boot_modules || size == 0 || !ktl::checked_add(phys, size, &end)
        || phys < 0x100000)
        early_halt();
    auto& module = params.modules[params.module_count++];
    u64 i = 0;
    for (; i + 1 < sizeof(module.name) && i < name_capacity && name[i]; ++i)
        module.name[i] = name[i];
    module.name[i] = 0;
    module.phys = phys;
    module.size = size;
    // Modules are read through the direct map, which covers [1 MiB, max_phys).
    if (end > params.max_phys)
        params.max_phys = end;
}

bool bytes_equal(u8 const volatile* bytes, char const* expected, u64 length)
{
    for (u64 j = 0; j < length; ++j) {
        if (bytes[j] != static_cast<u8>(expected[j]))
            return false;
    }
    return true;
}

// The module bundle the Kernite QEMU backend passes with -initrd (abi.h ModuleBundleHeader): the seed is copied
// into BootParams and wiped where the loader put it; the other entries become modules. A module that is not a
// bundle, or a malformed bundle, is ignored (with no seed, kernel/security/entropy.cpp uses RDSEED/RDRAND or
// refuses the boot; with no program the demo runs).
void read_pvh_module_bundle(pvh::StartInfo const& info, u64 limit)
{
    u64 list_end = 0;
    // QEMU places the list without alignment (0x7b7c seen), so entries are copied out byte-wise.
    if (info.nr_modules != 1 || info.modlist_paddr == 0
        || !ktl::checked_add(info.modlist_paddr, u64(sizeof(pvh::ModlistEntry)), &list_end) || list_end > limit)
        return;
    pvh::ModlistEntry module;
    copy_bytes(&module, reinterpret_cast<void const*>(info.modlist_paddr), sizeof(module));
    u64 const base = module.paddr;
    u64 const size = module.size;
    u64 end = 0;
    if (base == 0 || size < sizeof(abi::ModuleBundleHeader) || !ktl::checked_add(base, size, &end) || end > limit)
        return;
    abi::ModuleBundleHeader header;
    copy_bytes(&header, reinterpret_cast<void const*>(base), sizeof(header));
    if (!bytes_equal(reinterpret_cast<u8 const*>(header.magic), abi::module_bundle_magic, sizeof(header.magic))
        || header.count > abi::max_boot_modules + 1
        || sizeof(header) + u64(header.count) * sizeof(abi::ModuleBundleEntry) > size)
        return;
    auto& params = g_boot_params;
    params.bundle_phys = base;
    params.bundle_size = size;
    for (u32 i = 0; i < header.count; ++i) {
        abi::ModuleBundleEntry entry;
        copy_bytes(&entry, reinterpret_cast<void const*>(base + sizeof(header) + i * sizeof(entry)), sizeof(entry));
        u64 entry_end = 0;
        if (entry.offset % 8 != 0 || !ktl::checked_add(entry.offset, entry.size, &entry_end) || entry_end > size)
            early_halt();
        entry.name[sizeof(entry.name) - 1] = 0;
        auto* bytes = reinterpret_cast<u8 volatile*>(base + entry.offset);
        if (bytes_equal(reinterpret_cast<u8 const*>(entry.name), abi::module_name_seed, sizeof(abi::module_name_seed))) {
            if (entry.size != pvh::seed_module_size || !bytes_equal(bytes, pvh::seed_module_magic, sizeof(pvh::seed_module_magic)))
                continue;
            for (u64 j = 0; j < sizeof(params.entropy_seed); ++j)
                params.entropy_seed[j] = bytes[sizeof(pvh::seed_module_magic) + j];
            params.has_entropy_seed = true;
            for (u64 j = 0; j < pvh::seed_module_size; ++j)
                bytes[j] = 0;
            continue;
        }
        if (entry.size != 0)
            add_module(entry.name, sizeof(entry.name), base + entry.offset, entry.size);
    }
}

void parse_pvh_start_info(u64 info_phys)
{
    constexpr u64 pvh_identity_limit = 1ull << 30; // entry.S maps the first 1 GiB
    if (info_phys == 0 || info_phys + sizeof(pvh::StartInfo) > pvh_identity_limit)
        early_halt();
    auto const& info = *reinterpret_cast<pvh::StartInfo const*>(info_phys);
    if (info.magic != pvh::start_info_magic || info.version < 1)
        early_halt();
    copy_cmdline(info.cmdline_paddr, pvh_identity_limit);
    if (info.memmap_entries > 128 || info.memmap_paddr == 0
        || info.memmap_paddr + info.memmap_entries * sizeof(pvh::MemmapEntry) > pvh_identity_limit)
        early_halt();
    auto const* entries = reinterpret_cast<pvh::MemmapEntry const*>(info.memmap_paddr);
    for (u32 i = 0; i < info.memmap_entries; ++i) {
        if (entries[i].type == pvh::e820_ram)
            add_usable(entries[i].addr, entries[i].size);
    }
    g_boot_params.has_entropy_seed = false;
    read_pvh_module_bundle(info, pvh_identity_limit);
}

// Page tables live in frames reached through the identity map during early boot.
class EarlyPageEnv {
public:
    ErrorOr<u64> allocate_table()
    {
        u64 tagged = TRY(g_physical_memory.allocate_frame_tagged());
        u64 phys = pmm::PhysicalMemory::frame_address(tagged);
        if (!(tagged & pmm::PhysicalMemory::pristine_tag))
            __builtin_memset(reinterpret_cast<void*>(phys), 0, paging::page_size);
        return phys;
    }
    void free_table(u64 phys) { (void)g_physical_memory.free_frames(phys); }
    paging::PageTableEntry* table(u64 phys) { return reinterpret_cast<paging::PageTableEntry*>(phys); }
};

struct ElfRela {
    u64 offset;
    u64 info;
    i64 addend;
};
constexpr u32 r_x86_64_relative = 8;

// Applies the image's R_X86_64_RELATIVE relocations for `virt_base`, writing through the identity map.
u64 relocate(u64 phys_start, u64 phys_end, u64 link_base, u64 virt_base)
{
    auto const* rela = reinterpret_cast<ElfRela const*>(image::identity(__rela_start));
    auto const* end = reinterpret_cast<ElfRela const*>(image::identity(__rela_end));
    u64 count = 0;
    for (; rela < end; ++rela, ++count) {
        if (static_cast<u32>(rela->info) != r_x86_64_relative)
            early_halt();
        u64 target = rela->offset - link_base + phys_start;
        if (target < phys_start || target + 8 > phys_end || target % 8 != 0)
            early_halt();
        *reinterpret_cast<u64*>(target) = static_cast<u64>(rela->addend) - link_base + virt_base;
    }
    return count;
}

} // namespace

extern "C" HandOff* kernel_early(u64 protocol, u64 info_phys, u64 magic)
{
    auto& params = g_boot_params;
    params.boot_tsc = read_tsc();
    if (protocol == KERNITE_BOOT_MONITOR) {
        params.protocol = BootProtocol::Monitor;
        parse_monitor_boot_info(info_phys, magic);
    } else {
        params.protocol = BootProtocol::Pvh;
        parse_pvh_start_info(info_phys);
    }
    if (params.usable_count == 0)
        early_halt();
    params.stage_tsc[0] = read_tsc();

    // Where the image is: running on the identity map, RIP-relative addresses are physical addresses.
    u64 phys_start = image::identity(__kernel_start);
    u64 phys_end = image::identity(__kernel_end);
    u64 link_base = image::link_base;
    params.kernel_phys_start = phys_start;
    params.kernel_phys_end = phys_end;
    // The generator first (kernel/security/entropy.cpp): the base is drawn from it, and the stack canary (set at
    // the end of this function, when no protected frame is live) is its first output. It also wipes the seed.
    u64 canary = security::seed_entropy_early(params);
    params.stage_tsc[1] = read_tsc();

    // KASLR: the base the monitor chose and relocated the image to, or one drawn here from the window in the
    // image's layout note, or (`no-aslr`, debugging only) the link base. Never a silent fallback: a base that
    // cannot be placed stops the boot.
    u64 image_size = phys_end - phys_start;
    u64 virt_base = link_base;
    if (params.relocated_by_loader)
        virt_base = params.kernel_virt_base;
    else if (!boot::cmdline_has(params.cmdline, "no-aslr"))
        virt_base = paging::choose_kernel_base(kaslr_window_base, kaslr_window_size, image_size, security::early_random_u64());
    if (virt_base == 0 || virt_base % paging::page_size != 0 || virt_base < kaslr_window_base
        || virt_base - kaslr_window_base > kaslr_window_size - image_size)
        early_halt();
    params.kernel_virt_base = virt_base;

    // Physical memory: the bitmap goes right after the image; the first 1 MiB, the image and the bitmap are
    // never handed out.
    u64 bitmap_bytes = pmm::PhysicalMemory::bitmap_bytes_for(params.max_phys);
    u64 bitmap_phys = phys_end;
    params.pmm_bitmap_phys = bitmap_phys;
    auto* bitmap = reinterpret_cast<u64*>(bitmap_phys);
    if (params.memory_zeroed) {
        pmm::PhysicalMemory::Range usable[abi::max_memory_regions];
        for (u32 i = 0; i < params.usable_count; ++i)
            usable[i] = { params.usable[i].base, params.usable[i].length };
        g_physical_memory.initialize_zeroed(bitmap, params.max_phys, usable, params.usable_count);
    } else {
        g_physical_memory.initialize(bitmap, params.max_phys);
        for (u32 i = 0; i < params.usable_count; ++i)
            g_physical_memory.add_usable(params.usable[i].base, params.usable[i].length);
    }
    g_physical_memory.reserve(0, 0x100000);
    g_physical_memory.reserve(phys_start, phys_end - phys_start + bitmap_bytes);
    // Boot modules stay where the loader put them (the program is mapped from there, the rootfs read from
    // there). Under PVH the bundle lies in RAM the memory map calls usable.
    for (u32 i = 0; i < params.module_count; ++i)
        g_physical_memory.reserve(ktl::align_down(params.modules[i].phys, paging::page_size),
            params.modules[i].size + params.modules[i].phys % paging::page_size);
    if (params.bundle_size)
        g_physical_memory.reserve(ktl::align_down(params.bundle_phys, paging::page_size),
            params.bundle_size + params.bundle_phys % paging::page_size);

    params.stage_tsc[2] = read_tsc();
    // Kernel page tables, W^X from the first entry (docs/security-model.md "W^X"): from the image's layout note,
    // by the same code the monitor uses (libs/paging/kernel_layout.h).
    u64 max_phys = 0;
    if (!ktl::align_up(params.max_phys, paging::page_size, &max_phys))
        early_halt();
    // Unless the monitor already built these tables on the host (BootFlagKernelTables).
    if (params.page_table_root == 0) {
        paging::LayoutNoteHeader layout;
        copy_bytes(&layout, __kernite_layout, sizeof(layout));
        if (layout.version != paging::layout_version || layout.count > paging::max_layout_ranges
            || layout.direct_map_base != direct_map_base || layout.aslr_window_base != kaslr_window_base
            || layout.aslr_window_size != kaslr_window_size)
            early_halt();
        paging::LayoutRange ranges[paging::max_layout_ranges];
        copy_bytes(ranges, __kernite_layout + sizeof(layout), layout.count * sizeof(paging::LayoutRange));
        // The first 1 MiB holds only loader structures, copied above, and is never handed out: not in the
        // direct map.
        paging::KernelPlacement const placement { link_base, virt_base, phys_start, phys_end, 0x100000, max_phys,
            direct_map_base };
        EarlyPageEnv env;
        auto root = paging::build_kernel_address_space(env, ranges, layout.count, placement);
        if (root.is_error())
            early_halt();
        params.page_table_root = root.value();
    }
    params.stage_tsc[3] = read_tsc();

    if (!params.relocated_by_loader)
        params.relocations_applied = relocate(phys_start, phys_end, link_base, virt_base);
    params.stage_tsc[4] = read_tsc();

    // The stack canary, before any code built with the stack protector runs on a frame it will check: the
    // generator's first output, drawn above (seeded from this boot's seed and RDSEED/RDRAND).
    __stack_chk_guard = canary;

    g_handoff.cr3 = params.page_table_root;
    g_handoff.stack = image::identity(__boot_stack_top) - phys_start + virt_base;
    g_handoff.entry = reinterpret_cast<u64>(&kernel_main) - phys_start + virt_base;
    g_handoff.argument = reinterpret_cast<u64>(&g_boot_params) - phys_start + virt_base;
    return &g_handoff;
}

} // namespace kernite
