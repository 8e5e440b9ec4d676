// Blocking reads and writes over libs/vfs, which never blocks (it answers EAGAIN): pipes sleep on waiters()
// until the pipe changes; stdin, which has no interrupt, waits in the host for a bounded time per hypercall
// (stdin_host_wait_ns) and lets other threads run between waits. The program's pending output goes to the host
// before any wait, so a prompt is seen before the program blocks on its answer.
#include <kernel/fs/filesystem.h>
#include <kernel/process/input.h>
#include <kernel/process/output.h>
#include <kernel/time/clock.h>

namespace kernite::fs {

namespace {

bool would_block(ErrorOr<usize> const& result) { return result.is_error() && result.error().code() == EAGAIN; }

// Called with FsLock held, so no wake between the failed attempt and the sleep is lost.
void wait_for_change(vfs::OpenFile& file)
{
    process::output::flush();
    if (!is_stdin(file)) {
        waiters().wait_locked();
        return;
    }
    if (process::input::wait(stdin_host_wait_ns))
        return;
    // Nothing arrived: give other threads a millisecond before asking the host again.
    (void)waiters().wait_locked_until(time::tsc_deadline_after_ns(1'000'000));
}

} // namespace

ErrorOr<usize> read(vfs::OpenFile& file, u8* buffer, usize length)
{
    for (;;) {
        auto got = file.read(buffer, length);
        if (!would_block(got) || file.is_nonblocking())
            return got;
        wait_for_change(file);
    }
}

ErrorOr<usize> write(vfs::OpenFile& file, u8 const* buffer, usize length)
{
    usize done = 0;
    for (;;) {
        auto wrote = file.write(buffer + done, length - done);
        if (would_block(wrote) && !file.is_nonblocking()) {
            wait_for_change(file);
            continue;
        }
        if (wrote.is_error()) {
            if (done)
                return done;
            return wrote.release_error();
        }
        done += wrote.value();
        // A blocking pipe write moves everything (pipe(7)); other files return what they took.
        if (done == length || !file.is_pipe() || file.is_nonblocking() || wrote.value() == 0)
            return done;
    }
}

bool readable(vfs::OpenFile& file)
{
    if (is_stdin(file))
        return process::input::ready();
    return file.readable();
}

} // namespace kernite::fs
