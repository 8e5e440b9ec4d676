#include <kernel/sched/current.h>
#include <kernel/sched/scheduler.h>

namespace kernite::sched {

// Security events name the thread they happened on; before the scheduler starts that is the boot thread, 0.
u64 current_thread_id()
{
    Thread const* thread = current_thread();
    return thread ? thread->id() : 0;
}

} // namespace kernite::sched
