// What the kernel must map to start a static Linux x86-64 program, computed from its (hostile) ELF image.
//
// plan_program() accepts exactly what Kernite can run today: an ELF64 little-endian x86-64 SysV/GNU executable,
// ET_EXEC (static) or ET_DYN without PT_INTERP (static-PIE), every PT_LOAD readable/writable/executable as its
// p_flags say but never writable and executable, no executable-stack request. Anything else is refused with
// ENOEXEC and a one-line reason the kernel prints before exiting 127 (issue 3 item 1). The structural checks of
// libs/elf (file ranges, overflow, W+X, overlap, entry point) run first; this layer adds what a program
// loader needs beyond them: page congruence, page sharing between segments, the user address range, the
// null-page floor, the program-header address (AT_PHDR) and the PT_TLS/PT_GNU_RELRO/PT_GNU_STACK facts.
//
// All addresses in a ProgramPlan are the ELF's own (unbiased). For ET_DYN the kernel picks a random bias with
// choose_load_bias() and shifts the plan with apply_load_bias(), which re-checks the biased range.
//
// How the kernel uses a plan: for each segment, map [map_start, map_end) with `prot` (a zero-filled region),
// then copy `filesz` bytes from image + file_offset to vaddr (through the kernel's own mapping of those
// pages; the user mapping may be read-only). Bytes between vaddr + filesz and the end of the pages stay zero.
// The copy of one segment may land in the last page of the previous segment: pages are shared between
// segments only when both have the same permissions (see ProgramSegment::map_start), as linkers lay them out.
#pragma once

#include <elf/image.h>
#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::exec {

// mmap(2)'s PROT_* values (asm-generic/mman-common.h), which the region map and the page tables take.
inline constexpr u32 prot_none = 0;
inline constexpr u32 prot_read = 1;
inline constexpr u32 prot_write = 2;
inline constexpr u32 prot_exec = 4;

inline constexpr u32 max_program_segments = elf::max_load_segments; // 16

struct ProgramSegment {
    u64 vaddr;       // p_vaddr
    u64 memsz;       // p_memsz (> 0)
    u64 filesz;      // p_filesz (<= memsz)
    u64 file_offset; // p_offset; [file_offset, file_offset + filesz) lies inside the image
    u32 prot;        // prot_read | prot_write | prot_exec from p_flags; never write and exec together
    u32 program_header_index;
    // The pages this segment owns: page-aligned, ascending and disjoint across segments. Normally
    // [align_down(vaddr), align_up(vaddr + memsz)); when the first page is shared with the previous segment
    // (same prot) that page belongs to the previous one and map_start is the next page; map_start == map_end
    // when the segment lies wholly inside a page the previous segment owns.
    u64 map_start;
    u64 map_end;
    u64 map_offset; // the file offset that map_start corresponds to: the offset /proc/self/maps shows (Linux
                    // vm_pgoff), which symbolizers use to find the file behind an address
};

struct TlsTemplate { // PT_TLS: the initial image of each thread's static TLS block (read by libc, not the kernel)
    u64 vaddr;
    u64 filesz; // .tdata bytes at vaddr
    u64 memsz;  // .tdata + .tbss
    u64 align;  // a power of two, or 0/1 for none
};

struct ProgramPlan {
    bool position_independent { false }; // ET_DYN: needs a load bias
    bool bias_applied { false };         // apply_load_bias() ran (once only)
    u64 load_bias { 0 };                 // what apply_load_bias() added to every address below
    u64 span_start { 0 };                // lowest page of any PT_LOAD
    u64 span_end { 0 };                  // end of the highest PT_LOAD's last page
    u64 max_alignment { 0 };             // largest PT_LOAD p_align, at least a page: the bias is a multiple of it
    u32 segment_count { 0 };
    ProgramSegment segments[max_program_segments] {}; // ascending vaddr
    u64 entry { 0 };
    u64 phdr { 0 };  // AT_PHDR: PT_PHDR's p_vaddr, else where the PT_LOAD holding e_phoff maps the table
    u16 phent { 0 }; // AT_PHENT
    u16 phnum { 0 }; // AT_PHNUM
    bool has_tls { false };
    TlsTemplate tls {};
    bool has_relro { false }; // PT_GNU_RELRO: libc (glibc) makes [relro_start, relro_end) read-only itself
    u64 relro_start { 0 };
    u64 relro_end { 0 };
    u64 stack_size { 0 }; // PT_GNU_STACK p_memsz when nonzero (musl reads it for thread stacks), else 0
};

// Validates `image` and returns what to map. On refusal the Error is ENOEXEC with a static reason; when
// `diagnostic` is given and the reason is about one program header, it names it, and describe_refusal()
// turns both into one sentence ("segment 3 is writable and executable").
ErrorOr<ProgramPlan> plan_program(u8 const* image, usize size, elf::Diagnostic* diagnostic = nullptr);

// The refusal as one NUL-terminated line in `buffer` (truncated to fit); returns `buffer`.
char const* describe_refusal(Error const& error, elf::Diagnostic const& diagnostic, char* buffer, usize buffer_size);

// Where a position-independent program may be placed, and how much randomness its base must have.
//
// Default window [2^40, 2^46): 63 TiB, far above any ET_EXEC program (linked near 4 MiB) and below the upper
// 64 TiB of the lower half, which the kernel keeps for the mmap area and the stack. With 4 KiB alignment that
// is just under 2^34 possible bases, 33 bits (Linux: ELF_ET_DYN_BASE at 2/3 of the address space plus 28 bits
// of pages, arch/x86/mm/mmap.c). A program whose p_align is larger gets fewer (2 MiB: 24 bits); below
// `minimum_entropy_bits` the choice is refused (ENOEXEC), never narrowed or moved to a fixed address.
struct LoadWindow {
    u64 start { 1ull << 40 };        // lowest allowed biased address (inclusive)
    u64 end { 1ull << 46 };          // highest allowed biased end (exclusive)
    u32 minimum_entropy_bits { 28 }; // issue 4: each program region randomized with at least 28 bits
};

// For ET_DYN: a bias, a multiple of max_alignment, that puts [span_start, span_end) inside the window, chosen
// uniformly from `random` (64 fresh bits from the kernel's generator). For ET_EXEC: 0. The number of possible
// choices is at least 2^minimum_entropy_bits or the call fails.
ErrorOr<u64> choose_load_bias(ProgramPlan const& plan, u64 random, LoadWindow const& window = {});

// log2 of the number of bases choose_load_bias() picks from for this plan and window (0 if none fits).
u32 load_bias_entropy_bits(ProgramPlan const& plan, LoadWindow const& window = {});

// Shifts every address of `plan` by `bias` and records it in load_bias; the kernel calls it once for every
// program (ET_EXEC with bias 0). Refused (EINVAL) for a nonzero bias on ET_EXEC, an unaligned bias or a plan
// already biased; ENOEXEC when the biased span would leave
// [64 KiB, user_address_limit) or overflow.
ErrorOr<void> apply_load_bias(ProgramPlan& plan, u64 bias);

} // namespace kernite::exec
