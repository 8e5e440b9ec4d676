// Clocks and sleeps: clock_gettime, clock_getres, gettimeofday, time, nanosleep, clock_nanosleep, times.
// CLOCK_MONOTONIC is the kernel's TSC clock; CLOCK_REALTIME is the host's wall clock at boot plus it.
// CPU-time clocks count wall time since the program started (one CPU, no accounting per thread yet).
#include <kernel/process/output.h>
#include <kernel/process/user_memory.h>
#include <kernel/sched/scheduler.h>
#include <kernel/syscalls/handlers.h>
#include <kernel/time/clock.h>
#include <platform/platform.h>

namespace kernite::syscalls {

using namespace process;

namespace {

constexpr u64 ns_per_second = 1'000'000'000;
constexpr i64 clock_realtime = 0, clock_monotonic = 1, clock_process_cputime = 2, clock_thread_cputime = 3,
              clock_monotonic_raw = 4, clock_realtime_coarse = 5, clock_monotonic_coarse = 6, clock_boottime = 7,
              clock_realtime_alarm = 8, clock_boottime_alarm = 9, clock_tai = 11;
constexpr u64 timer_abstime = 1;

struct LinuxTimespec {
    i64 seconds;
    i64 nanoseconds;
};
struct LinuxTimeval {
    i64 seconds;
    i64 microseconds;
};

ErrorOr<u64> clock_now(i64 clock)
{
    switch (clock) {
    case clock_realtime:
    case clock_realtime_coarse:
    case clock_realtime_alarm:
    case clock_tai:
        return time::realtime_ns();
    case clock_monotonic:
    case clock_monotonic_raw:
    case clock_monotonic_coarse:
    case clock_boottime:
    case clock_boottime_alarm:
    case clock_process_cputime:
    case clock_thread_cputime:
        return time::monotonic_ns();
    default:
        return Error::from_errno(EINVAL, "unknown clock");
    }
}

LinuxTimespec to_timespec(u64 ns) { return { static_cast<i64>(ns / ns_per_second), static_cast<i64>(ns % ns_per_second) }; }

ErrorOr<u64> read_duration(u64 address)
{
    auto value = TRY(UserPtr<LinuxTimespec>(address).read());
    if (value.seconds < 0 || value.nanoseconds < 0 || value.nanoseconds >= static_cast<i64>(ns_per_second))
        return Error::from_errno(EINVAL, "bad timespec");
    if (static_cast<u64>(value.seconds) > (~u64(0) / 2) / ns_per_second)
        return ~u64(0) / 2;
    return static_cast<u64>(value.seconds) * ns_per_second + static_cast<u64>(value.nanoseconds);
}

void sleep(u64 ns)
{
    output::flush(); // about to be idle: what the program printed goes out now
    sched::sleep_ns(ns);
}

} // namespace

Result sys_clock_gettime(Arguments& arguments)
{
    u64 now = TRY(clock_now(static_cast<i64>(arguments.a0)));
    TRY(UserPtr<LinuxTimespec>(arguments.a1).write(to_timespec(now)));
    return u64(0);
}

Result sys_clock_getres(Arguments& arguments)
{
    TRY(clock_now(static_cast<i64>(arguments.a0)));
    if (arguments.a1)
        TRY(UserPtr<LinuxTimespec>(arguments.a1).write(LinuxTimespec { 0, 1 }));
    return u64(0);
}

Result sys_gettimeofday(Arguments& arguments)
{
    if (arguments.a0) {
        u64 now = time::realtime_ns();
        TRY(UserPtr<LinuxTimeval>(arguments.a0).write(
            LinuxTimeval { static_cast<i64>(now / ns_per_second), static_cast<i64>(now % ns_per_second / 1000) }));
    }
    if (arguments.a1) {
        u64 zero[1] = { 0 }; // struct timezone: UTC
        TRY(copy_to_user(arguments.a1, zero, 8));
    }
    return u64(0);
}

Result sys_time(Arguments& arguments)
{
    u64 seconds = time::realtime_ns() / ns_per_second;
    if (arguments.a0)
        TRY(UserPtr<u64>(arguments.a0).write(seconds));
    return seconds;
}

Result sys_nanosleep(Arguments& arguments)
{
    u64 ns = TRY(read_duration(arguments.a0));
    sleep(ns);
    return u64(0);
}

Result sys_clock_nanosleep(Arguments& arguments)
{
    i64 clock = static_cast<i64>(arguments.a0);
    if (clock == clock_thread_cputime)
        return Error::from_errno(EINVAL, "clock_nanosleep on a thread CPU clock");
    u64 now = TRY(clock_now(clock));
    u64 ns = TRY(read_duration(arguments.a2));
    if (arguments.a1 & timer_abstime)
        ns = ns > now ? ns - now : 0;
    sleep(ns);
    return u64(0);
}

Result sys_times(Arguments& arguments)
{
    // Clock ticks (AT_CLKTCK = 100) since boot; user and system time not accounted separately yet.
    u64 ticks = time::monotonic_ns() / (ns_per_second / 100);
    if (arguments.a0) {
        u64 buffer[4] = { ticks, 0, 0, 0 };
        TRY(copy_to_user(arguments.a0, buffer, sizeof(buffer)));
    }
    return ticks;
}

} // namespace kernite::syscalls
