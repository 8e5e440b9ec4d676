#include <kernel/process/output.h>
#include <kernel/lib/format.h>
#include <kernel/lib/log.h>
#include <platform/platform.h>

namespace kernite {

void klog(char const* fmt, ...)
{
    char line[512];
    usize prefix = format(line, sizeof(line), "kernite: ");
    __builtin_va_list args;
    __builtin_va_start(args, fmt);
    usize length = prefix + vformat(line + prefix, sizeof(line) - prefix - 1, fmt, args);
    __builtin_va_end(args);
    line[length++] = '\n';
    process::output::flush(); // the program's buffered output first: the host sees both in order
    platform::console_write(abi::ConsoleStream::Stderr, line, length);
}

void kout(char const* fmt, ...)
{
    char line[512];
    __builtin_va_list args;
    __builtin_va_start(args, fmt);
    usize length = vformat(line, sizeof(line), fmt, args);
    __builtin_va_end(args);
    platform::console_write(abi::ConsoleStream::Stdout, line, length);
}

void kout_raw(char const* data, usize length) { platform::console_write(abi::ConsoleStream::Stdout, data, length); }

} // namespace kernite
