// The kernel thread scheduler: one CPU, round robin, preemptive (a timer interrupt ends a time slice when
// another thread is runnable) and tickless (the timer is armed only for the next sleeper or slice end).
#pragma once

#include <kernel/sched/thread.h>
#include <kernel/sched/wait_queue.h>
#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::sched {

inline constexpr u64 default_time_slice_ns = 10'000'000;
// Guarded stacks. Each mapped page costs page-table writes (traps under shadow paging), so keep them small:
// 16 KiB as on Linux x86-64; the idle thread only runs its loop and the timer interrupt.
inline constexpr u64 thread_stack_pages = 4;
inline constexpr u64 idle_stack_pages = 2;

// Makes the running boot code thread 0 and creates the idle thread. Needs the heap, the clock and the timer.
ErrorOr<void> initialize();

// A new runnable thread that will call entry(argument); its return value is the exit status.
ErrorOr<Thread*> create_thread(char const* name, ThreadEntry entry, void* argument);

// A thread that will run a program: `entry` prepares its user state in arch::user_frame(stack top) (the top of
// its kernel stack is kept free for it) and calls arch::enter_user. Detached: freed by the scheduler after it
// exits. `fpu_area` (arch::fpu_state_size bytes, 16-aligned) must stay valid until the thread has exited.
ErrorOr<Thread*> create_user_thread(char const* name, ThreadEntry entry, void* argument, u8* fpu_area,
    u64 fs_base, void* user_context);
// Before a user thread exits: forget its FPU area and user context (interrupts off; the caller frees them next).
void drop_user_state();
// The current thread's TLS base (arch_prctl ARCH_SET_FS): loaded now and on every switch to it.
void set_fs_base(u64 value);

// Gives the CPU to the next runnable thread, if any.
void yield();
// Blocks the current thread for at least `ns` nanoseconds.
void sleep_ns(u64 ns);
// Ends the current thread (not the boot thread) with `status`, which join() returns.
[[noreturn]] void exit_thread(int status);
// Waits for `thread` to exit, frees it and returns its exit status. Exactly one join per thread.
int join(Thread* thread);

Thread* current_thread(); // null before initialize()

// Preemption interval when other threads are runnable. Returns the previous value.
u64 set_time_slice_ns(u64 ns);
// Isolation `none`: while a program thread runs, keep a timer armed at most `ns` ahead (0: off, the default), so
// that a program's `hlt` cannot halt the CPU for good (arch/x86_64/user_mode.cpp). Set once at program start.
void set_program_halt_watchdog_ns(u64 ns);

// Called by the timer interrupt (kernel/time/timer.cpp) with interrupts off: wakes due sleepers, preempts
// the current thread at the end of its slice, re-arms the timer.
void handle_timer_interrupt(u64 now_tsc);

struct Statistics {
    u64 context_switches;
    u64 preemptions;
    u64 timer_interrupts;
    u64 threads_created;
};
Statistics statistics();

} // namespace kernite::sched
