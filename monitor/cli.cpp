#include "cli.h"

#include <kernite/crashtests.h>

#include <cstring>
#include <cstdio>
#include <optional>

namespace kernite::monitor {

namespace {

bool parse_unsigned(std::string_view text, u64& out)
{
    if (text.empty())
        return false;
    u64 value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return false;
        if (!ktl::checked_mul<u64>(value, 10, &value) || !ktl::checked_add<u64>(value, c - '0', &value))
            return false;
    }
    out = value;
    return true;
}

// Splits "--name=value" into name and value; `has_value` tells whether '=' was present.
struct SplitOption {
    std::string_view name;
    std::string_view value;
    bool has_value;
};

SplitOption split_option(std::string_view argument)
{
    if (argument.starts_with("--")) {
        auto equals = argument.find('=');
        if (equals != std::string_view::npos)
            return { argument.substr(0, equals), argument.substr(equals + 1), true };
    }
    return { argument, {}, false };
}

// `--env K=V`: K non-empty (it cannot contain '=': the first '=' ends it). V may be empty or contain '='.
std::optional<std::string> check_environment_entry(std::string_view entry)
{
    auto equals = entry.find('=');
    if (equals == std::string_view::npos)
        return "--env needs NAME=VALUE, not '" + std::string(entry) + "'";
    if (equals == 0)
        return "--env '" + std::string(entry) + "' has an empty name";
    return std::nullopt;
}

std::string_view environment_name(std::string_view entry) { return entry.substr(0, entry.find('=')); }

Result<Command> parse_run(int argc, char const* const* argv, int index)
{
    Command command;
    command.kind = Command::Kind::Run;
    RunOptions& options = command.run;
    for (; index < argc; ++index) {
        std::string_view const argument = argv[index];
        if (!options.app.empty() || argument == "--") {
            if (argument == "--") {
                if (options.app.empty())
                    return fail("'--' must follow the APP name");
                for (++index; index < argc; ++index)
                    options.app_arguments.emplace_back(argv[index]);
                break;
            }
            return fail("unexpected argument '" + std::string(argument) + "' after APP (use -- before its arguments)");
        }
        if (argument == "-h" || argument == "--help") {
            command.kind = Command::Kind::RunHelp;
            return command;
        }
        if (argument == "-v" || argument == "--verbose") {
            options.verbose = true;
            continue;
        }
        if (argument == "--no-aslr") {
            options.no_aslr = true;
            continue;
        }
        if (argument == "--print-layout") {
            options.print_layout = true;
            continue;
        }
        if (argument == "--strace") {
            options.strace = true;
            continue;
        }
        if (argument == "--qemu-tcg") { // hidden testing option, see RunOptions::qemu_tcg
            options.qemu_tcg = true;
            continue;
        }
        if (argument == "--no-entropy-seed") { // hidden testing option, see RunOptions::no_entropy_seed
            options.no_entropy_seed = true;
            continue;
        }
        if (argument == "--no-virtio-rng") { // hidden testing option, see RunOptions::no_virtio_rng
            options.no_virtio_rng = true;
            continue;
        }
        if (argument == "--virtio-rng-legacy") { // hidden testing option, see RunOptions::virtio_rng_legacy
            options.virtio_rng_legacy = true;
            continue;
        }
        if (!argument.starts_with("-")) {
            options.app = argument;
            continue;
        }
        auto [name, inline_value, has_value] = split_option(argument);
        auto take_value = [&]() -> std::optional<std::string_view> {
            if (has_value)
                return inline_value;
            if (index + 1 >= argc)
                return std::nullopt;
            return std::string_view(argv[++index]);
        };
        bool const takes_value = name == "--vmm" || name == "--mem" || name == "--timeout" || name == "--kernel"
            || name == "--events" || name == "--crashtest" || name == "--cmdline" || name == "--rootfs"
            || name == "--env" || name == "--isolation" || name == "--wx"
            || name == "--heap";
        if (!takes_value)
            return fail("unknown option '" + std::string(argument) + "'");
        auto value = take_value();
        if (!value)
            return fail("option " + std::string(name) + " needs a value");
        if (name == "--vmm") {
            if (*value == "kvm")
                options.vmm = VmmChoice::Kvm;
            else if (*value == "qemu")
                options.vmm = VmmChoice::Qemu;
            else
                return fail("--vmm must be kvm or qemu, not '" + std::string(*value) + "'");
        } else if (name == "--mem") {
            auto size = parse_memory_size(*value);
            if (!size.ok())
                return fail(size.error());
            options.memory_size = size.value();
        } else if (name == "--timeout") {
            auto timeout = parse_timeout(*value);
            if (!timeout.ok())
                return fail(timeout.error());
            options.timeout_ms = timeout.value();
            options.timeout_text = *value;
        } else if (name == "--kernel") {
            if (value->empty())
                return fail("--kernel needs a profile name or a path");
            options.kernel = *value;
        } else if (name == "--events") {
            if (value->empty())
                return fail("--events needs a file name");
            options.events_path = *value;
        } else if (name == "--crashtest") {
            if (*value == "list") {
                options.crashtest_list = true;
            } else if (!is_known_crash_test(*value)) {
                return fail("unknown crash test " + std::string(*value) + " (see --crashtest list)");
            } else {
                options.crashtest = *value;
            }
        } else if (name == "--cmdline") {
            if (!value->empty())
                options.cmdline_extra.emplace_back(*value);
        } else if (name == "--rootfs") {
            if (value->empty())
                return fail("--rootfs needs a directory");
            options.rootfs = *value;
        } else if (name == "--env") {
            if (auto error = check_environment_entry(*value))
                return fail(*error);
            options.environment.emplace_back(*value);
        } else if (name == "--isolation") {
            if (*value == "ring")
                options.isolation = Isolation::Ring;
            else if (*value == "none")
                options.isolation = Isolation::None;
            else
                return fail("--isolation must be ring or none, not '" + std::string(*value) + "'");
        } else if (name == "--wx") {
            if (*value == "strict")
                options.wx = WxMode::Strict;
            else if (*value == "relaxed")
                options.wx = WxMode::Relaxed;
            else
                return fail("--wx must be strict or relaxed, not '" + std::string(*value) + "'");
        } else if (name == "--heap") {
            if (*value == "hardened")
                options.heap = HeapMode::Hardened;
            else if (*value == "full")
                options.heap = HeapMode::Full;
            else if (*value == "oscar")
                options.heap = HeapMode::Oscar;
            else
                return fail("--heap must be hardened, full or oscar, not '" + std::string(*value) + "'");
        }
    }
    return command;
}

} // namespace

