#pragma once

#include <ktl/types.h>

namespace kernite::time {

// TSC frequency in kHz where no monitor told us: CPUID leaf 0x15/0x16 or the hypervisor leaf 0x40000010 if
// present, else measured against PIT channel 2 for 10 ms. Panics if nothing gives a plausible value.
u64 calibrate_tsc_khz();

} // namespace kernite::time
