// Copying an overlapping range whose destination lies above its source: the downward half of memmove
// (kernel/lib/string.cpp), here so that the host tests can check it against the C library's memmove.
#pragma once

#include <ktl/types.h>

namespace ktl {

// Copies `length` bytes from `source` to `destination` when source < destination < source + length, in one run
// downwards (DF set, cleared again before anything else runs; every kernel trap entry also clears it): whole
// words first, from the top (`rep movsq` from the last word), then the bytes below them (`rep movsb`: the word
// loop leaves each pointer 8 below the last word it moved, so 7 up is the byte under it). The word written at
// destination + k never covers a source byte still to be read, since those all lie below source + k and
// source < destination. Eight bytes an iteration: where guest ring 0 is emulated, each `rep` iteration costs
// like an instruction. The pointers are plain addresses until the instructions use them: with fewer than 8
// bytes the first word's address lies below the range and is never dereferenced.
inline void copy_down(u8* destination, u8 const* source, usize length)
{
    uptr last_destination_word = reinterpret_cast<uptr>(destination) + length - 8;
    uptr last_source_word = reinterpret_cast<uptr>(source) + length - 8;
    usize words = length / 8;
    usize head = length % 8;
    asm volatile("std\n\t"
                 "rep movsq\n\t"
                 "addq $7, %%rdi\n\t"
                 "addq $7, %%rsi\n\t"
                 "movq %[head], %%rcx\n\t"
                 "rep movsb\n\t"
                 "cld"
                 : "+D"(last_destination_word), "+S"(last_source_word), "+c"(words)
                 : [head] "r"(head)
                 : "memory", "cc");
}

} // namespace ktl
