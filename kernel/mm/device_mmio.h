// Device register pages (virtio-mmio windows and the like) in the kernel's device window
// (boot_params.h device_mmio_base): read/write, never executable (NX), global, strong-uncacheable.
#pragma once

#include <kernel/boot/boot_params.h>
#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::mm {

// Maps the 4 KiB page holding guest-physical `phys` (any offset inside the page) and returns the virtual
// address of `phys` itself. Slots are handed out once and never reused (device pages stay mapped). Refuses
// (EINVAL) a page that overlaps usable RAM, the kernel image or the boot modules (from `params`): a command line
// that names RAM as "device registers" must not get an uncached writable alias of kernel memory.
ErrorOr<u64> map_device_page(u64 phys, BootParams const& params);

} // namespace kernite::mm
