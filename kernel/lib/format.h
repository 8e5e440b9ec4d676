// printf-style formatting into a caller's buffer. Supports %d %i %u %x %X %p %s %c %%, the length
// modifiers l, ll, z, the flags 0 and -, and a width. Always NUL-terminates; returns the length written
// (truncated to the buffer), never more.
#pragma once

#include <ktl/types.h>

namespace kernite {

usize format(char* buffer, usize size, char const* fmt, ...) __attribute__((format(printf, 3, 4)));
usize vformat(char* buffer, usize size, char const* fmt, __builtin_va_list args);

} // namespace kernite
