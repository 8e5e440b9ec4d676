// The virtio-mmio transport (virtio 1.2 §4.2), version 2 ("modern") register layout only: device discovery,
// the status handshake with feature negotiation (§3.1.1), and one virtqueue per device (libs/virtio
// SplitQueue). Legacy (version 1) devices are refused with a message.
#pragma once

#include <kernel/boot/boot_params.h>
#include <ktl/error.h>
#include <ktl/types.h>
#include <virtio/split_queue.h>

namespace kernite::drivers::virtio {

// §4.2.2 "MMIO Device Register Layout": offsets into the device's window.
enum class MmioRegister : u32 {
    MagicValue = 0x000, // "virt", little-endian 0x74726976
    Version = 0x004,    // 2 for the modern interface
    DeviceId = 0x008,   // §5: 4 = entropy source
    VendorId = 0x00c,
    DeviceFeatures = 0x010,
    DeviceFeaturesSel = 0x014,
    DriverFeatures = 0x020,
    DriverFeaturesSel = 0x024,
    QueueSel = 0x030,
    QueueNumMax = 0x034,
    QueueNum = 0x038,
    QueueReady = 0x044,
    QueueNotify = 0x050,
    InterruptStatus = 0x060,
    InterruptAck = 0x064,
    Status = 0x070,
    QueueDescLow = 0x080,
    QueueDescHigh = 0x084,
    QueueDriverLow = 0x090,
    QueueDriverHigh = 0x094,
    QueueDeviceLow = 0x0a0,
    QueueDeviceHigh = 0x0a4,
    ConfigGeneration = 0x0fc,
};
inline constexpr u32 mmio_register_window = 0x100; // the registers above; device configuration follows
inline constexpr u32 mmio_magic = 0x74726976;

// §2.1 "Device Status Field".
inline constexpr u32 status_acknowledge = 1;
inline constexpr u32 status_driver = 2;
inline constexpr u32 status_driver_ok = 4;
inline constexpr u32 status_features_ok = 8;
inline constexpr u32 status_needs_reset = 64;
inline constexpr u32 status_failed = 128;

inline constexpr u32 device_id_entropy = 4; // §5 "Device Types"

class MmioDevice {
public:
    // Maps the window (kernel/mm/device_mmio) and checks magic and version. ENODEV: no device there (QEMU's
    // empty transports read DeviceID 0); ENOTSUP: a legacy (version 1) device.
    ErrorOr<void> probe(u64 phys, u64 size, BootParams const& params);
    u32 device_id() const { return m_device_id; }
    u64 phys() const { return m_phys; }

    // Reset, ACKNOWLEDGE, DRIVER, negotiate features (libs/virtio features.h: VIRTIO_F_VERSION_1 required,
    // ENOTSUP with the reason if the device does not offer it or refuses FEATURES_OK; of the rest only bits in
    // `supported_features`), then set up queue 0 in `queue` using one zeroed
    // frame (its physical address `frame_phys`; the queue's rings at its start). Leaves DRIVER_OK to start().
    ErrorOr<void> negotiate_and_set_up_queue(u64 supported_features, ::kernite::virtio::SplitQueue& queue,
        u64 frame_phys, u16 wanted_size);
    void start();
    void notify_queue(u16 queue);
    // Marks the device FAILED (§3.1.1 step 8: the driver gives up on it).
    void fail();

private:
    u32 read(MmioRegister reg) const;
    void write(MmioRegister reg, u32 value);

    u64 m_virt { 0 };
    u64 m_phys { 0 };
    u32 m_device_id { 0 };
};

} // namespace kernite::drivers::virtio
