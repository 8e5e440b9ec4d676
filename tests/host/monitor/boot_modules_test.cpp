// The boot modules of `kernite run APP` (boot_modules.h): reading the program, the "args" module, and the QEMU
// module bundle, checked by parsing what was written with the rules of abi.h.
#include "boot_modules.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace kernite::monitor;

namespace {

class TempDirectory {
public:
    TempDirectory()
    {
        char path[] = "/tmp/kernite-modules-test-XXXXXX";
        EXPECT_NE(mkdtemp(path), nullptr);
        m_path = path;
    }
    ~TempDirectory() { (void)std::system(("rm -rf '" + m_path + "'").c_str()); }
    std::string const& path() const { return m_path; }
    std::string file(std::string const& name, std::string const& contents) const
    {
        std::string const full = m_path + "/" + name;
        int fd = open(full.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        EXPECT_GE(fd, 0);
        EXPECT_EQ(write(fd, contents.data(), contents.size()), static_cast<ssize_t>(contents.size()));
        close(fd);
        return full;
    }

private:
    std::string m_path;
};

struct ParsedBundleEntry {
    std::string name;
    u64 offset;
    std::string bytes;
};

// Parses a module bundle as the kernel must (abi.h "ModuleBundleHeader"), checking every rule; returns the
// entries, or fails the test.
std::vector<ParsedBundleEntry> parse_bundle(std::string const& bundle)
{
    std::vector<ParsedBundleEntry> entries;
    kernite::abi::ModuleBundleHeader header;
    EXPECT_GE(bundle.size(), sizeof(header));
    if (bundle.size() < sizeof(header))
        return entries;
    std::memcpy(&header, bundle.data(), sizeof(header));
    EXPECT_EQ(std::memcmp(header.magic, kernite::abi::module_bundle_magic, 8), 0);
    EXPECT_EQ(header.reserved, 0u);
    EXPECT_LE(header.count, kernite::abi::max_boot_modules + 1);
    u64 const table_end = sizeof(header) + header.count * sizeof(kernite::abi::ModuleBundleEntry);
    EXPECT_LE(table_end, bundle.size());
    if (table_end > bundle.size())
        return entries;
    u64 previous_end = table_end;
    for (u32 i = 0; i < header.count; ++i) {
        kernite::abi::ModuleBundleEntry entry;
        std::memcpy(&entry, bundle.data() + sizeof(header) + i * sizeof(entry), sizeof(entry));
        EXPECT_NE(std::memchr(entry.name, 0, sizeof(entry.name)), nullptr) << i;
        EXPECT_EQ(entry.offset % 8, 0u) << i;
        EXPECT_GE(entry.offset, previous_end) << i; // in order, no overlap
        EXPECT_LE(entry.offset + entry.size, bundle.size()) << i;
        // Padding before each body is zero.
        for (u64 at = previous_end; at < entry.offset && at < bundle.size(); ++at)
            EXPECT_EQ(bundle[at], '\0') << at;
        if (entry.offset + entry.size > bundle.size())
            break;
        entries.push_back({ std::string(entry.name, strnlen(entry.name, sizeof(entry.name))), entry.offset,
            bundle.substr(entry.offset, entry.size) });
        previous_end = entry.offset + entry.size;
    }
    EXPECT_EQ(previous_end, bundle.size()); // nothing after the last body
    return entries;
}

std::string write_and_read_bundle(std::span<ModuleView const> modules)
{
    FILE* file = std::tmpfile();
    EXPECT_NE(file, nullptr);
    auto error = write_module_bundle(fileno(file), modules);
    EXPECT_FALSE(error) << *error;
    std::string bytes(module_bundle_size(modules), '\xff');
    EXPECT_EQ(pread(fileno(file), bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
    char extra;
    EXPECT_EQ(pread(fileno(file), &extra, 1, static_cast<off_t>(bytes.size())), 0); // exactly that long
    std::fclose(file);
    return bytes;
}

} // namespace

TEST(ProgramFile, ReadsTheWholeFile)
{
    TempDirectory directory;
    std::string contents;
    for (int i = 0; i < 100000; ++i)
        contents += static_cast<char>(i * 13);
    auto file = read_program_file(directory.file("prog", contents));
    ASSERT_TRUE(file.ok()) << file.error();
    ASSERT_EQ(file.value().size, contents.size());
    EXPECT_EQ(std::memcmp(file.value().bytes.get(), contents.data(), contents.size()), 0);
}

TEST(ProgramFile, RefusesWhatCannotBeAProgram)
{
    TempDirectory directory;
    std::string const fifo = directory.path() + "/fifo";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    struct Case {
        std::string path;
        char const* reason;
    };
    for (Case const& c : {
             Case { directory.path() + "/missing", "No such file or directory" },
             Case { directory.path(), "is a directory" },
             Case { fifo, "is not a regular file" }, // and never blocks waiting for a writer
             Case { "/dev/null", "is not a regular file" },
             Case { directory.file("empty", ""), "is empty" },
             Case { directory.file("big", std::string(4097, 'x')), "is larger than" },
         }) {
        auto file = read_program_file(c.path, 4096);
        ASSERT_FALSE(file.ok()) << c.path;
        EXPECT_NE(file.error().find(c.path), std::string::npos) << file.error();
        EXPECT_NE(file.error().find(c.reason), std::string::npos) << file.error();
    }
    EXPECT_TRUE(read_program_file(directory.file("fits", std::string(4096, 'x')), 4096).ok());
}

TEST(ProgramFile, RefusesAnUnreadableFile)
{
    TempDirectory directory;
    std::string const path = directory.file("secret", "data");
    ASSERT_EQ(chmod(path.c_str(), 0), 0);
    ASSERT_EQ(chmod(directory.path().c_str(), 0755), 0);
    if (geteuid() != 0) {
        auto file = read_program_file(path);
        ASSERT_FALSE(file.ok());
        EXPECT_NE(file.error().find("Permission denied"), std::string::npos) << file.error();
        return;
    }
    // Root reads everything: check as an unprivileged user, in a child.
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(2);
        auto file = read_program_file(path);
        _exit(!file.ok() && file.error().find("Permission denied") != std::string::npos ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(ArgsModule, HeaderThenArgvThenEnvp)
{
    auto module = build_args_module({ "./prog", "-x", "" }, { "PATH=/bin", "HOME=/" });
    ASSERT_TRUE(module.ok()) << module.error();
    std::string const strings("./prog\0-x\0\0PATH=/bin\0HOME=/\0", 28);
    ASSERT_EQ(module.value().size(), sizeof(kernite::abi::ArgsModuleHeader) + strings.size());
    kernite::abi::ArgsModuleHeader header;
    std::memcpy(&header, module.value().data(), sizeof(header));
    EXPECT_EQ(header.magic, kernite::abi::args_module_magic);
    EXPECT_EQ(std::memcmp(&header.magic, "KRGS", 4), 0);
    EXPECT_EQ(header.argc, 3u);
    EXPECT_EQ(header.envc, 2u);
    EXPECT_EQ(header.strings_size, strings.size());
    EXPECT_EQ(std::string(reinterpret_cast<char const*>(module.value().data()) + sizeof(header), strings.size()),
        strings);

    auto no_environment = build_args_module({ "p" }, {});
    ASSERT_TRUE(no_environment.ok());
    EXPECT_EQ(no_environment.value().size(), sizeof(kernite::abi::ArgsModuleHeader) + 2);
}

TEST(ArgsModule, LinuxLimits)
{
    EXPECT_FALSE(build_args_module({}, { "A=1" }).ok()); // no argv[0]
    EXPECT_TRUE(build_args_module({ "p", std::string(max_argument_length - 1, 'a') }, {}).ok());
    auto too_long = build_args_module({ "p" }, { std::string(max_argument_length, 'a') });
    ASSERT_FALSE(too_long.ok());
    EXPECT_NE(too_long.error().find("128 KiB"), std::string::npos) << too_long.error();
    std::vector<std::string> many(max_arguments_size / 4096 + 1, std::string(4095, 'a'));
    auto too_much = build_args_module(many, {});
    ASSERT_FALSE(too_much.ok());
    EXPECT_NE(too_much.error().find("2 MiB"), std::string::npos) << too_much.error();
    many.pop_back();
    EXPECT_TRUE(build_args_module(many, {}).ok()); // exactly 2 MiB
    EXPECT_FALSE(build_args_module({ std::string("a\0b", 3) }, {}).ok());
}

TEST(ModuleBundle, ParsesBackAsTheAbiSays)
{
    u8 seed[seed_module_size];
    std::memcpy(seed, seed_module_magic, sizeof(seed_module_magic));
    for (usize i = sizeof(seed_module_magic); i < sizeof(seed); ++i)
        seed[i] = static_cast<u8>(i);
    std::string const program = "\x7f"
                                "ELF and then some odd length";
    std::string const args(13, 'a');
    std::string rootfs(1000, '\0');
    rootfs[999] = 'z';
    ModuleView const modules[] = {
        { "seed", seed, sizeof(seed) },
        { "program", reinterpret_cast<u8 const*>(program.data()), program.size() },
        { "args", reinterpret_cast<u8 const*>(args.data()), args.size() },
        { "rootfs", reinterpret_cast<u8 const*>(rootfs.data()), rootfs.size() },
    };
    std::string const bundle = write_and_read_bundle(modules);
    auto entries = parse_bundle(bundle);
    ASSERT_EQ(entries.size(), 4u);
    EXPECT_EQ(entries[0].name, "seed");
    EXPECT_EQ(entries[0].bytes, std::string(reinterpret_cast<char const*>(seed), sizeof(seed)));
    EXPECT_EQ(entries[0].bytes.substr(0, 8), "KSEED001");
    EXPECT_EQ(entries[0].bytes.size(), 40u);
    EXPECT_EQ(entries[0].offset,
        sizeof(kernite::abi::ModuleBundleHeader) + 4 * sizeof(kernite::abi::ModuleBundleEntry));
    EXPECT_EQ(entries[1].name, "program");
    EXPECT_EQ(entries[1].bytes, program);
    EXPECT_EQ(entries[2].name, "args");
    EXPECT_EQ(entries[2].bytes, args);
    EXPECT_EQ(entries[3].name, "rootfs");
    EXPECT_EQ(entries[3].bytes, rootfs);
}

TEST(ModuleBundle, EmptyAndSeedOnly)
{
    std::string const empty = write_and_read_bundle({});
    EXPECT_EQ(empty.size(), sizeof(kernite::abi::ModuleBundleHeader));
    EXPECT_TRUE(parse_bundle(empty).empty());

    u8 seed[seed_module_size] = { 'K', 'S', 'E', 'E', 'D', '0', '0', '1' };
    ModuleView const only_seed[] = { { "seed", seed, sizeof(seed) } };
    auto entries = parse_bundle(write_and_read_bundle(only_seed));
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].bytes.size(), 40u);
}

TEST(ModuleBundle, RefusesWhatTheAbiCannotCarry)
{
    u8 const byte = 0;
    int const null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    ASSERT_GE(null_fd, 0);
    std::string const long_name(48, 'n');
    ModuleView const named[] = { { long_name.c_str(), &byte, 1 } };
    EXPECT_TRUE(write_module_bundle(null_fd, named));
    ModuleView const six[] = { { "a", &byte, 1 }, { "b", &byte, 1 }, { "c", &byte, 1 }, { "d", &byte, 1 },
        { "e", &byte, 1 }, { "f", &byte, 1 } };
    EXPECT_TRUE(write_module_bundle(null_fd, six));
    close(null_fd);
    int const full_fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    ASSERT_GE(full_fd, 0);
    auto error = write_module_bundle(full_fd, std::span(six, 5));
    ASSERT_TRUE(error);
    EXPECT_NE(error->find("No space left"), std::string::npos) << *error;
    close(full_fd);
}
