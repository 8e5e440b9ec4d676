// Validation of an ELF64 x86-64 image before anything of it is loaded (STYLE.md habit 8: the file is hostile).
//
// One function, parse_loadable_image(), checks the header, the program-header table and every PT_LOAD
// against a LoadPolicy, and returns a summary that a loader can copy from without further checks: every
// file range lies inside the file, every load range inside [min_address, max_address), no two overlap, no
// segment is both writable and executable, and the entry point lies in an executable segment.
//
// Used by the monitor for the kernel image (physical addresses, p_paddr) and by the kernel for programs
// (virtual addresses, p_vaddr). Freestanding: no heap, no exceptions, no std containers.
#pragma once

#include <elf/elf64.h>
#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::elf {

inline constexpr u32 max_load_segments = 16;
inline constexpr u16 max_program_headers = 64;
inline constexpr u64 max_segment_alignment = 1ull << 30;

enum class AddressKind : u8 {
    Physical, // load at p_paddr (a kernel image loaded by the monitor)
    Virtual,  // load at p_vaddr (a program loaded by the kernel)
};

struct LoadPolicy {
    AddressKind address_kind { AddressKind::Physical };
    u64 min_address { 0 }; // inclusive
    u64 max_address { 0 }; // exclusive
};

struct LoadSegment {
    u64 file_offset;
    u64 file_size;
    u64 load_address; // p_paddr or p_vaddr per the policy
    u64 virtual_address;
    u64 memory_size;
    u64 alignment;
    u32 flags; // pf_r | pf_w | pf_x
    u32 program_header_index;
};

struct LoadableImage {
    u16 type; // et_exec or et_dyn
    u64 entry_virtual;
    u64 entry_load_address; // the entry translated through its segment into the policy's address space
    u32 program_header_count;
    u32 segment_count;
    LoadSegment segments[max_load_segments];
};

// Which program headers a refusal is about, so that the caller can name them ("segment 2 ..."); -1 if none.
struct Diagnostic {
    int segment { -1 };
    int other_segment { -1 };
};

// `reason()` of a returned Error is a static sentence fragment; when `diagnostic->segment` is set, the
// sentence reads "segment N <reason>" (and "... M" for other_segment), see format_refusal().
ErrorOr<LoadableImage> parse_loadable_image(u8 const* file, u64 file_size, LoadPolicy const& policy,
    Diagnostic* diagnostic = nullptr);

// Program header `index` of a file that parse_loadable_image() accepted, copied out (bounds re-checked).
ErrorOr<Elf64_Phdr> read_program_header(u8 const* file, u64 file_size, u32 index);

// Writes a NUL-terminated human sentence for a refusal into `buffer` (truncated to fit); returns `buffer`.
char const* format_refusal(Error const& error, Diagnostic const& diagnostic, char* buffer, usize buffer_size);

} // namespace kernite::elf
