// virtio feature negotiation (virtio 1.2 §2.2, §3.1.1 step 5, §6 "Reserved Feature Bits"), as a pure function so
// that the rules are host-tested; the transport (kernel/drivers/virtio) reads and writes the registers.
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::virtio {

// VIRTIO_F_VERSION_1 (bit 32): the device follows virtio 1.x, not the legacy interface.
inline constexpr u64 feature_version_1 = 1ull << 32;

// The features the driver accepts from what the device `offered`: VIRTIO_F_VERSION_1 and, of the rest, only
// what the driver `supports` (never a bit the device did not offer). ENOTSUP when the device does not offer
// VIRTIO_F_VERSION_1: Kernite drives no legacy devices.
ErrorOr<u64> negotiate_features(u64 offered, u64 supports);

} // namespace kernite::virtio
