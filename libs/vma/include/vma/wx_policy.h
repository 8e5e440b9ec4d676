// W^X for program memory (issue 4 item 4; docs/security-model.md "W^X").
//
// Threat. A program with a memory-corruption bug is made to run code the attacker supplies: bytes written into
// the stack, heap, data or an anonymous mapping and then executed, either directly (the memory is writable and
// executable) or after the attacker, through a ROP chain or return-to-libc, calls mprotect(addr, len,
// PROT_EXEC) or mmap(PROT_WRITE|PROT_EXEC) on them. NX in the page tables stops the first only if no page is
// ever both writable and executable; the second needs the kernel to refuse the system call.
//
// Rule (Strict, the default):
//   1. No mapping is ever writable and executable at once: mmap and mprotect with PROT_WRITE|PROT_EXEC fail.
//   2. Memory that has been writable at any time since it was mapped never becomes executable: mprotect adding
//      PROT_EXEC to it fails (PaX MPROTECT's rule, grsecurity/PaX "MPROTECT" documentation). A fresh mapping
//      may be created executable (mmap(PROT_READ|PROT_EXEC)), and memory that was only ever read-only may
//      become executable: neither lets the program choose the bytes that run.
//   Both fail with EACCES, as PaX and SELinux's execmem/execmod denials do, and the kernel reports a
//   `wx-policy-denied` event with the reason string; the program goes on (it may have a fallback).
//   Relaxed (`kernite run --wx relaxed`, for JITs): rule 1 holds, rule 2 does not, so a JIT may write code in
//   RW pages and flip them to RX (the W->X dance V8, LuaJIT and PCRE2-JIT do); never W+X at the same time.
//   Disabled: no rule; only for the `baseline` measurements of what the protections cost.
//
// Also: nothing is ever mapped below 64 KiB (mmap there is EPERM, layout.h), so a NULL dereference faults.
//
// Why this shape. Linux allows both W+X and W->X by default; PaX MPROTECT and OpenBSD's W^X showed that
// refusing them breaks only JITs and a few old programs, and a unikernel runs one known program whose operator
// can pick `--wx relaxed`. EACCES (not EPERM, not a kill) matches what JIT runtimes expect from hardened
// Linux kernels and lets them fall back to interpreters.
//
// Limits. The rule is about page permissions: code reuse (ROP/JOP) needs no new executable pages and is the
// job of CFI/shadow stacks (issue 7). Memory the program writes through a file and then maps executable (a
// ramfs file mmapped PROT_EXEC) is allowed, as on Linux without PaX; so is a fresh PROT_EXEC mapping, whose
// contents are zero. The policy covers the program's mappings only; the kernel's own W^X is built from its
// linker segments (kernel/mm).
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::vma {

// mmap(2)'s PROT_* bits (asm-generic/mman-common.h).
inline constexpr u32 prot_none = 0;
inline constexpr u32 prot_read = 1;
inline constexpr u32 prot_write = 2;
inline constexpr u32 prot_exec = 4;
inline constexpr u32 prot_mask = prot_read | prot_write | prot_exec;

enum class WxMode : u8 {
    Strict,   // default: no W+X, no W->X (PaX MPROTECT)
    Relaxed,  // --wx relaxed: no W+X; W->X flips allowed
    Disabled, // baseline profile only: no checks
};

// The check for mprotect: `old_prot` is the region's current protection, `was_writable` whether it has been
// writable since it was mapped. EACCES with a reason string when the change is refused.
ErrorOr<void> check_wx_policy(u32 old_prot, u32 new_prot, bool was_writable, WxMode mode);

// The check for a new mapping (mmap, MAP_FIXED included): only rule 1 applies.
ErrorOr<void> check_wx_policy_for_new_mapping(u32 prot, WxMode mode);

// Parses "strict" / "relaxed" / "disabled" (the --wx option); EINVAL for anything else.
ErrorOr<WxMode> parse_wx_mode(char const* text);
char const* wx_mode_name(WxMode mode);

} // namespace kernite::vma
