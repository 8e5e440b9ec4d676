#include "cli.h"

#include <kernite/crashtests.h>

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
        if (argument == "--no-entropy-seed") { // hidden testing option, see RunOptions::no_entropy_seed
            options.no_entropy_seed = true;
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
            || name == "--events" || name == "--crashtest" || name == "--cmdline";
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
    for (auto const& extra : options.cmdline_extra)
        append(extra);
    if (cmdline.size() + 1 > abi::max_cmdline_length)
        return fail("kernel command line is longer than " + std::to_string(abi::max_cmdline_length - 1) + " bytes");
    return cmdline;
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
        std::snprintf(line, sizeof(line), "%-22s %-18s %s\n", test.name, abi::event_type_name(test.expected_event),
            test.description);
        out += line;
    }
    return out;
}

std::string run_usage_line()
{
    return "usage: kernite run [--vmm kvm|qemu] [--mem SIZE] [--timeout SECONDS] [--kernel PROFILE|PATH] "
           "[--events FILE] [--crashtest NAME|list] [--cmdline STRING] [--print-layout] [--no-aslr] [-v]\n";
}

std::string usage_text()
{
    return "usage: kernite COMMAND [OPTIONS]\n"
           "\n"
           "Commands:\n"
           "  run        boot the Kernite kernel in a hardened single-purpose VM\n"
           "  --help     show this help\n"
           "  --version  show the version\n"
           "\n"
           "kernite run options:\n"
           "  --vmm kvm|qemu          virtual machine monitor (default: kvm when /dev/kvm works, else qemu)\n"
           "  --mem SIZE              guest memory, e.g. 64M, 1G (default 128M; 2M..16G)\n"
           "  --timeout SECONDS       stop the VM after this long, exit 124 (default: none)\n"
           "  --kernel PROFILE|PATH   hardened (default), debug, baseline, or an image path containing '/'\n"
           "  --events FILE           write security events as JSON lines to FILE\n"
           "  --crashtest NAME|list   make the kernel commit the named bug; 'list' prints the names\n"
           "  --cmdline STRING        extra kernel command-line tokens\n"
           "  --print-layout          print `layout <region> 0x<address>` for each randomized region on stderr\n"
           "  --no-aslr               place the kernel at its link address (debugging only; the kernel says so)\n"
           "  -v, --verbose           say what the monitor does\n"
           "\n"
           "Exit status: the program's status; 125 security stop or panic; 124 timeout; 127 could not start.\n";
}

} // namespace kernite::monitor
