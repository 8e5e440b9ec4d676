// Where the kernel's randomness comes from (docs/security-model.md "Entropy"): the monitor's boot seed (host
// getrandom, or the PVH seed module the QEMU backend writes), RDSEED/RDRAND when CPUID offers them, virtio-rng
// under QEMU (kernel/drivers/virtio), and reseeds from the monitor's Entropy hypercall and virtio-rng. All of it
// feeds one ChaCha20 generator (libs/rng) that kernel/security/random.h serves.
#pragma once

#include <ktl/types.h>

namespace kernite {
struct BootParams;
}

namespace kernite::security {

// Early boot (kernel/boot/early.cpp), on the identity map before any protected frame that outlives it: seeds
// the generator from every source this boot has, wipes the seed in `params`, and returns the stack canary
// (generator output, low byte zero). Follows early boot's rules: no absolute addresses, no console.
// With no source at all it still never returns a constant (TSC mixed in) and initialize_entropy() refuses
// the boot.
u64 seed_entropy_early(BootParams& params);

// Early boot, after seed_entropy_early(): 64 bits from the generator (the kernel's KASLR base). Same rules.
u64 early_random_u64();

// kernel_main, once the console works: sets up virtio-rng if the command line lists one and mixes its bytes
// in, reports what seeded the generator; with no real source, refuses to boot (`entropy-failure` event, exit 125) unless the command line has `insecure-entropy`, then warns.
void initialize_entropy(BootParams const& params);

struct EntropyStatus {
    bool boot_seed;      // monitor BootInfo seed or PVH seed module
    u32 boot_pool_bytes; // host getrandom bytes the monitor gave as the generator's first output (BootInfo)
    bool cpu_rdseed;     // CPUID offers RDSEED
    bool cpu_rdrand;     // CPUID offers RDRAND
    bool cpu_probed;     // CPUID asked (in early boot)
    u32 cpu_bytes;       // bytes the CPU gave at boot
    u32 cpu_failures;    // RDSEED/RDRAND words that failed every retry (carry flag clear)
    bool tsc_only;       // no source at all: only the TSC (insecure-entropy)
    u64 reseeds;         // reseeds after boot
    u64 host_bytes;      // bytes the monitor's Entropy hypercall gave to reseeds
    u64 reseed_failures; // a reseed was due and no source answered
    bool virtio_rng;              // a virtio-rng device was set up (QEMU)
    bool late_seed_only;          // virtio-rng was the only source: early boot (KASLR base) had the TSC only
    u32 virtio_rng_boot_bytes;    // bytes it gave at boot
    u64 virtio_rng_bytes;         // bytes it gave in all (boot and reseeds)
    u64 virtio_rng_failures;      // requests that brought nothing (the device is then dropped)
};
EntropyStatus entropy_status();

// The sources this boot was seeded from, e.g. "boot seed + RDSEED/RDRAND" or "virtio-rng" ("none"), into `out`
// (NUL-terminated); returns the length.
usize describe_sources(EntropyStatus const&, char* out, usize size);

// kernel_main, right after initialize_entropy(): when virtio-rng was the only source (read after early boot),
// replaces the stack canary, drawn from the TSC-only generator, with one from the reseeded generator. Must be
// called from kernel_main itself (it never returns, so no frame checks the old canary afterwards).
void refresh_canary_after_late_seed();

// Reseeds now from the runtime sources (the monitor's Entropy hypercall, RDSEED/RDRAND), as the periodic
// reseed does. False when no source answered (counted in reseed_failures; the generator goes on).
bool reseed_now();

} // namespace kernite::security
