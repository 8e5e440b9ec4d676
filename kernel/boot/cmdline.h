// The kernel command line: space-separated words (`quick`) and `key=value` tokens (`crashtest=WRITE_RO`).
// BootParams::cmdline holds the copy early boot made; these helpers read any such string.
#pragma once

#include <ktl/types.h>

namespace kernite::boot {

// Is `word` one of the tokens?
bool cmdline_has(char const* cmdline, char const* word);
// Finds the token `key=value` and copies its value (NUL-terminated, truncated to `size`).
bool cmdline_value(char const* cmdline, char const* key, char* out, usize size);

} // namespace kernite::boot
