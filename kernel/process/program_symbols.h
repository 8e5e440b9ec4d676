// The program's own symbols, for fault events (issue 4 item 5): the loader keeps a view of the program module
// (reserved at boot and never freed) and its load bias; a fault's rip is looked up in the file's .symtab.
#pragma once

#include <ktl/types.h>

namespace kernite::process {

void set_program_image(u8 const* file, u64 size, u64 load_bias);

// "name+0xoffset" of the program symbol containing `address` into `out`; false (and `out` empty) when the program
// has no symbol table (stripped) or no symbol contains it.
bool symbolize_program_address(u64 address, char* out, usize size);

} // namespace kernite::process
