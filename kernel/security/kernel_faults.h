// What the kernel does when its own code faults: classify the exception into a security event
// (null-deref, wx-violation, stack-overflow, general-protection, ...), print the registers and a
// symbolized backtrace, and stop the VM with 125.
#pragma once

#include <arch/x86_64/trap_frame.h>

namespace kernite::security {

void handle_kernel_exception(arch::TrapFrame&);

} // namespace kernite::security
