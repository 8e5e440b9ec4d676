// Command-line parsing of `kernite` (DESIGN.md "Interfaces"): a small hand-written parser, pure and
// unit-tested. Errors are one-line messages; the caller prints them with the usage line and exits 127.
#pragma once

#include "result.h"

#include <ktl/types.h>

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
    std::string app;
    std::vector<std::string> app_arguments;
};

struct Command {
    enum class Kind {
        Help,
        Version,
        Run,
        RunHelp,
    };
    Kind kind { Kind::Help };
    RunOptions run;
};

// argv[0] is the program name.
Result<Command> parse_command_line(int argc, char const* const* argv);

// "64M", "1G", "8192K", "134217728": rounded up to 2 MiB, within [2 MiB, 16 GiB].
Result<u64> parse_memory_size(std::string_view);
// "10", "0.5": non-negative seconds with at most 3 decimals, as milliseconds.
Result<u64> parse_timeout(std::string_view);

// The kernel command line: "crashtest=NAME" (if any) then the --cmdline strings, space-separated.
Result<std::string> build_kernel_cmdline(RunOptions const&);

// `kernel` with a '/' is a path; otherwise a profile resolved as <exe_dir>/../kernel/kernite-<profile>.elf.
Result<std::string> resolve_kernel_path(std::string const& kernel, std::string const& exe_dir);

// True when NAME is in abi::crash_tests.
bool is_known_crash_test(std::string_view name);
// The `--crashtest list` output, one line per test.
std::string format_crash_test_list();

std::string usage_text();
std::string run_usage_line();

} // namespace kernite::monitor
