// Dynamic relocations of a position-independent image (a static PIE, like the Kernite kernel).
//
// find_relocations() locates the RELA table through PT_DYNAMIC (DT_RELA, DT_RELASZ, DT_RELAENT) and checks it
// against the validated image; apply_relative_relocations() rewrites every R_X86_64_RELATIVE target for a new
// virtual base. Hostile-input rules: any other relocation type, DT_REL or DT_TEXTREL is refused; every target
// must lie, 8 bytes whole, inside the file-backed part of a writable PT_LOAD (so text and rodata are never
// written); all arithmetic is overflow-checked. Used by the monitor (natively, before the guest runs) and
// unit-tested on the host.
#pragma once

#include <elf/image.h>
#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::elf {

inline constexpr u32 r_x86_64_relative = 8;

struct Elf64_Rela {
    u64 r_offset;
    u64 r_info;
    i64 r_addend;
};
static_assert(sizeof(Elf64_Rela) == 24);

struct Elf64_Dyn {
    i64 d_tag;
    u64 d_val;
};
static_assert(sizeof(Elf64_Dyn) == 16);

inline constexpr i64 dt_null = 0;
inline constexpr i64 dt_rela = 7;
inline constexpr i64 dt_relasz = 8;
inline constexpr i64 dt_relaent = 9;
inline constexpr i64 dt_rel = 17;
inline constexpr i64 dt_textrel = 22;
inline constexpr u64 max_relocations = 1u << 20;

struct RelocationTable {
    u64 file_offset { 0 }; // of the first Elf64_Rela
    u64 count { 0 };       // 0: the image has no dynamic relocations
};

ErrorOr<RelocationTable> find_relocations(u8 const* file, u64 file_size, LoadableImage const& image);

// Where relocation target `virtual_address` is loaded (image.segments' load_address space); checked as above.
ErrorOr<u64> relocation_target(LoadableImage const& image, u64 virtual_address);

// The lowest PT_LOAD virtual address: the base the image was linked at.
u64 link_base(LoadableImage const& image);

// Applies every R_X86_64_RELATIVE relocation for `new_base`: writes `addend - link_base + new_base` to each
// target through `write(load_address, value) -> bool`. Returns the number applied.
template<typename Write>
ErrorOr<u64> apply_relative_relocations(u8 const* file, u64 file_size, LoadableImage const& image,
    RelocationTable const& table, u64 new_base, Write write)
{
    u64 bytes = 0;
    if (!ktl::checked_mul<u64>(table.count, sizeof(Elf64_Rela), &bytes) || table.file_offset > file_size
        || bytes > file_size - table.file_offset)
        return Error::from_errno(ENOEXEC, "relocation table outside the file");
    u64 base = link_base(image);
    for (u64 i = 0; i < table.count; ++i) {
        Elf64_Rela rela;
        __builtin_memcpy(&rela, file + table.file_offset + i * sizeof(Elf64_Rela), sizeof(rela));
        if (static_cast<u32>(rela.r_info) != r_x86_64_relative)
            return Error::from_errno(ENOEXEC, "relocation other than R_X86_64_RELATIVE");
        u64 target = TRY(relocation_target(image, rela.r_offset));
        // value = addend - link_base + new_base, in wrapping u64 arithmetic like the CPU's.
        u64 value = static_cast<u64>(rela.r_addend) - base + new_base;
        if (!write(target, value))
            return Error::from_errno(EFAULT, "relocation target not writable");
    }
    return table.count;
}

} // namespace kernite::elf
