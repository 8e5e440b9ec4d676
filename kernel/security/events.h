// Security events (DESIGN.md "Security events"): every protection that fires reports one, with the
// faulting RIP, the address and the symbol where there is one, through the platform to the host.
#pragma once

#include <kernite/abi.h>
#include <ktl/types.h>

namespace kernite::security {

struct EventDetails {
    u64 rip { 0 };
    u64 addr { 0 };
    bool has_rip { false };
    bool has_addr { false };
    char const* symbol { nullptr }; // a program's symbol for rip (process/program_symbols.h); else the kernel's
};

// Reports the event (host side: JSON in --events, a line on stderr) and goes on.
void report(abi::EventType, char const* message, EventDetails const& = {});

// Reports the event, prints a backtrace from `rbp` (0: from here) and stops the VM with status 125.
[[noreturn]] void stop(abi::EventType, char const* message, EventDetails const& = {}, u64 rbp = 0);

} // namespace kernite::security
