// ELF64 image validation: see include/elf/image.h. Every sum of untrusted values is overflow-checked.
#include <elf/image.h>

namespace kernite::elf {

namespace {

Error refuse(char const* reason) { return Error::from_errno(ENOEXEC, reason); }

Error refuse_segment(Diagnostic* diagnostic, u32 index, char const* reason, int other = -1)
{
    if (diagnostic) {
        diagnostic->segment = static_cast<int>(index);
        diagnostic->other_segment = other;
    }
    return refuse(reason);
}

ErrorOr<Elf64_Ehdr> read_header(u8 const* file, u64 file_size)
{
    if (file == nullptr || file_size < sizeof(Elf64_Ehdr))
        return refuse("file is too small for an ELF header");
    Elf64_Ehdr header;
    __builtin_memcpy(&header, file, sizeof(header)); // the file buffer need not be aligned
    for (usize i = 0; i < sizeof(elf_magic); ++i) {
        if (header.e_ident[i] != elf_magic[i])
            return refuse("not an ELF file (bad magic)");
    }
    if (header.e_ident[ei_class] != elfclass64)
        return refuse("not a 64-bit ELF file (ELFCLASS64 expected)");
    if (header.e_ident[ei_data] != elfdata2lsb)
        return refuse("not a little-endian ELF file");
    if (header.e_ident[ei_version] != ev_current || header.e_version != ev_current)
        return refuse("unsupported ELF version (EV_CURRENT expected)");
    if (header.e_machine != em_x86_64)
        return refuse("not an x86-64 ELF file (EM_X86_64 expected)");
    if (header.e_type != et_exec && header.e_type != et_dyn)
        return refuse("not an executable (ET_EXEC or ET_DYN expected)");
    if (header.e_phentsize != sizeof(Elf64_Phdr))
        return refuse("e_phentsize is not sizeof(Elf64_Phdr)");
    if (header.e_phnum == 0)
        return refuse("no program headers");
    if (header.e_phnum == pn_xnum || header.e_phnum > max_program_headers)
        return refuse("too many program headers");
    u64 table_size = 0;
    u64 table_end = 0;
    if (!ktl::checked_mul<u64>(header.e_phnum, sizeof(Elf64_Phdr), &table_size)
        || !ktl::checked_add<u64>(header.e_phoff, table_size, &table_end) || table_end > file_size)
        return refuse("program header table lies outside the file");
    return header;
}

ErrorOr<LoadSegment> check_segment(Elf64_Phdr const& phdr, u32 index, u64 file_size, LoadPolicy const& policy,
    Diagnostic* diagnostic)
{
    if (phdr.p_filesz > phdr.p_memsz)
        return refuse_segment(diagnostic, index, "has p_filesz larger than p_memsz");
    u64 file_end = 0;
    if (!ktl::checked_add(phdr.p_offset, phdr.p_filesz, &file_end) || file_end > file_size)
        return refuse_segment(diagnostic, index, "has file bytes outside the file");
    u64 const address = policy.address_kind == AddressKind::Physical ? phdr.p_paddr : phdr.p_vaddr;
    u64 end = 0;
    if (!ktl::checked_add(address, phdr.p_memsz, &end))
        return refuse_segment(diagnostic, index, "has an address range that overflows");
    if (address < policy.min_address || end > policy.max_address)
        return refuse_segment(diagnostic, index, "lies outside the loadable memory range");
    u64 virtual_end = 0;
    if (!ktl::checked_add(phdr.p_vaddr, phdr.p_memsz, &virtual_end))
        return refuse_segment(diagnostic, index, "has a virtual address range that overflows");
    if (phdr.p_align > 1) {
        if (!ktl::is_power_of_two(phdr.p_align) || phdr.p_align > max_segment_alignment)
            return refuse_segment(diagnostic, index, "has an invalid p_align");
        // gABI: "p_vaddr should equal p_offset, modulo p_align".
        if ((phdr.p_vaddr & (phdr.p_align - 1)) != (phdr.p_offset & (phdr.p_align - 1)))
            return refuse_segment(diagnostic, index, "has p_vaddr and p_offset not congruent modulo p_align");
    }
    if ((phdr.p_flags & pf_w) && (phdr.p_flags & pf_x))
        return refuse_segment(diagnostic, index, "is writable and executable");
    return LoadSegment {
        .file_offset = phdr.p_offset,
        .file_size = phdr.p_filesz,
        .load_address = address,
        .virtual_address = phdr.p_vaddr,
        .memory_size = phdr.p_memsz,
        .alignment = phdr.p_align,
        .flags = phdr.p_flags,
        .program_header_index = index,
    };
}

char* append(char* out, char* end, char const* text)
{
    while (*text && out + 1 < end)
        *out++ = *text++;
    return out;
}

char* append_number(char* out, char* end, unsigned value)
{
    char digits[12];
    int count = 0;
    do {
        digits[count++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (count > 0 && out + 1 < end)
        *out++ = digits[--count];
    return out;
}

} // namespace

ErrorOr<LoadableImage> parse_loadable_image(u8 const* file, u64 file_size, LoadPolicy const& policy,
    Diagnostic* diagnostic)
{
    if (diagnostic)
        *diagnostic = {};
    Elf64_Ehdr const header = TRY(read_header(file, file_size));

    LoadableImage image {};
    image.type = header.e_type;
    image.entry_virtual = header.e_entry;
    image.program_header_count = header.e_phnum;
    for (u32 index = 0; index < header.e_phnum; ++index) {
        Elf64_Phdr phdr;
        __builtin_memcpy(&phdr, file + header.e_phoff + index * sizeof(Elf64_Phdr), sizeof(phdr));
        if (phdr.p_type != pt_load)
            continue; // PT_NOTE, PT_DYNAMIC, PT_GNU_STACK, PT_GNU_RELRO...: not the loader's business
        if (phdr.p_memsz == 0 && phdr.p_filesz == 0)
            continue; // an empty PT_LOAD (linker scripts emit them for empty output sections) loads nothing
        if (image.segment_count == max_load_segments)
            return refuse("has too many PT_LOAD segments");
        LoadSegment const segment = TRY(check_segment(phdr, index, file_size, policy, diagnostic));
        for (u32 other = 0; other < image.segment_count; ++other) {
            LoadSegment const& previous = image.segments[other];
            if (ktl::ranges_overlap(segment.load_address, segment.memory_size, previous.load_address,
                    previous.memory_size))
                return refuse_segment(diagnostic, index, "overlaps segment",
                    static_cast<int>(previous.program_header_index));
        }
        image.segments[image.segment_count++] = segment;
    }
    if (image.segment_count == 0)
        return refuse("has no PT_LOAD segment");

    for (u32 i = 0; i < image.segment_count; ++i) {
        LoadSegment const& segment = image.segments[i];
        if (header.e_entry < segment.virtual_address || header.e_entry - segment.virtual_address >= segment.memory_size)
            continue;
        if (!(segment.flags & pf_x))
            return refuse_segment(diagnostic, segment.program_header_index,
                "contains the entry point but is not executable");
        image.entry_load_address = segment.load_address + (header.e_entry - segment.virtual_address);
        return image;
    }
    return refuse("entry point is not inside any PT_LOAD segment");
}

char const* format_refusal(Error const& error, Diagnostic const& diagnostic, char* buffer, usize buffer_size)
{
    if (buffer == nullptr || buffer_size == 0)
        return buffer;
    char* out = buffer;
    char* const end = buffer + buffer_size;
    if (diagnostic.segment >= 0) {
        out = append(out, end, "segment ");
        out = append_number(out, end, static_cast<unsigned>(diagnostic.segment));
        out = append(out, end, " ");
    }
    out = append(out, end, error.reason());
    if (diagnostic.segment >= 0 && diagnostic.other_segment >= 0) {
        out = append(out, end, " ");
        out = append_number(out, end, static_cast<unsigned>(diagnostic.other_segment));
    }
    *out = '\0';
    return buffer;
}

ErrorOr<Elf64_Phdr> read_program_header(u8 const* file, u64 file_size, u32 index)
{
    Elf64_Ehdr header;
    if (file_size < sizeof(header))
        return Error::from_errno(ENOEXEC, "file too small");
    __builtin_memcpy(&header, file, sizeof(header));
    u64 offset = 0;
    if (!ktl::checked_add<u64>(header.e_phoff, static_cast<u64>(index) * sizeof(Elf64_Phdr), &offset)
        || offset > file_size || sizeof(Elf64_Phdr) > file_size - offset)
        return Error::from_errno(ENOEXEC, "program header outside the file");
    Elf64_Phdr phdr;
    __builtin_memcpy(&phdr, file + offset, sizeof(phdr));
    return phdr;
}

} // namespace kernite::elf
