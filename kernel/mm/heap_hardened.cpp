// The hardened kernel heap (issue 5): libs/heap's slab allocator behind the HeapAllocator interface. Selected in
// the hardened and debug profiles (KERNITE_HEAP_HARDENED, cmake/KernelFlags.cmake); baseline keeps
// heap_simple.cpp as the measurement reference.
//   - slabs and metadata: frames on the direct map (RW+NX);
//   - large allocations: their own frames mapped in the heap region (kernel_heap_base), each block after an
//     unmapped guard page, virtual addresses never reused, so an overflow or a use after free of a large block
//     faults;
//   - randomness: security::random_bytes() (the boot-seeded DRBG), for the canary secret and slot choice;
//   - misuse stops the VM with a security event (exit 125). `invalid-free` has no event type of its own: it is
//     reported as heap-corruption with an "invalid free:" message (docs/security-model.md).
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/interrupts_disabled.h>
#include <heap/hardened_heap.h>
#include <heap/oscar_aliases.h>
#include <kernel/debug/symbols.h>
#include <kernel/lib/format.h>
#include <kernel/mm/aslr.h>
#include <kernel/mm/heap.h>
#include <kernel/boot/cmdline.h>
#include <kernel/mm/heap_faults.h>
#include <kernel/mm/heap_options.h>
#include <kernel/mm/heap_objects.h>
#include <kernel/mm/memory.h>
#include <kernel/security/events.h>
#include <kernel/security/kasan.h>
#include <kernel/security/random.h>

#if KERNITE_HEAP_HARDENED

namespace kernite::mm {

namespace {

constexpr u64 page = paging::page_size;
static_assert(page == heap::page_size);

class KernelPageSource final : public heap::PageSource {
public:
    void* allocate_pages(usize count) override
    {
        auto phys = allocate_frames(count);
        if (phys.is_error())
            return nullptr;
        // KASAN: slab (and metadata) pages are inaccessible until allocate() unpoisons an object; only the
        // allocator, whose own accesses are unchecked, touches the rest.
        kasan::poison(phys_to_virt(phys.value()), count * page, kasan::Poison::HeapRedzone);
        return phys_to_virt(phys.value());
    }

    void free_pages(void* pages, usize count) override
    {
        // KASAN: the frames may come back as anything (page tables, program memory on the direct map).
        (void)kasan::unpoison(pages, count * page);
        free_frames(reinterpret_cast<u64>(pages) - direct_map_base, count);
    }

    // [guard][count pages] from a cursor that only moves up: the next block's guard is this block's upper guard.
    void* allocate_guarded(usize count) override
    {
        u64 length = count * page;
        if (m_next == 0)
            m_next = kernel_heap_start() + page; // the region's first page is the first block's lower guard
        if (count == 0 || count > heap_region_size / page
            || m_next + length + page > kernel_heap_start() + heap_region_size)
            return nullptr;
        auto phys = allocate_frames(count);
        if (phys.is_error())
            return nullptr;
        u64 virt = m_next;
        auto mapped = kernel_address_space().map(virt, phys.value(), length, paging::AccessRead | paging::AccessWrite);
        if (mapped.is_error()) {
            (void)kernel_address_space().unmap(virt, length);
            free_frames(phys.value(), count);
            return nullptr;
        }
        m_next += length + page;
        for (u64 i = 0; i < count; ++i)
            mark_block_page(virt + i * page);
        // KASAN: the block is inaccessible but for the object, which allocate() unpoisons.
        kasan::poison(reinterpret_cast<void*>(virt), length, kasan::Poison::PageRedzone);
        return reinterpret_cast<void*>(virt);
    }

    HeapFault classify(u64 address) const
    {
        if (m_next_reserved != 0 && address >= kernel_slab_start() && address < m_next_reserved) {
            // Unmapped pages of the slab region: the rest of a slab's 64 KiB chunk after its last page, or a
            // released slab. An access there runs off a slab (or uses memory the heap gave back).
            return kernel_address_space().translate(address).is_error() ? HeapFault::Guard : HeapFault::None;
        }
        if (m_next == 0 || address < kernel_heap_start() || address >= m_next)
            return HeapFault::None;
        u64 index = (address - kernel_heap_start()) / page;
        if (index >= tracked_pages)
            return HeapFault::None;
        if (!(m_block_pages[index / 64] & (1ull << (index % 64))))
            return HeapFault::Guard;
        // A block page that faults is no longer mapped: its block was freed (addresses are never reused).
        return kernel_address_space().translate(address).is_error() ? HeapFault::Freed : HeapFault::None;
    }

    // The slab region and the descriptor array: address space from a cursor in the slab region, which starts at a
    // random base (kernel/mm/aslr.h) chosen after this object is constructed.
    void* reserve(usize bytes) override
    {
        u64 length = (bytes + page - 1) & ~(page - 1);
        if (m_next_reserved == 0)
            m_next_reserved = kernel_slab_start();
        if (length > kernel_slab_start() + kernel_slab_region_size - m_next_reserved)
            return nullptr;
        u64 virt = m_next_reserved;
        m_next_reserved += length + page; // an unmapped page between reservations
        return reinterpret_cast<void*>(virt);
    }

