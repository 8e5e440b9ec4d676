// Argument parsing, sizes, timeouts, kernel resolution and the crash-test list.
#include "cli.h"

#include <kernite/crashtests.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

using namespace kernite::monitor;

namespace {

Result<Command> parse(std::vector<char const*> arguments)
{
    arguments.insert(arguments.begin(), "kernite");
    return parse_command_line(static_cast<int>(arguments.size()), arguments.data());
}

} // namespace

TEST(MemorySize, AcceptsSuffixesAndBytes)
{
    EXPECT_EQ(parse_memory_size("64M").value(), 64ull << 20);
    EXPECT_EQ(parse_memory_size("1G").value(), 1ull << 30);
    EXPECT_EQ(parse_memory_size("8192K").value(), 8ull << 20);
    EXPECT_EQ(parse_memory_size("134217728").value(), 128ull << 20);
    EXPECT_EQ(parse_memory_size("2M").value(), 2ull << 20);
    EXPECT_EQ(parse_memory_size("16G").value(), 16ull << 30);
    EXPECT_EQ(parse_memory_size("3M").value(), 4ull << 20); // rounded up to 2 MiB
    EXPECT_EQ(parse_memory_size("64m").value(), 64ull << 20);
}

TEST(MemorySize, RefusesInvalidSizes)
{
    for (char const* text : { "", "M", "12X", "-1M", "1.5G", "0", "1M", "2047K", "17G", "16385M",
             "99999999999999999999", "18446744073709551615K", " 64M", "64M " }) {
        EXPECT_FALSE(parse_memory_size(text).ok()) << text;
    }
}

