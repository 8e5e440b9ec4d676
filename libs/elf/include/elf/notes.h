// ELF notes (gABI "Note Section"): find one by owner name and type in an image's PT_NOTE segments.
// The file is hostile: every size is checked against the segment and the file.
#pragma once

#include <elf/image.h>
#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::elf {

struct NoteDescriptor {
    u64 file_offset; // of the descriptor bytes
    u64 size;
};

// The first note named `name` (compared with its NUL) with `type`; ENOENT if there is none.
ErrorOr<NoteDescriptor> find_note(u8 const* file, u64 file_size, LoadableImage const& image, char const* name, u32 type);

} // namespace kernite::elf
