#include <arch/x86_64/interrupts_disabled.h>
#include <kernel/process/futex.h>
#include <kernel/process/output.h>
#include <kernel/process/user_memory.h>
#include <kernel/sched/wait_queue.h>

namespace kernite::process::futex {

namespace {

// A waiting thread, on its own kernel stack for as long as it waits. All waiters form one list: programs have a
// handful of threads, so a scan is cheaper than a hash table here. Guarded by "interrupts off" (one CPU).
struct Waiter {
    u64 address;
    u32 bitset;
    bool woken;
    sched::WaitQueue queue;
    Waiter* next;
};
Waiter* g_waiters;

void unlink(Waiter& waiter)
{
    for (Waiter** link = &g_waiters; *link; link = &(*link)->next) {
        if (*link == &waiter) {
            *link = waiter.next;
            return;
        }
    }
}

} // namespace

ErrorOr<void> wait(u64 address, u32 expected, u32 bitset, u64 deadline_tsc)
{
    if (address % 4 != 0)
        return Error::from_errno(EINVAL, "unaligned futex");
    if (bitset == 0)
        return Error::from_errno(EINVAL, "empty futex bitset");
    output::flush(); // the thread may wait long: what it printed goes out now
    Waiter waiter { address, bitset, false, {}, nullptr };
    arch::InterruptsDisabled guard;
    // The value check and the enqueue happen with interrupts off: a wake in between cannot be lost.
    u32 value = 0;
    TRY(copy_from_user(&value, address, sizeof(value)));
    if (value != expected)
        return Error::from_errno(EAGAIN, "futex value changed");
    waiter.next = g_waiters;
    // The list holds a local on purpose: this function leaves only once the waiter is off it again (woken: wake()
    // unlinked it; timed out: unlinked below). A waiting thread cannot be torn down meanwhile: threads end only
    // themselves (exit) or with the whole VM (exit_group, a fatal signal), and a signal does not interrupt the
    // wait. GCC cannot see that, hence the pragma.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
    g_waiters = &waiter;
#pragma GCC diagnostic pop
    while (!waiter.woken) {
        if (deadline_tsc == 0) {
            waiter.queue.wait_locked();
        } else if (!waiter.queue.wait_locked_until(deadline_tsc)) {
            if (waiter.woken)
                break;
            unlink(waiter);
            return Error::from_errno(ETIMEDOUT, "futex wait timed out");
        }
    }
    return {};
}

u64 wake(u64 address, u64 count, u32 bitset)
{
    arch::InterruptsDisabled guard;
    u64 woken = 0;
    for (Waiter** link = &g_waiters; *link && woken < count;) {
        Waiter* waiter = *link;
        if (waiter->address == address && (waiter->bitset & bitset)) {
            *link = waiter->next;
            waiter->woken = true;
            waiter->queue.wake_one();
            ++woken;
            continue;
        }
        link = &waiter->next;
    }
    return woken;
}

u64 requeue(u64 address, u64 wake_count, u64 target, u64 requeue_count, bool count_moved)
{
    arch::InterruptsDisabled guard;
    u64 woken = wake(address, wake_count, ~u32(0));
    u64 moved = 0;
    for (Waiter* waiter = g_waiters; waiter && moved < requeue_count; waiter = waiter->next) {
        if (waiter->address == address) {
            waiter->address = target;
            ++moved;
        }
    }
    return count_moved ? woken + moved : woken;
}

} // namespace kernite::process::futex
