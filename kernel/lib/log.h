// Kernel output. `klog` lines go to the host's stderr prefixed "kernite: " (the kernel's log); `kout` goes
// to stdout (what the demo or, later, the program prints). One console write per call: no exit per byte.
#pragma once

#include <ktl/types.h>

namespace kernite {

void klog(char const* fmt, ...) __attribute__((format(printf, 1, 2)));
void kout(char const* fmt, ...) __attribute__((format(printf, 1, 2)));
void kout_raw(char const* data, usize length);

} // namespace kernite
