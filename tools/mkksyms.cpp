// mkksyms: writes the kernel's symbol table blob (.ksyms, format in kernel/debug/symbols.h) from a linked
// kernel image, so exceptions can print symbolized backtraces without loading anything else.
//
//   mkksyms IMAGE OUT.bin          write the blob for IMAGE
//   mkksyms --verify IMAGE BLOB    check that IMAGE's symbols still produce BLOB (the second link pass must
//                                  not move any function; .ksyms is placed last so it cannot)
#include <kernel/debug/symbols.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cxxabi.h>
#include <elf.h>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

[[noreturn]] void fail(std::string const& message)
{
    std::fprintf(stderr, "mkksyms: %s\n", message.c_str());
    std::exit(1);
}

std::vector<unsigned char> read_file(char const* path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        fail(std::string("cannot read ") + path);
    return { std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>() };
}

template<typename T>
T const& at(std::vector<unsigned char> const& file, uint64_t offset)
{
    if (offset > file.size() || sizeof(T) > file.size() - offset)
        fail("image truncated");
    return *reinterpret_cast<T const*>(file.data() + offset);
}

std::string demangle(char const* name)
{
    int status = 0;
    char* demangled = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    std::string result = status == 0 && demangled ? demangled : name;
    std::free(demangled);
    // Keep names readable in one event line: drop argument lists of long templates.
    if (result.size() > 100)
        result = result.substr(0, 97) + "...";
    return result;
}

struct Symbol {
    uint64_t address;
    uint64_t size;
    std::string name;
    bool function;
};

std::vector<unsigned char> build_blob(std::vector<unsigned char> const& file)
{
    auto const& header = at<Elf64_Ehdr>(file, 0);
    if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64)
        fail("not an ELF64 image");
    std::vector<Symbol> symbols;
    uint64_t kernel_start = 0, text_start = 0, text_end = 0;
    for (unsigned i = 0; i < header.e_shnum; ++i) {
        auto const& section = at<Elf64_Shdr>(file, header.e_shoff + i * sizeof(Elf64_Shdr));
        if (section.sh_type != SHT_SYMTAB)
            continue;
        auto const& strings = at<Elf64_Shdr>(file, header.e_shoff + section.sh_link * sizeof(Elf64_Shdr));
        for (uint64_t offset = 0; offset + sizeof(Elf64_Sym) <= section.sh_size; offset += sizeof(Elf64_Sym)) {
            auto const& symbol = at<Elf64_Sym>(file, section.sh_offset + offset);
            if (symbol.st_name >= strings.sh_size)
                fail("bad symbol name offset");
            char const* name = reinterpret_cast<char const*>(file.data() + strings.sh_offset + symbol.st_name);
            if (std::strcmp(name, "__kernel_start") == 0)
                kernel_start = symbol.st_value;
            if (std::strcmp(name, "__text_start") == 0)
                text_start = symbol.st_value;
            if (std::strcmp(name, "__text_end") == 0)
                text_end = symbol.st_value;
            int type = ELF64_ST_TYPE(symbol.st_info);
            if ((type == STT_FUNC || type == STT_NOTYPE) && name[0] && std::strncmp(name, ".L", 2) != 0
                && symbol.st_shndx != SHN_UNDEF && symbol.st_shndx != SHN_ABS)
                symbols.push_back({ symbol.st_value, symbol.st_size, demangle(name), type == STT_FUNC });
        }
    }
    if (kernel_start == 0 || text_start == 0 || text_end <= text_start)
        fail("image has no __kernel_start/__text_start/__text_end symbols");
    std::erase_if(symbols, [&](Symbol const& s) { return s.address < text_start || s.address >= text_end; });
    std::sort(symbols.begin(), symbols.end(), [](Symbol const& a, Symbol const& b) {
        return a.address != b.address ? a.address < b.address : a.function > b.function;
    });
    symbols.erase(std::unique(symbols.begin(), symbols.end(),
                      [](Symbol const& a, Symbol const& b) { return a.address == b.address; }),
        symbols.end());

    std::string strings;
    std::vector<kernite::debug::KsymsEntry> entries;
    for (auto const& symbol : symbols) {
        entries.push_back({ static_cast<uint32_t>(symbol.address - kernel_start), static_cast<uint32_t>(symbol.size),
            static_cast<uint32_t>(strings.size()), 0 });
        strings += symbol.name;
        strings.push_back('\0');
    }
    kernite::debug::KsymsHeader blob_header {};
    blob_header.magic = kernite::debug::ksyms_magic;
    blob_header.count = static_cast<uint32_t>(entries.size());
    blob_header.strings_offset = static_cast<uint32_t>(sizeof(blob_header) + entries.size() * sizeof(entries[0]));
    blob_header.strings_size = static_cast<uint32_t>(strings.size());
    std::vector<unsigned char> blob(reinterpret_cast<unsigned char*>(&blob_header),
        reinterpret_cast<unsigned char*>(&blob_header) + sizeof(blob_header));
    auto const* raw = reinterpret_cast<unsigned char const*>(entries.data());
    blob.insert(blob.end(), raw, raw + entries.size() * sizeof(entries[0]));
    blob.insert(blob.end(), strings.begin(), strings.end());
    return blob;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc == 4 && std::strcmp(argv[1], "--verify") == 0) {
        auto blob = build_blob(read_file(argv[2]));
        if (blob != read_file(argv[3]))
            fail(std::string("symbols of ") + argv[2] + " differ from " + argv[3] + ": a link pass moved code");
        return 0;
    }
    if (argc != 3)
        fail("usage: mkksyms IMAGE OUT.bin | mkksyms --verify IMAGE BLOB");
    auto blob = build_blob(read_file(argv[1]));
    std::ofstream out(argv[2], std::ios::binary);
    out.write(reinterpret_cast<char const*>(blob.data()), static_cast<std::streamsize>(blob.size()));
    if (!out)
        fail(std::string("cannot write ") + argv[2]);
    return 0;
}
