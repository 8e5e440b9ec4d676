// Small ELF files built byte by byte for the checksec tests (checksec_test.cpp, checksec_input_test.cpp).
#pragma once

#include "checksec.h"
#include "checksec_elf.h"
#include "cli.h"

#include <paging/kernel_layout.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <vector>


namespace kernite::monitor::checksec_test {

using namespace kernite;
using namespace kernite::monitor;


using Bytes = std::vector<u8>;

template<typename T>
inline void append(Bytes& out, T const& value)
{
    auto const* p = reinterpret_cast<u8 const*>(&value);
    out.insert(out.end(), p, p + sizeof(T));
}

inline void pad_to(Bytes& out, u64 alignment)
{
    while (out.size() % alignment != 0)
        out.push_back(0);
}

// An ELF note (gABI "Note Section") with name and descriptor padded to `alignment`.
inline Bytes make_note(std::string const& owner, u32 type, Bytes const& descriptor, u64 alignment = 4)
{
    Bytes out;
    append(out, static_cast<u32>(owner.size() + 1));
    append(out, static_cast<u32>(descriptor.size()));
    append(out, type);
    out.insert(out.end(), owner.begin(), owner.end());
    out.push_back(0);
    pad_to(out, alignment);
    out.insert(out.end(), descriptor.begin(), descriptor.end());
    pad_to(out, alignment);
    return out;
}

inline Bytes text_bytes(std::string const& text) { return Bytes(text.begin(), text.end()); }

// "key=value\0..." as kernel/security/feature_note.cpp emits it.
inline Bytes feature_descriptor(std::vector<std::string> const& entries)
{
    Bytes out;
    for (auto const& entry : entries) {
        out.insert(out.end(), entry.begin(), entry.end());
        out.push_back(0);
    }
    pad_to(out, 4);
    return out;
}

constexpr u8 endbr64[] = { 0xf3, 0x0f, 0x1e, 0xfa };
constexpr u8 tls_canary_load[] = { 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00 }; // mov %fs:0x28,%rax

// A small ELF64 x86-64 file: segments at page-aligned file offsets (p_offset == p_vaddr mod 4096), then the
// section headers the test asks for.
struct TestElf {
    struct Segment {
        u32 type;
        u32 flags;
        u64 vaddr;
        Bytes bytes;
        u64 extra_memory { 0 }; // memsz - filesz
        u64 alignment { 0 };    // 0: 4096 for PT_LOAD, 4 for PT_NOTE, 8 otherwise
    };
    struct Symbol {
        std::string name;
        u64 value;
        u64 size;
        u8 type { checksec::stt_func };
        bool defined { true };
    };

    u16 type { elf::et_dyn };
    std::vector<Segment> segments;
    std::vector<Symbol> symbols;         // .symtab (none: no section headers at all, like a stripped file)
    std::vector<Symbol> dynamic_symbols; // .dynsym
    std::vector<Bytes> note_sections;    // non-allocated SHT_NOTE sections
    std::vector<elf::Elf64_Rela> relocations;
    static constexpr u64 dynamic_vaddr = 0x7000000;

    void add(u32 segment_type, u32 flags, u64 vaddr, Bytes bytes, u64 extra_memory = 0)
    {
        segments.push_back({ segment_type, flags, vaddr, std::move(bytes), extra_memory });
    }

