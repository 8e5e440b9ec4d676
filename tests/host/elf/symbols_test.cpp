// libs/elf symbol lookup (elf/symbols.h) against hand-built files, hostile ones included: every truncation and
// random corruption of a valid file must give an answer (found or not) without reading outside it (ASan).
#include <elf/elf64.h>
#include <elf/symbols.h>

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace kernite::elf;

namespace {

struct SymbolSpec {
    std::string name;
    u8 type;
    u64 value;
    u64 size;
    u16 section { 1 };
};

// Header, then [null section][.symtab][.strtab] section headers at e_shoff, then the symbol and string tables.
struct SymtabFile {
    std::vector<SymbolSpec> symbols;
    std::vector<u8> bytes;
    u64 shoff { 0 }, symtab_offset { 0 }, strtab_offset { 0 }, strtab_size { 0 };

    std::vector<u8>& build()
    {
        std::string strings(1, '\0');
        std::vector<Elf64_Sym> table(1);
        for (auto const& spec : symbols) {
            Elf64_Sym symbol {};
            symbol.st_name = static_cast<u32>(strings.size());
            strings += spec.name + '\0';
            symbol.st_info = static_cast<u8>((1 << 4) | spec.type); // STB_GLOBAL
            symbol.st_shndx = spec.section;
            symbol.st_value = spec.value;
            symbol.st_size = spec.size;
            table.push_back(symbol);
        }
        shoff = sizeof(Elf64_Ehdr);
        symtab_offset = shoff + 3 * sizeof(Elf64_Shdr);
        strtab_offset = symtab_offset + table.size() * sizeof(Elf64_Sym);
        strtab_size = strings.size();
        bytes.assign(strtab_offset + strtab_size, 0);

        Elf64_Ehdr header {};
        std::memcpy(header.e_ident, elf_magic, 4);
        header.e_ident[ei_class] = elfclass64;
        header.e_ident[ei_data] = elfdata2lsb;
        header.e_ident[ei_version] = ev_current;
        header.e_type = et_exec;
        header.e_machine = em_x86_64;
        header.e_shoff = shoff;
        header.e_shentsize = sizeof(Elf64_Shdr);
        header.e_shnum = 3;
        std::memcpy(bytes.data(), &header, sizeof(header));

        Elf64_Shdr sections[3] {};
        sections[1].sh_type = sht_symtab;
        sections[1].sh_offset = symtab_offset;
        sections[1].sh_size = table.size() * sizeof(Elf64_Sym);
        sections[1].sh_link = 2;
        sections[1].sh_entsize = sizeof(Elf64_Sym);
        sections[2].sh_type = sht_strtab;
        sections[2].sh_offset = strtab_offset;
        sections[2].sh_size = strtab_size;
        std::memcpy(bytes.data() + shoff, sections, sizeof(sections));
        std::memcpy(bytes.data() + symtab_offset, table.data(), table.size() * sizeof(Elf64_Sym));
        std::memcpy(bytes.data() + strtab_offset, strings.data(), strings.size());
        return bytes;
    }

