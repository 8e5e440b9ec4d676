// The one-shot kernel timer on the local APIC (arch/x86_64/apic.h). Tickless: nothing fires periodically;
// the scheduler asks for the next moment it needs (next sleeper, end of the running slice) and the handler
// passes control back to it.
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::time {

// Interrupt vector of the timer: the first one above the exceptions (SDM Vol. 3A §6.2). Interrupt priority
// class 2 is above nothing else we use.
inline constexpr u8 timer_vector = 0x20;

// Sets up the local APIC and installs the handler. `mask_legacy_pic`: see arch::apic::initialize.
ErrorOr<void> initialize_timer(bool mask_legacy_pic);

// Makes sure the timer fires no later than TSC `deadline`. Lazy: an earlier armed deadline is kept (when it
// fires, the scheduler re-arms for what it then needs), so a context switch rarely reprograms the timer.
// Interrupts must be off.
void request_deadline(u64 deadline);

// Is an interrupt on its way (a deadline armed and not yet delivered)?
bool timer_armed();

u64 timer_interrupts();

} // namespace kernite::time
