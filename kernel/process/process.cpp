// The program's threads and its end (kernel/process/process.h).
#include <arch/x86_64/interrupts_disabled.h>
#include <kernel/boot/cmdline.h>
#include <kernel/lib/format.h>
#include <kernel/lib/log.h>
#include <kernel/mm/heap_objects.h>
#include <kernel/process/futex.h>
#include <kernel/process/output.h>
#include <kernel/process/process.h>
#include <kernel/process/user_memory.h>
#include <kernel/sched/scheduler.h>
#include <kernel/security/events.h>
#include <kernel/syscalls/syscall.h>
#include <ktl/allocator.h>
#include <platform/platform.h>

namespace kernite::process {

namespace {

Settings g_settings;
UserThread* g_threads;
u64 g_thread_count;
u64 g_next_tid = process_id; // the main thread's tid is the pid, as on Linux

int thread_entry(void* argument)
{
    auto* thread = static_cast<UserThread*>(argument);
    (void)thread;
    auto* frame = arch::user_frame(sched::current_thread()->kernel_stack().top);
    arch::enter_user(*frame); // the frame was filled by spawn_thread before the thread first ran
}

void unlink_thread(UserThread& thread)
{
    for (UserThread** link = &g_threads; *link; link = &(*link)->next) {
        if (*link == &thread) {
            *link = thread.next;
            --g_thread_count;
            return;
        }
    }
}

} // namespace

Settings const& settings() { return g_settings; }

void configure(BootParams const& params)
{
    g_settings.strace = boot::cmdline_has(params.cmdline, "strace");
    g_settings.verbose = boot::cmdline_has(params.cmdline, "verbose");
    g_settings.relaxed_wx = boot::cmdline_has(params.cmdline, "wx=relaxed");
    g_settings.isolation = boot::cmdline_has(params.cmdline, "isolation=none") ? Isolation::None : Isolation::Ring;
}

UserThread& current_thread()
{
    auto* thread = static_cast<UserThread*>(sched::current_thread()->user_context());
    VERIFY(thread);
    return *thread;
}

u64 thread_count() { return g_thread_count; }
UserThread* thread_list() { return g_threads; }

ErrorOr<UserThread*> spawn_thread(arch::TrapFrame const& initial, u64 fs_base, u64 signal_mask)
{
    auto* thread = TRY(ktl::try_create<UserThread>());
    arch::fpu_initial_state(thread->fpu);
    thread->signal_mask = signal_mask;
    arch::InterruptsDisabled guard;
    thread->tid = g_next_tid++;
    char name[24] = "program";
    auto sched_thread = sched::create_user_thread(name, thread_entry, thread, thread->fpu, fs_base, thread);
    if (sched_thread.is_error()) {
        ktl::destroy(thread);
        return sched_thread.release_error();
    }
    thread->sched_thread = sched_thread.value();
    // The new thread has not run yet (interrupts are off): its ring-3 state goes where its first entry expects it.
    *arch::user_frame(thread->sched_thread->kernel_stack().top) = initial;
    thread->next = g_threads;
    g_threads = thread;
    ++g_thread_count;
    return thread;
}

void exit_thread(int status)
{
    auto& thread = current_thread();
    // CLONE_CHILD_CLEARTID: zero the tid word and wake one futex waiter (pthread_join), as Linux's mm_release.
    if (thread.clear_child_tid) {
        u32 zero = 0;
        if (!copy_to_user(thread.clear_child_tid, &zero, sizeof(zero)).is_error())
            futex::wake(thread.clear_child_tid, 1, ~u32(0));
    }
    arch::disable_interrupts();
    unlink_thread(thread);
    if (g_thread_count == 0)
        exit_group(status); // the last thread: the program ends with its status, as on Linux
    sched::drop_user_state();
    ktl::destroy(&thread);
    sched::exit_thread(status);
}

static void report_isolation()
{
    if (g_settings.isolation != Isolation::None)
        return;
    auto counts = arch::hlt_detection();
    klog("isolation none: %lu interrupts returned after a 0xF4 byte, %lu of them after a hlt", counts.candidates,
        counts.confirmed);
}

void exit_group(int status)
{
    output::flush();
    if (g_settings.verbose) {
        syscalls::report_unknown_calls();
        report_isolation();
    }
    output::flush();
    platform::exit(status & 0xff, abi::ExitReason::Normal);
}

void kill_with_signal(int signal)
{
    output::flush();
    if (g_settings.verbose) {
        syscalls::report_unknown_calls();
        report_isolation();
    }
    output::flush();
    platform::exit(128 + signal, abi::ExitReason::ProgramKilled);
}

void usercopy_overflow(usize object_size, usize length)
{
    // The event carries the caller's address (the inlined copy's site), like the FORTIFY checks.
    char message[abi::event_message_size];
    format(message, sizeof(message), "usercopy: a copy of %lu bytes on a kernel object of %lu bytes", length,
        object_size);
    security::EventDetails details;
    details.rip = reinterpret_cast<u64>(__builtin_return_address(0)) - 1; // inside the call (it is noreturn)
    details.has_rip = true;
    security::stop(abi::EventType::FortifyViolation, message, details);
}

void check_heap_usercopy(void const* pointer, usize length)
{
    usize object_size = mm::heap_object_size(pointer);
    if (object_size != 0 && object_size < length) [[unlikely]]
        usercopy_overflow(object_size, length);
}

ErrorOr<usize> copy_string_from_user(char* destination, u64 source, usize capacity)
{
    i64 length = arch::copy_string_from_user(destination, source, capacity);
    if (length == -1)
        return Error::from_errno(EFAULT, "bad address");
    if (length == -2)
        return Error::from_errno(ENAMETOOLONG, "string too long");
    return static_cast<usize>(length);
}

} // namespace kernite::process
