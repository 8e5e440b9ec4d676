// The program's memory (issue 3 item 2, issue 4 items 3-5): its region map (libs/vma), its pages, the
// randomized layout, demand paging, and the W^X policy of mmap/mprotect. Pages are mapped with the U/S bit in
// the lower half of the one address space; anonymous memory is mapped on first touch (a fresh zeroed frame).
#pragma once

#include <kernite/abi.h>
#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::process::memory {

inline constexpr u64 null_guard_size = 64 * 1024;

// Randomized bases (layout lines of --print-layout).
struct Layout {
    u64 program_base; // the load bias of a static-PIE program (0 for ET_EXEC: its text does not move)
    u64 brk_start;
    u64 mmap_base; // mmap allocates top-down below this
    u64 stack_top;
};

// Chooses brk start (a random gap after the program's end), the mmap base and the main stack's top, each with
// at least 28 random bits. Fails loudly (ENOMEM) instead of falling back to a fixed address.
ErrorOr<void> initialize(u64 program_base, u64 program_end, bool aslr);
Layout const& layout();

// Maps [start, end) (page-aligned) for a program segment with `prot` (PROT_* bits), eagerly, zero-filled.
ErrorOr<void> map_segment(u64 start, u64 end, u64 file_offset, u32 prot, char const* name);
// Writes kernel bytes into mapped program pages through the kernel's own mapping (whatever the pages' user
// permissions): how the loader fills read-only segments and the initial stack.
ErrorOr<void> poke(u64 address, void const* data, usize length);
// The main thread's stack: `size` bytes below layout().stack_top, demand-paged, with a guard gap below it.
// `initial_pages` bytes at the top are mapped at once (the loader writes argv/envp/auxv there).
ErrorOr<void> map_main_stack(u64 size, u64 initial_bytes);

enum class FaultKind {
    Unmapped,            // no region here
    StackGuard,          // the guard gap below a stack
    ProtectionViolation, // a region is here, but it does not allow the access
    Mapped,              // a region allows the access (the fault was resolved or was spurious)
};
FaultKind classify_fault(u64 address);

// arch::UserPageFaultResolver: maps a page on first touch of an anonymous, heap or stack region whose
// protection allows the access. False when there is nothing to map.
bool resolve_fault(u64 address, bool write, bool execute);

} // namespace kernite::process::memory
