// ELF64 on-disk layouts (System V gABI, "ELF-64 Object File Format" 1.5; x86-64 psABI 1.0 §4). Our own
// definitions, not <elf.h>: this header is compiled freestanding by the kernel too.
#pragma once

#include <ktl/types.h>

namespace kernite::elf {

inline constexpr u8 elf_magic[4] = { 0x7f, 'E', 'L', 'F' };

// e_ident indices and values (gABI "ELF Identification").
inline constexpr usize ei_class = 4;
inline constexpr usize ei_data = 5;
inline constexpr usize ei_version = 6;
inline constexpr usize ei_nident = 16;
inline constexpr u8 elfclass64 = 2;
inline constexpr u8 elfdata2lsb = 1;
inline constexpr u8 ev_current = 1;

inline constexpr u16 et_exec = 2;
inline constexpr u16 et_dyn = 3;
inline constexpr u16 em_x86_64 = 62;

inline constexpr u32 pt_load = 1;
inline constexpr u32 pt_dynamic = 2;
inline constexpr u32 pt_interp = 3;
inline constexpr u32 pt_note = 4;
inline constexpr u16 pn_xnum = 0xffff;

inline constexpr u32 pf_x = 1;
inline constexpr u32 pf_w = 2;
inline constexpr u32 pf_r = 4;

struct Elf64_Ehdr {
    u8 e_ident[ei_nident];
    u16 e_type;
    u16 e_machine;
    u32 e_version;
    u64 e_entry;
    u64 e_phoff;
    u64 e_shoff;
    u32 e_flags;
    u16 e_ehsize;
    u16 e_phentsize;
    u16 e_phnum;
    u16 e_shentsize;
    u16 e_shnum;
    u16 e_shstrndx;
};
static_assert(sizeof(Elf64_Ehdr) == 64);
static_assert(__builtin_offsetof(Elf64_Ehdr, e_entry) == 24);
static_assert(__builtin_offsetof(Elf64_Ehdr, e_phoff) == 32);
static_assert(__builtin_offsetof(Elf64_Ehdr, e_phentsize) == 54);
static_assert(__builtin_offsetof(Elf64_Ehdr, e_phnum) == 56);

struct Elf64_Phdr {
    u32 p_type;
    u32 p_flags;
    u64 p_offset;
    u64 p_vaddr;
    u64 p_paddr;
    u64 p_filesz;
    u64 p_memsz;
    u64 p_align;
};
static_assert(sizeof(Elf64_Phdr) == 56);
static_assert(__builtin_offsetof(Elf64_Phdr, p_offset) == 8);
static_assert(__builtin_offsetof(Elf64_Phdr, p_align) == 48);

// Section headers and symbols (gABI "Sections", "Symbol Table"): libs/elf/symbols.cpp and checksec read them.
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

} // namespace kernite::elf
