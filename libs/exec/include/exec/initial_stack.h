// The process entry stack of a Linux x86-64 program: argc, argv, envp, the auxiliary vector and the strings
// they point to, as System V x86-64 psABI 1.0 §3.4.1 ("Initial Stack and Register State") specifies and in the
// order Linux builds it (fs/exec.c copy_strings(), fs/binfmt_elf.c create_elf_tables()):
//
//   user_top        8 zero bytes (Linux's end marker)
//                   AT_EXECFN string
//                   envp strings (envp[envc-1] highest), then argv strings (argv[0] lowest)
//                   padding (optional, InitialStackInput::padding), 16-byte aligned
//                   AT_PLATFORM string "x86_64"
//                   16 AT_RANDOM bytes (16-byte aligned)
//                   padding to make rsp 16-byte aligned
//                   auxv pairs ... AT_NULL
//                   NULL, envp[envc-1] ... envp[0]   (envp[0] lowest)
//                   NULL, argv[argc-1] ... argv[0]
//   rsp (%16 == 0)  argc
#pragma once

#include <exec/program_plan.h>
#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::exec {

// Auxiliary vector types (include/uapi/linux/auxvec.h, arch/x86/include/uapi/asm/auxvec.h).
inline constexpr u64 at_null = 0;
inline constexpr u64 at_phdr = 3;
inline constexpr u64 at_phent = 4;
inline constexpr u64 at_phnum = 5;
inline constexpr u64 at_pagesz = 6;
inline constexpr u64 at_base = 7;
inline constexpr u64 at_flags = 8;
inline constexpr u64 at_entry = 9;
inline constexpr u64 at_uid = 11;
inline constexpr u64 at_euid = 12;
inline constexpr u64 at_gid = 13;
inline constexpr u64 at_egid = 14;
inline constexpr u64 at_platform = 15;
inline constexpr u64 at_hwcap = 16;
inline constexpr u64 at_clktck = 17;
inline constexpr u64 at_secure = 23;
inline constexpr u64 at_random = 25;
inline constexpr u64 at_hwcap2 = 26;
inline constexpr u64 at_execfn = 31;
inline constexpr u64 at_sysinfo_ehdr = 33;
inline constexpr u64 at_minsigstksz = 51;

inline constexpr u64 clock_ticks_per_second = 100;        // AT_CLKTCK: USER_HZ on x86 (times(2), sysconf(_SC_CLK_TCK))
inline constexpr char const platform_string[] = "x86_64"; // AT_PLATFORM: ELF_PLATFORM of x86-64
inline constexpr usize max_argument_length = 32ul * 4096; // MAX_ARG_STRLEN (include/uapi/linux/binfmts.h)

struct InitialStackInput {
    // Kernel-owned copies, each NUL-terminated. argc == 0 is run with one empty argv[0], as Linux >= 5.18 does
    // (fs/exec.c do_execveat_common), so that argv[0] is never envp[0].
    char const* const* argv { nullptr };
    usize argc { 0 };
    char const* const* envp { nullptr };
    usize envc { 0 };
    char const* execfn { nullptr }; // AT_EXECFN: the path the program was started as; null: argv[0]

    // From the (biased) ProgramPlan; see set_program().
    u64 phdr { 0 };
    u64 phent { 0 };
    u64 phnum { 0 };
    u64 entry { 0 };

    u64 uid { 0 };
    u64 euid { 0 };
    u64 gid { 0 };
    u64 egid { 0 };
    bool secure { false };  // AT_SECURE
    u64 hwcap { 0 };        // AT_HWCAP: CPUID.01H:EDX on x86 (arch/x86/include/asm/elf.h ELF_HWCAP)
    u64 hwcap2 { 0 };       // AT_HWCAP2: HWCAP2_RING3MWAIT (bit 0), HWCAP2_FSGSBASE (bit 1) when offered
    u64 minsigstksz { 0 };  // AT_MINSIGSTKSZ: the kernel's signal frame size (depends on the CPU's XSAVE
                            // size); 0: the entry is left out and libc uses its constant
    u64 sysinfo_ehdr { 0 }; // AT_SYSINFO_EHDR: the vDSO's address; 0 (no vDSO): the entry is left out
    u8 random_bytes[16] {}; // AT_RANDOM: fresh bytes from the kernel's generator (libc's canary, pointer guard)
    u64 padding { 0 };      // extra bytes (rounded down to 16) between the strings and the tables: a random
                            // sub-page offset of rsp, like Linux's arch_align_stack()
};

// Copies the program facts (AT_PHDR, AT_PHENT, AT_PHNUM, AT_ENTRY) of a plan that apply_load_bias() shifted.
void set_program(InitialStackInput& input, ProgramPlan const& plan);

// Writes the stack into `buffer`, whose last byte is user address user_top - 1 (user_top 16-byte aligned and
// at least buffer_size), and returns the program's initial rsp. E2BIG when the strings and tables do not fit
// (or a string is longer than MAX_ARG_STRLEN); EINVAL for a bad buffer or user_top. Bytes of the buffer below
// rsp are left as they were.
ErrorOr<u64> build_initial_stack(InitialStackInput const& input, u8* buffer, usize buffer_size, u64 user_top);

} // namespace kernite::exec
