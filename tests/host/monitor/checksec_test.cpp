// `kernite checksec`: each protection judged on small ELF files built here byte by byte, the feature-note parser,
// malformed and mutated files (never a crash, always an answer), the JSON and table output and the arguments.
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

using namespace kernite;
using namespace kernite::monitor;

namespace {

using Bytes = std::vector<u8>;

template<typename T>
void append(Bytes& out, T const& value)
{
    auto const* p = reinterpret_cast<u8 const*>(&value);
    out.insert(out.end(), p, p + sizeof(T));
}

void pad_to(Bytes& out, u64 alignment)
{
    while (out.size() % alignment != 0)
        out.push_back(0);
}

// An ELF note (gABI "Note Section") with name and descriptor padded to `alignment`.
Bytes make_note(std::string const& owner, u32 type, Bytes const& descriptor, u64 alignment = 4)
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

Bytes text_bytes(std::string const& text) { return Bytes(text.begin(), text.end()); }

// "key=value\0..." as kernel/security/feature_note.cpp emits it.
Bytes feature_descriptor(std::vector<std::string> const& entries)
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
Bytes code_calling(u64 text_address, u64 target, int count, bool with_endbr)
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
TestElf hardened_program()
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
TestElf kernel_image(std::vector<std::string> const& feature_entries, u64 text_access = 0x15)
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

ChecksecReport analyse(Bytes const& bytes)
{
    auto report = analyse_binary(bytes.data(), bytes.size());
    EXPECT_TRUE(report.ok()) << report.error();
    return report.ok() ? report.value() : ChecksecReport {};
}

// hardened_program() with a GNU property note (IBT and SHSTK) in an 8-aligned PT_NOTE.
TestElf program_with_property_note()
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

std::vector<std::string> const hardened_note = { "version=1", "profile=hardened", "stack_protector=strong",
    "heap=hardened", "kasan=off", "ubsan=off", "cfi=off", "fortify=off", "compiler=gcc 12.2.0" };

} // namespace

TEST(Checksec, HardenedProgramCarriesEverythingItShould)
{
    auto report = analyse(hardened_program().build());
    EXPECT_EQ(report.kind, BinaryKind::Program);
    EXPECT_TRUE(report.pie.present) << report.pie.evidence;
    EXPECT_TRUE(report.nx.present) << report.nx.evidence;
    EXPECT_TRUE(report.wx_free.present) << report.wx_free.evidence;
    EXPECT_TRUE(report.canary.present) << report.canary.evidence;
    EXPECT_EQ(report.canary_method, "symbol");
    EXPECT_EQ(report.canary_sites, 3u);
    EXPECT_TRUE(report.relro.present) << report.relro.evidence;
    EXPECT_TRUE(report.cfi.present) << report.cfi.evidence; // 4/4 function entries are endbr64
    EXPECT_EQ(report.functions, 4u);
    EXPECT_EQ(report.functions_with_endbr, 4u);
    EXPECT_FALSE(report.kasan.present);
    EXPECT_FALSE(report.ubsan.present);
    EXPECT_FALSE(report.fortify.present);
    EXPECT_FALSE(report.hardened_heap.present);
    EXPECT_FALSE(report.note.present);
}

TEST(Checksec, DefinedButNeverCalledStackCheckIsNoCanary)
{
    // Our baseline kernel defines __stack_chk_fail without calling it: its presence proves nothing.
    auto elf = hardened_program();
    elf.segments[0].bytes = Bytes(0x900, 0x90);
    auto report = analyse(elf.build());
    EXPECT_FALSE(report.canary.present) << report.canary.evidence;
    EXPECT_EQ(report.canary_method, "symbol");
    EXPECT_EQ(report.canary_sites, 0u);
    EXPECT_FALSE(report.cfi.present); // no endbr64 left
}

TEST(Checksec, StrippedProgramsAreJudgedByACodeScan)
{
    TestElf elf;
    Bytes code(64, 0x90);
    code.insert(code.begin() + 8, std::begin(tls_canary_load), std::end(tls_canary_load));
    elf.add(elf::pt_load, elf::pf_r | elf::pf_x, text_vaddr, code);
    elf.add(checksec::pt_gnu_stack, elf::pf_r | elf::pf_w, 0, {});
    auto report = analyse(elf.build());
    EXPECT_FALSE(report.has_symbols);
    EXPECT_TRUE(report.canary.present) << report.canary.evidence;
    EXPECT_EQ(report.canary_method, "code-scan");
    EXPECT_EQ(report.canary_sites, 1u);

    elf.segments[0].bytes = Bytes(64, 0x90);
    report = analyse(elf.build());
    EXPECT_FALSE(report.canary.present);
    EXPECT_EQ(report.canary_method, "code-scan");
}

