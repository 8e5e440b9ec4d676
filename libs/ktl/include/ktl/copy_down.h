// Copying an overlapping range whose destination lies above its source: the downward half of memmove
// (kernel/lib/string.cpp), here so that the host tests can check it against the C library's memmove.
#pragma once

#include <ktl/types.h>

namespace ktl {

// Copies `length` bytes from `source` to `destination` when source < destination < source + length, with two
// `rep movs` run downwards (DF set, cleared again before anything else runs; every kernel trap entry also
// clears it): whole words first, from the top, then the few bytes below them. The word written at
// destination + k never covers a source byte still to be read, since those all lie below source + k and
// source < destination. Eight bytes an iteration: where guest ring 0 is emulated, each `rep` iteration costs
// like an instruction.
inline void copy_down(u8* destination, u8 const* source, usize length)
{
    usize head = length % 8;
    usize words = length / 8;
    if (words) {
        u8* word_destination = destination + length - 8;
        u8 const* word_source = source + length - 8;
        asm volatile("std\n\t"
                     "rep movsq\n\t"
                     "cld"
                     : "+D"(word_destination), "+S"(word_source), "+c"(words)::"memory", "cc");
    }
    if (head) {
        u8* byte_destination = destination + head - 1;
        u8 const* byte_source = source + head - 1;
        asm volatile("std\n\t"
                     "rep movsb\n\t"
                     "cld"
                     : "+D"(byte_destination), "+S"(byte_source), "+c"(head)::"memory", "cc");
    }
}

} // namespace ktl
