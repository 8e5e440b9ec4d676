// The kernel's page tables, built by the monitor on the host from the image's layout note
// (libs/paging/kernel_layout.h), so the guest does not have to. Where guest ring-0 code is emulated
// (docs/platform-notes.md) this takes ~6 ms off every boot; elsewhere it is simply less guest work.
#pragma once

#include "guest_memory.h"
#include "kernel_image.h"
#include "result.h"

#include <elf/image.h>

namespace kernite::monitor {

struct KernelTables {
    u64 root;          // GPA of the PML4 (BootInfo.kernel_page_table_root); 0: the image has no layout note
    u64 reserved_base; // the tables occupy [reserved_base, memory end): reported as Reserved to the kernel
};

// KASLR (docs/security-model.md "ASLR"): a page-aligned base drawn (host getrandom) from the window the image's
// layout note gives, or the link base with `no_aslr` or for an image without the note. Fails loudly, never
// falls back, when the image does not fit its window.
Result<u64> choose_kernel_virt_base(KernelFile const& file, elf::LoadableImage const& image, bool no_aslr);

// An image without a layout note gets {0, 0}: it builds its own tables (as every PVH boot does). A note that
// is malformed, or a range outside the image, refuses the image.
Result<KernelTables> build_kernel_tables(KernelFile const& file, elf::LoadableImage const& image, GuestMemory& memory,
    u64 virt_base);

} // namespace kernite::monitor
