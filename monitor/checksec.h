// `kernite checksec IMAGE [--program PROG] [--json]` (DESIGN.md "Interfaces", issue 4 item 7): which protections
// a kernel image, and optionally a program, carry, judged from the binary alone, never from a build log.
//
// Each protection is a Finding: a yes/no and the evidence it rests on (shown in the table). How each is judged:
//   pie           ET_DYN; or, for a Kernite kernel (GNU ld marks our static-PIE kernel ET_EXEC because the linker
//                 script places it at a fixed link address), R_X86_64_RELATIVE relocations (DT_RELA) plus the
//                 layout note "Kernite"/KLAY with a KASLR window (libs/paging/include/paging/kernel_layout.h).
//   wx_free       no PT_LOAD, no layout-note range and no PT_GNU_STACK is both writable and executable.
//   nx            nothing writable is executable and the stack is not: PT_GNU_STACK without PF_X (programs; none
//                 means an executable stack on Linux), and for a kernel every executable layout range lies in an
//                 executable PT_LOAD (its stacks live in its own non-executable data).
//   canary        direct calls to __stack_chk_fail found through the symbol table (the kernel defines it in every
//                 profile, so its presence proves nothing); else an import of __stack_chk_fail/__stack_chk_guard
//                 (relocation or undefined symbol); else, when no symbol names it (a stripped program), a code
//                 scan for the TLS canary access `mov/sub/xor %fs:0x28, reg`. canary_method says which.
//   kasan, ubsan  direct calls to or imports of __asan_*/__kasan_*/__hwasan_* and __ubsan_handle_*.
//   fortify       direct calls to or imports of __*_chk (not __stack_chk_*) and __chk_fail.
//   cfi           IBT: the GNU property note's X86_FEATURE_1_IBT bit, or endbr64 at >= half of the function
//                 symbols' entries; or clang CFI/KCFI markers (__cfi_* symbols, .kcfi_traps).
//   zero_regs     -fzero-call-used-regs: at least half of the function symbols that contain a ret (C3) byte
//                 have one right after a zeroing xor (ecx, edx, esi, edi or r8d-r11d with itself; not eax,
//                 which is every `return 0`), the sequence that option emits before each return. Our kernels
//                 without it have that in 2 functions of about 700, with it in nearly 9 of 10.
//   relro         PT_GNU_RELRO; for a kernel, a writable PT_LOAD that the layout note maps read-only (the loader
//                 seals it after relocating, arch/x86_64/kernel.ld).
//   hardened_heap the kernel's feature note (kernel/security/feature_note.cpp) says heap=hardened.
// A direct call is an E8/E9 rel32 (or 0F 8x jcc rel32) in an executable PT_LOAD whose target is the symbol: a
// byte scan, not a disassembly, so a stray match needs 32 random bits to hit the symbol exactly.
#pragma once

#include "result.h"

#include <ktl/types.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kernite::monitor {

inline constexpr char checksec_note_owner[] = "Kernite";
// The feature note's type, "KFEA"; the kernel emits it in kernel/security/feature_note.cpp.
inline constexpr u32 feature_note_type = 0x4b464541;
inline constexpr u64 max_feature_note_size = 4096;
inline constexpr usize max_feature_note_entries = 64;

// The feature note's descriptor: NUL-terminated "key=value" ASCII strings, "version=N" first, NUL padding last.
struct FeatureNote {
    bool present { false };
    std::vector<std::pair<std::string, std::string>> entries; // in file order
    // The value of `key`, or "" when the note has no such entry.
    std::string value(std::string_view key) const;
};

// Parses a descriptor (hostile: keys [a-z0-9_]{1,32}, values printable ASCII up to 128 bytes, no duplicates).
Result<FeatureNote> parse_feature_note(u8 const* descriptor, u64 size);

struct Finding {
    bool present { false };
    std::string evidence;
};

enum class BinaryKind {
    Kernel,  // carries the Kernite layout note
    Program, // anything else: a program for the kernel to run
};

struct ChecksecReport {
    BinaryKind kind { BinaryKind::Program };
    u16 elf_type { 0 };
    Finding pie, nx, wx_free, canary, kasan, ubsan, cfi, zero_regs, relro, fortify, hardened_heap;
    std::string canary_method; // "symbol", "import" or "code-scan"
    u64 canary_sites { 0 };    // calls to __stack_chk_fail, or %fs:0x28 accesses for code-scan
    u64 kasan_sites { 0 }, ubsan_sites { 0 }, fortify_sites { 0 };
    u64 relative_relocations { 0 };
    u64 functions { 0 }, functions_with_endbr { 0 };
    u64 functions_with_ret { 0 }, functions_zeroing_regs { 0 }; // zero_regs: functions with a C3 byte, and of
                                                                // them those with a zeroing xor right before one
    bool return_scan_stopped { false }; // the symbols spanned more than 4x the code: the rest were not scanned
    bool has_symbols { false };
    FeatureNote note;
    std::vector<std::string> note_mismatches; // protections the note claims and the binary does not show, or back
};

// Analyses an in-memory file. A failure means the file is not an ELF64 x86-64 executable we can read safely.
Result<ChecksecReport> analyse_binary(u8 const* bytes, u64 size);

// One flat JSON object (no trailing newline): "file", "kind", one boolean per protection, the evidence counts,
// "feature_note" and one "note_<key>" string per note entry.
std::string format_checksec_json(ChecksecReport const&, std::string_view path);
// The readable table: a heading line, then one line per protection with its evidence.
std::string format_checksec_table(ChecksecReport const&, std::string_view path);

struct ChecksecOptions {
    std::string image;   // a path, or a profile name (hardened, debug, baseline) as for `run --kernel`
    std::string program; // optional
    bool json { false };
    bool help { false };
};

// argv[index..] are the arguments after "checksec".
Result<ChecksecOptions> parse_checksec_arguments(int argc, char const* const* argv, int index);
std::string checksec_usage_line();

// Runs the command: the report(s) on stdout; 0 when every file was analysed, 127 (message on stderr) otherwise.
int checksec_command(ChecksecOptions const&);

} // namespace kernite::monitor
