// UBSAN, the undefined behaviour sanitizer (issue 5 item 4): the handlers behind GCC's -fsanitize=... checks in
// the debug profile (cmake/KernelFlags.cmake lists which, and why). Each report is a `ubsan` event with the
// source location and a backtrace. The kernel command line chooses what follows: `ubsan=stop` (the default)
// stops the VM with 125; `ubsan=continue` reports each location once and goes on.
#pragma once

namespace kernite::security {

// Reads `ubsan=continue|stop` from the kernel command line (early in kernel_main). Does nothing without UBSAN.
void configure_ubsan(char const* cmdline);

} // namespace kernite::security
