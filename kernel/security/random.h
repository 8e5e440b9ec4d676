// The kernel's random numbers (issue 4: ChaCha20 DRBG fed by the monitor's seed, RDSEED/RDRAND and reseeds).
// Everything in the kernel that needs randomness (canaries, layout randomization, heap slot choice, AT_RANDOM,
// getrandom) goes through these two functions. They never return a constant or TSC-only output: with no
// entropy source the kernel refuses to boot (unless explicitly told it is insecure, and then it says so).
#pragma once

#include <ktl/types.h>

namespace kernite::security {

u64 random_u64();
void random_bytes(void* buffer, usize length);
// A uniformly distributed value in [0, bound) (bound > 0), without modulo bias.
u64 random_below(u64 bound);

} // namespace kernite::security
