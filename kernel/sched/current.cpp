#include <kernel/sched/current.h>

namespace kernite::sched {

// Until the scheduler (kernel/sched/scheduler.cpp) runs threads, everything runs on the boot thread.
u64 current_thread_id() { return 0; }

} // namespace kernite::sched
