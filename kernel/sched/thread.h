// Kernel threads and the intrusive queue they wait in. A Thread is allocated by create_thread() and freed by
// the one join() that collects its exit status. Designed so that a later issue can give a thread a user
// context (its kernel stack top becomes TSS.RSP0 while it runs; the trap frame lives on that stack).
#pragma once

#include <arch/x86_64/context_switch.h>
#include <kernel/mm/memory.h>
#include <ktl/types.h>
#include <ktl/verify.h>

namespace kernite::sched {

class Scheduler;
class Thread;

enum class ThreadState : u8 {
    Runnable, // in the run queue
    Running,  // the current thread
    Blocked,  // in a WaitQueue
    Sleeping, // in the sleep list until its wake-up TSC
    Exited,   // exit status set; waits for join() to free it
};

using ThreadEntry = arch::ThreadEntry;

// Intrusive FIFO of threads through Thread::m_next. Callers keep interrupts disabled.
class ThreadQueue {
public:
    bool is_empty() const { return m_head == nullptr; }
    void push_back(Thread&);
    Thread* pop_front();

private:
    Thread* m_head { nullptr };
    Thread* m_tail { nullptr };
};

class Thread {
public:
    static constexpr usize max_name_length = 31;

    u64 id() const { return m_id; }
    char const* name() const { return m_name; }
    ThreadState state() const { return m_state; }
    int exit_status() const { return m_exit_status; }
    mm::KernelStack const& kernel_stack() const { return m_stack; }

private:
    friend class Scheduler;
    friend class ThreadQueue;

    u64 m_id { 0 };
    char m_name[max_name_length + 1] {};
    ThreadState m_state { ThreadState::Runnable };
    mm::KernelStack m_stack {}; // {0, 0} for the boot thread, which runs on the boot stack
    u64 m_saved_rsp { 0 };      // valid while the thread is not running (arch_context_switch)
    ThreadEntry m_entry { nullptr };
    void* m_argument { nullptr };
    int m_exit_status { 0 };
    u64 m_slice_end_tsc { 0 }; // preemption point of the current time slice
    u64 m_wake_tsc { 0 };      // while Sleeping
    Thread* m_next { nullptr };         // link in the run queue or one WaitQueue (never both)
    Thread* m_next_sleeper { nullptr }; // link in the sleep list (separate: a timed wait may need both)
    ThreadQueue m_joiners;              // who waits in join()
};

inline void ThreadQueue::push_back(Thread& thread)
{
    VERIFY(thread.m_next == nullptr && m_tail != &thread);
    if (m_tail)
        m_tail->m_next = &thread;
    else
        m_head = &thread;
    m_tail = &thread;
}

inline Thread* ThreadQueue::pop_front()
{
    Thread* thread = m_head;
    if (!thread)
        return nullptr;
    m_head = thread->m_next;
    if (!m_head)
        m_tail = nullptr;
    thread->m_next = nullptr;
    return thread;
}

} // namespace kernite::sched
