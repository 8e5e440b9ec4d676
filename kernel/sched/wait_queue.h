// A queue of threads waiting for a condition (after SerenityOS's WaitQueue). The condition is checked with
// interrupts disabled, which on this single CPU is the scheduler lock: a wake between the check and the wait
// cannot be lost.
#pragma once

#include <arch/x86_64/interrupts_disabled.h>

#include <arch/x86_64/cpu.h>
#include <kernel/sched/thread.h>

namespace kernite::sched {

// Disables interrupts for its lifetime and restores the previous state. On one CPU this excludes every other
// thread and the timer interrupt: it guards the scheduler's queues and anything a WaitQueue condition reads.
using arch::InterruptsDisabled;

class WaitQueue {
public:
    // Blocks the current thread until `condition()` holds. The condition is evaluated with interrupts off.
    template<typename Condition>
    void wait_until(Condition condition)
    {
        InterruptsDisabled guard;
        while (!condition())
            wait_locked();
    }

    // Blocks until woken, unconditionally. The caller must have disabled interrupts across the check that
    // made it decide to wait (InterruptsDisabled), or a wake in between is lost.
    void wait_locked();
    // The same with a deadline (TSC): returns false when the deadline passed before a wake.
    bool wait_locked_until(u64 deadline_tsc);

    // Makes the oldest waiter (or every waiter) runnable. Callable from interrupt handlers. Returns how many.
    usize wake_one();
    usize wake_all();

    bool has_waiters() const { return !m_waiters.is_empty(); }

private:
    ThreadQueue m_waiters;
};

} // namespace kernite::sched