Result<Command> parse_command_line(int argc, char const* const* argv)
{
    if (argc < 2)
        return fail("missing command");
    std::string_view const first = argv[1];
    Command command;
    if (first == "-h" || first == "--help" || first == "help") {
        command.kind = Command::Kind::Help;
        return command;
    }
    if (first == "--version" || first == "version") {
        command.kind = Command::Kind::Version;
        return command;
    }
    if (first == "checksec") {
        auto options = parse_checksec_arguments(argc, argv, 2);
        if (!options.ok())
            return fail(options.error());
        command.kind = Command::Kind::Checksec;
        command.checksec = std::move(options.value());
        return command;
    }
    if (first == "run")
        return parse_run(argc, argv, 2);
    if (first.starts_with("-"))
        return fail("unknown option '" + std::string(first) + "'");
    return fail("unknown command '" + std::string(first) + "'");
}

Result<u64> parse_memory_size(std::string_view text)
{
    std::string const quoted = "invalid memory size '" + std::string(text) + "'";
    if (text.empty())
        return fail(quoted);
    u64 multiplier = 1;
    switch (text.back()) {
    case 'K':
    case 'k': multiplier = 1ull << 10; break;
    case 'M':
    case 'm': multiplier = 1ull << 20; break;
    case 'G':
    case 'g': multiplier = 1ull << 30; break;
    default: break;
    }
    std::string_view digits = multiplier == 1 ? text : text.substr(0, text.size() - 1);
    u64 number = 0;
    u64 bytes = 0;
    if (!parse_unsigned(digits, number) || !ktl::checked_mul(number, multiplier, &bytes))
        return fail(quoted + " (use e.g. 64M, 1G, 8192K or bytes)");
    u64 rounded = 0;
    if (bytes < min_memory_size || !ktl::align_up(bytes, memory_granule, &rounded) || rounded > max_memory_size)
        return fail(quoted + " (must be between 2M and 16G)");
    return rounded;
}

