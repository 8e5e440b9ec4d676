// Symbol lookup in an ELF64 file's .symtab (gABI "Sections", "Symbol Table"): which function or data object of a
// program contains an address, for fault reports (issue 4 item 5). The file is hostile (it is the program the
// user runs): every header, table, index and string is bounds-checked against the file before it is read, and
// nothing is read unaligned.
#pragma once

#include <elf/elf64.h>
#include <ktl/types.h>

namespace kernite::elf {

struct SymbolMatch {
    char const* name { nullptr }; // inside the file, NUL-terminated inside its string table
    u64 offset { 0 };             // address - the symbol's value
};

// The defined STT_FUNC or STT_OBJECT symbol of `file` whose [value, value + size) contains `address` (a link-time
// address: subtract a static-PIE program's load bias first); the smallest if several do. False when the file has
// no (valid) .symtab or no symbol contains the address; a malformed table never reads outside the file.
bool find_symbol(u8 const* file, u64 file_size, u64 address, SymbolMatch* match);

} // namespace kernite::elf
