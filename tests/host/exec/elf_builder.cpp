#include "elf_builder.h"

#include <algorithm>
#include <cstring>

namespace kernite::exec::testing {

using elf::Elf64_Phdr;

Elf64_Phdr phdr(u32 type, u32 flags, u64 offset, u64 vaddr, u64 filesz, u64 memsz, u64 align)
{
    return Elf64_Phdr { type, flags, offset, vaddr, vaddr, filesz, memsz, align };
}

std::vector<u8> ProgramImage::build(bool keep_phnum) const
{
    std::vector<u8> file(file_size);
    for (usize i = 0; i < file.size(); ++i)
        file[i] = static_cast<u8>(i * 7 + (i >> 12));
    elf::Elf64_Ehdr copy = header;
    if (!keep_phnum)
        copy.e_phnum = static_cast<u16>(phdrs.size());
    std::memcpy(file.data(), &copy, std::min<usize>(sizeof(copy), file.size()));
    for (usize i = 0; i < phdrs.size(); ++i) {
        u64 const at = copy.e_phoff + i * sizeof(Elf64_Phdr);
        if (at <= file.size() && file.size() - at >= sizeof(Elf64_Phdr))
            std::memcpy(file.data() + at, &phdrs[i], sizeof(Elf64_Phdr));
    }
    return file;
}

int ProgramImage::find(u32 type, int nth) const
{
    for (usize i = 0; i < phdrs.size(); ++i) {
        if (phdrs[i].p_type == type && nth-- == 0)
            return static_cast<int>(i);
    }
    return -1;
}

Elf64_Phdr& ProgramImage::load(int nth) { return phdrs.at(static_cast<usize>(find(elf::pt_load, nth))); }

namespace {

elf::Elf64_Ehdr base_header(u16 type, u8 osabi, u64 entry)
{
    elf::Elf64_Ehdr header {};
    std::memcpy(header.e_ident, elf::elf_magic, 4);
    header.e_ident[elf::ei_class] = elf::elfclass64;
    header.e_ident[elf::ei_data] = elf::elfdata2lsb;
    header.e_ident[elf::ei_version] = elf::ev_current;
    header.e_ident[7] = osabi;
    header.e_type = type;
    header.e_machine = elf::em_x86_64;
    header.e_version = elf::ev_current;
    header.e_entry = entry;
    header.e_phoff = sizeof(elf::Elf64_Ehdr);
    header.e_ehsize = sizeof(elf::Elf64_Ehdr);
    header.e_phentsize = sizeof(Elf64_Phdr);
    return header;
}

} // namespace

ProgramImage glibc_static_pie()
{
    ProgramImage image;
    image.header = base_header(elf::et_dyn, 3, 0x95e0);
    image.phdrs = {
        phdr(elf::pt_load, r, 0x0, 0x0, 0x8020, 0x8020, 0x1000),
        phdr(elf::pt_load, rx, 0x9000, 0x9000, 0x78c31, 0x78c31, 0x1000),
        phdr(elf::pt_load, r, 0x82000, 0x82000, 0x291ee, 0x291ee, 0x1000),
        phdr(elf::pt_load, rw, 0xab510, 0xac510, 0x5d60, 0xb530, 0x1000),
        phdr(elf::pt_dynamic, rw, 0xaed88, 0xafd88, 0x1a0, 0x1a0, 8),
        phdr(elf::pt_note, r, 0x2e0, 0x2e0, 0x20, 0x20, 8),
        phdr(elf::pt_note, r, 0x300, 0x300, 0x44, 0x44, 4),
        phdr(pt_tls, r, 0xab510, 0xac510, 0x20, 0x68, 8),
        phdr(pt_gnu_property, r, 0x2e0, 0x2e0, 0x20, 0x20, 8),
        phdr(pt_gnu_eh_frame, r, 0x9ddf4, 0x9ddf4, 0x2094, 0x2094, 4),
        phdr(pt_gnu_stack, rw, 0, 0, 0, 0, 0x10),
        phdr(pt_gnu_relro, r, 0xab510, 0xac510, 0x3af0, 0x3af0, 1),
    };
    image.file_size = 0xb1270 + 0x2000; // past the RW segment's file bytes, plus section headers
    return image;
}

ProgramImage musl_static()
{
    ProgramImage image;
    image.header = base_header(elf::et_exec, 0, 0x401053);
    image.phdrs = {
        phdr(elf::pt_load, r, 0x0, 0x400000, 0x1c8, 0x1c8, 0x1000),
        phdr(elf::pt_load, rx, 0x1000, 0x401000, 0x3bb7, 0x3bb7, 0x1000),
        phdr(elf::pt_load, r, 0x5000, 0x405000, 0xc74, 0xc74, 0x1000),
        phdr(elf::pt_load, rw, 0x5fbc, 0x406fbc, 0x154, 0x7fc, 0x1000),
        phdr(pt_tls, r, 0x5fbc, 0x406fbc, 0x4, 0x4, 4),
        phdr(pt_gnu_stack, rw, 0, 0, 0, 0, 0x10),
        phdr(pt_gnu_relro, r, 0x5fbc, 0x406fbc, 0x44, 0x44, 1),
    };
    image.file_size = 33816;
    return image;
}

} // namespace kernite::exec::testing
