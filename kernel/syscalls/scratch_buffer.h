// Scratch buffers for system calls that need more than a kernel stack can spare (kernel stacks are 16 KiB).
#pragma once

#include <ktl/allocator.h>
#include <ktl/types.h>

namespace kernite::syscalls {

// Scratch buffers for one system call: `Slots` of `Size` bytes in .bss serve whoever finds one free; a caller that
// finds them all taken (threads that blocked or were preempted inside a call hold them) gets one from the heap.
// The hardened heap serves anything over 2 KiB as its own pages between guard pages, so a heap buffer per call was
// a map, an unmap and TLB invalidations per call: each an exit under shadow paging (docs/platform-notes.md), and
// most of the hardened heap's share of a program's security tax. Taken with an atomic exchange: one CPU, but
// threads are preemptible. `Tag` keeps the pools of different users apart.
template<typename Tag, usize Size, unsigned Slots>
class ScratchBuffer {
public:
    explicit ScratchBuffer(usize size)
    {
        if (size <= Size) {
            for (unsigned slot = 0; slot < Slots; ++slot) {
                if (!__atomic_exchange_n(&s_taken[slot], true, __ATOMIC_ACQUIRE)) {
                    m_data = s_storage[slot];
                    m_slot = static_cast<int>(slot);
                    return;
                }
            }
        }
        m_data = static_cast<u8*>(ktl::allocate(size));
    }
    ScratchBuffer(ScratchBuffer const&) = delete;
    ScratchBuffer& operator=(ScratchBuffer const&) = delete;
    ~ScratchBuffer()
    {
        if (m_slot >= 0)
            __atomic_store_n(&s_taken[m_slot], false, __ATOMIC_RELEASE);
        else
            ktl::deallocate(m_data);
    }
    u8* data() const { return m_data; } // nullptr when the heap is out of memory

private:
    alignas(64) static inline u8 s_storage[Slots][Size];
    static inline bool s_taken[Slots];
    u8* m_data { nullptr };
    int m_slot { -1 };
};

// read(2), write(2) and filling a file mapping: one 16 KiB buffer.
inline constexpr usize bounce_size = 16 * 1024;
struct BounceTag;
using BounceBuffer = ScratchBuffer<BounceTag, bounce_size, 1>;

} // namespace kernite::syscalls
