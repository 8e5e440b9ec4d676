#include <arch/x86_64/interrupts_disabled.h>
#include <kernel/process/output.h>
#include <platform/platform.h>

namespace kernite::process::output {

namespace {

// 64 KiB: a few hundred lines of output per exit. In the image (platform::output_write needs contiguous frames).
constexpr usize buffer_size = 64 * 1024;
alignas(8) u8 g_buffer[buffer_size];
usize g_used;
// The last record, extended while the same stream keeps writing.
usize g_last_record = ~usize(0);

void flush_locked()
{
    if (g_used == 0)
        return;
    platform::output_write(g_buffer, g_used);
    g_used = 0;
    g_last_record = ~usize(0);
}

} // namespace

void write(abi::ConsoleStream stream, u8 const* data, usize length)
{
    arch::InterruptsDisabled guard;
    while (length > 0) {
        abi::OutputRecord* record = nullptr;
        if (g_last_record != ~usize(0)) {
            record = reinterpret_cast<abi::OutputRecord*>(g_buffer + g_last_record);
            if (record->stream != static_cast<u32>(stream))
                record = nullptr;
        }
        if (!record) {
            usize start = ktl::align_up_const(g_used, 8);
            if (start + sizeof(abi::OutputRecord) + 1 > buffer_size) {
                flush_locked();
                continue;
            }
            g_used = start + sizeof(abi::OutputRecord);
            g_last_record = start;
            record = reinterpret_cast<abi::OutputRecord*>(g_buffer + start);
            record->stream = static_cast<u32>(stream);
            record->length = 0;
        }
        usize room = buffer_size - g_used;
        if (room == 0) {
            flush_locked();
            continue;
        }
        usize chunk = length < room ? length : room;
        __builtin_memcpy(g_buffer + g_used, data, chunk);
        g_used += chunk;
        record->length += static_cast<u32>(chunk);
        data += chunk;
        length -= chunk;
    }
}

void flush()
{
    arch::InterruptsDisabled guard;
    flush_locked();
}

} // namespace kernite::process::output
