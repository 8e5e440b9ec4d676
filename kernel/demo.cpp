// The demo `kernite run` boots without a program: a self-check of what the kernel just set up, printed on
// stdout, ending in "kernite: demo ok" (tests/guest rely on that line) and exit 0.
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <kernel/debug/symbols.h>
#include <kernel/demo.h>
#include <kernel/lib/format.h>
#include <kernel/lib/log.h>
#include <kernel/mm/heap.h>
#include <kernel/mm/memory.h>
#include <kernel/security/kasan.h>
#include <kernel/sched/scheduler.h>
#include <kernel/time/clock.h>
#include <platform/platform.h>

namespace kernite {

namespace {

// Time and thread self-checks (kernel/sched, kernel/time). Each is bounded: a failure prints FAIL, never hangs.
constexpr int ping_pong_rounds = 100;
constexpr u64 sleep_check_ns = 200'000;
constexpr u64 preemption_slice_ns = 100'000;  // short slice for the check, so it costs ~0.1 ms, not 10 ms
// The debug kernel (KASAN: a runtime call on every load and store) runs its ring-0 code several times slower,
// and ring 0 is emulated where we test (docs/platform-notes.md): its time limits get this much slack.
constexpr u64 timing_slack = kasan::enabled ? 10 : 1;
constexpr u64 busy_give_up_ns = 50'000'000 * timing_slack; // the busy thread stops spinning after this (a FAIL, no hang)

struct PingPong {
    sched::WaitQueue queue;
    int turn { 0 };
    int exchanges { 0 };
};
PingPong g_ping_pong;

// Player `argument` (0 or 1) waits for its turn, hands it over, N times; returns how many turns it played.
int ping_pong_player(void* argument)
{
    int const me = static_cast<int>(reinterpret_cast<uptr>(argument));
    int played = 0;
    for (int round = 0; round < ping_pong_rounds; ++round) {
        g_ping_pong.queue.wait_until([&] { return g_ping_pong.turn == me; });
        ++g_ping_pong.exchanges;
        ++played;
        g_ping_pong.turn = 1 - me;
        g_ping_pong.queue.wake_one();
    }
    return played;
}

bool volatile g_preempted_flag;

// Never yields: only the timer can let the other thread run and set the flag. Returns 1 if it saw the flag.
int busy_thread(void*)
{
    u64 give_up = time::tsc_deadline_after_ns(busy_give_up_ns);
    while (!g_preempted_flag && arch::read_tsc() < give_up)
        arch::pause();
    return g_preempted_flag ? 1 : 0;
}

int flag_setter_thread(void*)
{
    g_preempted_flag = true;
    return 0;
}

// Creates the threads, runs them to completion, returns the exit statuses (-1 where creation failed).
template<usize N>
void run_threads(char const* const (&names)[N], sched::ThreadEntry const (&entries)[N], void* const (&arguments)[N], int (&statuses)[N])
{
    sched::Thread* threads[N] {};
    for (usize i = 0; i < N; ++i) {
        auto thread = sched::create_thread(names[i], entries[i], arguments[i]);
        threads[i] = thread.is_error() ? nullptr : thread.value();
    }
    for (usize i = 0; i < N; ++i)
        statuses[i] = threads[i] ? sched::join(threads[i]) : -1;
}

template<typename Check>
void check_time_and_threads(Check check)
{
    char what[96];
    u64 start = time::monotonic_ns();
    u64 now = start;
    for (int spins = 0; spins < 1'000'000 && now == start; ++spins)
        now = time::monotonic_ns();
    check(now > start, "the monotonic clock advances");

    start = time::monotonic_ns();
    sched::sleep_ns(sleep_check_ns);
    u64 slept = time::monotonic_ns() - start;
    format(what, sizeof(what), "a 200 us sleep took %lu us", slept / time::ns_per_us);
    check(slept >= sleep_check_ns && slept <= 20 * timing_slack * time::ns_per_ms, what);

    int statuses[2];
    run_threads({ "ping", "pong" }, { ping_pong_player, ping_pong_player },
        { reinterpret_cast<void*>(0), reinterpret_cast<void*>(1) }, statuses);
    format(what, sizeof(what), "two threads ping-pong %d times through a wait queue and join", ping_pong_rounds);
    check(statuses[0] == ping_pong_rounds && statuses[1] == ping_pong_rounds
            && g_ping_pong.exchanges == 2 * ping_pong_rounds,
        what);

    u64 preemptions = sched::statistics().preemptions;
    u64 previous_slice = sched::set_time_slice_ns(preemption_slice_ns);
    run_threads({ "busy", "setter" }, { busy_thread, flag_setter_thread }, { nullptr, nullptr }, statuses);
    sched::set_time_slice_ns(previous_slice);
    check(statuses[0] == 1 && statuses[1] == 0 && sched::statistics().preemptions > preemptions,
        "a preempted busy thread lets another run");
}

} // namespace

int run_demo()
{
    int failures = 0;
    auto check = [&](bool ok, char const* what) {
        kout("  [%s] %s\n", ok ? " ok " : "FAIL", what);
        if (!ok)
            ++failures;
    };
    kout("Hello from Kernite on %s.\n", platform::name());
    auto stats = mm::statistics();
    check(stats.wx_leaves == 0, "no page is writable and executable");
    check(stats.null_guard_leaves == 0, "the first 64 KiB are unmapped");
    check(mm::ro_after_init_sealed(), "ro-after-init data is sealed read-only");
    check(debug::symbol_count() > 0, "kernel symbols are in the image");

    auto allocation = mm::kmalloc(100);
    check(!allocation.is_error(), "the kernel heap allocates");
    if (!allocation.is_error())
        mm::kfree(allocation.value());

    check_time_and_threads(check);
    auto scheduler = sched::statistics();
    kout("  time: %s %s timer, %lu threads, %lu switches, %lu preemptions, %lu timer interrupts\n",
        arch::apic::mode_name(), arch::apic::timer_mode_name(), scheduler.threads_created,
        scheduler.context_switches, scheduler.preemptions, scheduler.timer_interrupts);
    kout("  memory: %lu KiB usable, %lu KiB free, %lu page-table leaves\n", stats.total_frames * 4,
        stats.free_frames * 4, stats.leaves);
    if (failures != 0) {
        klog("demo: %d self-checks failed", failures);
        return 1;
    }
    kout("kernite: demo ok\n");
    return 0;
}

} // namespace kernite
