// Loading the kernel ELF into guest memory (hostile input: validated by libs/elf before any byte is copied).
#pragma once

#include "guest_memory.h"
#include "result.h"

#include <elf/image.h>

#include <memory>
#include <string>

namespace kernite::monitor {

inline constexpr u64 max_kernel_image_size = 64ull << 20;

struct KernelFile {
    std::unique_ptr<u8[]> bytes;
    u64 size { 0 };
};

// Reads a regular file of at most max_kernel_image_size bytes. Failure messages name the path.
Result<KernelFile> read_kernel_file(std::string const& path);

// Validates `file` for a guest of `memory_size` bytes: segments at p_paddr inside [1 MiB, memory_size).
// The failure message is the reason only ("segment 1 is writable and executable").
Result<elf::LoadableImage> validate_kernel_image(KernelFile const&, u64 memory_size);

// Copies the validated segments to their physical addresses; returns the entry point's GPA. The bytes past
// p_filesz are not zeroed: the guest memory is fresh.
// Applies the image's R_X86_64_RELATIVE relocations in guest memory for `virt_base` (libs/elf/relocations.h:
// only writable segments are touched). Doing it here, natively, spares the guest thousands of instructions
// on hosts that emulate guest ring 0 (docs/platform-notes.md). Returns the number applied.
Result<u64> relocate_kernel_image(KernelFile const& file, elf::LoadableImage const& image, GuestMemory& memory, u64 virt_base);

Result<u64> load_kernel_image(KernelFile const&, elf::LoadableImage const&, GuestMemory&);

// The first page boundary at or above the end of the loaded image in guest-physical memory (the last byte of
// any PT_LOAD's memory size), for a validated image.
u64 kernel_image_physical_end(elf::LoadableImage const&);

} // namespace kernite::monitor