    Elf64_Shdr section(int index) const
    {
        Elf64_Shdr value;
        std::memcpy(&value, bytes.data() + shoff + index * sizeof(Elf64_Shdr), sizeof(value));
        return value;
    }
    void set_section(int index, Elf64_Shdr const& value)
    {
        std::memcpy(bytes.data() + shoff + index * sizeof(Elf64_Shdr), &value, sizeof(value));
    }
};

SymtabFile program()
{
    SymtabFile file;
    file.symbols = {
        { "main", stt_func, 0x401000, 0x80 },
        { "write_byte", stt_func, 0x401100, 0x10 },
        { "data_code", stt_object, 0x404000, 64 },
        { "outer", stt_func, 0x402000, 0x100 },
        { "inner", stt_func, 0x402040, 0x20 }, // inside outer: the smaller one wins
        { "undefined", stt_func, 0x403000, 0x100, shn_undef },
        { "section_marker", 3 /* STT_SECTION */, 0x405000, 0x100 },
        { "zero_sized", stt_func, 0x406000, 0 },
    };
    file.build();
    return file;
}

std::string lookup(std::vector<u8> const& bytes, u64 address, u64* offset = nullptr)
{
    SymbolMatch match;
    if (!find_symbol(bytes.data(), bytes.size(), address, &match))
        return "";
    if (offset)
        *offset = match.offset;
    return match.name;
}

TEST(ElfSymbols, FindsTheFunctionOrObjectContainingAnAddress)
{
    auto file = program();
    u64 offset = 0;
    EXPECT_EQ(lookup(file.bytes, 0x401000, &offset), "main");
    EXPECT_EQ(offset, 0u);
    EXPECT_EQ(lookup(file.bytes, 0x40107f, &offset), "main");
    EXPECT_EQ(offset, 0x7fu);
    EXPECT_EQ(lookup(file.bytes, 0x401108, &offset), "write_byte");
    EXPECT_EQ(offset, 8u);
    EXPECT_EQ(lookup(file.bytes, 0x404010, &offset), "data_code");
    EXPECT_EQ(offset, 0x10u);
}

TEST(ElfSymbols, PrefersTheSmallestContainingSymbol)
{
    auto file = program();
    EXPECT_EQ(lookup(file.bytes, 0x402050), "inner");
    EXPECT_EQ(lookup(file.bytes, 0x402010), "outer");
    EXPECT_EQ(lookup(file.bytes, 0x402070), "outer");
}

TEST(ElfSymbols, IgnoresAddressesOutsideEverySymbolAndSymbolsThatCannotContainOne)
{
    auto file = program();
    EXPECT_EQ(lookup(file.bytes, 0x401080), ""); // one past main
    EXPECT_EQ(lookup(file.bytes, 0), "");
    EXPECT_EQ(lookup(file.bytes, ~0ull), "");
    EXPECT_EQ(lookup(file.bytes, 0x403010), "");  // undefined symbol
    EXPECT_EQ(lookup(file.bytes, 0x405010), "");  // STT_SECTION
    EXPECT_EQ(lookup(file.bytes, 0x406000), "");  // size 0
}

TEST(ElfSymbols, ASymbolWhoseEndOverflowsDoesNotMatchEverything)
{
    SymtabFile file;
    file.symbols = { { "huge", stt_func, 0xfffffffffffff000ull, 0x2000 } };
    file.build();
    EXPECT_EQ(lookup(file.bytes, 0x1000), "");
    EXPECT_EQ(lookup(file.bytes, 0xfffffffffffff800ull), "huge");
}

TEST(ElfSymbols, NoSymbolTableMeansNoSymbol)
{
    auto file = program();
    auto symtab = file.section(1);
    symtab.sh_type = 1; // SHT_PROGBITS: a stripped program keeps no .symtab
    file.set_section(1, symtab);
    EXPECT_EQ(lookup(file.bytes, 0x401000), "");
}

TEST(ElfSymbols, RefusesBadHeadersAndTables)
{
    auto base = program();
    auto check_refused = [&](auto&& corrupt) {
        auto file = base;
        corrupt(file);
        EXPECT_EQ(lookup(file.bytes, 0x401000), "");
    };
    check_refused([](SymtabFile& f) { f.bytes[0] = 0; });                           // magic
    check_refused([](SymtabFile& f) { f.bytes[ei_class] = 1; });                    // ELF32
    check_refused([](SymtabFile& f) { f.bytes[__builtin_offsetof(Elf64_Ehdr, e_shentsize)] = 40; });
    check_refused([](SymtabFile& f) {
        u64 far = f.bytes.size();
        std::memcpy(f.bytes.data() + __builtin_offsetof(Elf64_Ehdr, e_shoff), &far, 8);
    });
    check_refused([](SymtabFile& f) {
        u64 wrap = ~0ull - 8;
        std::memcpy(f.bytes.data() + __builtin_offsetof(Elf64_Ehdr, e_shoff), &wrap, 8);
    });
    check_refused([](SymtabFile& f) { auto s = f.section(1); s.sh_link = 7; f.set_section(1, s); });
    check_refused([](SymtabFile& f) { auto s = f.section(1); s.sh_link = 1; f.set_section(1, s); }); // not a strtab
    check_refused([](SymtabFile& f) { auto s = f.section(1); s.sh_entsize = 16; f.set_section(1, s); });
    check_refused([](SymtabFile& f) { auto s = f.section(1); s.sh_size = ~0ull; f.set_section(1, s); });
    check_refused([](SymtabFile& f) { auto s = f.section(2); s.sh_offset = ~0ull - 2; f.set_section(2, s); });
    check_refused([](SymtabFile& f) { auto s = f.section(2); s.sh_size = 0; f.set_section(2, s); });
}

TEST(ElfSymbols, ANameOutsideOrUnterminatedInItsStringTableIsSkipped)
{
    SymtabFile file;
    file.symbols = { { "last", stt_func, 0x1000, 0x10 } };
    file.build();
    EXPECT_EQ(lookup(file.bytes, 0x1000), "last");
    // Cut the terminating NUL off the string table: the name would run past it.
    auto strtab = file.section(2);
    strtab.sh_size -= 1;
    file.set_section(2, strtab);
    EXPECT_EQ(lookup(file.bytes, 0x1000), "");
    // A name offset past the table.
    strtab.sh_size += 1;
    file.set_section(2, strtab);
    u32 far = 1000;
    std::memcpy(file.bytes.data() + file.symtab_offset + sizeof(Elf64_Sym), &far, 4);
    EXPECT_EQ(lookup(file.bytes, 0x1000), "");
}

TEST(ElfSymbols, EveryTruncationIsSafe)
{
    auto file = program();
    for (usize size = 0; size < file.bytes.size(); ++size) {
        std::vector<u8> truncated(file.bytes.begin(), file.bytes.begin() + static_cast<long>(size));
        SymbolMatch match;
        (void)find_symbol(truncated.data(), truncated.size(), 0x401000, &match); // ASan: no read past `size`
    }
    SymbolMatch match;
    EXPECT_FALSE(find_symbol(nullptr, 0, 0x401000, &match));
}

TEST(ElfSymbols, RandomCorruptionIsSafeAndANameFoundLiesInsideTheFile)
{
    auto base = program();
    std::mt19937_64 random(4);
    for (int round = 0; round < 20000; ++round) {
        auto bytes = base.bytes;
        int flips = 1 + static_cast<int>(random() % 8);
        for (int i = 0; i < flips; ++i)
            bytes[random() % bytes.size()] = static_cast<u8>(random());
        SymbolMatch match;
        u64 address = 0x401000 + random() % 0x6000;
        if (find_symbol(bytes.data(), bytes.size(), address, &match)) {
            auto const* name = reinterpret_cast<u8 const*>(match.name);
            ASSERT_GE(name, bytes.data());
            ASSERT_LT(name, bytes.data() + bytes.size());
            ASSERT_NE(std::memchr(name, 0, static_cast<usize>(bytes.data() + bytes.size() - name)), nullptr);
        }
    }
}

} // namespace
