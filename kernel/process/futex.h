// Futexes (futex(2)): threads of the program wait on a 32-bit word of its memory. One address space, so a
// futex is keyed by its user address; private and shared futexes are the same thing here.
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::process::futex {

// Waits while *address == expected (checked atomically with respect to wakers), until woken with a matching
// bitset or until `deadline_tsc` (0: none). EAGAIN if the value differs, ETIMEDOUT, EFAULT.
ErrorOr<void> wait(u64 address, u32 expected, u32 bitset, u64 deadline_tsc);
// Wakes up to `count` waiters on `address` whose bitset intersects `bitset`; returns how many.
u64 wake(u64 address, u64 count, u32 bitset);
// Wakes up to `wake_count` waiters, moves up to `requeue_count` more to `target`; returns woken (+ moved).
u64 requeue(u64 address, u64 wake_count, u64 target, u64 requeue_count, bool count_moved);

} // namespace kernite::process::futex
