#include <arch/x86_64/cpu.h>
#include <arch/x86_64/interrupts_disabled.h>
#include <kernel/boot/cmdline.h>
#include <kernel/lib/log.h>
#include <kernel/mm/aslr.h>
#include <kernel/mm/kernel_image.h>
#include <kernel/mm/memory.h>
#include <kernel/security/kasan.h>
#include <pmm/physical_memory.h>

namespace kernite {
extern pmm::PhysicalMemory g_physical_memory;
}

template class kernite::paging::AddressSpace<kernite::mm::DirectMapPageEnv>; // the one instance (memory.h)

namespace kernite::mm {

namespace {

DirectMapPageEnv g_env;
KernelAddressSpace g_space { g_env, 0 };
u64 g_image_virt_start;
u64 g_image_phys_start;
u64 g_image_size;
bool g_sealed;

// Stacks are carved from a dedicated virtual region in fixed slots: [guard page][up to 31 pages of stack], from a
// base randomized per boot (kernel/mm/aslr.h).
constexpr u64 stack_slot_size = kernel_stack_slot_size;
constexpr u64 stack_slot_count = 4096;
static_assert(stack_slot_size * stack_slot_count == kernel_stacks_region_size);
u64 g_next_stack_slot;

// Relocation self-check: this pointer is stored in data and relocated by early boot like any other.
char* const g_relocated_self = __kernel_start;

} // namespace

ErrorOr<u64> DirectMapPageEnv::allocate_table()
{
    u64 tagged = TRY(g_physical_memory.allocate_frame_tagged());
    u64 phys = pmm::PhysicalMemory::frame_address(tagged);
    if (!(tagged & pmm::PhysicalMemory::pristine_tag))
        __builtin_memset(phys_to_virt(phys), 0, paging::page_size);
    return phys;
}

void DirectMapPageEnv::free_table(u64 phys) { (void)g_physical_memory.free_frames(phys); }

void initialize(BootParams& params)
{
    g_space = KernelAddressSpace(g_env, params.page_table_root);
    g_image_virt_start = params.kernel_virt_base;
    g_image_phys_start = params.kernel_phys_start;
    g_image_size = params.kernel_phys_end - params.kernel_phys_start;

    // The frame bitmap moves to the direct map first: freeing the identity tables below updates it.
    g_physical_memory.rebase_bitmap(static_cast<u64*>(phys_to_virt(params.pmm_bitmap_phys)));
    // Drop the identity map of the text that early boot left behind, with its three tables.
    g_space.release_single_path(params.kernel_phys_start);
    arch::flush_tlb();

    VERIFY(g_relocated_self == __kernel_start);
    VERIFY(reinterpret_cast<u64>(__kernel_start) == params.kernel_virt_base);
    VERIFY(arch::read_msr(arch::msr_efer) & arch::efer_nxe);
    VERIFY(arch::read_cr0() & arch::cr0_wp);

    // Early boot seeded the generator: the heap's and the stacks' regions get their random bases now, before
    // the first kernel thread or heap block exists.
    randomize_kernel_regions(!boot::cmdline_has(params.cmdline, "no-aslr"));
}

KernelAddressSpace& kernel_address_space() { return g_space; }

u64 kernel_virt_to_phys(void const* pointer)
{
    u64 virt = reinterpret_cast<u64>(pointer);
    if (virt >= g_image_virt_start && virt - g_image_virt_start < g_image_size)
        return virt - g_image_virt_start + g_image_phys_start;
    if (virt >= direct_map_base && virt < direct_map_base + g_physical_memory.max_phys())
        return virt - direct_map_base;
    auto translation = g_space.translate(virt);
    return translation.is_error() ? 0 : translation.value().phys;
}

// The frame bitmap and the kernel page tables are shared by every thread: each public entry point that
// changes them runs with interrupts off (one CPU).
ErrorOr<u64> allocate_frames(u64 count)
{
    arch::InterruptsDisabled guard;
    return g_physical_memory.allocate_contiguous(count);
}

ErrorOr<u64> allocate_zeroed_frame()
{
    u64 tagged = 0;
    {
        arch::InterruptsDisabled guard;
        tagged = TRY(g_physical_memory.allocate_frame_tagged());
    }
    u64 phys = pmm::PhysicalMemory::frame_address(tagged);
    if (!(tagged & pmm::PhysicalMemory::pristine_tag))
        __builtin_memset(phys_to_virt(phys), 0, paging::page_size);
    return phys;
}

ErrorOr<u64> allocate_zeroed_frames(u64 count)
{
    bool pristine = false;
    u64 phys = 0;
    {
        arch::InterruptsDisabled guard;
        phys = TRY(g_physical_memory.allocate_contiguous(count, paging::page_size, &pristine));
    }
    if (!pristine)
        __builtin_memset(phys_to_virt(phys), 0, count * paging::page_size);
    return phys;
}

void free_frames(u64 phys, u64 count)
{
    arch::InterruptsDisabled guard;
    auto result = g_physical_memory.free_frames(phys, count);
    VERIFY(!result.is_error());
}

ErrorOr<KernelStack> allocate_stack(u64 pages)
{
    if (pages == 0 || pages * paging::page_size > stack_slot_size - paging::page_size)
        return Error::from_errno(EINVAL, "kernel stack size");
    arch::InterruptsDisabled guard;
    if (g_next_stack_slot >= stack_slot_count)
        return Error::from_errno(ENOMEM, "out of kernel stack slots");
    u64 slot = kernel_stacks_start() + g_next_stack_slot * stack_slot_size;
    u64 top = slot + stack_slot_size;
    u64 bottom = top - pages * paging::page_size;
    // One contiguous run of frames, mapped in one batch: a page at a time cost ~0.3 ms per page where guest
    // ring 0 is emulated (docs/platform-notes.md).
    u64 phys = TRY(g_physical_memory.allocate_contiguous(pages));
    auto mapped = g_space.map(bottom, phys, pages * paging::page_size, paging::AccessRead | paging::AccessWrite);
    if (mapped.is_error()) {
        free_frames(phys, pages);
        return mapped.release_error();
    }
    ++g_next_stack_slot;
    // KASAN: GCC's stack redzones write this stack's shadow inline, without asking the runtime: it must exist
    // before the thread runs.
    VERIFY(kasan::unpoison(reinterpret_cast<void*>(bottom), top - bottom) || !kasan::enabled);
    return KernelStack { bottom, top };
}

void free_stack(KernelStack const& stack)
{
    arch::InterruptsDisabled guard;
    for (u64 virt = stack.bottom; virt < stack.top; virt += paging::page_size) {
        auto translation = g_space.translate(virt);
        if (!translation.is_error())
            free_frames(translation.value().phys, 1);
        arch::invalidate_page(virt);
    }
    (void)g_space.unmap(stack.bottom, stack.top - stack.bottom);
    for (u64 virt = stack.bottom; virt < stack.top; virt += paging::page_size)
        arch::invalidate_page(virt);
}

bool is_stack_guard(u64 address)
{
    if (image::contains(__boot_stack_guard, __boot_stack_bottom, address))
        return true;
    if (image::contains(__ist_stacks_start, __ist_stacks_end, address))
        return (address - reinterpret_cast<u64>(__ist_stacks_start)) % image::ist_slot_size < image::ist_guard_size;
    u64 start = kernel_stacks_start();
    if (address < start || address >= start + stack_slot_count * stack_slot_size)
        return false;
    // Any unmapped page of a slot below its stack is guard; the slot's first page always is.
    auto translation = g_space.translate(ktl::align_down(address, paging::page_size));
    return translation.is_error();
}

void seal_ro_after_init()
{
    u64 start = reinterpret_cast<u64>(__ro_after_init_start);
    u64 length = reinterpret_cast<u64>(__ro_after_init_end) - start;
    if (length > 0) {
        auto result = g_space.protect(start, length, paging::AccessRead | paging::AccessGlobal);
        VERIFY(!result.is_error());
        for (u64 virt = start; virt < start + length; virt += paging::page_size)
            arch::invalidate_page(virt);
    }
    g_sealed = true;
}

bool ro_after_init_sealed() { return g_sealed; }

Statistics statistics()
{
    auto audit = g_space.audit();
    return { g_physical_memory.total_frames(), g_physical_memory.free_frames_count(), audit.writable_and_executable,
        audit.null_guard_mapped, audit.leaves };
}

} // namespace kernite::mm
