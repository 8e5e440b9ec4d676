// The Kernite monitor platform: console, exit, time, entropy and events through hypercalls.
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/interrupts_disabled.h>
#include <kernel/boot/boot_params.h>
#include <kernel/mm/memory.h>
#include <platform/monitor/hypercall.h>
#include <platform/platform.h>

namespace kernite::platform::monitor {

void hypercall(abi::Hypercall call, void* request)
{
    u64 phys = mm::kernel_virt_to_phys(request);
    VERIFY(phys != 0 && phys < (1ull << 32) && phys % 8 == 0);
    arch::outl(static_cast<u16>(abi::hypercall_port_base + static_cast<u16>(call)), static_cast<u32>(phys));
}

namespace {

// Requests and the buffers they point to live in the kernel image, whose physical memory is contiguous (a
// stack buffer may straddle two unrelated frames). One CPU, and callers run with interrupts off, so one
// static request area is enough.
struct Requests {
    alignas(8) abi::HcConsole console;
    alignas(8) abi::HcOutput output;
    alignas(8) abi::HcInput input;
    alignas(8) abi::HcTime time;
    alignas(8) abi::HcEvent event;
    alignas(8) abi::HcExit exit;
    alignas(8) abi::HcEntropy entropy;
    alignas(8) u8 entropy_buffer[abi::entropy_max_length];
    alignas(8) char console_buffer[4096];
};
Requests g_requests;


} // namespace

void console_write(abi::ConsoleStream stream, char const* data, usize length)
{
    arch::InterruptsDisabled guard;
    while (length > 0) {
        usize chunk = length < sizeof(g_requests.console_buffer) ? length : sizeof(g_requests.console_buffer);
        __builtin_memcpy(g_requests.console_buffer, data, chunk);
        g_requests.console = {};
        g_requests.console.data_gpa = mm::kernel_virt_to_phys(g_requests.console_buffer);
        g_requests.console.length = static_cast<u32>(chunk);
        g_requests.console.stream = static_cast<u32>(stream);
        hypercall(abi::Hypercall::Console, &g_requests.console);
        data += chunk;
        length -= chunk;
    }
}

void output_write(u8 const* records, usize length)
{
    arch::InterruptsDisabled guard;
    u64 phys = mm::kernel_virt_to_phys(records);
    VERIFY(phys != 0 && length <= abi::output_max_length);
    VERIFY(mm::kernel_virt_to_phys(records + length - 1) == phys + length - 1);
    g_requests.output = {};
    g_requests.output.data_gpa = phys;
    g_requests.output.length = static_cast<u32>(length);
    hypercall(abi::Hypercall::Output, &g_requests.output);
}

i64 input_read(u8* buffer, usize capacity, u64 wait_ns)
{
    arch::InterruptsDisabled guard;
    u64 phys = mm::kernel_virt_to_phys(buffer);
    VERIFY(phys != 0 && capacity > 0 && capacity <= abi::input_max_length);
    VERIFY(mm::kernel_virt_to_phys(buffer + capacity - 1) == phys + capacity - 1);
    g_requests.input = {};
    g_requests.input.buffer_gpa = phys;
    g_requests.input.capacity = static_cast<u32>(capacity);
    g_requests.input.wait_ns = wait_ns;
    hypercall(abi::Hypercall::Input, &g_requests.input);
    i64 result = g_requests.input.result;
    // The monitor is trusted, but a count beyond the buffer would still overrun it: clamp it.
    return result > static_cast<i64>(capacity) ? static_cast<i64>(capacity) : result;
}

void report_event(abi::SecurityEvent const& event)
{
    arch::InterruptsDisabled guard;
    g_requests.event = {};
    g_requests.event.event = event;
    hypercall(abi::Hypercall::Event, &g_requests.event);
}

[[noreturn]] void exit(int status, abi::ExitReason reason)
{
    arch::disable_interrupts();
    g_requests.exit = { status, static_cast<u32>(reason) };
    hypercall(abi::Hypercall::Exit, &g_requests.exit);
    arch::trap_forever(); // the monitor never resumes us; if it did, stop here
}

u64 host_realtime_ns()
{
    arch::InterruptsDisabled guard;
    g_requests.time = {};
    hypercall(abi::Hypercall::Time, &g_requests.time);
    return g_requests.time.realtime_ns;
}

usize host_entropy(u8* buffer, usize length)
{
    arch::InterruptsDisabled guard;
    if (length > abi::entropy_max_length)
        length = abi::entropy_max_length;
    g_requests.entropy = {};
    g_requests.entropy.buffer_gpa = mm::kernel_virt_to_phys(g_requests.entropy_buffer);
    g_requests.entropy.length = static_cast<u32>(length);
    hypercall(abi::Hypercall::Entropy, &g_requests.entropy);
    if (g_requests.entropy.result <= 0)
        return 0;
    usize got = static_cast<usize>(g_requests.entropy.result);
    if (got > length)
        got = length;
    __builtin_memcpy(buffer, g_requests.entropy_buffer, got);
    __builtin_memset(g_requests.entropy_buffer, 0, sizeof(g_requests.entropy_buffer));
    return got;
}

} // namespace kernite::platform::monitor
