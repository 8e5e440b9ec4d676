// Command-line parsing of `kernite` (DESIGN.md "Interfaces"): a small hand-written parser, pure and
// unit-tested. Errors are one-line messages; the caller prints them with the usage line and exits 127.
#pragma once

#include "checksec.h"
#include "result.h"

#include <ktl/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kernite::monitor {

inline constexpr u64 default_memory_size = 128ull << 20;
inline constexpr u64 min_memory_size = 2ull << 20;
inline constexpr u64 max_memory_size = 16ull << 30;
inline constexpr u64 memory_granule = 2ull << 20; // the identity map uses 2 MiB pages

enum class VmmChoice {
    Auto, // KVM when /dev/kvm works, else QEMU (with a notice)
    Kvm,
    Qemu,
};

// Where the program runs (DESIGN.md "Isolation modes"): ring 3 under the kernel's page-table U/S protection, or
// ring 0 beside the kernel. Passed to the kernel as `isolation=ring|none`.
enum class Isolation {
    Ring,
    None,
};

// The W^X policy for the program's mmap/mprotect (kernel side: libs/vma): `strict` refuses W+X and any flip of
// once-writable memory to executable; `relaxed` (for JITs) allows the W->X flip. Passed as `wx=relaxed`.
enum class WxMode {
    Strict,
    Relaxed,
};

// The kernel heap's checks (docs/security-model.md "The hardened heap, in detail"): `hardened` (default) poisons
// and checks the first 32 bytes of each freed object; `full` every byte; `oscar` gives every small object its own
// alias pages, unmapped on free, so any use after free faults. Passed as `heap=full` / `heap=oscar`.
enum class HeapMode {
    Hardened,
    Full,
    Oscar,
};

// The environment a program gets before any --env: what a minimal Linux hands its first process (Linux's
// init/main.c gives HOME=/ and TERM), plus the PATH glibc and busybox fall back to without one. TERM is "dumb":
// the program's output reaches the host through pipes, never a terminal the guest drives.
inline constexpr char const* const default_program_environment[] = {
    "PATH=/usr/local/bin:/usr/bin:/bin",
    "HOME=/",
    "TERM=dumb",
};

struct RunOptions {
    VmmChoice vmm { VmmChoice::Auto };
    u64 memory_size { default_memory_size };
    u64 timeout_ms { 0 }; // 0: none
    std::string timeout_text;
    std::string kernel { "hardened" };
    std::string events_path;
    std::string crashtest;
    bool crashtest_list { false };
    std::vector<std::string> cmdline_extra;
    bool verbose { false };
    bool no_aslr { false };      // kernel at its link address (the kernel warns on every such boot)
    bool print_layout { false }; // the kernel prints its randomized regions
    // Hidden, for testing only (tests/guest: the kernel must refuse to boot without entropy): the QEMU backend
    // passes no seed module. Not in the usage text; the KVM monitor always gives a seed and refuses this flag.
    bool no_entropy_seed { false };
    // Hidden, for testing only: the QEMU backend leaves out its virtio-rng device (with --no-entropy-seed the
    // guest then has no source at all). The KVM monitor has no virtio-rng and refuses this flag.
    bool no_virtio_rng { false };
    // Hidden, for testing only: the virtio-rng device keeps QEMU's legacy (version 1) interface, which the kernel
    // must refuse with a message.
    bool virtio_rng_legacy { false };
    // Hidden, for testing and measuring: `--qemu-tcg` makes the QEMU backend use TCG even where KVM works (the
    // isolation `none` tests and figures: on nested KVM through PVM guest ring 0 is emulated, docs/platform-notes).
    bool qemu_tcg { false };
    std::string app;
    std::vector<std::string> app_arguments;
    std::string rootfs;                   // --rootfs DIR: packed as the "rootfs" module; empty: none
    std::vector<std::string> environment; // --env K=V, in the order given (validated: K non-empty)
    bool strace { false };                // the kernel prints every system call on stderr
    std::optional<Isolation> isolation;   // nothing: the default, ring
    WxMode wx { WxMode::Strict };
    HeapMode heap { HeapMode::Hardened };
};

struct Command {
    enum class Kind {
        Help,
        Version,
        Run,
        RunHelp,
        Checksec,
    };
    Kind kind { Kind::Help };
    RunOptions run;
    ChecksecOptions checksec;
};

// argv[0] is the program name.
Result<Command> parse_command_line(int argc, char const* const* argv);

// "64M", "1G", "8192K", "134217728": rounded up to 2 MiB, within [2 MiB, 16 GiB].
Result<u64> parse_memory_size(std::string_view);
// "10", "0.5": non-negative seconds with at most 3 decimals, as milliseconds.
Result<u64> parse_timeout(std::string_view);

// The kernel command line, space-separated words: "crashtest=NAME", "no-aslr", "print-layout",
// "isolation=ring|none" (with an APP, or when --isolation was given), "wx=relaxed", "strace", "verbose", then the
// --cmdline strings.
Result<std::string> build_kernel_cmdline(RunOptions const&);

// The program's environment: default_program_environment, then each --env K=V; a later K replaces an earlier
// one in place (so the order stays that of first appearance).
std::vector<std::string> build_program_environment(RunOptions const&);

// `kernel` with a '/' is a path; otherwise a profile resolved as <exe_dir>/../kernel/kernite-<profile>.elf.
Result<std::string> resolve_kernel_path(std::string const& kernel, std::string const& exe_dir);

// True when NAME is in abi::crash_tests.
bool is_known_crash_test(std::string_view name);
// The `--crashtest list` output, one line per test.
std::string format_crash_test_list();

std::string usage_text();
std::string run_usage_line();
// `kernite run --help`: the usage line and every run option.
std::string run_help_text();

} // namespace kernite::monitor
