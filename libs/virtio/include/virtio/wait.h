// Bounded polling of a virtqueue (no interrupts at boot): a device that never answers is an error, not a hang.
// The clock is injected (the kernel passes the TSC, the host tests a fake one).
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>
#include <virtio/split_queue.h>

namespace kernite::virtio {

struct PollClock {
    u64 (*now)(void* context);    // monotonic ticks
    void (*relax)(void* context); // between polls (the kernel: `pause`); may be null
    void* context;
};

// Polls `queue` until a completion arrives (returned) or more than `timeout_ticks` have passed since the call:
// ETIMEDOUT, and the chain stays in flight (its buffers belong to the device until it answers, so the caller
// must not reuse them). Device errors (EIO) come through as poll() reports them.
ErrorOr<Completion> wait_for_completion(SplitQueue& queue, PollClock const& clock, u64 timeout_ticks);

} // namespace kernite::virtio
