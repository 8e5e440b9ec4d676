#include <arch/x86_64/cpu.h>
#include <arch/x86_64/interrupts_disabled.h>
#include <arch/x86_64/user_mode.h>
#include <kernel/lib/log.h>
#include <kernel/mm/memory.h>
#include <kernel/process/memory.h>
#include <kernel/process/memory_internal.h>
#include <kernel/security/random.h>
#include <vma/region_map.h>

namespace kernite::process::memory {

namespace {

using paging::PageTableEntry;
constexpr u64 page = paging::page_size;

// Randomized placement (issue 4 item 3; docs/security-model.md "ASLR"): each base is a page-aligned choice among
// 2^28 or more, from the kernel's generator. The stack window sits under the top of the lower half, the mmap
// base below the stack, brk a random distance after the program.
constexpr u64 region_entropy_pages = 1ull << 28; // 28 bits of pages: 1 TiB of possible bases
constexpr u64 stack_window_top = vma::user_address_limit - (64ull << 30);
constexpr u64 mmap_gap_below_stack = 64ull << 30;
constexpr u64 brk_area_size = 64ull << 30;

vma::RegionMap g_map;
Layout g_layout;
bool g_aslr = true;

u64 random_pages() { return g_aslr ? security::random_below(region_entropy_pages) * page : 0; }

bool program_in_ring0() { return arch::program_privilege() == arch::ProgramPrivilege::Ring0; }

u8 access_for(u32 prot)
{
    // x86 pages are readable when present; PROT_NONE pages keep their frame but lose the U/S bit, so the
    // program faults on them and a later mprotect restores them with their contents.
    // A ring-0 program (isolation `none`) has supervisor pages, and its PROT_NONE pages are the opposite, user
    // pages, which SMAP and SMEP make inaccessible to it. Without SMAP/SMEP they stay accessible (the mode's
    // documented limit, docs/security-model.md).
    u8 access = paging::AccessRead;
    if (program_in_ring0()) {
        if (prot == vma::prot_none)
            return arch::ring0_prot_none_faults() ? u8(access | paging::AccessUser) : access;
    } else {
        if (prot == vma::prot_none)
            return access;
        access |= paging::AccessUser;
    }
    if (prot & vma::prot_write)
        access |= paging::AccessWrite;
    if (prot & vma::prot_exec)
        access |= paging::AccessExecute;
    return access;
}

// Maps one program page. For a ring-0 program the page tables above the leaf get the U/S bit too (the leaf
// alone then decides, SDM Vol. 3A §4.6.1): a PROT_NONE leaf with U/S is a user page for SMAP/SMEP only if every
// level says so.
[[gnu::noinline]] ErrorOr<void> map_ring0_program_page(u64 address, u64 phys, u8 access);

// The common case stays free of the ring-0 case's lambda: a callable on the stack, passed by reference, would give
// this per-page function a canary check (-fstack-protector-strong).
ErrorOr<void> map_program_page(u64 address, u64 phys, u8 access)
{
    if (!program_in_ring0() || (access & paging::AccessUser))
        return mm::kernel_address_space().map(address, phys, page, access);
    return map_ring0_program_page(address, phys, access);
}

ErrorOr<void> map_ring0_program_page(u64 address, u64 phys, u8 access)
{
    auto& space = mm::kernel_address_space();
    TRY(space.map(address, phys, page, u8(access | paging::AccessUser)));
    space.for_each_leaf_in_range(address, address + page, [access](u64, PageTableEntry& leaf) {
        auto result = paging::AddressSpace<mm::DirectMapPageEnv>::set_leaf(leaf, access);
        VERIFY(!result.is_error());
    });
    arch::invalidate_page(address);
    return {};
}

} // namespace

vma::RegionMap& region_map() { return g_map; }
vma::WxMode wx_mode(bool relaxed) { return relaxed ? vma::WxMode::Relaxed : vma::WxMode::Strict; }

ErrorOr<void> initialize(u64 program_base, u64 program_end, bool aslr)
{
    g_aslr = aslr;
    g_layout.program_base = program_base;
    g_layout.stack_top = stack_window_top - region_entropy_pages * page + random_pages();
    g_layout.mmap_base = g_layout.stack_top - (8ull << 20) - mmap_gap_below_stack - random_pages();
    u64 brk_start = ktl::align_up_const(program_end, page) + random_pages();
    if (brk_start + brk_area_size > g_layout.mmap_base - region_entropy_pages * page)
        return Error::from_errno(ENOMEM, "the program leaves no room for its heap");
    g_layout.brk_start = brk_start;
    g_map.set_mmap_base(g_layout.mmap_base);
    TRY(g_map.set_brk_area(brk_start, brk_start + brk_area_size));
    return {};
}

Layout const& layout() { return g_layout; }

ErrorOr<void> populate(u64 start, u64 end, u32 prot)
{
    auto& space = mm::kernel_address_space();
    u8 access = access_for(prot);
    for (u64 address = start; address < end; address += page) {
        arch::InterruptsDisabled guard;
        if (!space.translate(address).is_error())
            continue;
        u64 phys = TRY(mm::allocate_zeroed_frame());
        if (auto mapped = map_program_page(address, phys, access); mapped.is_error()) {
            mm::free_frames(phys, 1);
            return mapped.release_error();
        }
    }
    return {};
}

void release_pages(u64 start, u64 end)
{
    arch::InterruptsDisabled guard;
    mm::kernel_address_space().for_each_leaf_in_range(start, end, [](u64 virt, PageTableEntry& leaf) {
        u64 phys = leaf.address();
        leaf.raw = 0;
        arch::invalidate_page(virt);
        mm::free_frames(phys, 1);
    });
}

void change_pages(u64 start, u64 end, u32 prot)
{
    arch::InterruptsDisabled guard;
    u8 access = access_for(prot);
    mm::kernel_address_space().for_each_leaf_in_range(start, end, [access](u64 virt, PageTableEntry& leaf) {
        auto result = paging::AddressSpace<mm::DirectMapPageEnv>::set_leaf(leaf, access);
        VERIFY(!result.is_error()); // the region map refused W+X before we got here
        arch::invalidate_page(virt);
    });
}

void move_pages(u64 old_start, u64 new_start, u64 length, u32 prot)
{
    arch::InterruptsDisabled guard;
    auto& space = mm::kernel_address_space();
    u8 access = access_for(prot);
    space.for_each_leaf_in_range(old_start, old_start + length, [&](u64 virt, PageTableEntry& leaf) {
        u64 phys = leaf.address();
        leaf.raw = 0;
        arch::invalidate_page(virt);
        if (map_program_page(new_start + (virt - old_start), phys, access).is_error())
            mm::free_frames(phys, 1); // out of table memory: the page reads as zero at the new place
    });
}

ErrorOr<void> map_segment(u64 start, u64 end, u64 file_offset, u32 prot, char const* name)
{
    vma::MapRequest request;
    request.start = start;
    request.length = end - start;
    request.offset = file_offset; // what /proc/self/maps shows, as on Linux
    request.prot = prot;
    request.kind = vma::RegionKind::Program;
    request.name = name;
    // Program segments come from the linker's PHDR flags (already refused if W+X): strict mode always.
    TRY(g_map.map(request, vma::WxMode::Strict, [](vma::Region const&) {}));
    return populate(start, end, prot);
}

ErrorOr<void> poke(u64 address, void const* data, usize length)
{
    auto const* bytes = static_cast<u8 const*>(data);
    while (length > 0) {
        u64 page_start = ktl::align_down(address, page);
        usize chunk = page - (address - page_start);
        if (chunk > length)
            chunk = length;
        auto translation = mm::kernel_address_space().translate(page_start);
        if (translation.is_error())
            return Error::from_errno(EFAULT, "poke of an unmapped program page");
        __builtin_memcpy(static_cast<u8*>(mm::phys_to_virt(translation.value().phys)) + (address - page_start), bytes,
            chunk);
        address += chunk;
        bytes += chunk;
        length -= chunk;
    }
    return {};
}

ErrorOr<void> map_main_stack(u64 size, u64 initial_bytes)
{
    u64 top = g_layout.stack_top;
    vma::MapRequest stack;
    stack.start = top - size;
    stack.length = size;
    stack.prot = vma::prot_read | vma::prot_write;
    stack.kind = vma::RegionKind::Stack;
    TRY(g_map.map(stack, vma::WxMode::Strict, [](vma::Region const&) {}));
    vma::MapRequest guard;
    guard.start = top - size - page;
    guard.length = page;
    guard.prot = vma::prot_none;
    guard.kind = vma::RegionKind::Guard;
    TRY(g_map.map(guard, vma::WxMode::Strict, [](vma::Region const&) {}));
    return populate(top - ktl::align_up_const(initial_bytes, page), top, stack.prot);
}

FaultKind classify_fault(u64 address)
{
    auto const* region = g_map.find(address);
    if (!region) {
        // The gap right below the main stack is guard too.
        if (address < g_layout.stack_top && address >= g_layout.stack_top - (8ull << 20) - vma::default_stack_gap)
            return FaultKind::StackGuard;
        return FaultKind::Unmapped;
    }
    if (region->kind == vma::RegionKind::Guard)
        return FaultKind::StackGuard;
    if (region->prot == vma::prot_none) {
        // libc's thread stacks: a PROT_NONE guard right below a read-write anonymous mapping.
        auto const* above = g_map.find(region->end);
        if (above && (above->prot & vma::prot_write)
            && (above->kind == vma::RegionKind::Anonymous || above->kind == vma::RegionKind::ThreadStack))
            return FaultKind::StackGuard;
    }
    return FaultKind::ProtectionViolation;
}

bool resolve_fault(u64 address, bool write, bool execute)
{
    if (address >= vma::user_address_limit)
        return false;
    auto const* region = g_map.find(address);
    if (!region || region->prot == vma::prot_none)
        return false;
    if ((write && !(region->prot & vma::prot_write)) || (execute && !(region->prot & vma::prot_exec)))
        return false;
    u64 page_start = ktl::align_down(address, page);
    auto& space = mm::kernel_address_space();
    auto translation = space.translate(page_start);
    if (!translation.is_error()) {
        // Present and the region allows the access: a stale TLB entry after a permission change.
        arch::invalidate_page(page_start);
        bool user = (translation.value().access & paging::AccessUser) != 0;
        return user != program_in_ring0() && (!write || (translation.value().access & paging::AccessWrite));
    }
    return !populate(page_start, page_start + page, region->prot).is_error();
}

} // namespace kernite::process::memory
