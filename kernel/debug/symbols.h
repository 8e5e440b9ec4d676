// Kernel symbols carried in the image (the .ksyms section written by tools/mkksyms at build time) and
// frame-pointer backtraces that use them.
#pragma once

#include <ktl/types.h>

namespace kernite::debug {

// Format of .ksyms (tools/mkksyms.cpp writes it).
struct KsymsHeader {
    u32 magic; // ksyms_magic
    u32 count;
    u32 strings_offset; // from the start of the header
    u32 strings_size;
};
struct KsymsEntry {
    u32 offset; // from __kernel_start
    u32 size;
    u32 name_offset; // into the string table
    u32 reserved;
};
inline constexpr u32 ksyms_magic = 0x4d59534b; // "KSYM"

// Writes "name+0xoff" for `address`; false if it is not inside a known function.
bool symbolize(u64 address, char* out, usize size);
u32 symbol_count();

// Prints up to 16 frames, following saved frame pointers only while they stay in mapped kernel stack memory.
void print_backtrace(u64 rbp);

} // namespace kernite::debug
