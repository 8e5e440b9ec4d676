// Clocks and sleeps (issue 3 item 2): clock_gettime on the clocks programs use, clock_getres, gettimeofday and
// time agreeing with CLOCK_REALTIME, nanosleep and clock_nanosleep sleeping at least as long as asked.
// Only relations are printed (monotonic, at least, agrees), never a time: the output is the same on every run.
#include "check.h"

#include <stdint.h>
#include <sys/time.h>
#include <time.h>

static int64_t nanoseconds(struct timespec t) { return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }

static int64_t now(clockid_t clock)
{
    struct timespec t = { 0, 0 };
    clock_gettime(clock, &t);
    return nanoseconds(t);
}

int main(void)
{
    // Every clock a libc or a program commonly asks for answers (clock() and Lua's os.clock() use the process
    // CPU-time clock, many event loops the coarse and boot-time ones).
    static struct {
        clockid_t id;
        char const* name;
    } const clocks[] = {
        { CLOCK_REALTIME, "CLOCK_REALTIME" },
        { CLOCK_MONOTONIC, "CLOCK_MONOTONIC" },
        { CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID" },
        { CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID" },
        { CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW" },
        { CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE" },
        { CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE" },
        { CLOCK_BOOTTIME, "CLOCK_BOOTTIME" },
    };
    for (size_t i = 0; i < sizeof(clocks) / sizeof(clocks[0]); ++i) {
        struct timespec t = { -1, -1 };
        struct timespec resolution = { -1, -1 };
        int const got = clock_gettime(clocks[i].id, &t);
        int const res = clock_getres(clocks[i].id, &resolution);
        int const sane = got == 0 && t.tv_sec >= 0 && t.tv_nsec >= 0 && t.tv_nsec < 1000000000;
        int const fine = res == 0 && nanoseconds(resolution) > 0 && nanoseconds(resolution) <= 10000000;
        CHECK(sane && fine, "%s", clocks[i].name);
        printf("%s: gettime %s, resolution %s\n", clocks[i].name, sane ? "ok" : "FAILED",
            fine ? "at most 10 ms" : "FAILED");
    }
    errno = 0;
    struct timespec ignored;
    CHECK(clock_gettime((clockid_t)1000, &ignored) == -1 && errno == EINVAL, "an unknown clock is EINVAL");
    printf("unknown clock id: %s\n", errno_name(errno));

    // CLOCK_REALTIME is a date after 2020 and before 2200.
    struct timespec real;
    clock_gettime(CLOCK_REALTIME, &real);
    CHECK(real.tv_sec > 1577836800 && real.tv_sec < 7258118400, "realtime plausible");
    printf("realtime: after 2020-01-01\n");

    // gettimeofday, time and CLOCK_REALTIME tell the same time (read in increasing order, so each is at most
    // a little later than the one before).
    struct timeval tv;
    struct timespec before;
    clock_gettime(CLOCK_REALTIME, &before);
    CHECK(gettimeofday(&tv, NULL) == 0, "gettimeofday");
    time_t const seconds = time(NULL);
    int64_t const tv_ns = (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
    CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000, "tv_usec in range");
    CHECK(tv_ns >= nanoseconds(before) / 1000 * 1000 && tv_ns - nanoseconds(before) < 1000000000,
        "gettimeofday agrees with CLOCK_REALTIME");
    CHECK(seconds >= tv.tv_sec && seconds - tv.tv_sec <= 1, "time() agrees with gettimeofday");
    printf("gettimeofday, time() and CLOCK_REALTIME agree\n");

    // CLOCK_MONOTONIC never goes back.
    int64_t previous = now(CLOCK_MONOTONIC);
    int backwards = 0;
    for (int i = 0; i < 1000; ++i) {
        int64_t const current = now(CLOCK_MONOTONIC);
        backwards += current < previous;
        previous = current;
    }
    CHECK(backwards == 0, "monotonic went back %d times", backwards);
    printf("monotonic: 1000 reads, never backwards\n");

    // nanosleep(10 ms) sleeps at least 10 ms, and not absurdly long.
    int64_t start = now(CLOCK_MONOTONIC);
    struct timespec ten_ms = { 0, 10 * 1000 * 1000 };
    CHECK(nanosleep(&ten_ms, NULL) == 0, "nanosleep");
    int64_t slept = now(CLOCK_MONOTONIC) - start;
    CHECK(slept >= 10000000 && slept < 5000000000, "nanosleep 10 ms slept %lld ns", (long long)slept);
    printf("nanosleep 10 ms: slept at least 10 ms\n");
    CHECK(now(CLOCK_MONOTONIC) > start, "monotonic advanced across the sleep");

    // clock_nanosleep, relative and absolute.
    start = now(CLOCK_MONOTONIC);
    struct timespec five_ms = { 0, 5 * 1000 * 1000 };
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &five_ms, NULL) == 0, "clock_nanosleep relative");
    slept = now(CLOCK_MONOTONIC) - start;
    CHECK(slept >= 5000000, "relative clock_nanosleep slept %lld ns", (long long)slept);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    int64_t const target = nanoseconds(deadline) + 15 * 1000 * 1000;
    deadline.tv_sec = target / 1000000000;
    deadline.tv_nsec = target % 1000000000;
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == 0, "clock_nanosleep absolute");
    CHECK(now(CLOCK_MONOTONIC) >= target, "woke after the absolute deadline");
    // A deadline in the past returns at once.
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == 0, "past deadline");
    printf("clock_nanosleep: relative 5 ms and an absolute deadline both honoured\n");

    // An invalid sleep is EINVAL (clock_nanosleep returns the error rather than setting errno).
    struct timespec invalid = { 0, 1000000000 };
    errno = 0;
    CHECK(nanosleep(&invalid, NULL) == -1 && errno == EINVAL, "nanosleep with tv_nsec = 1e9 is EINVAL");
    printf("nanosleep with tv_nsec 1000000000: %s\n", errno_name(errno));

    // Process CPU time advances while the program computes, and does not run ahead of the wall clock by much.
    int64_t const cpu_start = now(CLOCK_PROCESS_CPUTIME_ID);
    int64_t const wall_start = now(CLOCK_MONOTONIC);
    uint64_t volatile sink = 0;
    while (now(CLOCK_MONOTONIC) - wall_start < 30 * 1000 * 1000) {
        for (int i = 0; i < 10000; ++i)
            sink += (uint64_t)i * i;
    }
    int64_t const cpu_used = now(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
    int64_t const wall_used = now(CLOCK_MONOTONIC) - wall_start;
    CHECK(cpu_used > 0 && cpu_used <= wall_used + 20000000, "cpu %lld wall %lld", (long long)cpu_used,
        (long long)wall_used);
    printf("process CPU time: advanced during 30 ms of work, not past the wall clock\n");

    return check_summary("clocks");
}
