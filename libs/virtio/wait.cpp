// Bounded polling; see wait.h.
#include <virtio/wait.h>

namespace kernite::virtio {

ErrorOr<Completion> wait_for_completion(SplitQueue& queue, PollClock const& clock, u64 timeout_ticks)
{
    if (!clock.now)
        return Error::from_errno(EINVAL, "virtqueue wait without a clock");
    u64 const start = clock.now(clock.context);
    Completion completion {};
    while (true) {
        if (TRY(queue.poll(completion)))
            return completion;
        // Unsigned difference: correct across a wrap of the tick counter.
        if (clock.now(clock.context) - start > timeout_ticks)
            return Error::from_errno(ETIMEDOUT, "virtio device did not answer in time");
        if (clock.relax)
            clock.relax(clock.context);
    }
}

} // namespace kernite::virtio
