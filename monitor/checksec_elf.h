// A read-only view of an ELF64 x86-64 file for `kernite checksec` (checksec.h): headers, program headers,
// section headers, symbols, notes and dynamic relocations, every one bounds-checked against the file.
//
// Unlike libs/elf's parse_loadable_image() this view does not judge the file as a loader would: a W+X segment,
// a missing entry point or overlapping segments are findings to report, not reasons to stop. What it refuses
// (with a one-line reason) is a file it cannot read safely: a table, string or note outside the file, sizes that
// do not add up, counts past the limits below. The structures the loader already defines come from libs/elf
// (elf64.h, relocations.h); the ones only checksec needs are defined here, citing the gABI.
#pragma once

#include "result.h"

#include <elf/elf64.h>
#include <elf/relocations.h>
#include <ktl/types.h>

#include <string_view>
#include <vector>

namespace kernite::monitor::checksec {

using elf::Elf64_Shdr;
using elf::Elf64_Sym;
using elf::sht_symtab;
using elf::sht_strtab;
using elf::shn_undef;
using elf::stt_func;

inline constexpr u32 sht_note = 7;
inline constexpr u32 sht_nobits = 8;
inline constexpr u32 sht_dynsym = 11;
inline constexpr u16 shn_xindex = 0xffff;
inline constexpr u32 pt_gnu_stack = 0x6474e551;
inline constexpr u32 pt_gnu_relro = 0x6474e552;
inline constexpr i64 dt_pltrelsz = 2;
inline constexpr i64 dt_bind_now = 24;
inline constexpr i64 dt_flags = 30;
inline constexpr i64 dt_jmprel = 23;
inline constexpr i64 dt_flags_1 = 0x6ffffffb;
inline constexpr u64 df_bind_now = 0x8;
inline constexpr u64 df_1_now = 0x1;

// Limits on what a file may ask us to read (far above real programs: Redis has ~10k symbols).
inline constexpr u64 max_file_size = 512ull << 20;
inline constexpr u64 max_sections = 1u << 16;
inline constexpr u64 max_symbols = 1u << 22;
inline constexpr u64 max_notes = 4096;

struct ElfSection {
    std::string_view name;
    u32 type;
    u64 flags;
    u64 address;
    u64 offset;
    u64 size; // checked to lie in the file unless type is sht_nobits
    u64 alignment;
};

struct ElfSymbol {
    std::string_view name;
    u64 value;
    u64 size;
    u8 type; // STT_*
    bool defined;
};

struct ElfNote {
    std::string_view owner; // without its NUL
    u32 type;
    u64 descriptor_offset; // in the file, checked
    u64 descriptor_size;
};

struct DynamicInfo {
    bool present { false };
    std::vector<elf::Elf64_Rela> relocations; // DT_RELA and DT_JMPREL tables
    bool bind_now { false };
    bool text_relocations { false };
};

class ElfFile {
public:
    // `bytes` must outlive the ElfFile: names are views into it.
    static Result<ElfFile> parse(u8 const* bytes, u64 size);

    elf::Elf64_Ehdr const& header() const { return m_header; }
    std::vector<elf::Elf64_Phdr> const& program_headers() const { return m_program_headers; }
    std::vector<ElfSection> const& sections() const { return m_sections; }
    std::vector<ElfSymbol> const& symbols() const { return m_symbols; }                 // .symtab
    std::vector<ElfSymbol> const& dynamic_symbols() const { return m_dynamic_symbols; } // .dynsym, index = r_sym
    std::vector<ElfNote> const& notes() const { return m_notes; } // PT_NOTE segments and SHT_NOTE sections
    DynamicInfo const& dynamic() const { return m_dynamic; }

    // The file bytes [offset, offset + size), or nullptr when that range is not wholly inside the file.
    u8 const* bytes(u64 offset, u64 size) const;
    u64 size() const { return m_size; }

private:
    ElfFile(u8 const* bytes, u64 size)
        : m_bytes(bytes)
        , m_size(size)
    {
    }
    Result<Ok> parse_program_headers();
    Result<Ok> parse_sections();
    Result<Ok> parse_symbols(ElfSection const& table, u32 link, std::vector<ElfSymbol>& out);
    Result<Ok> parse_notes(u64 offset, u64 size, u64 alignment);
    Result<Ok> parse_dynamic();
    // The file offset of virtual range [address, address + size) through the file-backed part of a PT_LOAD.
    bool file_offset_of(u64 address, u64 size, u64& offset) const;

    u8 const* m_bytes;
    u64 m_size;
    elf::Elf64_Ehdr m_header {};
    std::vector<elf::Elf64_Phdr> m_program_headers;
    std::vector<ElfSection> m_sections;
    std::vector<Elf64_Shdr> m_raw_sections;
    std::vector<ElfSymbol> m_symbols;
    std::vector<ElfSymbol> m_dynamic_symbols;
    std::vector<ElfNote> m_notes;
    DynamicInfo m_dynamic;
};

} // namespace kernite::monitor::checksec
