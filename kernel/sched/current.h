// The running thread, as far as code outside the scheduler needs to know it.
#pragma once

#include <ktl/types.h>

namespace kernite::sched {

// 0 is the boot thread (before the scheduler starts, and kernel_main itself).
u64 current_thread_id();

} // namespace kernite::sched
