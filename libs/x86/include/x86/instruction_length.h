// Lengths of x86-64 instructions (64-bit mode), decoded from their bytes alone: legacy prefixes, REX, the one-
// and two-byte opcode maps, 0F38/0F3A, VEX (C4/C5) and EVEX (62), ModRM, SIB, displacements and immediates
// (Intel SDM Vol. 2A chapter 2, Vol. 2D appendix A opcode maps). It knows nothing about what an instruction does.
//
// Use: isolation `none` runs a program in ring 0, where `hlt` (0xF4) halts instead of faulting; the kernel sees
// an interrupt return address R with byte[R-1] == 0xF4 and must tell a real `hlt` at R-1 from the last byte of a
// longer instruction (a disp8 of -12, a ModRM or SIB of 0xF4, ...: about 0.1% of the instructions of a typical
// static program). x86 code resynchronizes quickly when decoded from a wrong start, so decoding forward from
// several starts before R and asking where the instruction boundaries fall answers that question for compiled
// code (ends_with_hlt_at).
#pragma once

#include <ktl/types.h>

namespace kernite::x86 {

inline constexpr usize max_instruction_length = 15;
inline constexpr u8 hlt_opcode = 0xf4;

// The length of the instruction at bytes[0], or 0 if it is invalid in 64-bit mode, longer than 15 bytes, or does
// not fit in `available` bytes.
usize instruction_length(u8 const* bytes, usize available);

// `window` holds code bytes and `target` is an offset in it with window[target] == 0xF4. Decodes forward from
// each of the offsets 0 .. starts-1 until reaching or passing `target`: a decode that lands exactly on `target`
// votes "a whole `hlt` there", one that walks over it (the 0xF4 is inside a longer instruction) votes against, one
// that meets an invalid encoding does not vote. True when the votes for are at least `quorum` and more than the
// votes against.
bool ends_with_hlt_at(u8 const* window, usize window_size, usize target, usize starts, usize quorum);

} // namespace kernite::x86
