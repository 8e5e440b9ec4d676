// checksec analysis: see checksec.h for what each protection is judged by. The file was read into memory once
// and is validated by ElfFile (checksec_elf.h); everything here works on that checked view.
#include "checksec.h"

#include "checksec_elf.h"

#include <paging/kernel_layout.h>

#include <cstring>
#include <unordered_map>
#include <unordered_set>

namespace kernite::monitor {

using checksec::ElfFile;
using checksec::ElfSymbol;

namespace {

// gABI program-header flags and the layout note's access bits (paging::Access*: Read 1, Write 2, Execute 4).
constexpr u64 layout_write = 2;
constexpr u64 layout_execute = 4;
// GNU property note (x86-64 psABI §2.1.7, "Program Property"): NT_GNU_PROPERTY_TYPE_0 from owner "GNU".
constexpr u32 nt_gnu_property_type_0 = 5;
constexpr u32 gnu_property_x86_feature_1_and = 0xc0000002;
constexpr u32 gnu_property_x86_feature_1_ibt = 1;
constexpr u8 endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };

enum class Category : u8 {
    None,
    Canary,
    Kasan,
    Ubsan,
    Fortify,
};

Category classify(std::string_view name)
{
    if (name == "__stack_chk_fail" || name == "__stack_chk_fail_local" || name == "__stack_chk_guard")
        return Category::Canary;
    if (name.starts_with("__asan_") || name.starts_with("__kasan_") || name.starts_with("__hwasan_"))
        return Category::Kasan;
    if (name.starts_with("__ubsan_handle_"))
        return Category::Ubsan;
    if (name == "__chk_fail" || (name.starts_with("__") && name.ends_with("_chk") && !name.starts_with("__stack_chk")))
        return Category::Fortify;
    return Category::None;
}

bool is_cfi_marker(std::string_view name)
{
    return name.starts_with("__cfi_") || name.starts_with("__ubsan_handle_cfi_");
}

struct CategoryCounts {
    u64 sites[5] {};
    bool imported[5] {}; // an undefined symbol or a dynamic relocation names one
    bool defined[5] {};  // the symbol table defines one (sites can then be counted)
    u64& site(Category c) { return sites[static_cast<int>(c)]; }
};

// "1 call", "2 calls"; `plural_suffix` for nouns like "access".
std::string plural(u64 count, char const* noun, char const* plural_suffix = "s")
{
    return std::to_string(count) + " " + noun + (count == 1 ? "" : plural_suffix);
}

struct LayoutNote {
    bool present { false };
    paging::LayoutNoteHeader header {};
    std::vector<paging::LayoutRange> ranges;
};

Result<LayoutNote> find_layout_note(ElfFile const& file)
{
    LayoutNote layout;
    for (auto const& note : file.notes()) {
        if (note.owner != checksec_note_owner || note.type != paging::layout_note_type)
            continue;
        u8 const* descriptor = file.bytes(note.descriptor_offset, note.descriptor_size);
        if (descriptor == nullptr || note.descriptor_size < sizeof(paging::LayoutNoteHeader))
            return fail("kernel layout note is too small");
        std::memcpy(&layout.header, descriptor, sizeof(layout.header));
        if (layout.header.count > paging::max_layout_ranges
            || note.descriptor_size - sizeof(layout.header) < layout.header.count * sizeof(paging::LayoutRange))
            return fail("kernel layout note has more ranges than it holds");
        layout.ranges.resize(layout.header.count);
        std::memcpy(layout.ranges.data(), descriptor + sizeof(layout.header),
            layout.header.count * sizeof(paging::LayoutRange));
        layout.present = true;
        return layout;
    }
    return layout;
}

Result<FeatureNote> find_feature_note(ElfFile const& file)
{
    for (auto const& note : file.notes()) {
        if (note.owner != checksec_note_owner || note.type != feature_note_type)
            continue;
        if (note.descriptor_size > max_feature_note_size)
            return fail("feature note is larger than 4096 bytes");
        return parse_feature_note(file.bytes(note.descriptor_offset, note.descriptor_size), note.descriptor_size);
    }
    return FeatureNote {};
}

// The IBT bit of the GNU property note, if the file has one: properties are {type, datasz, data padded to 8}.
bool gnu_property_ibt(ElfFile const& file)
{
    for (auto const& note : file.notes()) {
        if (note.owner != "GNU" || note.type != nt_gnu_property_type_0)
            continue;
        u8 const* data = file.bytes(note.descriptor_offset, note.descriptor_size);
        for (u64 at = 0; data != nullptr && at <= note.descriptor_size && note.descriptor_size - at >= 8;) {
            u32 type = 0;
            u32 size = 0;
            std::memcpy(&type, data + at, 4);
            std::memcpy(&size, data + at + 4, 4);
            if (size > note.descriptor_size - at - 8)
                break;
            if (type == gnu_property_x86_feature_1_and && size >= 4) {
                u32 bits;
                std::memcpy(&bits, data + at + 8, 4);
                return (bits & gnu_property_x86_feature_1_ibt) != 0;
            }
            at += 8 + ktl::align_up_const(size, 8);
        }
    }
    return false;
}

// Scans every executable PT_LOAD once: direct calls/jumps to the symbols of interest, and TLS canary accesses.
void scan_code(ElfFile const& file, std::unordered_map<u64, Category> const& targets, CategoryCounts& counts,
    u64& canary_tls_accesses)
{
    for (auto const& phdr : file.program_headers()) {
        if (phdr.p_type != elf::pt_load || !(phdr.p_flags & elf::pf_x))
            continue;
        u8 const* code = file.bytes(phdr.p_offset, phdr.p_filesz);
        u64 const size = code ? phdr.p_filesz : 0;
        for (u64 i = 0; i < size; ++i) {
            u64 length = 0; // of the instruction whose rel32 ends it
            if ((code[i] == 0xe8 || code[i] == 0xe9) && size - i >= 5)
                length = 5; // call/jmp rel32
            else if (code[i] == 0x0f && size - i >= 6 && (code[i + 1] & 0xf0) == 0x80)
                length = 6; // jcc rel32
            if (length != 0 && !targets.empty()) {
                i32 displacement;
                std::memcpy(&displacement, code + i + length - 4, 4);
                u64 const target = phdr.p_vaddr + i + length + static_cast<u64>(static_cast<i64>(displacement));
                if (auto found = targets.find(target); found != targets.end())
                    ++counts.site(found->second);
            }
            // 64 REX.W(+R) {8b mov, 2b sub, 33 xor} ModRM(mod 00, rm 100) SIB(disp32 only) 28 00 00 00:
            // op %fs:0x28, reg, the canary load and check of glibc/musl programs (TLS stack guard, x86-64 ABI).
            if (code[i] == 0x64 && size - i >= 9 && (code[i + 1] == 0x48 || code[i + 1] == 0x4c)
                && (code[i + 2] == 0x8b || code[i + 2] == 0x2b || code[i + 2] == 0x33) && (code[i + 3] & 0xc7) == 0x04
                && code[i + 4] == 0x25 && code[i + 5] == 0x28 && code[i + 6] == 0 && code[i + 7] == 0
                && code[i + 8] == 0)
                ++canary_tls_accesses;
        }
    }
}

// The bytes [address, address + size) when an executable PT_LOAD's file bytes hold all of them, else null.
u8 const* executable_range_at(ElfFile const& file, u64 address, u64 size)
{
    for (auto const& phdr : file.program_headers()) {
        if (phdr.p_type == elf::pt_load && (phdr.p_flags & elf::pf_x) && address >= phdr.p_vaddr
            && address - phdr.p_vaddr <= phdr.p_filesz && phdr.p_filesz - (address - phdr.p_vaddr) >= size)
            return file.bytes(phdr.p_offset + (address - phdr.p_vaddr), size);
    }
    return nullptr;
}

// The zeroing xors -fzero-call-used-regs=used-gpr puts before a ret: `xor %reg32, %reg32` of a call-clobbered
// register. Not eax: `xor %eax, %eax; ret` is every `return 0`.
constexpr u8 zeroing_xors[][3] = {
    { 0x31, 0xc9 }, { 0x31, 0xd2 }, { 0x31, 0xf6 }, { 0x31, 0xff },                        // ecx, edx, esi, edi
    { 0x45, 0x31, 0xc0 }, { 0x45, 0x31, 0xc9 }, { 0x45, 0x31, 0xd2 }, { 0x45, 0x31, 0xdb } // r8d-r11d
};

bool zeroing_xor_ends_at(u8 const* code, u64 end)
{
    for (auto const& xor_bytes : zeroing_xors) {
        u64 length = xor_bytes[0] == 0x45 ? 3 : 2;
        if (end >= length && std::memcmp(code + end - length, xor_bytes, length) == 0)
            return true;
    }
    return false;
}

// Counts the function for zero_regs: whether it has a C3 byte, and one right after a zeroing xor.
void note_returns(u8 const* code, u64 size, ChecksecReport& report)
{
    bool has_ret = false;
    for (u64 at = 0; at < size; ++at) {
        if (code[at] != 0xc3)
            continue;
        has_ret = true;
        if (zeroing_xor_ends_at(code, at)) {
            ++report.functions_zeroing_regs;
            break;
        }
    }
    if (has_ret)
        ++report.functions_with_ret;
}

// Bytes the zero_regs scan may read: a real symbol table covers each code byte about once (aliases aside), a
// hostile one could make every symbol span the whole segment. Four passes over the code, plus slack.
u64 return_scan_budget(ElfFile const& file)
{
    u64 code = 0;
    for (auto const& phdr : file.program_headers()) {
        if (phdr.p_type == elf::pt_load && (phdr.p_flags & elf::pf_x))
            code += phdr.p_filesz;
    }
    return 4 * code + (u64(1) << 20);
}

void judge_segments(ElfFile const& file, LayoutNote const& layout, ChecksecReport& report)
{
    std::string wx_problem;
    std::string nx_problem;
    elf::Elf64_Phdr const* stack = nullptr;
    bool has_relro_header = false;
    auto const& phdrs = file.program_headers();
    for (usize i = 0; i < phdrs.size(); ++i) {
        auto const& phdr = phdrs[i];
        if (phdr.p_type == checksec::pt_gnu_stack)
            stack = &phdr;
        has_relro_header = has_relro_header || phdr.p_type == checksec::pt_gnu_relro;
        if (phdr.p_type == elf::pt_load && phdr.p_memsz != 0 && (phdr.p_flags & elf::pf_w) && (phdr.p_flags & elf::pf_x)
            && wx_problem.empty())
            wx_problem = nx_problem = "segment " + std::to_string(i) + " is writable and executable";
    }
    for (usize i = 0; i < layout.ranges.size(); ++i) {
        auto const& range = layout.ranges[i];
        if ((range.access & layout_write) && (range.access & layout_execute) && wx_problem.empty())
            wx_problem = "layout range " + std::to_string(i) + " is writable and executable";
        if (!(range.access & layout_execute) || range.start == range.end || !nx_problem.empty())
            continue;
        bool inside_text = false;
        for (auto const& phdr : phdrs) {
            // Pages are what get mapped: the segment's last page counts whole.
            u64 const pages = ktl::align_up_const(phdr.p_memsz, paging::page_size);
            if (phdr.p_type == elf::pt_load && (phdr.p_flags & elf::pf_x) && range.start >= phdr.p_vaddr
                && range.end >= range.start && pages >= phdr.p_memsz && range.end - phdr.p_vaddr <= pages)
                inside_text = true;
        }
        if (!inside_text)
            nx_problem = "layout range " + std::to_string(i) + " is executable outside the executable segment";
    }
    if (stack && (stack->p_flags & elf::pf_w) && (stack->p_flags & elf::pf_x) && wx_problem.empty())
        wx_problem = "PT_GNU_STACK asks for a writable and executable stack";
    if (nx_problem.empty()) {
        if (stack && (stack->p_flags & elf::pf_x))
            nx_problem = "PT_GNU_STACK asks for an executable stack";
        else if (!stack && !layout.present)
            nx_problem = "no PT_GNU_STACK: the stack defaults to executable";
    }
    char const* scope = layout.present ? "segment or layout range" : "segment";
    report.wx_free = { wx_problem.empty(), wx_problem.empty() ? std::string("no ") + scope + " is W+X" : wx_problem };
    report.nx = { nx_problem.empty(),
        nx_problem.empty() ? (layout.present ? "data, stacks and heap are mapped non-executable (layout note)"
                                             : "writable segments and the stack (PT_GNU_STACK) are non-executable")
                           : nx_problem };

    if (has_relro_header) {
        report.relro = { true, "PT_GNU_RELRO" + std::string(file.dynamic().bind_now ? ", bind now (full)" : "") };
        return;
    }
    for (usize i = 0; i < phdrs.size(); ++i) {
        auto const& phdr = phdrs[i];
        if (phdr.p_type != elf::pt_load || !(phdr.p_flags & elf::pf_w) || phdr.p_memsz == 0)
            continue;
        for (auto const& range : layout.ranges) {
            if (!(range.access & layout_write) && range.start <= phdr.p_vaddr && range.end >= phdr.p_vaddr
                && range.end - phdr.p_vaddr >= phdr.p_memsz) {
                report.relro
                    = { true, "layout note maps writable segment " + std::to_string(i) + " read-only once relocated" };
                return;
            }
        }
    }
    report.relro = { false, layout.present ? "no writable segment is sealed read-only" : "no PT_GNU_RELRO" };
}

void judge_pie(ElfFile const& file, LayoutNote const& layout, ChecksecReport& report)
{
    u64 other = 0;
    for (auto const& rela : file.dynamic().relocations) {
        if (static_cast<u32>(rela.r_info) == elf::r_x86_64_relative)
            ++report.relative_relocations;
        else
            ++other;
    }
    std::string relocations = plural(report.relative_relocations, "R_X86_64_RELATIVE relocation");
    if (other != 0)
        relocations += " (+" + std::to_string(other) + " other)";
    if (report.elf_type == elf::et_dyn) {
        bool interpreter = false;
        for (auto const& phdr : file.program_headers())
            interpreter = interpreter || phdr.p_type == elf::pt_interp;
        report.pie = { true,
            std::string("ET_DYN, ") + (interpreter ? "dynamic (PT_INTERP), " : "static-pie, ") + relocations };
    } else if (layout.present && report.relative_relocations != 0 && layout.header.aslr_window_size != 0) {
        report.pie = { true,
            "ET_EXEC relocated at boot: " + relocations + ", KASLR window "
                + std::to_string(layout.header.aslr_window_size >> 30) + " GiB (layout note)" };
    } else {
        report.pie = { false, "ET_EXEC at a fixed address, " + relocations };
    }
}

void judge_instrumentation(ElfFile const& file, ChecksecReport& report)
{
    std::unordered_map<u64, Category> targets;
    CategoryCounts counts;
    bool cfi_marker = false;
    std::unordered_set<u64> functions;
    auto note_symbol = [&](ElfSymbol const& symbol) {
        cfi_marker = cfi_marker || is_cfi_marker(symbol.name);
        Category category = classify(symbol.name);
        if (category == Category::None)
            return;
        int index = static_cast<int>(category);
        if (!symbol.defined) {
            counts.imported[index] = true;
        } else if (symbol.value != 0 && symbol.name != "__stack_chk_guard") {
            counts.defined[index] = true;
            targets.emplace(symbol.value, category);
        }
    };
    u64 scan_budget = return_scan_budget(file);
    for (auto const& symbol : file.symbols()) {
        note_symbol(symbol);
        u8 const* entry = nullptr;
        if (symbol.defined && symbol.type == checksec::stt_func && symbol.size != 0
            && (entry = executable_range_at(file, symbol.value, sizeof(endbr64))) != nullptr
            && functions.insert(symbol.value).second) {
            ++report.functions;
            if (std::memcmp(entry, endbr64, sizeof(endbr64)) == 0)
                ++report.functions_with_endbr;
            u8 const* code = executable_range_at(file, symbol.value, symbol.size);
            if (code && symbol.size <= scan_budget) {
                scan_budget -= symbol.size;
                note_returns(code, symbol.size, report);
            } else if (code) {
                report.return_scan_stopped = true;
            }
        }
    }
    for (auto const& symbol : file.dynamic_symbols())
        note_symbol(symbol);
    for (auto const& rela : file.dynamic().relocations) {
        u64 const index = rela.r_info >> 32;
        if (index != 0 && index < file.dynamic_symbols().size())
            counts.imported[static_cast<int>(classify(file.dynamic_symbols()[index].name))] = true;
    }
    for (auto const& section : file.sections())
        cfi_marker = cfi_marker || section.name == ".kcfi_traps";
    report.has_symbols = !file.symbols().empty() || !file.dynamic_symbols().empty();

    u64 tls_accesses = 0;
    scan_code(file, targets, counts, tls_accesses);
    report.canary_sites = counts.site(Category::Canary);
    report.kasan_sites = counts.site(Category::Kasan);
    report.ubsan_sites = counts.site(Category::Ubsan);
    report.fortify_sites = counts.site(Category::Fortify);

    auto judge = [&](Category category, char const* what) -> Finding {
        int index = static_cast<int>(category);
        u64 sites = counts.sites[index];
        if (sites != 0)
            return { true, plural(sites, "call") + " to " + what + " (symbol table)" };
        if (counts.imported[index])
            return { true, std::string("imports ") + what + " (undefined symbol or relocation)" };
        if (!report.has_symbols)
            return { false, std::string("no symbol table: no ") + what + " found" };
        return { false,
            std::string("no calls to ") + what + (counts.defined[index] ? " (defined, never called)" : "") };
    };
    int const canary = static_cast<int>(Category::Canary);
    report.canary = judge(Category::Canary, "__stack_chk_fail");
    report.canary_method = report.canary_sites == 0 && counts.imported[canary] ? "import" : "symbol";
    if (!report.canary.present && !counts.defined[canary]) {
        // Nothing names the canary functions (a stripped program): look for the TLS canary in the code itself.
        report.canary_method = "code-scan";
        report.canary_sites = tls_accesses;
        report.canary = { tls_accesses != 0, plural(tls_accesses, "%fs:0x28 canary access", "es") + " (code scan)" };
    }
    report.kasan = judge(Category::Kasan, "__asan_*/__kasan_*");
    report.ubsan = judge(Category::Ubsan, "__ubsan_handle_*");
    report.fortify = judge(Category::Fortify, "__*_chk");

    bool const property_ibt = gnu_property_ibt(file);
    bool const entries_ibt = report.functions != 0 && report.functions_with_endbr * 2 >= report.functions;
    std::string endbr = std::to_string(report.functions_with_endbr) + "/" + std::to_string(report.functions)
        + " function entries start with endbr64";
    if (property_ibt)
        report.cfi = { true, "GNU property IBT; " + endbr };
    else if (entries_ibt)
        report.cfi = { true, "IBT: " + endbr };
    else if (cfi_marker)
        report.cfi = { true, "clang CFI/KCFI markers (__cfi_* symbols or .kcfi_traps)" };
    else
        report.cfi = { false, (report.functions ? endbr + ", " : std::string()) + "no IBT property, no CFI markers" };
}

void judge_zero_regs(ChecksecReport& report)
{
    std::string counted = std::to_string(report.functions_zeroing_regs) + "/"
        + std::to_string(report.functions_with_ret) + " functions with a ret zero call-clobbered registers before one";
    if (report.return_scan_stopped)
        counted += " (scan stopped: the function symbols cover the code more than four times over)";
    if (report.functions_with_ret == 0)
        report.zero_regs = { false, report.has_symbols ? "no function symbol with a ret" : "no symbol table" };
    else
        report.zero_regs = { report.functions_zeroing_regs * 2 >= report.functions_with_ret, counted };
}

void compare_with_note(ChecksecReport& report)
{
    if (!report.note.present)
        return;
    auto check = [&](char const* key, bool claimed, Finding const& found) {
        if (claimed != found.present)
            report.note_mismatches.push_back(key);
    };
    std::string const protector = report.note.value("stack_protector");
    if (!protector.empty())
        check("canary", protector != "none", report.canary);
    std::pair<char const*, Finding const*> const switches[] = {
        { "kasan", &report.kasan },
        { "ubsan", &report.ubsan },
        { "cfi", &report.cfi },
        { "zero_regs", &report.zero_regs },
    };
    for (auto [key, finding] : switches) {
        std::string const value = report.note.value(key);
        if (!value.empty())
            check(key, value == "on", *finding);
    }
    std::string const fortify = report.note.value("fortify");
    if (!fortify.empty())
        check("fortify", fortify != "off", report.fortify);
}

bool is_key_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

} // namespace

