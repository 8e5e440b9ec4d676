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

// Each record as "\x1ekernite-out <stream> <hex>\n" (abi.h), in lines of at most 512 bytes of payload.
void output_write(u8 const* records, usize length)
{
    static constexpr char hex[] = "0123456789abcdef";
    usize offset = 0;
    while (offset + sizeof(abi::OutputRecord) <= length) {
        abi::OutputRecord record;
        __builtin_memcpy(&record, records + offset, sizeof(record));
        u8 const* bytes = records + offset + sizeof(record);
        usize remaining = record.length;
        while (remaining > 0) {
            usize chunk = remaining < 512 ? remaining : 512;
            char line[16 + sizeof(abi::serial_output_prefix) + 2 * 512];
            usize n = 0;
            line[n++] = abi::serial_marker;
            for (char const* p = abi::serial_output_prefix; *p; ++p)
                line[n++] = *p;
            line[n++] = record.stream == static_cast<u32>(abi::ConsoleStream::Stderr) ? '2' : '1';
            line[n++] = ' ';
            for (usize i = 0; i < chunk; ++i) {
                line[n++] = hex[bytes[i] >> 4];
                line[n++] = hex[bytes[i] & 0xf];
            }
            line[n++] = '\n';
            serial_write(line, n);
            bytes += chunk;
            remaining -= chunk;
        }
        offset += sizeof(record) + ktl::align_up_const(record.length, 8);
    }
}

// QEMU has no input channel to the program yet (its serial line would cost one exit per byte): the monitor's
// QEMU backend refuses a standard input that has bytes, so end of file is the truth here.
i64 input_read(u8*, usize, u64) { return 0; }

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

namespace {

u8 cmos_read(u8 index)
{
    arch::outb(0x70, index);
    return arch::inb(0x71);
}

u64 from_bcd(u8 value, bool binary) { return binary ? value : (value >> 4) * 10 + (value & 0xf); }

// Days from 1970-01-01 to year-month-day (proleptic Gregorian; Howard Hinnant's days_from_civil algorithm).
i64 days_from_civil(i64 year, u64 month, u64 day)
{
    year -= month <= 2;
    i64 era = (year >= 0 ? year : year - 399) / 400;
    u64 year_of_era = static_cast<u64>(year - era * 400);
    u64 day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    u64 day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + static_cast<i64>(day_of_era) - 719468;
}

} // namespace

// The MC146818 real-time clock (CMOS registers 0-9, status B for BCD/binary and 12/24 h). Read twice until two
// reads agree, so an update in the middle cannot tear the value. 0 when no clock answers sensibly.
u64 cmos_realtime_ns()
{
    u8 values[6] {};
    if (cmos_read(0x0a) == 0xff && cmos_read(0x0b) == 0xff)
        return 0; // no RTC on this machine (QEMU microvm with rtc=off): the bus floats
    for (int attempt = 0; attempt < 5; ++attempt) {
        for (int spin = 0; spin < 100000 && (cmos_read(0x0a) & 0x80); ++spin) { } // update in progress
        u8 first[6] = { cmos_read(0x00), cmos_read(0x02), cmos_read(0x04), cmos_read(0x07), cmos_read(0x08), cmos_read(0x09) };
        u8 second[6] = { cmos_read(0x00), cmos_read(0x02), cmos_read(0x04), cmos_read(0x07), cmos_read(0x08), cmos_read(0x09) };
        if (__builtin_memcmp(first, second, sizeof(first)) == 0) {
            __builtin_memcpy(values, first, sizeof(values));
            break;
        }
    }
    u8 status_b = cmos_read(0x0b);
    bool binary = status_b & 0x04;
    u64 second = from_bcd(values[0], binary);
    u64 minute = from_bcd(values[1], binary);
    u64 hour = from_bcd(values[2] & 0x7f, binary);
    if (!(status_b & 0x02) && (values[2] & 0x80))
        hour = (hour % 12) + 12; // 12-hour mode, PM
    u64 day = from_bcd(values[3], binary);
    u64 month = from_bcd(values[4], binary);
    u64 year = 2000 + from_bcd(values[5], binary);
    if (second > 59 || minute > 59 || hour > 23 || day < 1 || day > 31 || month < 1 || month > 12)
        return 0;
    i64 days = days_from_civil(static_cast<i64>(year), month, day);
    return static_cast<u64>(days * 86400 + static_cast<i64>(hour * 3600 + minute * 60 + second)) * 1'000'000'000;
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
