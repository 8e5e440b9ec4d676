// The kernel's entropy: sources, the one generator, and random.h on top (docs/security-model.md "Entropy").
//
// Boot cost matters (docs/platform-notes.md: guest ring-0 code is emulated here, ~1 µs per instruction, and
// one ChaCha20 block is ~1000 instructions): with the monitor's seed the seed *is* the first key (it is 32
// uniform bytes from host getrandom), so booting costs one block, which yields the canary and erases the seed
// key. CPU sources cost one more block (a reseed) only where CPUID offers them.
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/interrupts_disabled.h>
#include <kernel/boot/boot_params.h>
#include <kernel/boot/cmdline.h>
#include <kernel/boot/timeline.h>
#include <kernel/drivers/virtio/entropy_device.h>
#include <kernel/lib/log.h>
#include <kernel/security/entropy.h>
#include <kernel/security/events.h>
#include <kernel/security/random.h>
#include <ktl/verify.h>
#include <platform/platform.h>
#include <rng/drbg.h>

extern "C" u64 __stack_chk_guard;

namespace kernite::security {

namespace {

struct EntropyState {
    rng::Drbg drbg;
    EntropyStatus status;
};
// constinit: no dynamic initializer, which would run in kernel_main after early boot seeded it.
constinit EntropyState g_state {};

// Bounded retries (Intel DRNG Software Implementation Guide §5.2.1: 10 for RDRAND; RDSEED may legitimately
// run dry under load, so it gets more and a pause between tries).
constexpr int rdrand_retries = 10;
constexpr int rdseed_retries = 64;
constexpr usize cpu_entropy_bytes = 32;
constexpr usize virtio_rng_bytes = 32;
// Periodic reseed: after this many requests or bytes the next request first asks the sources.
constexpr u64 reseed_interval_requests = 4096;
constexpr u64 reseed_interval_bytes = 1u << 20;
// Large requests are served in pieces so interrupts are never off for long.
constexpr usize max_piece = 256;

bool rdseed64(u64* value)
{
    for (int i = 0; i < rdseed_retries; ++i) {
        unsigned char ok = 0;
        asm volatile("rdseed %0; setc %1" : "=r"(*value), "=qm"(ok)::"cc");
        if (ok)
            return true;
        asm volatile("pause");
    }
    return false;
}

bool rdrand64(u64* value)
{
    for (int i = 0; i < rdrand_retries; ++i) {
        unsigned char ok = 0;
        asm volatile("rdrand %0; setc %1" : "=r"(*value), "=qm"(ok)::"cc");
        if (ok)
            return true;
    }
    return false;
}

// Intel SDM Vol. 2A CPUID: leaf 1 ECX bit 30 RDRAND; leaf 7.0 EBX bit 18 RDSEED.
void detect_cpu_sources(EntropyStatus& status)
{
    u32 max_leaf = arch::cpuid(0).eax;
    status.cpu_rdrand = max_leaf >= 1 && (arch::cpuid(1).ecx & (1u << 30));
    status.cpu_rdseed = max_leaf >= 7 && (arch::cpuid(7, 0).ebx & (1u << 18));
}

// Up to `length` (a multiple of 8) bytes from RDSEED, falling back to RDRAND per word; counts failed words.
usize read_cpu_entropy(EntropyStatus& status, u8* out, usize length)
{
    usize got = 0;
    for (usize offset = 0; offset + 8 <= length; offset += 8) {
        u64 word = 0;
        bool ok = (status.cpu_rdseed && rdseed64(&word)) || (status.cpu_rdrand && rdrand64(&word));
        if (!ok) {
            ++status.cpu_failures;
            continue;
        }
        for (int i = 0; i < 8; ++i)
            out[got++] = static_cast<u8>(word >> (8 * i));
    }
    return got;
}

// Up to 32 bytes from virtio-rng (QEMU), counted; 0 when there is no device or it failed (then it is gone).
usize read_virtio_rng(EntropyStatus& status, u8* out)
{
    if (!drivers::virtio_rng::available())
        return 0;
    usize got = drivers::virtio_rng::read(out, virtio_rng_bytes);
    if (got > virtio_rng_bytes)
        got = 0;
    if (got == 0)
        ++status.virtio_rng_failures;
    status.virtio_rng_bytes += got;
    return got;
}

bool reseed_from_sources()
{
    auto& state = g_state;
    u8 material[2 * cpu_entropy_bytes + virtio_rng_bytes];
    usize length = platform::host_entropy(material, cpu_entropy_bytes);
    if (length > cpu_entropy_bytes)
        length = 0;
    state.status.host_bytes += length;
    length += read_virtio_rng(state.status, material + length);
    if (state.status.cpu_rdseed || state.status.cpu_rdrand)
        length += read_cpu_entropy(state.status, material + length, cpu_entropy_bytes);
    if (length == 0) {
        // Nothing answered: the generator goes on (its key is still secret and erased as it is used), and the
        // next request asks again.
        ++state.status.reseed_failures;
    } else {
        state.drbg.reseed(material, length);
        ++state.status.reseeds;
    }
    rng::secure_zero(material, sizeof(material));
    return length != 0;
}

// Mixes RDSEED/RDRAND output into the generator, or seeds it from them. At boot with a seed this costs no
// ChaCha20 block: the words are XORed into the key (Drbg::absorb) and the canary's block mixes them.
void mix_cpu_entropy(EntropyStatus& status, rng::Drbg& drbg)
{
    detect_cpu_sources(status);
    status.cpu_probed = true;
    if (!status.cpu_rdseed && !status.cpu_rdrand)
        return;
    alignas(8) u8 material[cpu_entropy_bytes];
    usize length = read_cpu_entropy(status, material, sizeof(material));
    status.cpu_bytes = static_cast<u32>(length);
    if (length && drbg.is_seeded())
        drbg.absorb(material, length);
    else if (length)
        drbg.instantiate_from(material, length);
    rng::secure_zero(material, sizeof(material));
}

} // namespace

u64 seed_entropy_early(BootParams& params)
{
    auto& state = g_state;
    auto& status = state.status;
    if (params.has_entropy_seed) {
        // 32 bytes of host getrandom(): the first key as is (no block spent on it). The monitor's pool (64 more)
        // is the first output: the canary, the region bases and the heap's secrets take no block either.
        state.drbg.instantiate(params.entropy_seed, params.entropy_pool, params.entropy_pool_length);
        status.boot_seed = true;
        status.boot_pool_bytes = params.entropy_pool_length;
        rng::secure_zero(params.entropy_seed, sizeof(params.entropy_seed));
        rng::secure_zero(params.entropy_pool, sizeof(params.entropy_pool));
        params.entropy_pool_length = 0;
    }
    // CPUID costs a trap (~20 µs here), RDSEED/RDRAND one each: cheap next to a block.
    mix_cpu_entropy(status, state.drbg);
    if (!state.drbg.is_seeded()) {
        // No source at all. initialize_entropy() refuses this boot unless told `insecure-entropy`; either way
        // the canary is not a constant: TSC readings (a few bits of jitter each, guessable: insecure).
        status.tsc_only = true;
        u64 tsc[4];
        for (auto& value : tsc)
            value = arch::read_tsc();
        state.drbg.instantiate_from(reinterpret_cast<u8 const*>(tsc), sizeof(tsc));
    }
    state.drbg.set_reseed_interval(reseed_interval_requests, reseed_interval_bytes);

    // From the pool when the monitor gave one; otherwise one block: its first half erases the seed key, the
    // canary comes from the second half.
    u64 canary = 0;
    if (!state.drbg.generate(&canary, sizeof(canary)))
        canary = arch::read_tsc() * 0x9e3779b97f4a7c15ull; // not reached: the generator is seeded above
    // A zero low byte stops string functions from reading or reproducing the canary.
    return canary & ~0xffull;
}

u64 early_random_u64()
{
    u64 value = 0;
    if (!g_state.drbg.generate(&value, sizeof(value)))
        value = arch::read_tsc() * 0x9e3779b97f4a7c15ull; // not reached: seed_entropy_early() seeded it
    return value;
}

usize describe_sources(EntropyStatus const& status, char* out, usize size)
{
    if (size == 0)
        return 0;
    usize n = 0;
    auto append = [&](char const* name) {
        if (n && n + 3 < size) {
            out[n++] = ' ';
            out[n++] = '+';
            out[n++] = ' ';
        }
        for (; *name && n + 1 < size; ++name)
            out[n++] = *name;
    };
    if (status.boot_seed)
        append("boot seed");
    if (status.cpu_bytes)
        append("RDSEED/RDRAND");
    if (status.virtio_rng_boot_bytes)
        append("virtio-rng");
    if (n == 0)
        append("none");
    out[n] = 0;
    return n;
}

// No stack protector: this function changes the value every protected frame checks, so it must not check one
// itself. kernel_main calls it directly; kernel_main never returns (so never checks), and nothing protected is
// on the stack between them.
__attribute__((no_stack_protector)) void refresh_canary_after_late_seed()
{
    if (!g_state.status.late_seed_only)
        return;
    u64 canary = 0;
    {
        arch::InterruptsDisabled guard;
        VERIFY(g_state.drbg.generate(&canary, sizeof(canary)));
    }
    __stack_chk_guard = canary & ~0xffull; // low byte zero, as seed_entropy_early() does
}

void initialize_entropy(BootParams const& params)
{
    auto& status = g_state.status;
    // virtio-rng (QEMU) needs the device page mapped, so it is read here, after mm and the platform, and not in
    // early boot: its bytes are mixed in as a reseed. When it is the only source, the kernel base (KASLR) and the
    // first canary were drawn before it could be read; refresh_canary_after_late_seed() replaces the canary and
    // the message below says the base is predictable.
    // Only under PVH (QEMU): the Kernite monitor has no virtio devices (its Entropy hypercall serves reseeds).
    bool const pvh = params.protocol == BootProtocol::Pvh;
    if (pvh && drivers::virtio_rng::initialize(params)) {
        status.virtio_rng = true;
        alignas(8) u8 material[virtio_rng_bytes];
        usize got = read_virtio_rng(status, material);
        status.virtio_rng_boot_bytes = static_cast<u32>(got);
        if (got) {
            arch::InterruptsDisabled guard;
            g_state.drbg.reseed(material, got);
            if (status.tsc_only) {
                status.tsc_only = false;
                status.late_seed_only = true;
            }
        }
        rng::secure_zero(material, sizeof(material));
    }
    if (pvh)
        boot::mark("virtio-rng");
    if (status.late_seed_only)
        klog("entropy: virtio-rng is this boot's only source (%u bytes); it became readable after early boot, so "
             "the kernel's base address (KASLR) was drawn from the TSC and is predictable; the stack canary is "
             "re-drawn from virtio-rng", status.virtio_rng_boot_bytes);
    if (status.cpu_failures)
        klog("entropy: RDSEED/RDRAND failed %u times at boot (carry flag clear after retries)", status.cpu_failures);
    bool const insecure_allowed = boot::cmdline_has(params.cmdline, "insecure-entropy");
    if (!status.tsc_only && !insecure_allowed)
        return;
    if (!insecure_allowed) {
        klog("entropy: no entropy source (no boot seed from the VMM, no RDSEED/RDRAND, no virtio-rng): refusing to "
             "boot. Boot with the Kernite monitor, or QEMU with the seed module, -cpu max or virtio-rng; `--cmdline "
             "insecure-entropy` boots anyway with predictable random numbers");
        report(abi::EventType::EntropyFailure, "no entropy source: refusing to boot");
        platform::exit(125, abi::ExitReason::SecurityStop);
    }
    // `insecure-entropy`: said on every boot, whether or not this one happened to have a source.
    if (status.tsc_only) {
        klog("WARNING: INSECURE ENTROPY (insecure-entropy): no entropy source; random numbers, canaries and "
             "layout come from the TSC only and are predictable. Never use this boot for anything that matters.");
        return;
    }
    char sources[64];
    describe_sources(status, sources, sizeof(sources));
    klog("WARNING: INSECURE ENTROPY (insecure-entropy): this VM is allowed to boot without an entropy source "
         "(this boot has one: %s; the TSC is mixed in too)", sources);
    u64 tsc = arch::read_tsc();
    arch::InterruptsDisabled guard;
    g_state.drbg.reseed(reinterpret_cast<u8 const*>(&tsc), sizeof(tsc));
}

bool reseed_now()
{
    arch::InterruptsDisabled guard;
    return reseed_from_sources();
}

EntropyStatus entropy_status()
{
    arch::InterruptsDisabled guard;
    return g_state.status;
}

void random_bytes(void* buffer, usize length)
{
    auto* out = static_cast<u8*>(buffer);
    while (length) {
        usize piece = length < max_piece ? length : max_piece;
        {
            arch::InterruptsDisabled guard;
            VERIFY(g_state.drbg.is_seeded());
            if (g_state.drbg.reseed_requested())
                reseed_from_sources();
            VERIFY(g_state.drbg.generate(out, piece));
        }
        out += piece;
        length -= piece;
    }
}

u64 random_u64()
{
    u64 value = 0;
    random_bytes(&value, sizeof(value));
    return value;
}

u64 random_below(u64 bound)
{
    VERIFY(bound > 0);
    // Reject the low (2^64 mod bound) values so every residue is equally likely.
    u64 const threshold = (0 - bound) % bound;
    while (true) {
        u64 value = random_u64();
        if (value >= threshold)
            return value % bound;
    }
}

} // namespace kernite::security
