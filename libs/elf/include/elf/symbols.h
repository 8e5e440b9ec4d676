// Symbol lookup in an ELF64 file's .symtab (gABI "Sections", "Symbol Table"): which function or data object of a
// program contains an address, for fault reports (issue 4 item 5). The file is hostile (it is the program the
// user runs): every header, table, index and string is bounds-checked against the file before it is read, and
// nothing is read unaligned.
#pragma once

#include <ktl/types.h>

namespace kernite::elf {

inline constexpr u32 sht_symtab = 2;
inline constexpr u32 sht_strtab = 3;
inline constexpr u8 stt_object = 1;
inline constexpr u8 stt_func = 2;
inline constexpr u16 shn_undef = 0;

struct Elf64_Shdr {
    u32 sh_name;
    u32 sh_type;
    u64 sh_flags;
    u64 sh_addr;
    u64 sh_offset;
    u64 sh_size;
    u32 sh_link;
    u32 sh_info;
    u64 sh_addralign;
    u64 sh_entsize;
};
static_assert(sizeof(Elf64_Shdr) == 64);
static_assert(__builtin_offsetof(Elf64_Shdr, sh_offset) == 24);
static_assert(__builtin_offsetof(Elf64_Shdr, sh_link) == 40);

struct Elf64_Sym {
    u32 st_name;
    u8 st_info; // binding << 4 | type
    u8 st_other;
    u16 st_shndx;
    u64 st_value;
    u64 st_size;
};
static_assert(sizeof(Elf64_Sym) == 24);
static_assert(__builtin_offsetof(Elf64_Sym, st_value) == 8);

struct SymbolMatch {
    char const* name { nullptr }; // inside the file, NUL-terminated inside its string table
    u64 offset { 0 };             // address - the symbol's value
};

// The defined STT_FUNC or STT_OBJECT symbol of `file` whose [value, value + size) contains `address` (a link-time
// address: subtract a static-PIE program's load bias first); the smallest if several do. False when the file has
// no (valid) .symtab or no symbol contains the address; a malformed table never reads outside the file.
bool find_symbol(u8 const* file, u64 file_size, u64 address, SymbolMatch* match);

} // namespace kernite::elf