TEST(Checksec, ImportedRuntimesCountThroughRelocationsAndUndefinedSymbols)
{
    auto elf = hardened_program();
    elf.segments[0].bytes = Bytes(64, 0x90);
    // __asan_load8 is neither undefined nor a call target: only the relocation names it.
    elf.dynamic_symbols = { { "__stack_chk_fail", 0, 0, checksec::stt_func, false },
        { "__memcpy_chk", 0, 0, checksec::stt_func, false }, { "__asan_load8", 0, 0, checksec::stt_func, true } };
    // R_X86_64_JUMP_SLOT (7) against dynamic symbol 3 (__asan_load8).
    elf.relocations = { { data_vaddr, (u64(3) << 32) | 7, 0 } };
    auto report = analyse(elf.build());
    EXPECT_TRUE(report.canary.present) << report.canary.evidence;
    EXPECT_EQ(report.canary_method, "import");
    EXPECT_TRUE(report.fortify.present) << report.fortify.evidence;
    EXPECT_TRUE(report.kasan.present) << report.kasan.evidence;
    EXPECT_FALSE(report.ubsan.present);
}

TEST(Checksec, SanitizerAndFortifyCallsAreFound)
{
    auto elf = hardened_program();
    u64 const ubsan = text_vaddr + 0x800;
    u64 const fortify = text_vaddr + 0x810;
    Bytes code = code_calling(text_vaddr, ubsan, 2, false);
    Bytes more = code_calling(text_vaddr + code.size(), fortify, 1, false);
    code.insert(code.end(), more.begin(), more.end());
    code.resize(0x820, 0xcc);
    elf.segments[0].bytes = code;
    elf.symbols = { { "__ubsan_handle_add_overflow", ubsan, 8 }, { "__strcpy_chk", fortify, 8 } };
    auto report = analyse(elf.build());
    EXPECT_TRUE(report.ubsan.present);
    EXPECT_EQ(report.ubsan_sites, 2u);
    EXPECT_TRUE(report.fortify.present);
    EXPECT_EQ(report.fortify_sites, 1u);
    EXPECT_FALSE(report.kasan.present);
    EXPECT_FALSE(report.canary.present);
}

TEST(Checksec, WritableAndExecutableIsReportedNotRefused)
{
    auto elf = hardened_program();
    elf.segments[1].flags = elf::pf_r | elf::pf_w | elf::pf_x;
    auto report = analyse(elf.build());
    EXPECT_FALSE(report.wx_free.present);
    EXPECT_FALSE(report.nx.present);
    EXPECT_NE(report.wx_free.evidence.find("segment 1"), std::string::npos) << report.wx_free.evidence;
}

TEST(Checksec, StackPermissionsDecideNx)
{
    auto elf = hardened_program();
    elf.segments.erase(elf.segments.begin() + 2); // no PT_GNU_STACK: Linux gives an executable stack
    auto report = analyse(elf.build());
    EXPECT_FALSE(report.nx.present) << report.nx.evidence;
    EXPECT_TRUE(report.wx_free.present);

    elf = hardened_program();
    elf.segments[2].flags = elf::pf_r | elf::pf_w | elf::pf_x;
    report = analyse(elf.build());
    EXPECT_FALSE(report.nx.present);
    EXPECT_FALSE(report.wx_free.present);
}

TEST(Checksec, FixedAddressProgramIsNotPieAndHasNoRelroWithoutTheHeader)
{
    auto elf = hardened_program();
    elf.type = elf::et_exec;
    elf.segments.erase(elf.segments.begin() + 3); // PT_GNU_RELRO
    auto report = analyse(elf.build());
    EXPECT_FALSE(report.pie.present) << report.pie.evidence;
    EXPECT_FALSE(report.relro.present);
}

TEST(Checksec, IbtPropertyNoteMeansCfi)
{
    auto elf = hardened_program();
    elf.segments[0].bytes = Bytes(64, 0x90); // no endbr64 at entries
    Bytes property;
    append(property, u32(0xc0000002)); // GNU_PROPERTY_X86_FEATURE_1_AND
    append(property, u32(4));
    append(property, u32(1)); // IBT
    append(property, u32(0)); // padding to 8
    elf.add(elf::pt_note, elf::pf_r, 0, make_note("GNU", 5, property, 8));
    elf.segments.back().alignment = 8; // 8-byte note padding (x86-64 psABI "Program Property")
    auto report = analyse(elf.build());
    EXPECT_TRUE(report.cfi.present) << report.cfi.evidence;

    property[8] = 2; // SHSTK only
    elf.segments.back().bytes = make_note("GNU", 5, property, 8);
    report = analyse(elf.build());
    EXPECT_FALSE(report.cfi.present) << report.cfi.evidence;

    // A last property whose padding the descriptor leaves out: the walk stops at the descriptor's end.
    Bytes odd;
    append(odd, u32(0xc0000001));
    append(odd, u32(5));
    odd.insert(odd.end(), { 1, 2, 3, 4, 5 });
    elf.segments.back().bytes = make_note("GNU", 5, odd, 8);
    report = analyse(elf.build());
    EXPECT_FALSE(report.cfi.present) << report.cfi.evidence;
}

