#include <elf/notes.h>

namespace kernite::elf {

namespace {

u32 read_u32(u8 const* p)
{
    u32 value;
    __builtin_memcpy(&value, p, sizeof(value));
    return value;
}

u64 align4(u64 value) { return (value + 3) & ~3ull; }

} // namespace

ErrorOr<NoteDescriptor> find_note(u8 const* file, u64 file_size, LoadableImage const& image, char const* name, u32 type)
{
    u64 name_size = __builtin_strlen(name) + 1;
    for (u32 i = 0; i < image.program_header_count; ++i) {
        Elf64_Phdr phdr = TRY(read_program_header(file, file_size, i));
        if (phdr.p_type != pt_note)
            continue;
        if (phdr.p_offset > file_size || phdr.p_filesz > file_size - phdr.p_offset)
            return Error::from_errno(ENOEXEC, "PT_NOTE outside the file");
        u8 const* notes = file + phdr.p_offset;
        u64 at = 0;
        while (at <= phdr.p_filesz && phdr.p_filesz - at >= 12) {
            u64 namesz = read_u32(notes + at);
            u64 descsz = read_u32(notes + at + 4);
            u32 note_type = read_u32(notes + at + 8);
            u64 name_at = at + 12;
            u64 desc_at = name_at + align4(namesz);
            if (desc_at > phdr.p_filesz || descsz > phdr.p_filesz - desc_at)
                return Error::from_errno(ENOEXEC, "note runs past its segment");
            if (note_type == type && namesz == name_size && __builtin_memcmp(notes + name_at, name, name_size) == 0)
                return NoteDescriptor { phdr.p_offset + desc_at, descsz };
            at = desc_at + align4(descsz);
        }
    }
    return Error::from_errno(ENOENT, "note not found");
}

} // namespace kernite::elf
