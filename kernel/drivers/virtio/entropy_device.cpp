// virtio-rng driver (virtio 1.2 §5.4 "Entropy Device"): one virtqueue, "requestq" (§5.4.2); the driver puts a
// device-writable buffer on it and the device fills it with random bytes (§5.4.6), reporting how many in the used
// element's length. No feature bits of its own (§5.4.3), no configuration space (§5.4.4).
#include <arch/x86_64/cpu.h>
#include <kernel/drivers/virtio/entropy_device.h>
#include <kernel/drivers/virtio/mmio_transport.h>
#include <kernel/lib/log.h>
#include <kernel/mm/memory.h>
#include <platform/platform.h>
#include <virtio/mmio_cmdline.h>
#include <virtio/split_queue.h>
#include <virtio/wait.h>

namespace kernite::drivers::virtio_rng {

namespace {

using ::kernite::virtio::Buffer;
using ::kernite::virtio::Completion;
using ::kernite::virtio::SplitQueue;

constexpr u16 queue_size = 8; // one request at a time; a few descriptors spare
constexpr usize request_bytes = 64;
constexpr u64 request_timeout_ms = 500;
constexpr usize max_windows = 32; // QEMU microvm has 24 transports
// The frame: the rings in its first half (mmio_transport.cpp), the request buffer in the second.
constexpr u64 buffer_offset = paging::page_size / 2;

struct DeviceState {
    virtio::MmioDevice device;
    SplitQueue queue;
    u64 frame_phys;
    bool ready;
    u64 next_token;
};
constinit DeviceState g_state {};

bool set_up(u64 base, u64 size, BootParams const& params)
{
    auto& state = g_state;
    auto probed = state.device.probe(base, size, params);
    if (probed.is_error()) {
        // ENODEV: an empty transport; QEMU lists only populated ones, so say it either way.
        klog("virtio-rng: virtio-mmio window 0x%lx: %s", base, probed.error().reason());
        return false;
    }
    if (state.device.device_id() != virtio::device_id_entropy)
        return false; // another kind of device: not ours
    auto frame = mm::allocate_zeroed_frame();
    if (frame.is_error()) {
        klog("virtio-rng: no frame for the queue: %s", frame.error().reason());
        return false;
    }
    state.frame_phys = frame.value();
    // virtio-rng has no feature bits of its own (§5.4.3): VIRTIO_F_VERSION_1 is all this driver takes.
    auto set = state.device.negotiate_and_set_up_queue(0, state.queue, state.frame_phys, queue_size);
    if (set.is_error()) {
        klog("virtio-rng: device at 0x%lx refused: %s", base, set.error().reason());
        // The frame stays allocated: a device that was told the queue address may still write there.
        return false;
    }
    state.device.start();
    state.ready = true;
    return true;
}

constexpr ::kernite::virtio::PollClock tsc_clock {
    [](void*) { return arch::read_tsc(); },
    [](void*) { asm volatile("pause"); },
    nullptr,
};

void drop_device(char const* reason)
{
    klog("virtio-rng: %s; the device is not used again this boot", reason);
    g_state.ready = false;
    g_state.device.fail();
}

} // namespace

bool initialize(BootParams const& params)
{
    ::kernite::virtio::MmioDeviceWindow windows[max_windows];
    auto listed = ::kernite::virtio::parse_mmio_devices(params.cmdline, sizeof(params.cmdline), windows, max_windows);
    if (listed.malformed)
        klog("virtio-rng: ignored %lu malformed virtio_mmio.device= tokens on the command line", listed.malformed);
    if (listed.dropped)
        klog("virtio-rng: ignored %lu virtio_mmio.device= tokens beyond the first %lu", listed.dropped, max_windows);
    for (usize i = 0; i < listed.found; ++i) {
        if (set_up(windows[i].base, windows[i].size, params))
            return true;
    }
    return false;
}

bool available() { return g_state.ready; }

usize read(u8* buffer, usize length)
{
    auto& state = g_state;
    if (!state.ready || length == 0)
        return 0;
    usize const wanted = length < request_bytes ? length : request_bytes;
    u8* dma = static_cast<u8*>(mm::phys_to_virt(state.frame_phys + buffer_offset));
    Buffer request { state.frame_phys + buffer_offset, static_cast<u32>(wanted), true };
    u64 const token = ++state.next_token;
    auto added = state.queue.add(&request, 1, token);
    if (added.is_error()) {
        drop_device(added.error().reason());
        return 0;
    }
    if (state.queue.device_wants_notification())
        state.device.notify_queue(0);

    auto answered
        = ::kernite::virtio::wait_for_completion(state.queue, tsc_clock, request_timeout_ms * platform::tsc_khz());
    if (answered.is_error()) {
        // On a timeout the request stays in flight; its buffer is never reused, as the device may still write it.
        drop_device(answered.error().code() == ETIMEDOUT ? "request timed out (500 ms without an answer)"
                                                         : answered.error().reason());
        return 0;
    }
    Completion const completion = answered.value();
    if (completion.token != token) {
        drop_device("answered a request that was not asked");
        return 0;
    }
    // §5.4.6.1: the device writes between 1 and the buffer's length; 0 is no entropy.
    usize const got = completion.written; // <= wanted: SplitQueue checked it against the chain
    for (usize i = 0; i < got; ++i) {
        buffer[i] = dma[i];
        dma[i] = 0;
    }
    if (got == 0)
        drop_device("answered with no bytes");
    return got;
}

} // namespace kernite::drivers::virtio_rng
