// The PVH platform (QEMU microvm): console on COM1, events and exit as marker lines the monitor decodes
// (abi/kernite/abi.h "QEMU/PVH transport"), then isa-debug-exit to end QEMU.
#include <arch/x86_64/cpu.h>
#include <kernel/lib/format.h>
#include <platform/pvh/serial.h>
#include <platform/platform.h>

namespace kernite::platform::pvh {

void console_write(abi::ConsoleStream stream, char const* data, usize length)
{
    // One serial port carries both streams: stdout as is, stderr one marker line per line (abi.h), which the
    // monitor writes to its stderr.
    if (stream == abi::ConsoleStream::Stdout) {
        serial_write(data, length);
        return;
    }
    static constexpr char prefix[] = { abi::serial_marker, 'k', 'e', 'r', 'n', 'i', 't', 'e', '-', 's', 't', 'd', 'e',
        'r', 'r', ' ' };
    static_assert(sizeof(prefix) == 1 + sizeof(abi::serial_stderr_prefix) - 1);
    while (length > 0) {
        usize line = 0;
        while (line < length && data[line] != '\n')
            ++line;
        serial_write(prefix, sizeof(prefix));
        serial_write(data, line);
        serial_write("\n", 1);
        usize consumed = line < length ? line + 1 : line;
        data += consumed;
        length -= consumed;
    }
}

void report_event(abi::SecurityEvent const& event)
{
    static constexpr char hex[] = "0123456789abcdef";
    char line[2 + sizeof(abi::serial_event_prefix) + 2 * sizeof(abi::SecurityEvent) + 2];
    usize n = 0;
    line[n++] = abi::serial_marker;
    for (char const* p = abi::serial_event_prefix; *p; ++p)
        line[n++] = *p;
    auto const* bytes = reinterpret_cast<u8 const*>(&event);
    for (usize i = 0; i < sizeof(event); ++i) {
        line[n++] = hex[bytes[i] >> 4];
        line[n++] = hex[bytes[i] & 0xf];
    }
    line[n++] = '\n';
    serial_write(line, n);
}

[[noreturn]] void exit(int status, abi::ExitReason reason)
{
    char line[64];
    usize n = format(line, sizeof(line), "%c%s%d %u\n", abi::serial_marker, abi::serial_exit_prefix, status,
        static_cast<u32>(reason));
    serial_write(line, n);
    // isa-debug-exit makes QEMU exit with (value << 1) | 1; the status itself travels in the marker line.
    arch::outb(abi::qemu_debug_exit_port, 0);
    arch::trap_forever();
}

} // namespace kernite::platform::pvh
