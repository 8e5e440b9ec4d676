// The kernel's monotonic clock: the TSC scaled to nanoseconds. Needs an invariant TSC (constant rate, does
// not stop in idle: Intel SDM Vol. 3B §18.17.1), which every VMM Kernite runs under provides.
#pragma once

#include <kernel/time/fixed_ratio.h>
#include <ktl/types.h>

namespace kernite::time {

// Precomputes the conversions from platform::tsc_khz(). `boot_tsc` is the TSC at the first kernel
// instruction: uptime counts from there.
void initialize_clock(u64 boot_tsc);

// Nanoseconds since boot (monotonic: never goes back, also across threads on this CPU).
u64 monotonic_ns();
inline u64 uptime_ns() { return monotonic_ns(); }
inline u64 uptime_us() { return monotonic_ns() / ns_per_us; }

// Nanoseconds since 1970 (CLOCK_REALTIME): the host's wall clock, read once on first use, plus the monotonic
// clock since then. Never goes back (it does not follow later changes of the host's clock).
u64 realtime_ns();

// Conversions between TSC ticks and nanoseconds (durations). ns_to_tsc rounds up: deadlines never come early.
u64 tsc_to_ns(u64 ticks);
u64 ns_to_tsc(u64 ns);

// The TSC value `ns` nanoseconds from now, saturating instead of wrapping.
u64 tsc_deadline_after_ns(u64 ns);

} // namespace kernite::time
