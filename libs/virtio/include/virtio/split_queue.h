// The driver side of a virtio split virtqueue (virtio 1.2 §2.7), independent of the transport and of how the
// kernel maps memory, so that it runs (and is tested against fake and hostile devices) on the host.
//
// What the device writes is untrusted (STYLE.md habit 10): the used ring's index, and each used element's id
// and length. Every one is range-checked before it is used; the driver never reads back what it wrote itself
// (descriptor table, available ring) but keeps its own shadow copies, so a device that scribbles over shared
// memory cannot redirect the free list or the chains either. The first violation marks the queue broken: from
// then on every call fails with EIO and nothing more is handed to or taken from the device.
//
// Tokens: each chain carries a caller-chosen u64 token, owned by the queue until the device returns the chain;
// a completion gives it back exactly once.
//
// Freestanding (ktl only, no heap), not thread-safe (the caller serialises).
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::virtio {

// virtio 1.2 §2.7.5 "The Virtqueue Descriptor Table".
struct Descriptor {
    u64 address; // guest-physical
    u32 length;
    u16 flags;
    u16 next;
};
static_assert(sizeof(Descriptor) == 16);
inline constexpr u16 descriptor_flag_next = 1;  // VIRTQ_DESC_F_NEXT
inline constexpr u16 descriptor_flag_write = 2; // VIRTQ_DESC_F_WRITE: device writes (otherwise reads)

// §2.7.8 "The Virtqueue Used Ring": one element.
struct UsedElement {
    u32 id;     // head of the chain the device is done with
    u32 length; // bytes the device wrote into the chain's writable part
};
static_assert(sizeof(UsedElement) == 8);
inline constexpr u16 used_flag_no_notify = 1; // VIRTQ_USED_F_NO_NOTIFY (§2.7.10)

// Where the three parts live inside one contiguous block (§2.7: alignments 16, 2 and 4; sizes 16*N, 6+2*N,
// 6+8*N, without VIRTIO_F_EVENT_IDX the trailing event fields are still laid out).
struct QueueLayout {
    u16 size;
    usize descriptor_offset;
    usize available_offset;
    usize used_offset;
    usize total_bytes;

    // Fails with EINVAL unless `size` is a power of two in [1, max_queue_size] (§2.7: "Queue Size ... a power of 2").
    static ErrorOr<QueueLayout> for_size(u16 size);
};

// The queue keeps per-descriptor shadows in fixed arrays: this is the largest size it drives. Devices offer
// up to 32768 (§2.7); the driver asks for at most this many.
inline constexpr u16 max_queue_size = 256;

// One piece of a chain: a guest-physical buffer the device reads (`device_writable` false) or writes.
struct Buffer {
    u64 address;
    u32 length;
    bool device_writable;
};

struct Completion {
    u64 token;
    u32 written; // bytes the device says it wrote; never more than the chain's writable length
};

class SplitQueue {
public:
    // `memory` (its guest-physical address `memory_phys`) holds `layout.total_bytes` bytes for this queue's
    // rings; the queue zeroes it. The memory must stay mapped as long as the device may use it.
    ErrorOr<void> initialize(QueueLayout const& layout, void* memory, u64 memory_phys, usize memory_bytes);

    // Guest-physical addresses the transport tells the device (virtio-mmio QueueDesc/QueueDriver/QueueDevice).
    u64 descriptor_area() const { return m_memory_phys + m_layout.descriptor_offset; }
    u64 driver_area() const { return m_memory_phys + m_layout.available_offset; }
    u64 device_area() const { return m_memory_phys + m_layout.used_offset; }
    u16 size() const { return m_layout.size; }

    // Puts one chain of `count` buffers (readable ones first, §2.7.4.2) on the available ring. Errors: EINVAL
    // (empty chain, zero-length or wrapping buffer, writable before readable), ENOSPC (not enough free
    // descriptors), EIO (queue broken).
    ErrorOr<void> add(Buffer const* buffers, usize count, u64 token);

    // Whether the device asked not to be notified (§2.7.10); the driver may notify anyway.
    bool device_wants_notification() const;

    // Takes the next used element, if the device has published one. Checks: the used index moved by at most
    // the number of chains in flight; the id names the head of a chain in flight; the length is at most that
    // chain's writable bytes. A violation breaks the queue (EIO, with the reason).
    ErrorOr<bool> poll(Completion& completion);

    u16 free_descriptors() const { return m_free_count; }
    u16 chains_in_flight() const { return m_in_flight_count; }
    bool is_broken() const { return m_broken; }

private:
    Error fail(char const* reason);
    u16 volatile* available_flags() const;
    u16 volatile* available_index() const;
    u16 volatile* available_slot(u16 slot) const;
    u16 const volatile* used_index() const;
    u16 const volatile* used_flags() const;
    UsedElement const volatile* used_slot(u16 slot) const;

    QueueLayout m_layout {};
    u8* m_memory { nullptr };
    u64 m_memory_phys { 0 };
    bool m_initialized { false };
    bool m_broken { false };

    // Shadows of what the driver wrote (never read back from shared memory).
    u16 m_next[max_queue_size] {};           // free list and chain links
    u16 m_chain_length[max_queue_size] {};   // per head: descriptors in its chain, 0 when not a head in flight
    u32 m_writable_bytes[max_queue_size] {}; // per head: total device-writable bytes
    u64 m_token[max_queue_size] {};
    u16 m_free_head { 0 };
    u16 m_free_count { 0 };
    u16 m_in_flight_count { 0 };
    u16 m_available_index { 0 }; // next available ring index to publish
    u16 m_last_used { 0 };       // next used ring index to consume
};

} // namespace kernite::virtio