TEST(Timeout, ParsesSecondsAndMilliseconds)
{
    EXPECT_EQ(parse_timeout("0").value(), 0u);
    EXPECT_EQ(parse_timeout("10").value(), 10'000u);
    EXPECT_EQ(parse_timeout("0.5").value(), 500u);
    EXPECT_EQ(parse_timeout("1.25").value(), 1250u);
    for (char const* text : { "", "-1", "1.", ".5", "1.2345", "abc", "1e3", "99999999999" })
        EXPECT_FALSE(parse_timeout(text).ok()) << text;
}

TEST(Cli, TopLevelCommands)
{
    EXPECT_EQ(parse({ "--help" }).value().kind, Command::Kind::Help);
    EXPECT_EQ(parse({ "--version" }).value().kind, Command::Kind::Version);
    EXPECT_EQ(parse({ "run", "--help" }).value().kind, Command::Kind::RunHelp);
    EXPECT_FALSE(parse({}).ok());
    EXPECT_FALSE(parse({ "frobnicate" }).ok());
    EXPECT_FALSE(parse({ "--frobnicate" }).ok());
}

TEST(Cli, RunDefaults)
{
    auto command = parse({ "run" });
    ASSERT_TRUE(command.ok());
    RunOptions const& options = command.value().run;
    EXPECT_EQ(options.vmm, VmmChoice::Auto);
    EXPECT_EQ(options.memory_size, default_memory_size);
    EXPECT_EQ(options.timeout_ms, 0u);
    EXPECT_EQ(options.kernel, "hardened");
    EXPECT_FALSE(options.verbose);
    EXPECT_FALSE(options.crashtest_list);
}

TEST(Cli, RunOptionsInBothForms)
{
    auto command = parse({ "run", "--vmm", "qemu", "--mem=64M", "--timeout", "2", "--kernel=debug", "--events",
        "e.json", "--crashtest", "WRITE_RO", "--cmdline", "a=1", "--cmdline=b", "-v" });
    ASSERT_TRUE(command.ok()) << command.error();
    RunOptions const& options = command.value().run;
    EXPECT_EQ(options.vmm, VmmChoice::Qemu);
    EXPECT_EQ(options.memory_size, 64ull << 20);
    EXPECT_EQ(options.timeout_ms, 2000u);
    EXPECT_EQ(options.timeout_text, "2");
    EXPECT_EQ(options.kernel, "debug");
    EXPECT_EQ(options.events_path, "e.json");
    EXPECT_EQ(options.crashtest, "WRITE_RO");
    EXPECT_TRUE(options.verbose);
    EXPECT_EQ(build_kernel_cmdline(options).value(), "crashtest=WRITE_RO verbose a=1 b");
}

TEST(Cli, RunRefusesBadOptions)
{
    EXPECT_FALSE(parse({ "run", "--bogus" }).ok());
    EXPECT_FALSE(parse({ "run", "-x" }).ok());
    EXPECT_FALSE(parse({ "run", "--vmm", "xen" }).ok());
    EXPECT_FALSE(parse({ "run", "--vmm" }).ok());
    EXPECT_FALSE(parse({ "run", "--mem", "1K" }).ok());
    EXPECT_FALSE(parse({ "run", "--timeout", "soon" }).ok());
    EXPECT_FALSE(parse({ "run", "--kernel=" }).ok());
    EXPECT_FALSE(parse({ "run", "--verbose=yes" }).ok());
    auto unknown = parse({ "run", "--crashtest", "NOPE" });
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(unknown.error(), "unknown crash test NOPE (see --crashtest list)");
}

TEST(Cli, CrashTestList)
{
    auto command = parse({ "run", "--crashtest", "list" });
    ASSERT_TRUE(command.ok());
    EXPECT_TRUE(command.value().run.crashtest_list);
    std::string expected;
    for (auto const& test : kernite::abi::crash_tests) {
        char line[256];
        std::snprintf(line, sizeof(line), "%-22s %-18s %s", test.name,
            kernite::abi::event_type_name(test.expected_event), test.description);
        expected += line;
        // A test that needs another kernel than the default says which (the KASAN and UBSAN tests: debug).
        if (std::string(test.kernel) != "hardened")
            expected += std::string(" (--kernel ") + test.kernel + ")";
        expected += "\n";
    }
    EXPECT_EQ(format_crash_test_list(), expected);
    EXPECT_NE(format_crash_test_list().find("KASAN_USE_AFTER_FREE   kasan              read a freed heap object (--kernel debug)\n"),
        std::string::npos);
    EXPECT_TRUE(is_known_crash_test("EXEC_NULL"));
    EXPECT_FALSE(is_known_crash_test("exec_null"));
}

TEST(Cli, AppAndArguments)
{
    auto command = parse({ "run", "--mem", "8M", "hello", "--", "-x", "--mem" });
    ASSERT_TRUE(command.ok()) << command.error();
    EXPECT_EQ(command.value().run.app, "hello");
    EXPECT_EQ(command.value().run.app_arguments, (std::vector<std::string> { "-x", "--mem" }));
    EXPECT_FALSE(parse({ "run", "--" }).ok());
    EXPECT_FALSE(parse({ "run", "hello", "extra" }).ok());
}

TEST(Cli, CommandLineLimit)
{
    RunOptions options;
    options.cmdline_extra.push_back(std::string(4095, 'a'));
    EXPECT_TRUE(build_kernel_cmdline(options).ok());
    options.cmdline_extra.push_back("b");
    EXPECT_FALSE(build_kernel_cmdline(options).ok());
    EXPECT_EQ(build_kernel_cmdline(RunOptions {}).value(), "");
}

TEST(Cli, KernelResolution)
{
    EXPECT_EQ(resolve_kernel_path("hardened", "/opt/k/bin").value(), "/opt/k/bin/../kernel/kernite-hardened.elf");
    EXPECT_EQ(resolve_kernel_path("baseline", "/x").value(), "/x/../kernel/kernite-baseline.elf");
    EXPECT_EQ(resolve_kernel_path("./my.elf", "/x").value(), "./my.elf");
    EXPECT_EQ(resolve_kernel_path("/abs/k.elf", "/x").value(), "/abs/k.elf");
    EXPECT_FALSE(resolve_kernel_path("fast", "/x").ok());
    EXPECT_FALSE(resolve_kernel_path("k.elf", "/x").ok()); // no '/': a profile name, and not a known one
}

// `--no-entropy-seed` is a hidden testing option (tests/guest: a boot without entropy is refused).
TEST(Cli, NoEntropySeedIsAHiddenTestingFlag)
{
    auto defaults = parse({ "run" });
    ASSERT_TRUE(defaults.ok());
    EXPECT_FALSE(defaults.value().run.no_entropy_seed);
    auto command = parse({ "run", "--vmm", "qemu", "--no-entropy-seed" });
    ASSERT_TRUE(command.ok()) << command.error();
    EXPECT_TRUE(command.value().run.no_entropy_seed);
    EXPECT_FALSE(parse({ "run", "--no-entropy-seed=yes" }).ok());
    EXPECT_EQ(usage_text().find("no-entropy-seed"), std::string::npos);
    EXPECT_EQ(run_usage_line().find("no-entropy-seed"), std::string::npos);
}

TEST(Cli, HiddenVirtioRngTestingOptions)
{
    auto defaults = parse({ "run" });
    ASSERT_TRUE(defaults.ok());
    EXPECT_FALSE(defaults.value().run.no_virtio_rng);
    EXPECT_FALSE(defaults.value().run.virtio_rng_legacy);
    auto command = parse({ "run", "--vmm", "qemu", "--no-virtio-rng", "--virtio-rng-legacy" });
    ASSERT_TRUE(command.ok()) << command.error();
    EXPECT_TRUE(command.value().run.no_virtio_rng);
    EXPECT_TRUE(command.value().run.virtio_rng_legacy);
    EXPECT_FALSE(parse({ "run", "--no-virtio-rng=yes" }).ok());
    EXPECT_EQ(usage_text().find("virtio-rng"), std::string::npos);
    EXPECT_EQ(run_usage_line().find("virtio-rng"), std::string::npos);
}

TEST(Cli, ProgramOptions)
{
    auto command = parse({ "run", "--rootfs", "root", "--env", "A=1", "--env=B=x=y", "--env", "C=", "--strace",
        "--isolation", "none", "--wx=relaxed", "./prog", "--", "arg" });
    ASSERT_TRUE(command.ok()) << command.error();
    RunOptions const& options = command.value().run;
    EXPECT_EQ(options.rootfs, "root");
    EXPECT_EQ(options.environment, (std::vector<std::string> { "A=1", "B=x=y", "C=" }));
    EXPECT_TRUE(options.strace);
    EXPECT_EQ(options.isolation, Isolation::None);
    EXPECT_EQ(options.wx, WxMode::Relaxed);
    EXPECT_EQ(options.app, "./prog");
    EXPECT_EQ(build_kernel_cmdline(options).value(), "isolation=none wx=relaxed strace");

    auto defaults = parse({ "run", "prog" });
    ASSERT_TRUE(defaults.ok());
    EXPECT_EQ(defaults.value().run.isolation, std::nullopt);
    EXPECT_EQ(defaults.value().run.wx, WxMode::Strict);
    EXPECT_FALSE(defaults.value().run.strace);
    EXPECT_TRUE(defaults.value().run.rootfs.empty());
    // With a program the kernel always learns the isolation mode; ring is the default.
    EXPECT_EQ(build_kernel_cmdline(defaults.value().run).value(), "isolation=ring");
}

TEST(Cli, KernelCommandLineWords)
{
    auto command = parse({ "run", "--crashtest", "WRITE_RO", "--no-aslr", "--print-layout", "--isolation=ring", "--wx",
        "strict", "--strace", "-v", "--cmdline", "quick" });
    ASSERT_TRUE(command.ok()) << command.error();
    EXPECT_EQ(build_kernel_cmdline(command.value().run).value(),
        "crashtest=WRITE_RO no-aslr print-layout isolation=ring strace verbose quick");
    // Without a program and without --isolation the demo's command line stays as it was.
    EXPECT_EQ(build_kernel_cmdline(parse({ "run", "--cmdline", "quick" }).value().run).value(), "quick");
    EXPECT_EQ(build_kernel_cmdline(parse({ "run", "--verbose" }).value().run).value(), "verbose");
}

TEST(Cli, ProgramOptionsRefuseBadValues)
{
    struct Case {
        std::vector<char const*> arguments;
        char const* message;
    };
    for (Case const& c : {
             Case { { "run", "--isolation", "ring0" }, "--isolation must be ring or none, not 'ring0'" },
             Case { { "run", "--isolation=" }, "--isolation must be ring or none, not ''" },
             Case { { "run", "--isolation" }, "option --isolation needs a value" },
             Case { { "run", "--wx", "off" }, "--wx must be strict or relaxed, not 'off'" },
             Case { { "run", "--env", "NOVALUE" }, "--env needs NAME=VALUE, not 'NOVALUE'" },
             Case { { "run", "--env", "=1" }, "--env '=1' has an empty name" },
             Case { { "run", "--env=" }, "--env needs NAME=VALUE, not ''" },
             Case { { "run", "--env" }, "option --env needs a value" },
             Case { { "run", "--rootfs=" }, "--rootfs needs a directory" },
             Case { { "run", "--strace=yes" }, "unknown option '--strace=yes'" },
         }) {
        auto command = parse(c.arguments);
        ASSERT_FALSE(command.ok()) << c.message;
        EXPECT_EQ(command.error(), c.message);
        EXPECT_EQ(command.error().find('\n'), std::string::npos);
    }
}

TEST(Cli, ProgramEnvironment)
{
    RunOptions options;
    std::vector<std::string> const defaults(std::begin(default_program_environment),
        std::end(default_program_environment));
    EXPECT_EQ(build_program_environment(options), defaults);
    EXPECT_EQ(defaults, (std::vector<std::string> { "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/", "TERM=dumb" }));

    // Later values replace earlier same-named ones in place (defaults included); new names come after.
    options.environment = { "LANG=C", "HOME=/root", "X=1", "LANG=C.UTF-8", "HOMEX=2", "X=" };
    EXPECT_EQ(build_program_environment(options),
        (std::vector<std::string> { "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/root", "TERM=dumb", "LANG=C.UTF-8",
            "X=", "HOMEX=2" }));
}

TEST(Cli, HelpDocumentsEveryRunOption)
{
    for (std::string const& text : { usage_text(), run_help_text() }) {
        for (char const* option : { "--vmm", "--mem", "--timeout", "--kernel", "--rootfs", "--env", "--isolation",
                 "--wx", "--strace", "--events", "--crashtest", "--cmdline", "--print-layout", "--no-aslr", "--verbose",
                 "APP", "PATH=/usr/local/bin:/usr/bin:/bin", "platform-notes.md" }) {
            EXPECT_NE(text.find(option), std::string::npos) << option;
        }
    }
    auto help = parse({ "run", "--help" });
    ASSERT_TRUE(help.ok());
    EXPECT_EQ(help.value().kind, Command::Kind::RunHelp);
    for (char const* option :
        { "--rootfs DIR", "--env K=V", "--isolation ring|none", "--wx strict|relaxed", "--strace", "APP [-- ARGS...]" })
        EXPECT_NE(run_usage_line().find(option), std::string::npos) << option;
}

// --heap (docs/security-model.md "The hardened heap, in detail", "OSCAR mode"): the kernel is told heap=full or
// heap=oscar; the default passes nothing; any other value is refused.
TEST(Cli, HeapModeReachesTheKernelCommandLine)
{
    for (auto [value, mode, token] : { std::tuple { "hardened", HeapMode::Hardened, "" },
             std::tuple { "full", HeapMode::Full, "heap=full" }, std::tuple { "oscar", HeapMode::Oscar, "heap=oscar" } }) {
        auto command = parse({ "run", "--heap", value });
        ASSERT_TRUE(command.ok()) << value;
        EXPECT_EQ(command.value().run.heap, mode);
        EXPECT_EQ(build_kernel_cmdline(command.value().run).value(), token);
    }
    auto bad = parse({ "run", "--heap", "off" });
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error(), "--heap must be hardened, full or oscar, not 'off'");
    EXPECT_NE(run_help_text().find("--heap hardened|full|oscar"), std::string::npos);
}