Result<u64> parse_timeout(std::string_view text)
{
    std::string const quoted = "invalid timeout '" + std::string(text) + "' (seconds, e.g. 10 or 0.5)";
    auto dot = text.find('.');
    std::string_view whole = text.substr(0, dot);
    std::string_view fraction = dot == std::string_view::npos ? std::string_view {} : text.substr(dot + 1);
    u64 seconds = 0;
    u64 milliseconds = 0;
    if (!parse_unsigned(whole, seconds) || seconds > 366ull * 24 * 3600)
        return fail(quoted);
    if (dot != std::string_view::npos) {
        if (fraction.empty() || fraction.size() > 3 || !parse_unsigned(fraction, milliseconds))
            return fail(quoted);
        for (usize i = fraction.size(); i < 3; ++i)
            milliseconds *= 10;
    }
    return seconds * 1000 + milliseconds;
}

Result<std::string> build_kernel_cmdline(RunOptions const& options)
{
    std::string cmdline;
    auto append = [&](std::string_view token) {
        if (!cmdline.empty())
            cmdline += ' ';
        cmdline += token;
    };
    if (!options.crashtest.empty())
        append("crashtest=" + options.crashtest);
    if (options.no_aslr)
        append("no-aslr");
    if (options.print_layout)
        append("print-layout");
    // The monitor owns the default isolation mode: with a program the kernel is always told which one.
    if (options.isolation || !options.app.empty())
        append(options.isolation.value_or(Isolation::Ring) == Isolation::Ring ? "isolation=ring" : "isolation=none");
    if (options.wx == WxMode::Relaxed)
        append("wx=relaxed");
    if (options.heap == HeapMode::Full)
        append("heap=full");
    else if (options.heap == HeapMode::Oscar)
        append("heap=oscar");
    if (options.strace)
        append("strace");
    if (options.verbose)
        append("verbose");
    for (auto const& extra : options.cmdline_extra)
        append(extra);
    if (cmdline.size() + 1 > abi::max_cmdline_length)
        return fail("kernel command line is longer than " + std::to_string(abi::max_cmdline_length - 1) + " bytes");
    return cmdline;
}

std::vector<std::string> build_program_environment(RunOptions const& options)
{
    std::vector<std::string> environment(std::begin(default_program_environment),
        std::end(default_program_environment));
    for (auto const& entry : options.environment) {
        bool replaced = false;
        for (auto& existing : environment) {
            if (environment_name(existing) == environment_name(entry)) {
                existing = entry;
                replaced = true;
                break;
            }
        }
        if (!replaced)
            environment.push_back(entry);
    }
    return environment;
}

Result<std::string> resolve_kernel_path(std::string const& kernel, std::string const& exe_dir)
{
    if (kernel.find('/') != std::string::npos)
        return kernel;
    if (kernel != "hardened" && kernel != "debug" && kernel != "baseline")
        return fail("unknown kernel profile '" + kernel + "' (hardened, debug, baseline, or a path with '/')");
    return exe_dir + "/../kernel/kernite-" + kernel + ".elf";
}

bool is_known_crash_test(std::string_view name)
{
    for (auto const& test : abi::crash_tests) {
        if (name == test.name)
            return true;
    }
    return false;
}

std::string format_crash_test_list()
{
    std::string out;
    for (auto const& test : abi::crash_tests) {
        char line[256];
        std::snprintf(line, sizeof(line), "%-22s %-18s %s%s%s%s\n", test.name,
            abi::event_type_name(test.expected_event), test.description,
            std::strcmp(test.kernel, "hardened") == 0 ? "" : " (--kernel ",
            std::strcmp(test.kernel, "hardened") == 0 ? "" : test.kernel,
            std::strcmp(test.kernel, "hardened") == 0 ? "" : ")");
        out += line;
    }
    return out;
}

