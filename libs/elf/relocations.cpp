#include <elf/relocations.h>

namespace kernite::elf {

namespace {

// The PT_LOAD whose file-backed virtual range holds [virtual_address, virtual_address + size).
LoadSegment const* segment_holding(LoadableImage const& image, u64 virtual_address, u64 size)
{
    for (u32 i = 0; i < image.segment_count; ++i) {
        auto const& segment = image.segments[i];
        if (virtual_address >= segment.virtual_address && virtual_address - segment.virtual_address <= segment.file_size
            && size <= segment.file_size - (virtual_address - segment.virtual_address))
            return &segment;
    }
    return nullptr;
}

u64 read_u64(u8 const* p)
{
    u64 value;
    __builtin_memcpy(&value, p, sizeof(value));
    return value;
}

} // namespace

u64 link_base(LoadableImage const& image)
{
    u64 lowest = ~0ull;
    for (u32 i = 0; i < image.segment_count; ++i) {
        if (image.segments[i].virtual_address < lowest)
            lowest = image.segments[i].virtual_address;
    }
    return image.segment_count ? lowest : 0;
}

ErrorOr<u64> relocation_target(LoadableImage const& image, u64 virtual_address)
{
    auto const* segment = segment_holding(image, virtual_address, 8);
    if (!segment)
        return Error::from_errno(ENOEXEC, "relocation target outside the loaded file contents");
    if (!(segment->flags & pf_w))
        return Error::from_errno(ENOEXEC, "relocation target in a read-only segment");
    return segment->load_address + (virtual_address - segment->virtual_address);
}

ErrorOr<RelocationTable> find_relocations(u8 const* file, u64 file_size, LoadableImage const& image)
{
    // The program header table was validated by parse_loadable_image(); find PT_DYNAMIC in it.
    u64 dynamic_offset = 0, dynamic_size = 0;
    bool found = false;
    for (u32 i = 0; i < image.program_header_count; ++i) {
        Elf64_Phdr phdr = TRY(read_program_header(file, file_size, i));
        if (phdr.p_type != pt_dynamic)
            continue;
        if (found)
            return Error::from_errno(ENOEXEC, "more than one PT_DYNAMIC");
        found = true;
        dynamic_offset = phdr.p_offset;
        dynamic_size = phdr.p_filesz;
    }
    if (!found)
        return RelocationTable {};
    if (dynamic_offset > file_size || dynamic_size > file_size - dynamic_offset)
        return Error::from_errno(ENOEXEC, "PT_DYNAMIC outside the file");

    u64 rela = 0, rela_size = 0, rela_entry = sizeof(Elf64_Rela);
    bool has_rela = false;
    for (u64 at = 0; at + sizeof(Elf64_Dyn) <= dynamic_size; at += sizeof(Elf64_Dyn)) {
        i64 tag = static_cast<i64>(read_u64(file + dynamic_offset + at));
        u64 value = read_u64(file + dynamic_offset + at + 8);
        if (tag == dt_null)
            break;
        if (tag == dt_rel)
            return Error::from_errno(ENOEXEC, "REL relocations (only RELA is supported)");
        if (tag == dt_textrel)
            return Error::from_errno(ENOEXEC, "text relocations");
        if (tag == dt_rela) {
            rela = value;
            has_rela = true;
        } else if (tag == dt_relasz) {
            rela_size = value;
        } else if (tag == dt_relaent) {
            rela_entry = value;
        }
    }
    if (!has_rela || rela_size == 0)
        return RelocationTable {};
    if (rela_entry != sizeof(Elf64_Rela) || rela_size % sizeof(Elf64_Rela) != 0)
        return Error::from_errno(ENOEXEC, "malformed relocation table size");
    if (rela_size / sizeof(Elf64_Rela) > max_relocations)
        return Error::from_errno(ENOEXEC, "too many relocations");
    auto const* segment = segment_holding(image, rela, rela_size);
    if (!segment)
        return Error::from_errno(ENOEXEC, "relocation table outside the loaded file contents");
    return RelocationTable { segment->file_offset + (rela - segment->virtual_address), rela_size / sizeof(Elf64_Rela) };
}

} // namespace kernite::elf
