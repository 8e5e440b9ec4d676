// Parses the virtio-mmio device list a VMM puts on the kernel command line, Linux's syntax
// (Documentation/admin-guide/kernel-parameters.txt, "virtio_mmio.device="):
//     virtio_mmio.device=<size>@<baseaddr>:<irq>[:<id>]
// e.g. QEMU's microvm with PVH and auto-kernel-cmdline=on appends ` virtio_mmio.device=512@0xfeb00e00:12`
// per populated transport. <size> takes a K/M/G suffix (Linux memparse), numbers are decimal or 0x hex.
//
// The command line is outside input: every number is overflow-checked, the window must be non-empty, must
// not wrap and must fit in one 4 KiB page (the driver maps one page per device; virtio-mmio's registers end
// at 0x100 plus the device configuration, §4.2.2), and a malformed token is skipped and counted, never
// half-used. Freestanding, no heap.
#pragma once

#include <ktl/types.h>

namespace kernite::virtio {

struct MmioDeviceWindow {
    u64 base;
    u64 size;
    u32 irq;
};

struct MmioCmdlineResult {
    usize found;     // windows written to `out`
    usize malformed; // virtio_mmio.device= tokens rejected
    usize dropped;   // well-formed windows beyond `capacity`
};

// Scans the NUL-terminated `cmdline` (at most `max_length` bytes are read).
MmioCmdlineResult parse_mmio_devices(char const* cmdline, usize max_length, MmioDeviceWindow* out, usize capacity);

// One token's value (the text after `virtio_mmio.device=`, `length` bytes). False when malformed.
bool parse_mmio_device_value(char const* value, usize length, MmioDeviceWindow& window);

} // namespace kernite::virtio