    Bytes build() const
    {
        auto all = segments;
        if (!relocations.empty()) {
            // One read-only PT_LOAD holding the dynamic section, then the RELA table it points to.
            Bytes dynamic;
            u64 const rela = dynamic_vaddr + 4 * sizeof(elf::Elf64_Dyn);
            append(dynamic, elf::Elf64_Dyn { elf::dt_rela, rela });
            append(dynamic, elf::Elf64_Dyn { elf::dt_relasz, relocations.size() * sizeof(elf::Elf64_Rela) });
            append(dynamic, elf::Elf64_Dyn { elf::dt_relaent, sizeof(elf::Elf64_Rela) });
            append(dynamic, elf::Elf64_Dyn { elf::dt_null, 0 });
            Bytes load = dynamic;
            for (auto const& entry : relocations)
                append(load, entry);
            all.push_back({ elf::pt_load, elf::pf_r, dynamic_vaddr, load });
            all.push_back({ elf::pt_dynamic, elf::pf_r, dynamic_vaddr, dynamic });
        }
        Bytes out(sizeof(elf::Elf64_Ehdr) + all.size() * sizeof(elf::Elf64_Phdr), 0);
        std::vector<elf::Elf64_Phdr> phdrs;
        u64 entry = 0;
        for (auto const& segment : all) {
            u64 offset = 0;
            if (segment.type == elf::pt_dynamic) {
                offset = phdrs[phdrs.size() - 1].p_offset; // at the start of the PT_LOAD just above
            } else {
                pad_to(out, 4096);
                offset = out.size();
                out.insert(out.end(), segment.bytes.begin(), segment.bytes.end());
            }
            if (segment.type == elf::pt_load && (segment.flags & elf::pf_x) && entry == 0)
                entry = segment.vaddr;
            u64 alignment = segment.alignment;
            if (alignment == 0)
                alignment = segment.type == elf::pt_load ? 4096 : segment.type == elf::pt_note ? 4 : 8;
            phdrs.push_back({ segment.type, segment.flags, offset, segment.vaddr, segment.vaddr, segment.bytes.size(),
                segment.bytes.size() + segment.extra_memory, alignment });
        }

        std::vector<checksec::Elf64_Shdr> sections;
        Bytes section_names(1, 0);
        auto add_section = [&](char const* name, u32 type, Bytes const& bytes, u32 link = 0, u64 entsize = 0) {
            pad_to(out, 8);
            checksec::Elf64_Shdr shdr {};
            shdr.sh_name = static_cast<u32>(section_names.size());
            section_names.insert(section_names.end(), name, name + std::strlen(name) + 1);
            shdr.sh_type = type;
            shdr.sh_offset = out.size();
            shdr.sh_size = bytes.size();
            shdr.sh_link = link;
            shdr.sh_addralign = type == checksec::sht_note ? 4 : 8;
            shdr.sh_entsize = entsize;
            out.insert(out.end(), bytes.begin(), bytes.end());
            sections.push_back(shdr);
            return static_cast<u32>(sections.size() - 1);
        };
        auto add_symbol_table = [&](char const* table, char const* strings, u32 type, std::vector<Symbol> const& list) {
            Bytes names(1, 0);
            Bytes entries(sizeof(checksec::Elf64_Sym), 0); // symbol 0 is the null symbol
            for (auto const& symbol : list) {
                checksec::Elf64_Sym sym {};
                sym.st_name = static_cast<u32>(names.size());
                names.insert(names.end(), symbol.name.begin(), symbol.name.end());
                names.push_back(0);
                sym.st_info = static_cast<u8>((1 << 4) | symbol.type); // STB_GLOBAL
                sym.st_shndx = symbol.defined ? 1 : checksec::shn_undef;
                sym.st_value = symbol.value;
                sym.st_size = symbol.size;
                append(entries, sym);
            }
            u32 string_index = add_section(strings, checksec::sht_strtab, names);
            add_section(table, type, entries, string_index, sizeof(checksec::Elf64_Sym));
        };
        bool const has_sections = !symbols.empty() || !dynamic_symbols.empty() || !note_sections.empty();
        if (has_sections) {
            sections.push_back({}); // SHN_UNDEF
            if (!symbols.empty())
                add_symbol_table(".symtab", ".strtab", checksec::sht_symtab, symbols);
            if (!dynamic_symbols.empty())
                add_symbol_table(".dynsym", ".dynstr", checksec::sht_dynsym, dynamic_symbols);
            for (auto const& note : note_sections)
                add_section(".note.test", checksec::sht_note, note);
        }
        u32 names_index = 0;
        if (has_sections)
            names_index = add_section(".shstrtab", checksec::sht_strtab, section_names);
        pad_to(out, 8);
        u64 const section_offset = out.size();
        for (auto const& shdr : sections)
            append(out, shdr);

        elf::Elf64_Ehdr header {};
        std::memcpy(header.e_ident, elf::elf_magic, 4);
        header.e_ident[elf::ei_class] = elf::elfclass64;
        header.e_ident[elf::ei_data] = elf::elfdata2lsb;
        header.e_ident[elf::ei_version] = elf::ev_current;
        header.e_type = type;
        header.e_machine = elf::em_x86_64;
        header.e_version = elf::ev_current;
        header.e_entry = entry;
        header.e_phoff = sizeof(elf::Elf64_Ehdr);
        header.e_shoff = has_sections ? section_offset : 0;
        header.e_ehsize = sizeof(elf::Elf64_Ehdr);
        header.e_phentsize = sizeof(elf::Elf64_Phdr);
        header.e_phnum = static_cast<u16>(phdrs.size());
        header.e_shentsize = sizeof(checksec::Elf64_Shdr);
        header.e_shnum = static_cast<u16>(sections.size());
        header.e_shstrndx = static_cast<u16>(names_index);
        std::memcpy(out.data(), &header, sizeof(header));
        std::memcpy(out.data() + sizeof(header), phdrs.data(), phdrs.size() * sizeof(elf::Elf64_Phdr));
        return out;
    }
};

constexpr u64 text_vaddr = 0x401000;
constexpr u64 data_vaddr = 0x600000;

// Code with `count` direct calls (E8 rel32) to `target`, each function starting at a 16-byte boundary.
inline Bytes code_calling(u64 text_address, u64 target, int count, bool with_endbr)
{
    Bytes code;
    for (int i = 0; i < count; ++i) {
        if (with_endbr)
            code.insert(code.end(), std::begin(endbr64), std::end(endbr64));
        code.push_back(0xe8);
        auto displacement
            = static_cast<i32>(static_cast<i64>(target) - static_cast<i64>(text_address + code.size() + 4));
        append(code, displacement);
        code.push_back(0xc3);
        pad_to(code, 16);
    }
    return code;
}

// A PIE program in the shape of a hardened static-pie one: RX text, RW data, PT_GNU_STACK RW, PT_GNU_RELRO.
inline TestElf hardened_program()
{
    TestElf elf;
    u64 const check_fail = text_vaddr + 0x800;
    Bytes code = code_calling(text_vaddr, check_fail, 3, true);
    code.resize(0x800, 0xcc);
    code.insert(code.end(), std::begin(endbr64), std::end(endbr64));
    code.push_back(0xf4); // hlt
    elf.add(elf::pt_load, elf::pf_r | elf::pf_x, text_vaddr, code);
    elf.add(elf::pt_load, elf::pf_r | elf::pf_w, data_vaddr, Bytes(64, 0), 4096);
    elf.add(checksec::pt_gnu_stack, elf::pf_r | elf::pf_w, 0, {});
    elf.add(checksec::pt_gnu_relro, elf::pf_r, data_vaddr, Bytes {});
    elf.symbols = {
        { "f0", text_vaddr, 12 },
        { "f1", text_vaddr + 16, 12 },
        { "f2", text_vaddr + 32, 12 },
        { "__stack_chk_fail", check_fail, 5 },
    };
    return elf;
}

// A kernel in the shape of ours: ET_EXEC, layout note, RELATIVE relocations, the relro segment sealed by the note.
inline TestElf kernel_image(std::vector<std::string> const& feature_entries, u64 text_access = 0x15)
{
    constexpr u64 base = 0xffffffff80100000;
    TestElf elf;
    elf.type = elf::et_exec;
    elf.add(elf::pt_load, elf::pf_r | elf::pf_x, base, code_calling(base, base + 0x800, 2, false));
    elf.add(elf::pt_load, elf::pf_r | elf::pf_w, base + 0x1000, Bytes(4096, 0)); // relro
    elf.add(elf::pt_load, elf::pf_r | elf::pf_w, base + 0x2000, Bytes(64, 0), 4096);
    Bytes layout;
    append(layout,
        paging::LayoutNoteHeader { paging::layout_version, 3, 0xffff800000000000, 0xfffff00000000000,
            0x00000fffc0000000, 0 });
    append(layout, paging::LayoutRange { base, base + 0x1000, text_access });
    append(layout, paging::LayoutRange { base + 0x1000, base + 0x2000, 0x11 });
    append(layout, paging::LayoutRange { base + 0x2000, base + 0x4000, 0x13 });
    elf.add(elf::pt_note, elf::pf_r, 0, make_note("Kernite", paging::layout_note_type, layout));
    elf.relocations
        = { { base + 0x1000, elf::r_x86_64_relative, 0x10 }, { base + 0x1008, elf::r_x86_64_relative, 0x20 } };
    elf.symbols = { { "kernite_entry", base, 12 }, { "__stack_chk_fail", base + 0x800, 5 },
        { "__stack_chk_guard", base + 0x2000, 8, 1 } };
    if (!feature_entries.empty())
        elf.note_sections.push_back(make_note("Kernite", feature_note_type, feature_descriptor(feature_entries)));
    return elf;
}

inline ChecksecReport analyse(Bytes const& bytes)
{
    auto report = analyse_binary(bytes.data(), bytes.size());
    EXPECT_TRUE(report.ok()) << report.error();
    return report.ok() ? report.value() : ChecksecReport {};
}

// hardened_program() with a GNU property note (IBT and SHSTK) in an 8-aligned PT_NOTE.
inline TestElf program_with_property_note()
{
    auto elf = hardened_program();
    Bytes property;
    append(property, u32(0xc0000002)); // GNU_PROPERTY_X86_FEATURE_1_AND
    append(property, u32(4));
    append(property, u32(3)); // IBT | SHSTK
    append(property, u32(0)); // padding to 8
    elf.add(elf::pt_note, elf::pf_r, 0, make_note("GNU", 5, property, 8));
    elf.segments.back().alignment = 8;
    return elf;
}

inline std::vector<std::string> const hardened_note = { "version=1", "profile=hardened", "stack_protector=strong",
    "heap=hardened", "kasan=off", "ubsan=off", "cfi=off", "fortify=off", "compiler=gcc 12.2.0" };


} // namespace kernite::monitor::checksec_test