std::string run_usage_line()
{
    return "usage: kernite run [--vmm kvm|qemu] [--mem SIZE] [--timeout SECONDS] [--kernel PROFILE|PATH] "
           "[--rootfs DIR] [--env K=V]... [--isolation ring|none] [--wx strict|relaxed] [--heap hardened|full|oscar] "
           "[--strace] "
           "[--events FILE] [--crashtest NAME|list] [--cmdline STRING] [--print-layout] [--no-aslr] [-v] "
           "[APP [-- ARGS...]]\n";
}

namespace {

std::string run_options_text()
{
    std::string environment;
    for (char const* entry : default_program_environment)
        environment += std::string(environment.empty() ? "" : " ") + entry;
    return "kernite run [OPTIONS] [APP [-- ARGS...]]: run APP, a static or static-PIE x86-64 Linux program, as a VM\n"
           "(without APP: the kernel's built-in demo/self-check). Its stdout and stderr are kernite's, byte for byte,\n"
           "and its exit status is kernite's. argv[0] is APP as typed. Environment: "
        + environment
        + ", then each --env.\n"
          "\n"
          "kernite run options:\n"
          "  --vmm kvm|qemu          virtual machine monitor (default: kvm when /dev/kvm works, else qemu)\n"
          "  --mem SIZE              guest memory, e.g. 64M, 1G (default 128M; 2M..16G)\n"
          "  --timeout SECONDS       stop the VM after this long, exit 124 (default: none)\n"
          "  --kernel PROFILE|PATH   hardened (default), debug, baseline, or an image path containing '/'\n"
          "  --rootfs DIR            pack DIR (files, directories, symlinks) as the program's writable root\n"
          "                          filesystem; writes stay in the VM (default: an empty root)\n"
          "  --env K=V               add or replace an environment variable of the program (repeatable)\n"
          "  --isolation ring|none   ring (default): the program runs in ring 3, the kernel is protected from it;\n"
          "                          none: the program runs in ring 0 beside the kernel (faster on real hardware, no\n"
          "                          protection of the kernel). Where guest ring 0 is emulated (nested KVM through\n"
          "                          PVM, docs/platform-notes.md) none is slow and cannot run SSE code\n"
          "  --wx strict|relaxed     W^X policy of mmap/mprotect: strict (default) refuses W+X and making\n"
          "                          once-writable memory executable; relaxed allows that W->X flip (JITs)\n"
          "  --heap hardened|full|oscar  kernel heap: hardened (default) poisons and checks the first 32 bytes\n"
          "                          of each freed object, full every byte (slower frees), oscar maps every small\n"
          "                          object at its own alias pages, unmapped on free: any use after free faults\n"
          "  --strace                the kernel prints every system call of the program on stderr, strace-style\n"
          "  --events FILE           write security events as JSON lines to FILE\n"
          "  --crashtest NAME|list   make the kernel commit the named bug; 'list' prints the names\n"
          "  --cmdline STRING        extra kernel command-line tokens\n"
          "  --print-layout          print `layout <region> 0x<address>` for each randomized region on stderr\n"
          "  --no-aslr               place the kernel at its link address (debugging only; the kernel says so)\n"
          "  -v, --verbose           say what the monitor does; the kernel lists unknown system calls at exit\n"
          "\n"
          "Exit status: the program's status; 128+N killed by signal N; 125 security stop or panic; 124 timeout;\n"
          "127 could not start (bad option, unreadable APP or rootfs, refused image).\n";
}

} // namespace

std::string run_help_text() { return run_usage_line() + "\n" + run_options_text(); }

std::string usage_text()
{
    return "usage: kernite COMMAND [OPTIONS]\n"
           "\n"
           "Commands:\n"
           "  run        boot the Kernite kernel in a hardened single-purpose VM\n"
           "  checksec   which protections a kernel image (and --program PROG) carries, from the binary\n"
           "  --help     show this help\n"
           "  --version  show the version\n"
           "\n"
        + run_options_text();
}

} // namespace kernite::monitor
