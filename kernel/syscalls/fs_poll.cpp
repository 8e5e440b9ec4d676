// Pipes and readiness: pipe/pipe2, poll/ppoll, select/pselect6. Readiness follows Linux's pipe_poll (fs/pipe.c):
// a read end is POLLIN only with bytes buffered and POLLHUP once no writer is left; a write end is POLLOUT with
// room and POLLERR once no reader is left. select(2) counts POLLHUP and POLLERR as ready (fs/select.c,
// POLLIN_SET/POLLOUT_SET). Waits sleep on fs::waiters(); with stdin among the fds they are paced instead
// (kernel/fs/blocking.cpp), since no interrupt announces the host's input.
#include <arch/x86_64/cpu.h>
#include <kernel/process/input.h>
#include <kernel/process/output.h>
#include <kernel/syscalls/fs_common.h>
#include <kernel/time/clock.h>

namespace kernite::syscalls {

using namespace files;

namespace {

struct PollFd {
    i32 fd;
    i16 events;
    i16 revents;
};
constexpr i16 pollin = 1, pollout = 4, pollerr = 8, pollhup = 0x10, pollnval = 0x20, pollrdnorm = 0x40,
              pollwrnorm = 0x100;

// Linux's mask for one fd: what it is ready for among `events`, plus POLLERR/POLLHUP whatever was asked.
i16 poll_state(OpenFile& file, i16 events)
{
    i16 state = 0;
    if ((events & (pollin | pollrdnorm)) && fs::readable(file))
        state |= events & (pollin | pollrdnorm);
    if ((events & (pollout | pollwrnorm)) && file.writable())
        state |= events & (pollout | pollwrnorm);
    if (file.hung_up())
        state |= file.kind() == OpenFile::Kind::PipeWrite ? pollerr : pollhup;
    return state;
}

constexpr u64 no_deadline = ~u64(0);

// Waits until `ready(stdin_pending)` counts something or the deadline (TSC; 0: no wait, no_deadline: forever)
// passes. `ready` sets stdin_pending when it polled a stdin that had nothing yet.
template<typename Ready>
ErrorOr<u64> wait_ready(u64 deadline_tsc, Ready ready)
{
    fs::FsLock lock;
    for (;;) {
        bool stdin_pending = false;
        u64 count = TRY(ready(stdin_pending));
        if (count || deadline_tsc == 0)
            return count;
        u64 now = arch::read_tsc();
        if (deadline_tsc != no_deadline && now >= deadline_tsc)
            return u64(0);
        process::output::flush();
        if (stdin_pending) {
            // The host waits for input a little, then other threads get a millisecond.
            if (process::input::wait(fs::stdin_host_wait_ns))
                continue;
            u64 pause = time::tsc_deadline_after_ns(1'000'000);
            (void)fs::waiters().wait_locked_until(pause < deadline_tsc ? pause : deadline_tsc);
        } else if (deadline_tsc == no_deadline) {
            fs::waiters().wait_locked();
        } else if (!fs::waiters().wait_locked_until(deadline_tsc)) {
            return ready(stdin_pending);
        }
    }
}

ErrorOr<u64> poll_common(u64 fds_address, u64 count, u64 deadline_tsc)
{
    if (count > vfs::FdTable::max_fds)
        return Error::from_errno(EINVAL, "too many poll descriptors");
    auto* fds = static_cast<PollFd*>(ktl::allocate((count ? count : 1) * sizeof(PollFd)));
    if (!fds)
        return Error::from_errno(ENOMEM, "out of memory");
    ErrorOr<u64> result = u64(0);
    if (auto copied = copy_from_user(fds, fds_address, count * sizeof(PollFd)); copied.is_error()) {
        result = copied.release_error();
    } else {
        result = wait_ready(deadline_tsc, [&](bool& stdin_pending) -> ErrorOr<u64> {
            u64 ready = 0;
            for (u64 i = 0; i < count; ++i) {
                fds[i].revents = 0;
                if (fds[i].fd < 0)
                    continue;
                auto file = fs::fds().get(fds[i].fd);
                fds[i].revents = file.is_error() ? pollnval : poll_state(*file.value(), fds[i].events);
                if (fds[i].revents)
                    ++ready;
                else if (!file.is_error() && fs::is_stdin(*file.value()))
                    stdin_pending = true;
            }
            return ready;
        });
        if (!result.is_error())
            if (auto copied_out = copy_to_user(fds_address, fds, count * sizeof(PollFd)); copied_out.is_error())
                result = copied_out.release_error();
    }
    ktl::deallocate(fds);
    return result;
}

u64 deadline_after_ns(u64 ns) { return ns == 0 ? 0 : time::tsc_deadline_after_ns(ns); }

ErrorOr<u64> deadline_from_timespec(u64 address)
{
    if (!address)
        return no_deadline;
    auto value = TRY(UserPtr<lx::LinuxTimespec>(address).read());
    if (value.tv_sec < 0 || value.tv_nsec < 0 || value.tv_nsec >= 1'000'000'000)
        return Error::from_errno(EINVAL, "bad timeout");
    return deadline_after_ns(static_cast<u64>(value.tv_sec) * 1'000'000'000 + static_cast<u64>(value.tv_nsec));
}

constexpr int max_select_fds = 1024; // FD_SETSIZE

ErrorOr<u64> select_common(int nfds, u64 read_set, u64 write_set, u64 except_set, u64 deadline_tsc)
{
    if (nfds < 0 || nfds > max_select_fds)
        return Error::from_errno(EINVAL, "nfds");
    u64 words = (static_cast<u64>(nfds) + 63) / 64;
    u64 in_read[16] {}, in_write[16] {}, in_except[16] {};
    if (read_set)
        TRY(copy_from_user(in_read, read_set, words * 8));
    if (write_set)
        TRY(copy_from_user(in_write, write_set, words * 8));
    if (except_set)
        TRY(copy_from_user(in_except, except_set, words * 8));
    u64 out_read[16] {}, out_write[16] {};
    auto count = TRY(wait_ready(deadline_tsc, [&](bool& stdin_pending) -> ErrorOr<u64> {
        u64 ready = 0;
        __builtin_memset(out_read, 0, sizeof(out_read));
        __builtin_memset(out_write, 0, sizeof(out_write));
        for (int fd = 0; fd < nfds; ++fd) {
            u64 bit = 1ull << (fd % 64);
            bool want_read = in_read[fd / 64] & bit, want_write = in_write[fd / 64] & bit;
            if (!want_read && !want_write && !(in_except[fd / 64] & bit))
                continue;
            auto file = fs::fds().get(fd);
            if (file.is_error())
                return Error::from_errno(EBADF, "bad descriptor in select set");
            i16 state = poll_state(*file.value(), pollin | pollout);
            if (want_read && (state & (pollin | pollhup | pollerr))) {
                out_read[fd / 64] |= bit;
                ++ready;
            } else if (want_read && fs::is_stdin(*file.value())) {
                stdin_pending = true;
            }
            if (want_write && (state & (pollout | pollerr))) {
                out_write[fd / 64] |= bit;
                ++ready;
            }
        }
        return ready;
    }));
    u64 none[16] {};
    if (read_set)
        TRY(copy_to_user(read_set, out_read, words * 8));
    if (write_set)
        TRY(copy_to_user(write_set, out_write, words * 8));
    if (except_set)
        TRY(copy_to_user(except_set, none, words * 8));
    return count;
}

} // namespace

Result sys_pipe2(Arguments& arguments)
{
    fs::FsLock lock;
    auto ends = TRY(fs::tree().create_pipe(static_cast<u32>(arguments.a1), fs::pipe_wake_hook()));
    bool cloexec = arguments.a1 & lx::o_cloexec;
    auto& table = fs::fds();
    auto read_fd = table.install(*ends.read_end, cloexec);
    auto write_fd = read_fd.is_error() ? ErrorOr<int>(Error::from_errno(EMFILE, "no fd"))
                                       : table.install(*ends.write_end, cloexec);
    ends.read_end->unref(); // the table holds its own references
    ends.write_end->unref();
    if (read_fd.is_error())
        return read_fd.release_error();
    if (write_fd.is_error()) {
        (void)table.close(read_fd.value());
        return write_fd.release_error();
    }
    i32 fds[2] = { read_fd.value(), write_fd.value() };
    if (auto copied = copy_to_user(arguments.a0, fds, sizeof(fds)); copied.is_error()) {
        (void)table.close(fds[0]);
        (void)table.close(fds[1]);
        return copied.release_error();
    }
    return u64(0);
}

Result sys_pipe(Arguments& arguments)
{
    Arguments forwarded { arguments.a0, 0, 0, 0, 0, 0, arguments.frame };
    return sys_pipe2(forwarded);
}

Result sys_poll(Arguments& arguments)
{
    i32 timeout_ms = static_cast<i32>(arguments.a2);
    u64 deadline = timeout_ms < 0 ? no_deadline : deadline_after_ns(static_cast<u64>(timeout_ms) * 1'000'000);
    return poll_common(arguments.a0, arguments.a1, deadline);
}

Result sys_ppoll(Arguments& arguments)
{
    u64 deadline = TRY(deadline_from_timespec(arguments.a2));
    return poll_common(arguments.a0, arguments.a1, deadline);
}

Result sys_select(Arguments& arguments)
{
    u64 deadline = no_deadline;
    if (arguments.a4) {
        struct Timeval {
            i64 seconds, microseconds;
        };
        auto value = TRY(UserPtr<Timeval>(arguments.a4).read());
        if (value.seconds < 0 || value.microseconds < 0)
            return Error::from_errno(EINVAL, "bad timeout");
        deadline = deadline_after_ns(
            static_cast<u64>(value.seconds) * 1'000'000'000 + static_cast<u64>(value.microseconds) * 1000);
    }
    return select_common(static_cast<int>(arguments.a0), arguments.a1, arguments.a2, arguments.a3, deadline);
}

Result sys_pselect6(Arguments& arguments)
{
    u64 deadline = TRY(deadline_from_timespec(arguments.a4));
    return select_common(static_cast<int>(arguments.a0), arguments.a1, arguments.a2, arguments.a3, deadline);
}

} // namespace kernite::syscalls
