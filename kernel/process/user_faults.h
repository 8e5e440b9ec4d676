#pragma once

#include <arch/x86_64/trap_frame.h>

namespace kernite::process {

// arch::UserExceptionHandler for program threads (kernel/process/user_faults.cpp).
void handle_user_exception(arch::TrapFrame&, u64 fault_address);

} // namespace kernite::process
