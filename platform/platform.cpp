// Dispatch to the platform chosen by the boot entry.
#include <arch/x86_64/cpu.h>
#include <kernel/boot/boot_params.h>
#include <kernel/mm/kernel_image.h>
#include <platform/platform.h>
#include <platform/pvh/serial.h>
#include <kernel/time/tsc_calibration.h>

namespace kernite::platform {

namespace monitor {
void console_write(abi::ConsoleStream, char const*, usize);
void output_write(u8 const*, usize);
i64 input_read(u8*, usize, u64);
void report_event(abi::SecurityEvent const&);
[[noreturn]] void exit(int, abi::ExitReason);
usize host_entropy(u8*, usize);
u64 host_realtime_ns();
}
namespace pvh {
void console_write(abi::ConsoleStream, char const*, usize);
void output_write(u8 const*, usize);
i64 input_read(u8*, usize, u64);
void report_event(abi::SecurityEvent const&);
[[noreturn]] void exit(int, abi::ExitReason);
u64 cmos_realtime_ns();
}

namespace {
__ro_after_init BootProtocol g_protocol = BootProtocol::Monitor;
__ro_after_init u64 g_tsc_khz = 0;
}

void initialize(BootParams const& params)
{
    g_protocol = params.protocol;
    if (g_protocol == BootProtocol::Pvh)
        pvh::serial_initialize();
    g_tsc_khz = params.tsc_khz != 0 ? params.tsc_khz : time::calibrate_tsc_khz();
}

char const* name() { return g_protocol == BootProtocol::Monitor ? "kvm" : "qemu-pvh"; }

void console_write(abi::ConsoleStream stream, char const* data, usize length)
{
    if (g_protocol == BootProtocol::Monitor)
        monitor::console_write(stream, data, length);
    else
        pvh::console_write(stream, data, length);
}

void output_write(u8 const* records, usize length)
{
    if (g_protocol == BootProtocol::Monitor)
        monitor::output_write(records, length);
    else
        pvh::output_write(records, length);
}

i64 input_read(u8* buffer, usize capacity, u64 wait_ns)
{
    if (g_protocol == BootProtocol::Monitor)
        return monitor::input_read(buffer, capacity, wait_ns);
    return pvh::input_read(buffer, capacity, wait_ns);
}

void report_event(abi::SecurityEvent const& event)
{
    if (g_protocol == BootProtocol::Monitor)
        monitor::report_event(event);
    else
        pvh::report_event(event);
}

void exit(int status, abi::ExitReason reason)
{
    if (g_protocol == BootProtocol::Monitor)
        monitor::exit(status, reason);
    pvh::exit(status, reason);
}

u64 tsc_khz() { return g_tsc_khz; }

u64 host_realtime_ns()
{
    if (g_protocol == BootProtocol::Monitor)
        return monitor::host_realtime_ns();
    return pvh::cmos_realtime_ns();
}

usize host_entropy(u8* buffer, usize length)
{
    if (g_protocol == BootProtocol::Monitor)
        return monitor::host_entropy(buffer, length);
    return 0;
}

} // namespace kernite::platform