std::string FeatureNote::value(std::string_view key) const
{
    for (auto const& [name, value] : entries) {
        if (name == key)
            return value;
    }
    return {};
}

Result<FeatureNote> parse_feature_note(u8 const* descriptor, u64 size)
{
    if (descriptor == nullptr || size > max_feature_note_size)
        return fail("feature note is missing or larger than 4096 bytes");
    FeatureNote note;
    note.present = true;
    auto const* text = reinterpret_cast<char const*>(descriptor);
    u64 at = 0;
    while (at < size) {
        auto const* end = static_cast<char const*>(std::memchr(text + at, '\0', size - at));
        if (end == nullptr)
            return fail("feature note entry is not NUL-terminated");
        std::string_view const entry(text + at, static_cast<usize>(end - (text + at)));
        if (entry.empty()) {
            // Padding: only NULs may follow.
            for (u64 rest = at; rest < size; ++rest) {
                if (text[rest] != '\0')
                    return fail("feature note has an empty entry before its end");
            }
            break;
        }
        auto const equals = entry.find('=');
        if (equals == std::string_view::npos || equals == 0 || equals > 32 || entry.size() - equals - 1 > 128)
            return fail("feature note entry is not key=value (key up to 32, value up to 128 bytes)");
        std::string_view const key = entry.substr(0, equals);
        std::string_view const value = entry.substr(equals + 1);
        for (char c : key) {
            if (!is_key_char(c))
                return fail("feature note key has a character outside [a-z0-9_]");
        }
        for (char c : value) {
            if (c < 0x20 || c > 0x7e)
                return fail("feature note value is not printable ASCII");
        }
        if (!note.value(key).empty() || note.entries.size() == max_feature_note_entries)
            return fail("feature note repeats a key or has more than 64 entries");
        if (note.entries.empty() && key != "version")
            return fail("feature note does not start with version=");
        note.entries.emplace_back(key, value);
        at += entry.size() + 1;
    }
    if (note.entries.empty())
        return fail("feature note is empty");
    return note;
}

Result<ChecksecReport> analyse_binary(u8 const* bytes, u64 size)
{
    auto parsed = ElfFile::parse(bytes, size);
    if (!parsed.ok())
        return fail(parsed.error());
    ElfFile const& file = parsed.value();
    auto layout = find_layout_note(file);
    if (!layout.ok())
        return fail(layout.error());
    auto note = find_feature_note(file);
    if (!note.ok())
        return fail(note.error());

    ChecksecReport report;
    report.kind = layout.value().present ? BinaryKind::Kernel : BinaryKind::Program;
    report.elf_type = file.header().e_type;
    report.note = std::move(note.value());
    judge_pie(file, layout.value(), report);
    judge_segments(file, layout.value(), report);
    judge_instrumentation(file, report);
    judge_zero_regs(report);
    if (report.note.present) {
        std::string const heap = report.note.value("heap");
        report.hardened_heap = { heap == "hardened", "feature note: heap=" + (heap.empty() ? "?" : heap) };
    } else {
        report.hardened_heap = { false, "no Kernite feature note" };
    }
    compare_with_note(report);
    return report;
}

} // namespace kernite::monitor
