// virtio-mmio transport (virtio 1.2 §4.2.3 "MMIO-specific Initialization And Device Operation").
#include <kernel/drivers/virtio/mmio_transport.h>
#include <kernel/mm/device_mmio.h>
#include <kernel/mm/memory.h>
#include <virtio/features.h>

namespace kernite::drivers::virtio {

using ::kernite::virtio::QueueLayout;
using ::kernite::virtio::SplitQueue;

u32 MmioDevice::read(MmioRegister reg) const
{
    // §4.2.2: "The driver MUST only use 32 bit wide and aligned reads and writes" to the registers.
    return *reinterpret_cast<u32 volatile*>(m_virt + static_cast<u32>(reg));
}

void MmioDevice::write(MmioRegister reg, u32 value)
{
    *reinterpret_cast<u32 volatile*>(m_virt + static_cast<u32>(reg)) = value;
}

ErrorOr<void> MmioDevice::probe(u64 phys, u64 size, BootParams const& params)
{
    if (size < mmio_register_window || phys % 4 != 0)
        return Error::from_errno(EINVAL, "virtio-mmio window smaller than its registers or misaligned");
    m_virt = TRY(mm::map_device_page(phys, params));
    m_phys = phys;
    if (read(MmioRegister::MagicValue) != mmio_magic)
        return Error::from_errno(ENODEV, "no virtio-mmio device (bad magic value)");
    u32 version = read(MmioRegister::Version);
    if (version == 1)
        return Error::from_errno(ENOTSUP,
            "legacy virtio-mmio device (version 1); Kernite drives version 2 only "
            "(QEMU: -global virtio-mmio.force-legacy=false)");
    if (version != 2)
        return Error::from_errno(ENOTSUP, "virtio-mmio device of an unknown version");
    m_device_id = read(MmioRegister::DeviceId);
    if (m_device_id == 0)
        return Error::from_errno(ENODEV, "empty virtio-mmio transport (device id 0)");
    return {};
}

ErrorOr<void> MmioDevice::negotiate_and_set_up_queue(u64 supported_features, SplitQueue& queue, u64 frame_phys,
    u16 wanted_size)
{
    // §3.1.1 Driver Requirements: Device Initialization, steps 1-8.
    write(MmioRegister::Status, 0);
    if (read(MmioRegister::Status) != 0)
        return Error::from_errno(EIO, "virtio-mmio device did not reset");
    write(MmioRegister::Status, status_acknowledge);
    write(MmioRegister::Status, status_acknowledge | status_driver);

    write(MmioRegister::DeviceFeaturesSel, 0);
    u64 offered = read(MmioRegister::DeviceFeatures);
    write(MmioRegister::DeviceFeaturesSel, 1);
    offered |= static_cast<u64>(read(MmioRegister::DeviceFeatures)) << 32;
    auto negotiated = ::kernite::virtio::negotiate_features(offered, supported_features);
    if (negotiated.is_error()) {
        fail();
        return negotiated.release_error();
    }
    u64 const accepted = negotiated.value();
    write(MmioRegister::DriverFeaturesSel, 0);
    write(MmioRegister::DriverFeatures, static_cast<u32>(accepted));
    write(MmioRegister::DriverFeaturesSel, 1);
    write(MmioRegister::DriverFeatures, static_cast<u32>(accepted >> 32));
    write(MmioRegister::Status, status_acknowledge | status_driver | status_features_ok);
    // §3.1.1 step 6: re-read; a device that did not keep FEATURES_OK does not support our subset.
    if (!(read(MmioRegister::Status) & status_features_ok)) {
        fail();
        return Error::from_errno(ENOTSUP, "virtio device refused the negotiated features (FEATURES_OK cleared)");
    }

    // §4.2.3.2 Virtqueue Configuration.
    write(MmioRegister::QueueSel, 0);
    if (read(MmioRegister::QueueReady) != 0) {
        fail();
        return Error::from_errno(EIO, "virtio queue 0 already in use after reset");
    }
    u32 const maximum = read(MmioRegister::QueueNumMax);
    if (maximum == 0) {
        fail();
        return Error::from_errno(ENODEV, "virtio device has no queue 0");
    }
    // The largest power of two no larger than what both sides allow (the device's maximum is untrusted input).
    u16 size = wanted_size;
    while (size > 1 && size > maximum)
        size = static_cast<u16>(size >> 1);
    auto layout = QueueLayout::for_size(size);
    if (layout.is_error()) {
        fail();
        return layout.release_error();
    }
    if (layout.value().total_bytes > paging::page_size / 2) {
        fail();
        return Error::from_errno(EINVAL, "virtqueue does not fit half a frame");
    }
    auto initialized
        = queue.initialize(layout.value(), mm::phys_to_virt(frame_phys), frame_phys, paging::page_size / 2);
    if (initialized.is_error()) {
        fail();
        return initialized.release_error();
    }
    write(MmioRegister::QueueNum, size);
    write(MmioRegister::QueueDescLow, static_cast<u32>(queue.descriptor_area()));
    write(MmioRegister::QueueDescHigh, static_cast<u32>(queue.descriptor_area() >> 32));
    write(MmioRegister::QueueDriverLow, static_cast<u32>(queue.driver_area()));
    write(MmioRegister::QueueDriverHigh, static_cast<u32>(queue.driver_area() >> 32));
    write(MmioRegister::QueueDeviceLow, static_cast<u32>(queue.device_area()));
    write(MmioRegister::QueueDeviceHigh, static_cast<u32>(queue.device_area() >> 32));
    write(MmioRegister::QueueReady, 1);
    return {};
}

void MmioDevice::start()
{
    write(MmioRegister::Status, status_acknowledge | status_driver | status_features_ok | status_driver_ok);
}

void MmioDevice::notify_queue(u16 queue) { write(MmioRegister::QueueNotify, queue); }

void MmioDevice::fail()
{
    if (m_virt)
        write(MmioRegister::Status, read(MmioRegister::Status) | status_failed);
}

} // namespace kernite::drivers::virtio