    bool commit(void* pages, usize count) override
    {
        u64 virt = reinterpret_cast<u64>(pages);
        auto phys = allocate_frames(count);
        if (phys.is_error())
            return false;
        if (kernel_address_space().map(virt, phys.value(), count * page, paging::AccessRead | paging::AccessWrite).is_error()) {
            (void)kernel_address_space().unmap(virt, count * page);
            free_frames(phys.value(), count);
            return false;
        }
        // KASAN: slab (and descriptor) pages are inaccessible until allocate() unpoisons an object; only the
        // allocator, whose own accesses are unchecked, touches the rest.
        kasan::poison(pages, count * page, kasan::Poison::HeapRedzone);
        return true; // not cleared: the heap writes every field and link before it reads it
    }

    void decommit(void* pages, usize count) override
    {
        (void)kasan::unpoison(pages, count * page); // the addresses may be committed again for another slab
        unmap_and_free(pages, count);
    }

    // A large block's pages: their addresses are never reused, so their shadow stays as it is.
    void free_guarded(void* pages, usize count) override { unmap_and_free(pages, count); }

private:
    // Pages mapped together (commit's and allocate_guarded's single allocate_frames), so their frames are
    // contiguous.
    static void unmap_and_free(void* pages, usize count)
    {
        u64 virt = reinterpret_cast<u64>(pages);
        u64 phys = kernel_virt_to_phys(pages);
        VERIFY(phys != 0);
        VERIFY(!kernel_address_space().unmap(virt, count * page).is_error());
        for (usize i = 0; i < count; ++i)
            arch::invalidate_page(virt + i * page);
        free_frames(phys, count);
    }

    // Which pages of the region's first 1 GiB ever belonged to a block (the others below the cursor are guards),
    // so a fault there can be told apart: overflow into a guard, or use of a freed block. 32 KiB of .bss.
    static constexpr u64 tracked_pages = (1ull << 30) / page;
    void mark_block_page(u64 virt)
    {
        u64 index = (virt - kernel_heap_start()) / page;
        if (index < tracked_pages)
            m_block_pages[index / 64] |= 1ull << (index % 64);
    }

    // Both regions start at random bases chosen at boot (kernel/mm/aslr.h), after this object is constructed:
    // 0 until first use. The large-block region lies in the lower half of the heap window, the slab region in the
    // third quarter.
    static constexpr u64 heap_region_size = kernel_heap_region_size;
    u64 m_next { 0 };
    u64 m_next_reserved { 0 };

    u64 m_block_pages[tracked_pages / 64] {};
};

// OSCAR mode's alias pages: the physical frames behind a slab slot's page(s), mapped again at a fresh address.
class KernelAliasMapper final : public heap::AliasMapper {
public:
    bool map_alias(uptr alias, void const* object_pages, usize pages) override
    {
        for (usize i = 0; i < pages; ++i) {
            auto translation = kernel_address_space().translate(reinterpret_cast<u64>(object_pages) + i * page);
            if (translation.is_error()
                || kernel_address_space()
                       .map(alias + i * page, translation.value().phys & ~(page - 1), page,
                           paging::AccessRead | paging::AccessWrite)
                       .is_error()) {
                unmap_alias(alias, i);
                return false;
            }
        }
        return true;
    }

    void unmap_alias(uptr alias, usize pages) override
    {
        VERIFY(!kernel_address_space().unmap(alias, pages * page).is_error());
        for (usize i = 0; i < pages; ++i)
            arch::invalidate_page(alias + i * page);
    }
};

void heap_random(void* buffer, usize length) { security::random_bytes(buffer, length); }

[[noreturn]] void heap_misuse(heap::Misuse misuse, void const* pointer, char const* message)
{
    abi::EventType type = abi::EventType::HeapCorruption;
    if (misuse == heap::Misuse::DoubleFree)
        type = abi::EventType::DoubleFree;
    else if (misuse == heap::Misuse::UseAfterFree)
        type = abi::EventType::UseAfterFree;
    char text[abi::event_message_size];
    format(text, sizeof(text), "%s%s", misuse == heap::Misuse::InvalidFree ? "invalid free: " : "", message);
    security::EventDetails details;
    details.addr = reinterpret_cast<u64>(pointer);
    details.has_addr = true;
    security::stop(type, text, details);
}

class HardenedKernelHeap final : public HeapAllocator {
public:
    ErrorOr<void*> allocate(usize size) override
    {
        arch::InterruptsDisabled guard; // one CPU: masking interrupts is the heap's lock
        void* pointer;
        {
            kasan::Suspend unchecked; // the allocator writes canaries and poison where KASAN has redzones
            pointer = m_oscar_mode ? m_oscar.allocate(size, reinterpret_cast<uptr>(__builtin_return_address(0)))
                                   : m_heap.allocate(size);
        }
        if (!pointer)
            return Error::from_errno(ENOMEM, "kernel heap exhausted");
        if constexpr (kasan::enabled)
            kasan_allocated(pointer, size);
        return pointer;
    }

