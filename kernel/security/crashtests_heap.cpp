// Heap crash tests (after Linux LKDTM's SLAB_* tests), detected by the hardened heap (kernel/mm/heap_hardened.cpp,
// libs/heap). Expected events (abi/kernite/crashtests.h):
//   SLAB_FREE_DOUBLE  kfree twice                                       double-free
//   SLAB_FREE_CROSS   kfree of a page-allocator frame (another allocator) heap-corruption ("invalid free: ...")
//   SLAB_FREE_PAGE    kfree of a pointer inside a page-backed allocation heap-corruption ("invalid free: ...")
//   WRITE_AFTER_FREE  write to a freed object; caught by the poison check
//                     when the object leaves the quarantine              use-after-free
//   OVERFLOW_SLAB     write one byte past an object; canary on kfree    heap-corruption
//   READ_BUDDY_AFTER_FREE, WRITE_BUDDY_AFTER_FREE
//                     read or write a freed page-backed block (> 2 KiB): its pages are unmapped on free and
//                     their addresses never reused, so the access faults   use-after-free
//   READ_AFTER_FREE   read a freed object; needs `--heap oscar`: the alias
//                     is unmapped on free, so the read faults              use-after-free
// ("Buddy" after LKDTM's page-allocator tests: here the page-level allocations are the heap's large blocks; frames
// taken straight from mm::allocate_frames are not covered.) In OSCAR mode the other tests are detected too
// (WRITE_AFTER_FREE then at the write itself, by a fault).
// Kernite's kfree has no cache argument, so "freeing into the wrong cache" is freeing memory of another
// allocator; the heap calls that an invalid free, which the kernel reports as heap-corruption (there is no
// invalid-free event type). The baseline profile's simple heap catches none of these: they are run on the
// default (hardened) profile.
#include <heap/hardened_heap.h>
#include <kernel/lib/log.h>
#include <kernel/mm/heap.h>
#include <kernel/mm/memory.h>
#include <kernel/security/crashtests_heap.h>

namespace kernite::security {

namespace {

template<typename T>
T* hide(T* pointer)
{
    asm volatile("" : "+r"(pointer));
    return pointer;
}

u8* allocate(usize size)
{
    auto allocation = mm::kmalloc(size);
    VERIFY(!allocation.is_error());
    return static_cast<u8*>(allocation.value());
}

// Pushes everything freed so far out of the quarantine: the heap checks each slot's poison as it leaves.
void flush_quarantine()
{
    for (usize i = 0; i < heap::HardenedHeap::quarantine_capacity; ++i)
        mm::kfree(allocate(16));
}

} // namespace

bool run_heap_crash_test(char const* name, void (*arm)(char const*))
{
    auto is = [&](char const* candidate) { return __builtin_strcmp(name, candidate) == 0; };
    if (is("SLAB_FREE_DOUBLE")) {
        u8* object = allocate(64);
        mm::kfree(object);
        arm(name);
        mm::kfree(hide(object));
    } else if (is("SLAB_FREE_CROSS")) {
        auto frame = mm::allocate_frames(1);
        VERIFY(!frame.is_error());
        // An object-sized, 16-byte-aligned address on the direct map, like a slab object, but the frame
        // belongs to the page allocator.
        u8* foreign = static_cast<u8*>(mm::phys_to_virt(frame.value())) + 64;
        arm(name);
        mm::kfree(hide(foreign));
    } else if (is("SLAB_FREE_PAGE")) {
        u8* block = allocate(3 * 4096); // page-backed, between guard pages
        arm(name);
        mm::kfree(hide(block) + 64);
    } else if (is("WRITE_AFTER_FREE")) {
        u8* object = allocate(64);
        mm::kfree(object);
        arm(name);
        *hide(reinterpret_cast<u64 volatile*>(object + 8)) = 0x4141414141414141ull;
        flush_quarantine();
    } else if (is("READ_BUDDY_AFTER_FREE") || is("WRITE_BUDDY_AFTER_FREE")) {
        u8* block = allocate(2 * 4096);
        block[0] = 1;
        mm::kfree(block);
        arm(name);
        if (is("READ_BUDDY_AFTER_FREE"))
            klog("read %u from a freed block", *hide(reinterpret_cast<u8 volatile*>(block)));
        else
            *hide(reinterpret_cast<u8 volatile*>(block)) = 0x41;
    } else if (is("READ_AFTER_FREE")) {
        // Needs `--heap oscar` (the table's run_arguments): the object's alias is unmapped on free, so the read
        // faults; without OSCAR the quarantined slot stays mapped and the read goes unnoticed.
        u8* object = allocate(64);
        object[0] = 1;
        mm::kfree(object);
        arm(name);
        klog("read %u from a freed object", *hide(reinterpret_cast<u8 volatile*>(object)));
    } else if (is("OVERFLOW_SLAB")) {
        u8* object = allocate(64);
        arm(name);
        *hide(reinterpret_cast<u8 volatile*>(object + 64)) = 0x41; // one byte past the end
        mm::kfree(object);
    } else {
        return false;
    }
    return true;
}

} // namespace kernite::security
