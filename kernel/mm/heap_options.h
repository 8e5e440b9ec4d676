// Heap options from the kernel command line (`--heap` in monitor/cli.cpp), read before initialize_heap().
#pragma once

namespace kernite::mm {

// hardened heap: "heap=full" selects full poison checks (heap::Checks::Full). The simple heap (baseline profile)
// has no such checks and refuses the option rather than ignore it.
void configure_heap(char const* cmdline);

} // namespace kernite::mm
