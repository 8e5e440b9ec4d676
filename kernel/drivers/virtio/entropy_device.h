// virtio-rng, the virtio entropy device (virtio 1.2 §5.4), on the virtio-mmio transport: under QEMU
// (`-device virtio-rng-device` on microvm) a source of host entropy for kernel/security/entropy.cpp, at boot and
// at every reseed. Polled (no interrupts), every request bounded by a timeout; a device that does not answer,
// or answers out of bounds, is dropped for the rest of the boot, never waited on forever.
#pragma once

#include <kernel/boot/boot_params.h>
#include <ktl/types.h>

namespace kernite::drivers::virtio_rng {

// Finds the first entropy device among the command line's `virtio_mmio.device=` windows (QEMU microvm lists
// them) and sets it up. Says on the console why a listed device was refused. False when there is none.
// After mm::initialize and platform::initialize (the timeout needs the TSC rate).
bool initialize(BootParams const&);

// Up to `length` bytes from the device (one request of at most 64 bytes); how many it wrote, 0 when the
// device is absent, failed earlier, or fails now (timeout, protocol violation: then it is dropped).
// Callers serialise (interrupts off).
usize read(u8* buffer, usize length);

bool available();

} // namespace kernite::drivers::virtio_rng
