// Issuing hypercalls to the Kernite monitor: `out` of the request's guest-physical address to the port of
// the call (abi/kernite/abi.h). Requests live in kernel memory; their GPA comes from the direct map.
#pragma once

#include <kernite/abi.h>
#include <ktl/types.h>

namespace kernite::platform::monitor {

// `request` must be a kernel-image or direct-map address below 4 GiB physical.
void hypercall(abi::Hypercall, void* request);

} // namespace kernite::platform::monitor
