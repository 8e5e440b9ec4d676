// Interrupt dispatch for vectors 32..255 (exceptions 0..31 go to kernel/security/kernel_faults.cpp).
#pragma once

#include <arch/x86_64/trap_frame.h>
#include <ktl/types.h>

namespace kernite::arch {

using InterruptHandler = void (*)(TrapFrame&);

// Installs `handler` for `vector` (>= 32). Returns false if the vector is an exception or already taken.
bool register_interrupt_handler(u8 vector, InterruptHandler handler);

} // namespace kernite::arch
