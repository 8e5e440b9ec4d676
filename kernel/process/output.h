// The program's stdout and stderr on their way to the host (issue 3 item 5): byte-exact, in the order written,
// and batched, so that a program printing line by line does not cost one VM exit per write. Records accumulate
// in one buffer (abi::OutputRecord format) that goes out in one hypercall when it fills, when the program is
// about to block or sleep, and when it exits. The kernel's own log lines flush it first, so both stay in order.
#pragma once

#include <kernite/abi.h>
#include <ktl/types.h>

namespace kernite::process::output {

void write(abi::ConsoleStream, u8 const* data, usize length);
void flush();

} // namespace kernite::process::output