TEST(Checksec, KernelImageIsPieThroughRelocationsAndTheLayoutNote)
{
    auto report = analyse(kernel_image(hardened_note).build());
    EXPECT_EQ(report.kind, BinaryKind::Kernel);
    EXPECT_EQ(report.elf_type, elf::et_exec);
    EXPECT_TRUE(report.pie.present) << report.pie.evidence;
    EXPECT_EQ(report.relative_relocations, 2u);
    EXPECT_TRUE(report.nx.present) << report.nx.evidence; // no PT_GNU_STACK needed: stacks are in its data
    EXPECT_TRUE(report.wx_free.present);
    EXPECT_TRUE(report.relro.present) << report.relro.evidence;
    EXPECT_NE(report.relro.evidence.find("segment 1"), std::string::npos);
    EXPECT_TRUE(report.canary.present);
    EXPECT_EQ(report.canary_sites, 2u);
    EXPECT_TRUE(report.hardened_heap.present);
    EXPECT_TRUE(report.note.present);
    EXPECT_EQ(report.note.value("profile"), "hardened");
    EXPECT_TRUE(report.note_mismatches.empty());
}

TEST(Checksec, KernelWithoutRelocationsIsNotPie)
{
    auto elf = kernel_image(hardened_note);
    elf.relocations.clear();
    auto report = analyse(elf.build());
    EXPECT_FALSE(report.pie.present) << report.pie.evidence;
}

TEST(Checksec, KernelLayoutRangeThatIsWritableAndExecutableIsNotWxFree)
{
    auto report = analyse(kernel_image(hardened_note, 0x17).build()); // text range R W X
    EXPECT_FALSE(report.wx_free.present);
    EXPECT_NE(report.wx_free.evidence.find("layout range 0"), std::string::npos) << report.wx_free.evidence;
}

TEST(Checksec, FeatureNoteThatDisagreesWithTheBinaryIsFlagged)
{
    auto elf = kernel_image({ "version=1", "profile=baseline", "stack_protector=none", "heap=simple", "kasan=on" });
    auto report = analyse(elf.build());
    EXPECT_FALSE(report.hardened_heap.present);
    ASSERT_EQ(report.note_mismatches.size(), 2u);
    EXPECT_EQ(report.note_mismatches[0], "canary"); // the code calls __stack_chk_fail
    EXPECT_EQ(report.note_mismatches[1], "kasan");  // no __asan_* anywhere
}

TEST(Checksec, KernelWithoutFeatureNoteHasNoHardenedHeap)
{
    auto report = analyse(kernel_image({}).build());
    EXPECT_FALSE(report.note.present);
    EXPECT_FALSE(report.hardened_heap.present);
}

TEST(FeatureNote, ParsesEntriesAndPadding)
{
    auto bytes = feature_descriptor({ "version=1", "profile=debug", "compiler=gcc 12.2.0", "future_key=x" });
    bytes.push_back(0); // more padding than needed is fine
    auto note = parse_feature_note(bytes.data(), bytes.size());
    ASSERT_TRUE(note.ok()) << note.error();
    EXPECT_EQ(note.value().entries.size(), 4u);
    EXPECT_EQ(note.value().value("profile"), "debug");
    EXPECT_EQ(note.value().value("compiler"), "gcc 12.2.0");
    EXPECT_EQ(note.value().value("future_key"), "x");
    EXPECT_EQ(note.value().value("absent"), "");
}

