// The checksec ELF view: see checksec_elf.h. Every offset and size comes from the file and is checked before use;
// sums go through ktl::checked_add.
#include "checksec_elf.h"

#include <cstring>
#include <string>

namespace kernite::monitor::checksec {

namespace {

template<typename T>
T read_struct(u8 const* at)
{
    T value;
    std::memcpy(&value, at, sizeof(value)); // the file buffer need not be aligned
    return value;
}

bool range_in_file(u64 offset, u64 size, u64 file_size)
{
    u64 end = 0;
    return ktl::checked_add(offset, size, &end) && end <= file_size;
}

// The NUL-terminated string at `index` of the string table at [table, table + table_size).
Result<std::string_view> read_string(u8 const* table, u64 table_size, u64 index, char const* what)
{
    if (index >= table_size)
        return fail(std::string(what) + " name lies outside its string table");
    auto const* start = reinterpret_cast<char const*>(table + index);
    auto const* end = static_cast<char const*>(std::memchr(start, '\0', table_size - index));
    if (end == nullptr)
        return fail(std::string(what) + " name is not NUL-terminated inside its string table");
    return std::string_view(start, static_cast<usize>(end - start));
}

} // namespace

u8 const* ElfFile::bytes(u64 offset, u64 size) const
{
    return range_in_file(offset, size, m_size) ? m_bytes + offset : nullptr;
}

Result<ElfFile> ElfFile::parse(u8 const* bytes, u64 size)
{
    if (bytes == nullptr || size < sizeof(elf::Elf64_Ehdr))
        return fail("file is too small for an ELF header");
    if (size > max_file_size)
        return fail("file is larger than 512 MiB");
    ElfFile file(bytes, size);
    auto& header = file.m_header;
    header = read_struct<elf::Elf64_Ehdr>(bytes);
    if (std::memcmp(header.e_ident, elf::elf_magic, sizeof(elf::elf_magic)) != 0)
        return fail("not an ELF file (bad magic)");
    if (header.e_ident[elf::ei_class] != elf::elfclass64 || header.e_ident[elf::ei_data] != elf::elfdata2lsb)
        return fail("not a little-endian 64-bit ELF file");
    if (header.e_ident[elf::ei_version] != elf::ev_current || header.e_version != elf::ev_current)
        return fail("unsupported ELF version (EV_CURRENT expected)");
    if (header.e_machine != elf::em_x86_64)
        return fail("not an x86-64 ELF file");
    if (header.e_type != elf::et_exec && header.e_type != elf::et_dyn)
        return fail("not an executable image (ET_EXEC or ET_DYN expected)");
    for (auto step : { &ElfFile::parse_program_headers, &ElfFile::parse_sections, &ElfFile::parse_dynamic }) {
        auto result = (file.*step)();
        if (!result.ok())
            return fail(result.error());
    }
    return file;
}

Result<Ok> ElfFile::parse_program_headers()
{
    if (m_header.e_phnum == 0)
        return Ok {};
    if (m_header.e_phentsize != sizeof(elf::Elf64_Phdr))
        return fail("e_phentsize is not sizeof(Elf64_Phdr)");
    if (m_header.e_phnum == elf::pn_xnum)
        return fail("extended program header numbering (PN_XNUM) is not supported");
    u64 const table_size = u64(m_header.e_phnum) * sizeof(elf::Elf64_Phdr);
    if (!range_in_file(m_header.e_phoff, table_size, m_size))
        return fail("program header table lies outside the file");
    for (u32 i = 0; i < m_header.e_phnum; ++i) {
        auto phdr = read_struct<elf::Elf64_Phdr>(m_bytes + m_header.e_phoff + i * sizeof(elf::Elf64_Phdr));
        bool const has_file_bytes = phdr.p_type == elf::pt_load || phdr.p_type == elf::pt_note
            || phdr.p_type == elf::pt_dynamic || phdr.p_type == elf::pt_interp;
        if (has_file_bytes && !range_in_file(phdr.p_offset, phdr.p_filesz, m_size))
            return fail("program header " + std::to_string(i) + " has file bytes outside the file");
        if (phdr.p_type == elf::pt_load && phdr.p_filesz > phdr.p_memsz)
            return fail("program header " + std::to_string(i) + " has p_filesz larger than p_memsz");
        m_program_headers.push_back(phdr);
        if (phdr.p_type == elf::pt_note) {
            auto notes = parse_notes(phdr.p_offset, phdr.p_filesz, phdr.p_align);
            if (!notes.ok())
                return notes;
        }
    }
    return Ok {};
}

Result<Ok> ElfFile::parse_sections()
{
    if (m_header.e_shoff == 0)
        return Ok {}; // no section headers (a stripped-to-the-bone file): the analysis uses segments only
    if (m_header.e_shentsize != sizeof(Elf64_Shdr))
        return fail("e_shentsize is not sizeof(Elf64_Shdr)");
    if (!range_in_file(m_header.e_shoff, sizeof(Elf64_Shdr), m_size))
        return fail("section header table lies outside the file");
    // gABI "Section Header": with 0xff00 or more sections e_shnum is 0 and e_shstrndx SHN_XINDEX; the real
    // values are in section 0's sh_size and sh_link.
    auto const first = read_struct<Elf64_Shdr>(m_bytes + m_header.e_shoff);
    u64 const count = m_header.e_shnum != 0 ? m_header.e_shnum : first.sh_size;
    u64 const names_index = m_header.e_shstrndx == shn_xindex ? first.sh_link : m_header.e_shstrndx;
    if (count == 0 || count > max_sections)
        return fail("section count is zero or larger than 65536");
    if (!range_in_file(m_header.e_shoff, count * sizeof(Elf64_Shdr), m_size))
        return fail("section header table lies outside the file");
    for (u64 i = 0; i < count; ++i) {
        auto shdr = read_struct<Elf64_Shdr>(m_bytes + m_header.e_shoff + i * sizeof(Elf64_Shdr));
        if (shdr.sh_type != sht_nobits && !range_in_file(shdr.sh_offset, shdr.sh_size, m_size))
            return fail("section " + std::to_string(i) + " lies outside the file");
        m_raw_sections.push_back(shdr);
    }
    bool const has_names = names_index != shn_undef;
    if (has_names && (names_index >= count || m_raw_sections[names_index].sh_type != sht_strtab))
        return fail("e_shstrndx does not name a string table");
    for (auto const& shdr : m_raw_sections) {
        std::string_view name;
        if (has_names) {
            auto const& names = m_raw_sections[names_index];
            auto read = read_string(m_bytes + names.sh_offset, names.sh_size, shdr.sh_name, "section");
            if (!read.ok())
                return fail(read.error());
            name = read.value();
        }
        m_sections.push_back({ name, shdr.sh_type, shdr.sh_flags, shdr.sh_addr, shdr.sh_offset,
            shdr.sh_type == sht_nobits ? 0 : shdr.sh_size, shdr.sh_addralign });
    }
    bool seen_symtab = false;
    bool seen_dynsym = false;
    for (u64 i = 0; i < count; ++i) {
        auto const& shdr = m_raw_sections[i];
        Result<Ok> result = Ok {};
        if (shdr.sh_type == sht_symtab && !seen_symtab) {
            seen_symtab = true;
            result = parse_symbols(m_sections[i], shdr.sh_link, m_symbols);
        } else if (shdr.sh_type == sht_dynsym && !seen_dynsym) {
            seen_dynsym = true;
            result = parse_symbols(m_sections[i], shdr.sh_link, m_dynamic_symbols);
        } else if (shdr.sh_type == sht_note) {
            // A note section inside a PT_NOTE segment was read with the segment: skip the duplicate.
            bool already = false;
            for (auto const& note : m_notes) {
                if (note.descriptor_offset >= shdr.sh_offset && note.descriptor_offset - shdr.sh_offset < shdr.sh_size)
                    already = true;
            }
            if (!already)
                result = parse_notes(shdr.sh_offset, shdr.sh_size, shdr.sh_addralign);
        }
        if (!result.ok())
            return result;
    }
    return Ok {};
}

Result<Ok> ElfFile::parse_symbols(ElfSection const& table, u32 link, std::vector<ElfSymbol>& out)
{
    if (table.size % sizeof(Elf64_Sym) != 0)
        return fail("symbol table size is not a multiple of sizeof(Elf64_Sym)");
    u64 const count = table.size / sizeof(Elf64_Sym);
    if (count > max_symbols)
        return fail("symbol table has more than 4194304 symbols");
    if (link >= m_raw_sections.size() || m_raw_sections[link].sh_type != sht_strtab)
        return fail("symbol table's sh_link does not name a string table");
    auto const& strings = m_raw_sections[link];
    out.reserve(count);
    for (u64 i = 0; i < count; ++i) {
        auto sym = read_struct<Elf64_Sym>(m_bytes + table.offset + i * sizeof(Elf64_Sym));
        auto name = read_string(m_bytes + strings.sh_offset, strings.sh_size, sym.st_name, "symbol");
        if (!name.ok())
            return fail(name.error());
        out.push_back(
            { name.value(), sym.st_value, sym.st_size, static_cast<u8>(sym.st_info & 0xf), sym.st_shndx != shn_undef });
    }
    return Ok {};
}

Result<Ok> ElfFile::parse_notes(u64 offset, u64 size, u64 alignment)
{
    // gABI "Note Section": namesz, descsz, type, then name and descriptor each padded to the entry alignment:
    // 4, or 8 for the 8-aligned notes of 64-bit files (.note.gnu.property, p_align 8).
    u64 const align = alignment == 8 ? 8 : 4;
    u8 const* notes = m_bytes + offset; // [offset, offset + size) was checked by the caller
    u64 at = 0;
    while (size - at >= 12) {
        u64 const name_size = read_struct<u32>(notes + at);
        u64 const descriptor_size = read_struct<u32>(notes + at + 4);
        u32 const type = read_struct<u32>(notes + at + 8);
        u64 const name_at = at + 12;
        // All terms are below 2^33 plus a file offset below 2^29: no overflow.
        u64 const descriptor_at = ktl::align_up_const(name_at + name_size, align);
        if (descriptor_at > size || descriptor_size > size - descriptor_at)
            return fail("note runs past its section or segment");
        if (m_notes.size() == max_notes)
            return fail("more than 4096 notes");
        auto const* owner = reinterpret_cast<char const*>(notes + name_at);
        usize owner_length = 0;
        while (owner_length < name_size && owner[owner_length] != '\0')
            ++owner_length;
        m_notes.push_back({ std::string_view(owner, owner_length), type, offset + descriptor_at, descriptor_size });
        at = ktl::align_up_const(descriptor_at + descriptor_size, align);
        if (at > size)
            break; // the last note's padding may be cut off
    }
    return Ok {};
}

bool ElfFile::file_offset_of(u64 address, u64 size, u64& offset) const
{
    for (auto const& phdr : m_program_headers) {
        if (phdr.p_type != elf::pt_load || address < phdr.p_vaddr)
            continue;
        u64 const into = address - phdr.p_vaddr;
        if (into <= phdr.p_filesz && size <= phdr.p_filesz - into) {
            offset = phdr.p_offset + into; // the PT_LOAD's file range was checked
            return true;
        }
    }
    return false;
}

Result<Ok> ElfFile::parse_dynamic()
{
    elf::Elf64_Phdr const* dynamic = nullptr;
    for (auto const& phdr : m_program_headers) {
        if (phdr.p_type != elf::pt_dynamic)
            continue;
        if (dynamic != nullptr)
            return fail("more than one PT_DYNAMIC");
        dynamic = &phdr;
    }
    if (dynamic == nullptr)
        return Ok {};
    m_dynamic.present = true;
    struct Table {
        u64 address { 0 };
        u64 size { 0 };
        bool present { false };
    } rela, jmprel;
    u64 rela_entry = sizeof(elf::Elf64_Rela);
    for (u64 at = 0; dynamic->p_filesz - at >= sizeof(elf::Elf64_Dyn); at += sizeof(elf::Elf64_Dyn)) {
        auto entry = read_struct<elf::Elf64_Dyn>(m_bytes + dynamic->p_offset + at);
        if (entry.d_tag == elf::dt_null)
            break;
        switch (entry.d_tag) {
        case elf::dt_rela: rela = { entry.d_val, rela.size, true }; break;
        case elf::dt_relasz: rela.size = entry.d_val; break;
        case elf::dt_relaent: rela_entry = entry.d_val; break;
        case dt_jmprel: jmprel = { entry.d_val, jmprel.size, true }; break;
        case dt_pltrelsz: jmprel.size = entry.d_val; break;
        case elf::dt_textrel: m_dynamic.text_relocations = true; break;
        case dt_bind_now: m_dynamic.bind_now = true; break;
        case dt_flags: m_dynamic.bind_now |= (entry.d_val & df_bind_now) != 0; break;
        case dt_flags_1: m_dynamic.bind_now |= (entry.d_val & df_1_now) != 0; break;
        default: break;
        }
    }
    if (rela.present && rela_entry != sizeof(elf::Elf64_Rela))
        return fail("DT_RELAENT is not sizeof(Elf64_Rela)");
    for (Table const& table : { rela, jmprel }) {
        if (!table.present || table.size == 0)
            continue;
        if (table.size % sizeof(elf::Elf64_Rela) != 0 || table.size / sizeof(elf::Elf64_Rela) > elf::max_relocations)
            return fail("dynamic relocation table size is malformed or too large");
        u64 offset = 0;
        if (!file_offset_of(table.address, table.size, offset))
            return fail("dynamic relocation table lies outside the file contents of every PT_LOAD");
        for (u64 i = 0; i < table.size / sizeof(elf::Elf64_Rela); ++i)
            m_dynamic.relocations.push_back(
                read_struct<elf::Elf64_Rela>(m_bytes + offset + i * sizeof(elf::Elf64_Rela)));
    }
    return Ok {};
}

} // namespace kernite::monitor::checksec
