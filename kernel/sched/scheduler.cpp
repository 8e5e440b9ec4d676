// Round-robin preemptive scheduler for one CPU. The scheduler lock is "interrupts disabled": every queue
// below is touched only with IF=0, in thread context (InterruptsDisabled) or in the timer interrupt.
#include <arch/x86_64/context_switch.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/trap_frame.h>
#include <arch/x86_64/user_mode.h>
#include <kernel/lib/log.h>
#include <kernel/mm/heap.h>
#include <kernel/sched/scheduler.h>
#include <kernel/security/events.h>
#include <kernel/time/clock.h>
#include <kernel/time/timer.h>

#include <new>

namespace kernite::sched {

class Scheduler {
public:
    static void initialize_boot_thread(Thread&);
    static ErrorOr<Thread*> allocate(char const* name, ThreadEntry, void* argument, u64 stack_pages = thread_stack_pages,
        bool user = false);
    static void prepare(Thread&, mm::KernelStack const&, char const* name, ThreadEntry, void* argument, bool user);
    static bool block_on_until(ThreadQueue&, u64 deadline_tsc);
    static void remove_sleeper(Thread&);
    static void reap_detached();
    static void switch_user_state(Thread& next);
    static void make_runnable(Thread&);
    static void schedule();
    static void block_on(ThreadQueue&);
    static usize wake(ThreadQueue&, usize limit);
    static void add_sleeper(Thread&);
    static void wake_sleepers(u64 now);
    static void update_timer();
    [[noreturn]] static void idle_loop();
    static void preempt(u64 now);
    static int collect(Thread&);
    static void sleep_until(u64 deadline_tsc);
    [[noreturn]] static void exit_current(int status);
};

namespace {

Thread g_boot_thread;
// In static storage like the boot thread, so a boot that never starts a thread never sets up the heap (its first
// allocation is the dearest: docs/security-model.md "Where the security tax goes").
Thread g_idle_thread_storage;
Thread* g_idle_thread;
Thread* g_current;
ThreadQueue g_run_queue;
Thread* g_sleepers; // sorted by wake-up TSC, earliest first
u64 g_next_id = 1;
u64 g_slice_ticks;
Statistics g_statistics;
ThreadQueue g_detached_exited; // exited detached threads, freed by the next allocate()
Thread* g_fpu_owner;           // whose program FPU state is in the registers (the kernel never touches them)
u64 g_loaded_fs_base;
u64 g_halt_watchdog_ticks; // isolation `none` only (set_program_halt_watchdog_ns)

// Stacks of joined threads, kept for the next thread: mapping and unmapping a stack costs page-table work
// and TLB invalidations (each an exit under shadow paging), far more than the thread's whole life in the demo.
constexpr usize cached_stack_limit = 8;
mm::KernelStack g_cached_stacks[cached_stack_limit];
usize g_cached_stack_count;

ErrorOr<mm::KernelStack> take_stack(u64 pages)
{
    if (pages == thread_stack_pages && g_cached_stack_count > 0)
        return g_cached_stacks[--g_cached_stack_count];
    return mm::allocate_stack(pages);
}

void release_stack(mm::KernelStack const& stack)
{
    bool standard = stack.top - stack.bottom == thread_stack_pages * paging::page_size;
    if (standard && g_cached_stack_count < cached_stack_limit)
        g_cached_stacks[g_cached_stack_count++] = stack;
    else
        mm::free_stack(stack);
}

int idle_entry(void*) { Scheduler::idle_loop(); }

} // namespace

// A new thread with its guarded stack laid out for arch_thread_trampoline; not queued anywhere yet.
ErrorOr<Thread*> Scheduler::allocate(char const* name, ThreadEntry entry, void* argument, u64 stack_pages, bool user)
{
    // Neither the heap nor the page tables are preemption-safe yet: allocate with the scheduler lock held.
    InterruptsDisabled allocation_guard;
    reap_detached();
    auto stack = TRY(take_stack(stack_pages));
    auto memory = mm::kmalloc(sizeof(Thread));
    if (memory.is_error()) {
        release_stack(stack);
        return memory.release_error();
    }
    auto* thread = new (memory.value()) Thread;
    prepare(*thread, stack, name, entry, argument, user);
    return thread;
}

// Lays out `stack` for arch_thread_trampoline and names `thread` after it.
void Scheduler::prepare(Thread& thread, mm::KernelStack const& stack, char const* name, ThreadEntry entry,
    void* argument, bool user)
{
    thread.m_stack = stack;
    // A user thread's first kernel frame starts below the TrapFrame slot that ring-3 entries use (user_mode.h).
    u64 frames_top = user ? stack.top - ktl::align_up_const(sizeof(arch::TrapFrame), 16) : stack.top;
    thread.m_saved_rsp = arch::prepare_thread_stack(frames_top, entry, argument, exit_thread);
    thread.m_entry = entry;
    thread.m_argument = argument;
    usize i = 0;
    for (; name[i] && i < Thread::max_name_length; ++i)
        thread.m_name[i] = name[i];
    thread.m_name[i] = 0;
    thread.m_id = g_next_id++;
    ++g_statistics.threads_created;
}

void Scheduler::initialize_boot_thread(Thread& boot)
{
    boot.m_id = 0;
    __builtin_memcpy(boot.m_name, "boot", 5);
    boot.m_state = ThreadState::Running;
    boot.m_slice_end_tsc = arch::read_tsc() + g_slice_ticks;
    g_current = &boot;
}

void Scheduler::make_runnable(Thread& thread)
{
    thread.m_state = ThreadState::Runnable;
    g_run_queue.push_back(thread);
}

// The timer must fire at the earliest of: the first sleeper's wake-up, and the end of the current slice if
// someone else is waiting to run. Nothing else is armed: with a single runnable thread there are no ticks.
void Scheduler::update_timer()
{
    u64 deadline = ~u64(0);
    if (g_sleepers)
        deadline = g_sleepers->m_wake_tsc;
    if (!g_run_queue.is_empty() && g_current != g_idle_thread && g_current->m_slice_end_tsc < deadline)
        deadline = g_current->m_slice_end_tsc;
    if (g_halt_watchdog_ticks && g_current->m_user_context) {
        u64 watchdog = arch::read_tsc() + g_halt_watchdog_ticks;
        if (watchdog < deadline)
            deadline = watchdog;
    }
    if (deadline != ~u64(0))
        time::request_deadline(deadline);
}

// Switches to the next runnable thread (or idle). The current thread's state and queue membership were set
// by the caller. Interrupts are off and stay off until the thread we switch to restores its own state.
void Scheduler::schedule()
{
    VERIFY(!arch::interrupts_enabled());
    Thread* previous = g_current;
    Thread* next = g_run_queue.pop_front();
    if (!next)
        next = g_idle_thread;
    next->m_state = ThreadState::Running;
    next->m_slice_end_tsc = arch::read_tsc() + g_slice_ticks;
    g_current = next;
    update_timer();
    if (next == previous)
        return;
    ++g_statistics.context_switches;
    if (next->m_fpu_area)
        switch_user_state(*next);
    arch_context_switch(&previous->m_saved_rsp, next->m_saved_rsp);
}

// Ring-3 entries go to the next thread's kernel stack; its FPU state and TLS base are loaded, lazily: kernel
// threads never touch the FPU, so the registers keep the last program thread's state until another one runs.
void Scheduler::switch_user_state(Thread& next)
{
    arch::set_user_entry_stack(next.m_stack.top);
    if (g_fpu_owner != &next) {
        if (g_fpu_owner)
            arch::fpu_save(g_fpu_owner->m_fpu_area);
        arch::fpu_restore(next.m_fpu_area);
        g_fpu_owner = &next;
    }
    if (g_loaded_fs_base != next.m_fs_base) {
        arch::write_msr(arch::msr_fs_base, next.m_fs_base);
        g_loaded_fs_base = next.m_fs_base;
    }
}

bool Scheduler::block_on_until(ThreadQueue& queue, u64 deadline_tsc)
{
    Thread& self = *g_current;
    self.m_timed_out = false;
    self.m_wait_queue = &queue;
    queue.push_back(self);
    self.m_wake_tsc = deadline_tsc;
    add_sleeper(self);
    self.m_state = ThreadState::Blocked;
    schedule();
    return !self.m_timed_out;
}

void Scheduler::remove_sleeper(Thread& thread)
{
    for (Thread** link = &g_sleepers; *link; link = &(*link)->m_next_sleeper) {
        if (*link == &thread) {
            *link = thread.m_next_sleeper;
            thread.m_next_sleeper = nullptr;
            thread.m_in_sleep_list = false;
            return;
        }
    }
}

void Scheduler::reap_detached()
{
    while (Thread* thread = g_detached_exited.pop_front()) {
        VERIFY(thread != g_current && thread->m_state == ThreadState::Exited);
        if (g_fpu_owner == thread)
            g_fpu_owner = nullptr;
        release_stack(thread->m_stack);
        thread->~Thread();
        mm::kfree(thread);
    }
}

void Scheduler::block_on(ThreadQueue& queue)
{
    g_current->m_state = ThreadState::Blocked;
    queue.push_back(*g_current);
    schedule();
}

usize Scheduler::wake(ThreadQueue& queue, usize limit)
{
    usize woken = 0;
    while (woken < limit) {
        Thread* thread = queue.pop_front();
        if (!thread)
            break;
        if (thread->m_in_sleep_list)
            remove_sleeper(*thread);
        thread->m_wait_queue = nullptr;
        make_runnable(*thread);
        ++woken;
    }
    if (woken)
        update_timer(); // the running thread now has competition: its slice end matters
    return woken;
}

void Scheduler::add_sleeper(Thread& thread)
{
    thread.m_state = ThreadState::Sleeping;
    thread.m_in_sleep_list = true;
    Thread** link = &g_sleepers;
    while (*link && (*link)->m_wake_tsc <= thread.m_wake_tsc)
        link = &(*link)->m_next_sleeper;
    thread.m_next_sleeper = *link;
    *link = &thread;
}

void Scheduler::wake_sleepers(u64 now)
{
    while (g_sleepers && g_sleepers->m_wake_tsc <= now) {
        Thread* thread = g_sleepers;
        g_sleepers = thread->m_next_sleeper;
        thread->m_next_sleeper = nullptr;
        thread->m_in_sleep_list = false;
        if (thread->m_wait_queue) {
            // A timed wait that timed out: leave the wait queue too.
            thread->m_wait_queue->remove(*thread);
            thread->m_wait_queue = nullptr;
            thread->m_timed_out = true;
        }
        make_runnable(*thread);
    }
}

void Scheduler::preempt(u64 now)
{
    wake_sleepers(now);
    if (!g_run_queue.is_empty() && (g_current == g_idle_thread || now >= g_current->m_slice_end_tsc)) {
        if (g_current != g_idle_thread) {
            ++g_statistics.preemptions;
            make_runnable(*g_current);
        }
        schedule(); // returns when this thread is picked again; the interrupt then returns into it
        return;
    }
    update_timer();
}

// Runs when nothing else can. Halts only when a timer interrupt is sure to come: with every thread blocked
// and no deadline armed nothing could ever wake the CPU, and `hlt` would hang the VM for good (PLATFORM.md).
// Device interrupts, once drivers exist, will count as wake-up sources here too.
void Scheduler::idle_loop()
{
    for (;;) {
        arch::disable_interrupts();
        if (!g_run_queue.is_empty()) {
            schedule();
            continue;
        }
        if (!g_sleepers)
            security::stop(abi::EventType::Panic, "deadlock: every thread is blocked and no timer is armed");
        update_timer();
        VERIFY(time::timer_armed());
        // STI's interrupt shadow covers HLT: an interrupt pending now is taken after HLT, never lost
        // (SDM Vol. 2B STI).
        asm volatile("sti; hlt" ::: "memory");
    }
}

int Scheduler::collect(Thread& thread)
{
    InterruptsDisabled guard;
    VERIFY(&thread != g_current && &thread != &g_boot_thread && &thread != g_idle_thread);
    while (thread.m_state != ThreadState::Exited)
        block_on(thread.m_joiners);
    int status = thread.m_exit_status;
    // The thread switched away for the last time in exit_thread(): nothing runs on its stack any more.
    release_stack(thread.m_stack);
    thread.~Thread();
    mm::kfree(&thread);
    return status;
}

ErrorOr<void> initialize()
{
    VERIFY(!g_current);
    g_slice_ticks = time::ns_to_tsc(default_time_slice_ns);
    // The idle thread never waits in the run queue: schedule() falls back to it.
    {
        InterruptsDisabled guard; // the page tables are not preemption-safe (as in allocate)
        auto stack = TRY(mm::allocate_stack(idle_stack_pages));
        Scheduler::prepare(g_idle_thread_storage, stack, "idle", idle_entry, nullptr, false);
    }
    g_idle_thread = &g_idle_thread_storage;
    Scheduler::initialize_boot_thread(g_boot_thread);
    return {};
}

ErrorOr<Thread*> create_thread(char const* name, ThreadEntry entry, void* argument)
{
    VERIFY(g_current);
    Thread* thread = TRY(Scheduler::allocate(name, entry, argument));
    InterruptsDisabled guard;
    Scheduler::make_runnable(*thread);
    Scheduler::update_timer();
    return thread;
}

ErrorOr<Thread*> create_user_thread(char const* name, ThreadEntry entry, void* argument, u8* fpu_area, u64 fs_base,
    void* user_context)
{
    VERIFY(g_current && fpu_area);
    Thread* thread = TRY(Scheduler::allocate(name, entry, argument, thread_stack_pages, true));
    thread->m_fpu_area = fpu_area;
    thread->m_fs_base = fs_base;
    thread->m_user_context = user_context;
    thread->m_detached = true;
    InterruptsDisabled guard;
    Scheduler::make_runnable(*thread);
    Scheduler::update_timer();
    return thread;
}

void drop_user_state()
{
    VERIFY(!arch::interrupts_enabled());
    if (g_fpu_owner == g_current)
        g_fpu_owner = nullptr;
    g_current->m_fpu_area = nullptr;
    g_current->m_user_context = nullptr;
}

void set_fs_base(u64 value)
{
    InterruptsDisabled guard;
    g_current->m_fs_base = value;
    arch::write_msr(arch::msr_fs_base, value);
    g_loaded_fs_base = value;
}

void yield()
{
    InterruptsDisabled guard;
    if (g_run_queue.is_empty())
        return;
    Scheduler::make_runnable(*g_current);
    Scheduler::schedule();
}

void sleep_ns(u64 ns)
{
    if (ns == 0)
        return yield();
    Scheduler::sleep_until(time::tsc_deadline_after_ns(ns));
}

void Scheduler::sleep_until(u64 deadline_tsc)
{
    InterruptsDisabled guard;
    g_current->m_wake_tsc = deadline_tsc;
    add_sleeper(*g_current);
    schedule();
}

void exit_thread(int status) { Scheduler::exit_current(status); }

void Scheduler::exit_current(int status)
{
    arch::disable_interrupts();
    VERIFY(g_current != &g_boot_thread && g_current != g_idle_thread);
    g_current->m_exit_status = status;
    g_current->m_state = ThreadState::Exited;
    wake(g_current->m_joiners, ~usize(0));
    if (g_current->m_detached)
        g_detached_exited.push_back(*g_current); // freed by a later allocate(), once we are off its stack
    schedule();
    VERIFY_NOT_REACHED();
}

int join(Thread* thread)
{
    VERIFY(thread);
    return Scheduler::collect(*thread);
}

Thread* current_thread() { return g_current; }

u64 set_time_slice_ns(u64 ns)
{
    InterruptsDisabled guard;
    u64 previous = time::tsc_to_ns(g_slice_ticks);
    g_slice_ticks = time::ns_to_tsc(ns);
    return previous;
}

void set_program_halt_watchdog_ns(u64 ns)
{
    InterruptsDisabled guard;
    g_halt_watchdog_ticks = ns ? time::ns_to_tsc(ns) : 0;
}

void handle_timer_interrupt(u64 now_tsc)
{
    ++g_statistics.timer_interrupts;
    if (!g_current)
        return;
    Scheduler::preempt(now_tsc);
}

Statistics statistics() { return g_statistics; }

void WaitQueue::wait_locked() { Scheduler::block_on(m_waiters); } // schedule() checks IF=0

bool WaitQueue::wait_locked_until(u64 deadline_tsc) { return Scheduler::block_on_until(m_waiters, deadline_tsc); }

usize WaitQueue::wake_one()
{
    InterruptsDisabled guard;
    return Scheduler::wake(m_waiters, 1);
}

usize WaitQueue::wake_all()
{
    InterruptsDisabled guard;
    return Scheduler::wake(m_waiters, ~usize(0));
}

} // namespace kernite::sched