TEST(FeatureNote, RefusesMalformedDescriptors)
{
    std::vector<Bytes> bad = {
        {},
        text_bytes("version=1"),                           // not NUL-terminated
        feature_descriptor({ "profile=x" }),               // version not first
        feature_descriptor({ "version=1", "Profile=x" }),  // key outside [a-z0-9_]
        feature_descriptor({ "version=1", "=x" }),         // empty key
        feature_descriptor({ "version=1", "novalue" }),    // no '='
        feature_descriptor({ "version=1", "a=1", "a=2" }), // duplicate
        feature_descriptor({ "version=1", "a=\x1b[31m" }), // terminal escape in a value
        feature_descriptor({ "version=1", std::string(33, 'k') + "=v" }),
        feature_descriptor({ "version=1", "k=" + std::string(129, 'v') }),
    };
    Bytes gap = feature_descriptor({ "version=1" });
    gap.push_back(0);
    gap.push_back('a'); // an empty entry followed by more text
    gap.push_back(0);
    bad.push_back(gap);
    std::vector<std::string> many = { "version=1" };
    for (int i = 0; i < 64; ++i)
        many.push_back("k" + std::to_string(i) + "=v");
    bad.push_back(feature_descriptor(many));
    for (auto const& bytes : bad)
        EXPECT_FALSE(parse_feature_note(bytes.data(), bytes.size()).ok()) << std::string(bytes.begin(), bytes.end());
    Bytes huge(max_feature_note_size + 4, 0);
    EXPECT_FALSE(parse_feature_note(huge.data(), huge.size()).ok());
}

TEST(ChecksecMalformed, RefusesWhatItCannotReadSafely)
{
    auto const good = kernel_image(hardened_note).build();
    auto refuse = [](Bytes const& bytes, char const* expected) {
        auto report = analyse_binary(bytes.data(), bytes.size());
        ASSERT_FALSE(report.ok()) << expected;
        EXPECT_NE(report.error().find(expected), std::string::npos) << report.error();
    };
    auto patched = [&](u64 offset, auto value) {
        Bytes copy = good;
        std::memcpy(copy.data() + offset, &value, sizeof(value));
        return copy;
    };
    elf::Elf64_Ehdr header;
    std::memcpy(&header, good.data(), sizeof(header));
    refuse(Bytes(10, 0), "too small");
    refuse(patched(0, u8(0)), "bad magic");
    refuse(patched(offsetof(elf::Elf64_Ehdr, e_machine), u16(3)), "x86-64");
    refuse(patched(offsetof(elf::Elf64_Ehdr, e_type), u16(1)), "ET_EXEC or ET_DYN");
    refuse(patched(offsetof(elf::Elf64_Ehdr, e_phoff), u64(good.size() - 8)), "program header table");
    refuse(patched(offsetof(elf::Elf64_Ehdr, e_shoff), u64(good.size() - 8)), "section header table");
    refuse(patched(offsetof(elf::Elf64_Ehdr, e_shstrndx), u16(2)), "string table"); // section 2 is .symtab
    // Program header 0's file size past the end of the file.
    refuse(patched(header.e_phoff + offsetof(elf::Elf64_Phdr, p_filesz), u64(good.size())), "outside the file");
    // Section 1 (.strtab) past the end of the file.
    refuse(
        patched(header.e_shoff + sizeof(checksec::Elf64_Shdr) + offsetof(checksec::Elf64_Shdr, sh_size), u64(1) << 40),
        "section 1 lies outside the file");
}

TEST(ChecksecMalformed, EveryTruncationIsRefusedOrAnalysedWithoutACrash)
{
    auto const good = kernel_image(hardened_note).build();
    int refused = 0;
    for (u64 size = 0; size < good.size(); ++size) {
        Bytes copy(good.begin(), good.begin() + static_cast<long>(size)); // a fresh allocation: ASan sees overreads
        if (!analyse_binary(copy.data(), copy.size()).ok())
            ++refused;
    }
    // Everything up to the section headers at the end is needed.
    EXPECT_GT(refused, static_cast<int>(good.size()) / 2);
}

