#include <arch/x86_64/cpu.h>
#include <kernel/mm/kernel_image.h>
#include <kernel/time/clock.h>
#include <ktl/verify.h>
#include <platform/platform.h>

namespace kernite::time {

namespace {

// Written once at boot, then sealed read-only with the rest of .data.ro_after_init.
__ro_after_init TscConversion g_conversion;
__ro_after_init u64 g_boot_tsc;
u64 g_realtime_offset_ns; // realtime = monotonic + offset, once known
bool g_realtime_known;

} // namespace

void initialize_clock(u64 boot_tsc)
{
    g_conversion = TscConversion::make(platform::tsc_khz());
    VERIFY(g_conversion.valid());
    g_boot_tsc = boot_tsc;
}

u64 monotonic_ns()
{
    u64 now = arch::read_tsc();
    return g_conversion.ticks_to_ns.scale(now > g_boot_tsc ? now - g_boot_tsc : 0);
}

u64 tsc_to_ns(u64 ticks) { return g_conversion.ticks_to_ns.scale(ticks); }
u64 ns_to_tsc(u64 ns) { return g_conversion.ns_to_ticks.scale_up(ns); }

u64 tsc_deadline_after_ns(u64 ns)
{
    u64 deadline = 0;
    if (!ktl::checked_add(arch::read_tsc(), ns_to_tsc(ns), &deadline))
        return ~u64(0);
    return deadline;
}

u64 realtime_ns()
{
    if (!g_realtime_known) {
        u64 host = platform::host_realtime_ns();
        u64 now = monotonic_ns();
        g_realtime_offset_ns = host > now ? host - now : 0;
        g_realtime_known = true;
    }
    return monotonic_ns() + g_realtime_offset_ns;
}

} // namespace kernite::time
