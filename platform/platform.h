// What the kernel needs from whatever booted it. Two implementations, chosen once at boot from the entry
// that was taken: platform/monitor (the Kernite monitor's hypercalls) and platform/pvh (QEMU: 16550 serial,
// isa-debug-exit, marker lines the monitor decodes; abi/kernite/abi.h).
#pragma once

#include <kernite/abi.h>
#include <ktl/types.h>

namespace kernite {
struct BootParams;
}

namespace kernite::platform {

void initialize(BootParams const&);
char const* name(); // "kvm" or "qemu-pvh"

// Writes a whole buffer to the host: stdout or stderr. Batched: one exit per call, never per byte.
void console_write(abi::ConsoleStream, char const* data, usize length);

// Writes a buffer of abi::OutputRecord records (the program's stdout/stderr, in order, byte-exact) to the host:
// one hypercall on the Kernite monitor, marker lines under PVH. `length` <= abi::output_max_length. The buffer
// must live in the kernel image (physically contiguous).
void output_write(u8 const* records, usize length);

// Up to `capacity` (<= abi::input_max_length) bytes of the host's standard input for the program's fd 0, waiting
// at most `wait_ns` for them: the count (> 0), 0 at end of file, -EAGAIN when none arrived in time, other -errno.
// One hypercall on the Kernite monitor (abi::HcInput); under PVH always 0 (the QEMU backend refuses a
// non-empty stdin). The buffer must live in the kernel image (physically contiguous).
i64 input_read(u8* buffer, usize capacity, u64 wait_ns);

// Reports a security event to the host (abi::SecurityEvent).
void report_event(abi::SecurityEvent const&);

// Stops the VM. Never returns.
[[noreturn]] void exit(int status, abi::ExitReason);

// TSC ticks per millisecond, from the monitor or calibrated (PIT) under PVH. Never 0 after initialize().
u64 tsc_khz();

// The host's wall clock (ns since the Unix epoch): the monitor's CLOCK_REALTIME, or the CMOS clock under PVH
// (whole seconds). 0 when the platform has none.
u64 host_realtime_ns();

// Up to `length` bytes of host entropy; returns how many were written (0 where the platform has none).
usize host_entropy(u8* buffer, usize length);

} // namespace kernite::platform
