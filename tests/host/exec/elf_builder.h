// In-memory ELF programs for the libs/exec tests: a header, a program-header table and a file of the right size,
// shaped like what glibc's and musl's static links produce (layouts copied from `readelf -lW` of real builds).
#pragma once

#include <elf/elf64.h>

#include <vector>

namespace kernite::exec::testing {

inline constexpr u32 pt_phdr = 6;
inline constexpr u32 pt_tls = 7;
inline constexpr u32 pt_gnu_eh_frame = 0x6474e550;
inline constexpr u32 pt_gnu_stack = 0x6474e551;
inline constexpr u32 pt_gnu_relro = 0x6474e552;
inline constexpr u32 pt_gnu_property = 0x6474e553;
inline constexpr u32 rw = elf::pf_r | elf::pf_w;
inline constexpr u32 rx = elf::pf_r | elf::pf_x;
inline constexpr u32 r = elf::pf_r;

struct ProgramImage {
    elf::Elf64_Ehdr header {};
    std::vector<elf::Elf64_Phdr> phdrs;
    u64 file_size { 0 };

    // Writes the header (e_phnum = phdrs.size() unless `keep_phnum`) and the table at e_phoff; every other byte is
    // a position-dependent pattern, so that copies can be checked.
    std::vector<u8> build(bool keep_phnum = false) const;

    // Index of the first program header of `type` (-1 if none).
    int find(u32 type, int nth = 0) const;
    elf::Elf64_Phdr& load(int nth); // the nth PT_LOAD
};

elf::Elf64_Phdr phdr(u32 type, u32 flags, u64 offset, u64 vaddr, u64 filesz, u64 memsz, u64 align);

// glibc 2.36 `gcc -static-pie` (ET_DYN, ELFOSABI_GNU, linked at 0): R, RX, R, RW(+bss) PT_LOADs, PT_DYNAMIC,
// notes, PT_TLS, PT_GNU_EH_FRAME, PT_GNU_STACK (RW), PT_GNU_RELRO.
ProgramImage glibc_static_pie();
// musl 1.2.3 `musl-gcc -static` (ET_EXEC at 4 MiB, ELFOSABI_SYSV): R, RX, R, RW, PT_TLS, PT_GNU_STACK,
// PT_GNU_RELRO. The RW segment starts inside a page (0x406fbc) whose file page it shares with the R one.
ProgramImage musl_static();

} // namespace kernite::exec::testing
