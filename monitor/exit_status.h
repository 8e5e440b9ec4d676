// The exit-status contract of `kernite run` (DESIGN.md "Exit status"), one place for both VMMs.
#pragma once

#include <kernite/abi.h>
#include <ktl/types.h>

#include <optional>

namespace kernite::monitor {

inline constexpr int exit_status_security_stop = 125; // security stop, panic, or a fatal VM exit
inline constexpr int exit_status_timeout = 124;
inline constexpr int exit_status_cannot_start = 127; // could not start the VM, or refused the image/options

// The process exit status for a guest Exit(status, reason); nothing for an unknown reason (malformed).
constexpr std::optional<int> exit_status_for(i32 status, u32 reason)
{
    switch (static_cast<abi::ExitReason>(reason)) {
    case abi::ExitReason::Normal:
    case abi::ExitReason::ProgramKilled: return static_cast<int>(static_cast<u32>(status) & 0xff);
    case abi::ExitReason::SecurityStop:
    case abi::ExitReason::Panic: return exit_status_security_stop;
    }
    return std::nullopt;
}

} // namespace kernite::monitor