TEST(ChecksecMalformed, RandomCorruptionNeverCrashes)
{
    std::mt19937_64 random(4242); // fixed seed: a failure reproduces
    for (auto const& good :
        { kernel_image(hardened_note).build(), hardened_program().build(), program_with_property_note().build() }) {
        elf::Elf64_Ehdr header;
        std::memcpy(&header, good.data(), sizeof(header));
        // The notes and the dynamic section (with the RELA table after it) are where the parsers walk lists.
        std::vector<std::pair<u64, u64>> lists;
        for (u32 i = 0; i < header.e_phnum; ++i) {
            elf::Elf64_Phdr phdr;
            std::memcpy(&phdr, good.data() + header.e_phoff + i * sizeof(phdr), sizeof(phdr));
            if (phdr.p_type == elf::pt_note || phdr.p_type == elf::pt_dynamic)
                lists.emplace_back(phdr.p_offset, phdr.p_filesz + (phdr.p_type == elf::pt_dynamic ? 48 : 0));
        }
        if (lists.empty())
            lists.emplace_back(0, good.size()); // hardened_program() has neither
        int analysed = 0;
        for (int round = 0; round < 3000; ++round) {
            Bytes copy = good;
            int const changes = 1 + static_cast<int>(random() % 4);
            for (int i = 0; i < changes; ++i) {
                // Most changes hit the tables, where the sizes and offsets are.
                u64 const headers_end = sizeof(header) + header.e_phnum * sizeof(elf::Elf64_Phdr);
                u64 position = 0;
                auto const& list = lists[random() % lists.size()];
                switch (random() % 4) {
                case 0: position = random() % headers_end; break;
                case 1: position = header.e_shoff + random() % (copy.size() - header.e_shoff); break;
                case 2: position = list.first + random() % list.second; break;
                default: position = random() % copy.size(); break;
                }
                copy[position] = static_cast<u8>(random());
            }
            auto report = analyse_binary(copy.data(), copy.size());
            if (report.ok()) {
                ++analysed;
                (void)format_checksec_json(report.value(), "x");
                (void)format_checksec_table(report.value(), "x");
            }
        }
        EXPECT_GT(analysed, 0);
    }
}

TEST(ChecksecOutput, JsonIsOneFlatObjectWithEveryProtection)
{
    auto report = analyse(kernel_image(hardened_note).build());
    std::string json = format_checksec_json(report, "dir/\"odd\"\n.elf");
    EXPECT_EQ(json.front(), '{');
    EXPECT_EQ(json.back(), '}');
    EXPECT_EQ(json.find('\n'), std::string::npos);
    EXPECT_EQ(json.find('{', 1), std::string::npos); // flat: no nested object
    EXPECT_EQ(json.find('['), std::string::npos);
    EXPECT_NE(json.find("\"file\":\"dir/\\\"odd\\\"\\u000a.elf\""), std::string::npos) << json;
    for (char const* key : { "\"pie\":true", "\"nx\":true", "\"wx_free\":true", "\"canary\":true", "\"kasan\":false",
             "\"ubsan\":false", "\"cfi\":false", "\"relro\":true", "\"fortify\":false", "\"hardened_heap\":true",
             "\"kind\":\"kernel\"", "\"canary_method\":\"symbol\"", "\"feature_note\":true",
             "\"note_profile\":\"hardened\"", "\"note_compiler\":\"gcc 12.2.0\"", "\"note_mismatches\":\"\"" })
        EXPECT_NE(json.find(key), std::string::npos) << key << " in " << json;
}

TEST(ChecksecOutput, TableHasOneLinePerProtectionAndTheNote)
{
    auto report = analyse(kernel_image(hardened_note).build());
    std::string table = format_checksec_table(report, "k.elf");
    EXPECT_EQ(table.rfind("k.elf: Kernite kernel image, ET_EXEC", 0), 0u) << table;
    for (char const* line : { "\n  pie            yes ", "\n  canary         yes  2 calls to __stack_chk_fail",
             "\n  kasan          no ", "\n  hardened_heap  yes ", "\n  feature note   version=1 profile=hardened" })
        EXPECT_NE(table.find(line), std::string::npos) << line << " in\n" << table;
}

TEST(ChecksecArguments, ParsesImageProgramAndJson)
{
    auto parse = [](std::vector<char const*> arguments) {
        arguments.insert(arguments.begin(), { "kernite", "checksec" });
        return parse_checksec_arguments(static_cast<int>(arguments.size()), arguments.data(), 2);
    };
    auto options = parse({ "k.elf", "--program", "p", "--json" });
    ASSERT_TRUE(options.ok()) << options.error();
    EXPECT_EQ(options.value().image, "k.elf");
    EXPECT_EQ(options.value().program, "p");
    EXPECT_TRUE(options.value().json);
    options = parse({ "--program=p2", "hardened" });
    ASSERT_TRUE(options.ok());
    EXPECT_EQ(options.value().program, "p2");
    EXPECT_FALSE(options.value().json);
    EXPECT_TRUE(parse({ "--help" }).value().help);
    for (auto const& bad : std::vector<std::vector<char const*>> { {}, { "--json" }, { "a", "b" }, { "a", "--program" },
             { "a", "--program=" }, { "a", "--frob" }, { "a", "--program", "p", "--program", "q" } })
        EXPECT_FALSE(parse(bad).ok());

    char const* argv[] = { "kernite", "checksec", "img", "--json" };
    auto command = parse_command_line(4, argv);
    ASSERT_TRUE(command.ok()) << command.error();
    EXPECT_EQ(command.value().kind, Command::Kind::Checksec);
    EXPECT_EQ(command.value().checksec.image, "img");
}
