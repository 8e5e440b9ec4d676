// Kernel threads and the intrusive queue they wait in. A Thread is allocated by create_thread() and freed by
// the one join() that collects its exit status. Designed so that a later issue can give a thread a user
// context (its kernel stack top becomes TSS.RSP0 while it runs; the trap frame lives on that stack).
#pragma once

#include <arch/x86_64/context_switch.h>
#include <kernel/mm/memory.h>
#include <ktl/error.h>
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
    bool remove(Thread&);

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

    // A thread that runs a program (kernel/process) has a user context: its FPU/SSE area (arch::fpu_state_size
    // bytes, 16-byte aligned, owned by the process code) and its FS base (TLS). The scheduler switches both, and
    // points ring-3 entries at this thread's kernel stack. Null/0 for kernel threads.
    u8* fpu_area() const { return m_fpu_area; }
    u64 fs_base() const { return m_fs_base; }
    void* user_context() const { return m_user_context; }

private:
    friend class Scheduler;
    friend class ThreadQueue;
    friend ErrorOr<Thread*> create_user_thread(char const*, ThreadEntry, void*, u8*, u64, void*);
    friend void drop_user_state();
    friend void set_fs_base(u64);

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
    u8* m_fpu_area { nullptr };
    u64 m_fs_base { 0 };
    void* m_user_context { nullptr };
    bool m_detached { false };           // freed by the scheduler after it exits (nobody joins it)
    bool m_in_sleep_list { false };
    bool m_timed_out { false };
    ThreadQueue* m_wait_queue { nullptr }; // the WaitQueue it is blocked in, for timed waits
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

inline bool ThreadQueue::remove(Thread& thread)
{
    Thread* previous = nullptr;
    for (Thread* current = m_head; current; previous = current, current = current->m_next) {
        if (current != &thread)
            continue;
        if (previous)
            previous->m_next = current->m_next;
        else
            m_head = current->m_next;
        if (m_tail == current)
            m_tail = previous;
        current->m_next = nullptr;
        return true;
    }
    return false;
}

} // namespace kernite::sched
