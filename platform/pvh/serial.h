// 16550 UART on COM1 (the PC/AT port 0x3f8), polled. Used under QEMU microvm.
#pragma once

#include <ktl/types.h>

namespace kernite::platform::pvh {

void serial_initialize();
void serial_write(char const* data, usize length);

} // namespace kernite::platform::pvh
