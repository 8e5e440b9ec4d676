#include <arch/x86_64/cpu.h>
#include <kernel/time/tsc_calibration.h>
#include <ktl/verify.h>

namespace kernite::time {

namespace {

constexpr u64 pit_hz = 1193182; // 8254 PIT input clock
constexpr u64 min_plausible_khz = 100'000;
constexpr u64 max_plausible_khz = 10'000'000;

bool plausible(u64 khz) { return khz >= min_plausible_khz && khz <= max_plausible_khz; }

u64 from_cpuid()
{
    // Hypervisor timing leaf (VMware/QEMU convention: 0x40000010 EAX = TSC kHz) when advertised.
    auto hypervisor = arch::cpuid(0x40000000);
    if (hypervisor.eax >= 0x40000010) {
        u64 khz = arch::cpuid(0x40000010).eax;
        if (plausible(khz))
            return khz;
    }
    // Intel SDM Vol. 2A CPUID leaf 15H: TSC = crystal * EBX / EAX.
    if (arch::cpuid(0).eax >= 0x15) {
        auto leaf = arch::cpuid(0x15);
        if (leaf.eax != 0 && leaf.ebx != 0 && leaf.ecx != 0) {
            u64 khz = static_cast<u64>(leaf.ecx) * leaf.ebx / leaf.eax / 1000;
            if (plausible(khz))
                return khz;
        }
    }
    return 0;
}

u16 read_pit_channel0()
{
    arch::outb(0x43, 0x00); // latch channel 0 (8254 datasheet: counter latch command)
    u8 low = arch::inb(0x40);
    u8 high = arch::inb(0x40);
    return static_cast<u16>(low | (high << 8));
}

// Channel 0 as a free-running down-counter (mode 2, reload 0 = 65536), read through the latch command.
// Channel 2 would need the gate in port 0x61, which QEMU's microvm does not have (no PC speaker device).
u64 from_pit()
{
    constexpr u64 target_ticks = pit_hz / 100; // 10 ms
    arch::outb(0x43, 0x34);                    // channel 0, lobyte/hibyte, mode 2, binary
    arch::outb(0x40, 0);
    arch::outb(0x40, 0);
    u16 previous = read_pit_channel0();
    u64 elapsed = 0;
    u64 start = arch::read_tsc();
    for (u64 spins = 0; elapsed < target_ticks && spins < 50'000'000; ++spins) {
        u16 now = read_pit_channel0();
        elapsed += static_cast<u16>(previous - now); // counts down, wraps at 65536
        previous = now;
    }
    u64 end = arch::read_tsc();
    if (elapsed < target_ticks)
        return 0; // no PIT
    return (end - start) * pit_hz / elapsed / 1000;
}

} // namespace

u64 calibrate_tsc_khz()
{
    u64 khz = from_cpuid();
    if (khz == 0)
        khz = from_pit();
    VERIFY(plausible(khz));
    return khz;
}

} // namespace kernite::time
