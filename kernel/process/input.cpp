#include <arch/x86_64/interrupts_disabled.h>
#include <kernel/process/input.h>
#include <platform/platform.h>

namespace kernite::process::input {

namespace {

// In the image: platform::input_read needs contiguous frames. Guarded by interrupts off (one CPU).
alignas(8) u8 g_buffer[abi::input_max_length];
usize g_head;
usize g_count;
bool g_end_of_file;

// Asks the host for a chunk. Returns EAGAIN (nothing yet) or EIO; success leaves g_count > 0 or end of file.
ErrorOr<void> refill(u64 wait_ns)
{
    i64 got = platform::input_read(g_buffer, sizeof(g_buffer), wait_ns);
    if (got == -EAGAIN)
        return Error::from_errno(EAGAIN, "no standard input yet");
    if (got < 0)
        return Error::from_errno(EIO, "the host's standard input failed");
    g_head = 0;
    g_count = static_cast<usize>(got);
    g_end_of_file = got == 0;
    return {};
}

} // namespace

ErrorOr<usize> read(u8* buffer, usize length)
{
    arch::InterruptsDisabled guard;
    if (length == 0)
        return usize(0);
    if (g_count == 0 && !g_end_of_file)
        TRY(refill(0));
    if (g_end_of_file && g_count == 0)
        return usize(0);
    usize n = length < g_count ? length : g_count;
    __builtin_memcpy(buffer, g_buffer + g_head, n);
    g_head += n;
    g_count -= n;
    return n;
}

bool wait(u64 wait_ns)
{
    arch::InterruptsDisabled guard;
    if (g_count > 0 || g_end_of_file)
        return true;
    auto refilled = refill(wait_ns);
    return !refilled.is_error() || refilled.error().code() != EAGAIN;
}

bool ready()
{
    arch::InterruptsDisabled guard;
    if (g_count > 0 || g_end_of_file)
        return true;
    auto refilled = refill(0);
    return !refilled.is_error() || refilled.error().code() != EAGAIN;
}

} // namespace kernite::process::input