    void deallocate(void* pointer) override
    {
        if (!pointer)
            return;
        arch::InterruptsDisabled guard;
        // (OSCAR aliases have no shadow: KASAN does not check them, the unmapped alias does.)
        usize size = kasan::enabled && !m_oscar_mode ? m_heap.allocation_size(pointer) : 0;
        {
            kasan::Suspend unchecked;
            if (m_oscar_mode)
                m_oscar.deallocate(pointer);
            else
                m_heap.deallocate(pointer);
        }
        // Only a free the heap accepted gets here (misuse stops the VM): the whole object becomes "freed" and
        // stays so while it sits in the quarantine.
        if (size)
            kasan::poison(pointer, size, kasan::Poison::HeapFreed);
    }

    // Hardened usercopy (kernel/process/user_memory.h): the bytes of the live object that starts at `pointer`,
    // or 0 if no live object starts there.
    usize object_size(void const* pointer) const
    {
        arch::InterruptsDisabled guard;
        return m_heap.allocation_size(pointer);
    }

    char const* name() const override { return "hardened"; }

    HeapFault classify(u64 address) const
    {
        heap::OscarAliases::FaultInfo info;
        if (m_oscar_mode && m_oscar.in_region(address))
            return m_oscar.describe(address, info) ? (info.freed ? HeapFault::Freed : HeapFault::Guard) : HeapFault::None;
        return m_pages.classify(address);
    }
    void describe(u64 address, char* out, usize size) const
    {
        out[0] = 0;
        heap::OscarAliases::FaultInfo info;
        if (!m_oscar_mode || !m_oscar.describe(address, info))
            return;
        if (!info.known) {
            format(out, size, " (an alias freed too long ago to be remembered)");
            return;
        }
        char symbol[64];
        if (!debug::symbolize(info.site, symbol, sizeof(symbol)))
            format(symbol, sizeof(symbol), "0x%lx", info.site);
        format(out, size, " (%lu-byte object at 0x%lx allocated by %s)", info.size, info.pointer, symbol);
    }
    void set_checks(heap::Checks checks) { m_heap.set_checks(checks); }
    void set_oscar_mode() { m_oscar_mode = true; }
    void place_aliases(u64 region, u64 bytes) { VERIFY(m_oscar.place(region, bytes)); }

private:
    // KASAN: [pointer, pointer + size) accessible; the slack after it poisoned up to the end of its 16-byte
    // granule plus the heap's 16-byte redzone, which is always inside the object's slot (every slot is its size
    // class plus that redzone, libs/heap); for a page-backed block the rest of the block stays poisoned.
    // The rest of a slot keeps its poison from an earlier life or, in a new slab, no shadow value at all
    // (accessible): a known limit (docs/security-model.md).
    static void kasan_allocated(void* pointer, usize size)
    {
        usize accessible = size ? size : 1;
        if (!kasan::unpoison(pointer, accessible))
            return;
        usize slack_start = (accessible + 7) & ~usize(7);
        usize slack_end = ((accessible + heap::alignment - 1) & ~(heap::alignment - 1)) + heap::alignment;
        if (accessible <= heap::largest_slab_size)
            kasan::poison(static_cast<u8*>(pointer) + slack_start, slack_end - slack_start, kasan::Poison::HeapRedzone);
    }

    KernelPageSource m_pages;
    heap::HardenedHeap m_heap { m_pages, heap_random, heap_misuse };
    KernelAliasMapper m_mapper;
    // Its region is placed at its random base by place_aliases(), before the first allocation.
    heap::OscarAliases m_oscar { m_heap, m_mapper, m_pages, heap_misuse, kernel_alias_window_base,
        kernel_alias_region_size };
    bool m_oscar_mode { false };
};

constinit HardenedKernelHeap g_hardened_heap; // constant-initialized: no boot-time constructor
HeapAllocator* g_heap;

} // namespace

void configure_heap(char const* cmdline)
{
    // `--heap full` (monitor/cli.cpp): poison and check every freed byte (docs/security-model.md).
    if (boot::cmdline_has(cmdline, "heap=full"))
        g_hardened_heap.set_checks(heap::Checks::Full);
    // `--heap oscar`: every small object through its own alias pages, unmapped on free (docs/security-model.md).
    if (boot::cmdline_has(cmdline, "heap=oscar"))
        g_hardened_heap.set_oscar_mode();
}

// No work beyond placing OSCAR's alias region at this boot's random base (kernel/mm/aslr.h): slabs are created on
// first use.
void initialize_heap()
{
    g_hardened_heap.place_aliases(kernel_alias_start(), kernel_alias_region_size);
    g_heap = &g_hardened_heap;
}

HeapAllocator& heap()
{
    VERIFY(g_heap);
    return *g_heap;
}

HeapFault classify_heap_fault(u64 address) { return g_hardened_heap.classify(address); }

void describe_heap_fault(u64 address, char* out, usize size) { g_hardened_heap.describe(address, out, size); }
usize heap_object_size(void const* pointer) { return g_hardened_heap.object_size(pointer); }

} // namespace kernite::mm

#endif
