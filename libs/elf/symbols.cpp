// elf/symbols.h. One linear pass over .symtab per lookup: it runs when a program faults, not on a fast path, and
// needs no memory of its own (a sorted index would need an allocation the fault path should not make).
#include <elf/elf64.h>
#include <elf/symbols.h>

namespace kernite::elf {

namespace {

// [offset, offset + length) lies inside a file of `size` bytes, without overflow.
bool inside(u64 size, u64 offset, u64 length) { return offset <= size && length <= size - offset; }

template<typename T>
T read(u8 const* file, u64 offset)
{
    T value;
    __builtin_memcpy(&value, file + offset, sizeof(T));
    return value;
}

bool read_section(u8 const* file, u64 file_size, Elf64_Ehdr const& header, u32 index, Elf64_Shdr* section)
{
    if (index >= header.e_shnum)
        return false;
    *section = read<Elf64_Shdr>(file, header.e_shoff + u64(index) * sizeof(Elf64_Shdr));
    return inside(file_size, section->sh_offset, section->sh_size);
}

} // namespace

bool find_symbol(u8 const* file, u64 file_size, u64 address, SymbolMatch* match)
{
    if (!file || !match || file_size < sizeof(Elf64_Ehdr))
        return false;
    auto header = read<Elf64_Ehdr>(file, 0);
    if (__builtin_memcmp(header.e_ident, elf_magic, sizeof(elf_magic)) != 0 || header.e_ident[ei_class] != elfclass64
        || header.e_ident[ei_data] != elfdata2lsb)
        return false;
    // e_shnum 0 with sections (SHN_LORESERVE or more of them, count in section 0's sh_size) is not supported:
    // real programs have a few dozen sections.
    if (header.e_shentsize != sizeof(Elf64_Shdr) || header.e_shnum == 0
        || !inside(file_size, header.e_shoff, u64(header.e_shnum) * sizeof(Elf64_Shdr)))
        return false;

    for (u32 index = 0; index < header.e_shnum; ++index) {
        Elf64_Shdr symbols;
        if (!read_section(file, file_size, header, index, &symbols) || symbols.sh_type != sht_symtab)
            continue;
        Elf64_Shdr strings;
        if (symbols.sh_entsize != sizeof(Elf64_Sym) || !read_section(file, file_size, header, symbols.sh_link, &strings)
            || strings.sh_type != sht_strtab || strings.sh_size == 0)
            return false;
        char const* string_table = reinterpret_cast<char const*>(file + strings.sh_offset);
        bool found = false;
        u64 best_size = 0;
        u64 count = symbols.sh_size / sizeof(Elf64_Sym);
        for (u64 i = 1; i < count; ++i) { // entry 0 is the null symbol
            auto symbol = read<Elf64_Sym>(file, symbols.sh_offset + i * sizeof(Elf64_Sym));
            u8 type = symbol.st_info & 0xf;
            if ((type != stt_func && type != stt_object) || symbol.st_shndx == shn_undef || symbol.st_size == 0)
                continue;
            if (address < symbol.st_value || address - symbol.st_value >= symbol.st_size)
                continue;
            if (found && symbol.st_size >= best_size)
                continue;
            // The name must end inside the string table, and not be empty.
            if (symbol.st_name >= strings.sh_size || string_table[symbol.st_name] == 0)
                continue;
            u64 end = symbol.st_name;
            while (end < strings.sh_size && string_table[end] != 0)
                ++end;
            if (end == strings.sh_size)
                continue;
            found = true;
            best_size = symbol.st_size;
            match->name = string_table + symbol.st_name;
            match->offset = address - symbol.st_value;
        }
        return found;
    }
    return false;
}

} // namespace kernite::elf
