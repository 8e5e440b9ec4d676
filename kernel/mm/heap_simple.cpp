// A simple kernel heap: power-of-two size classes from 16 B to 2 KiB carved from direct-mapped frames, and
// whole frames for larger requests. Each object has a 16-byte header in front (size class, magic). No
// hardening: that is issue 5's allocator (heap_hardened.cpp). Memory is RW+NX (direct map), so executing it
// faults. Only the baseline profile uses it (the measurement reference; see cmake/KernelFlags.cmake).
#if !KERNITE_HEAP_HARDENED
#include <arch/x86_64/interrupts_disabled.h>
#include <kernel/lib/log.h>
#include <kernel/boot/cmdline.h>
#include <kernel/mm/heap.h>
#include <kernel/mm/heap_options.h>
#include <kernel/mm/heap_faults.h>
#include <kernel/mm/heap_objects.h>
#include <kernel/mm/memory.h>

namespace kernite::mm {

namespace {

constexpr u64 header_magic = 0x4b48454150ull; // "KHEAP"
constexpr unsigned class_count = 8;            // 16 << 0 .. 16 << 7 = 2048 bytes of payload
constexpr usize smallest = 16;

struct Header {
    u64 magic_and_class; // magic << 8 | class (class_count means "large": frames)
    u64 frames;          // for large allocations
};
static_assert(sizeof(Header) == 16);

struct FreeObject {
    FreeObject* next;
};

class SimpleHeap final : public HeapAllocator {
public:
    ErrorOr<void*> allocate(usize size) override
    {
        arch::InterruptsDisabled guard; // threads are preemptible: the free lists are shared
        if (size == 0)
            size = 1;
        unsigned size_class = 0;
        while (size_class < class_count && (smallest << size_class) < size)
            ++size_class;
        if (size_class == class_count)
            return allocate_large(size);
        Header* header = nullptr;
        if (m_free[size_class]) {
            header = reinterpret_cast<Header*>(m_free[size_class]);
            m_free[size_class] = m_free[size_class]->next;
        } else {
            header = TRY(carve(size_class));
        }
        header->magic_and_class = (header_magic << 8) | size_class;
        header->frames = 0;
        return header + 1;
    }

    void deallocate(void* pointer) override
    {
        if (!pointer)
            return;
        arch::InterruptsDisabled guard;
        auto* header = static_cast<Header*>(pointer) - 1;
        VERIFY((header->magic_and_class >> 8) == header_magic);
        unsigned size_class = header->magic_and_class & 0xff;
        if (size_class == class_count) {
            u64 frames = header->frames;
            header->magic_and_class = 0;
            free_frames(kernel_virt_to_phys(header), frames);
            return;
        }
        VERIFY(size_class < class_count);
        header->magic_and_class = 0;
        auto* object = reinterpret_cast<FreeObject*>(header);
        object->next = m_free[size_class];
        m_free[size_class] = object;
    }

    char const* name() const override { return "simple"; }

private:
    // Objects come from the current page of their class, one at a time (a page carved into a free list all at
    // once cost up to 128 iterations at the first allocation); freed objects go to the free list.
    ErrorOr<Header*> carve(unsigned size_class)
    {
        usize stride = sizeof(Header) + (smallest << size_class);
        if (m_carve_left[size_class] < stride) {
            u64 phys = TRY(allocate_frames(1));
            m_carve[size_class] = static_cast<u8*>(phys_to_virt(phys));
            m_carve_left[size_class] = 4096;
        }
        auto* header = reinterpret_cast<Header*>(m_carve[size_class]);
        m_carve[size_class] += stride;
        m_carve_left[size_class] -= stride;
        return header;
    }

    ErrorOr<void*> allocate_large(usize size)
    {
        u64 bytes = 0;
        if (!ktl::checked_add<u64>(size, sizeof(Header) + 4095, &bytes))
            return Error::from_errno(ENOMEM, "allocation too large");
        u64 frames = bytes / 4096;
        u64 phys = TRY(allocate_frames(frames));
        auto* header = static_cast<Header*>(phys_to_virt(phys));
        header->magic_and_class = (header_magic << 8) | class_count;
        header->frames = frames;
        return header + 1;
    }

    FreeObject* m_free[class_count] {};
    u8* m_carve[class_count] {};
    usize m_carve_left[class_count] {};
};

SimpleHeap g_simple_heap;
HeapAllocator* g_heap;

} // namespace

void configure_heap(char const* cmdline)
{
    if (boot::cmdline_has(cmdline, "heap=full") || boot::cmdline_has(cmdline, "heap=oscar"))
        ::ktl::verify_failed("--heap full|oscar needs the hardened heap (profiles hardened, debug), not the simple heap",
            __FILE__, __LINE__, __func__);
}

void initialize_heap() { g_heap = &g_simple_heap; }

HeapAllocator& heap()
{
    VERIFY(g_heap);
    return *g_heap;
}

HeapFault classify_heap_fault(u64) { return HeapFault::None; } // no large-block region

void describe_heap_fault(u64, char* out, usize) { out[0] = 0; }
usize heap_object_size(void const*) { return 0; } // the simple heap keeps no per-object sizes

} // namespace kernite::mm

#endif
