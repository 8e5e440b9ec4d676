// The Linux system-call layer (issue 3): one table, one file per family (STYLE.md habit 9). Handlers take the
// six raw arguments, return ErrorOr<u64>; the dispatcher turns an Error into -errno. App pointers are raw u64s
// that only kernel/process/user_memory.h may dereference.
#pragma once

#include <arch/x86_64/trap_frame.h>
#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::syscalls {

struct Arguments {
    u64 a0, a1, a2, a3, a4, a5;
    arch::TrapFrame& frame; // the caller's user state (clone, rt_sigreturn, sigaltstack need it)
};

using Result = ErrorOr<u64>;
using Function = Result (*)(Arguments&);

// Serves the system call in `frame` (arch::SyscallHandler). Unknown numbers return -ENOSYS and are counted.
void dispatch(arch::TrapFrame& frame);

// With `verbose`: one line per unknown system call number seen, with its count (printed at exit).
void report_unknown_calls();

// Negative errno results for handlers that must return a value and an error at once are not needed: a handler
// returns either a value or an Error, and this converts.
inline u64 to_user_result(Result const& result)
{
    return result.is_error() ? static_cast<u64>(-static_cast<i64>(result.error().code())) : result.value();
}

} // namespace kernite::syscalls
