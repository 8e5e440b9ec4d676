#include "boot_modules.h"

#include "io.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kernite::monitor {

namespace {

constexpr u64 bundle_alignment = 8;

u64 align_to_bundle(u64 value) { return (value + bundle_alignment - 1) & ~(bundle_alignment - 1); }

} // namespace

Result<ProgramFile> read_program_file(std::string const& path, u64 max_size)
{
    // O_NONBLOCK: opening a fifo must not wait for a writer (it is refused below as not a regular file).
    int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int const error = errno;
        return fail("cannot open the program " + path + ": " + std::strerror(error));
    }
    struct FdCloser {
        int fd;
        ~FdCloser() { close(fd); }
    } closer { fd };
    struct stat status { };
    if (fstat(fd, &status) != 0)
        return fail("cannot stat the program " + path + ": " + std::strerror(errno));
    if (S_ISDIR(status.st_mode))
        return fail("the program " + path + " is a directory");
    if (!S_ISREG(status.st_mode))
        return fail("the program " + path + " is not a regular file");
    if (status.st_size == 0)
        return fail("the program " + path + " is empty");
    if (static_cast<u64>(status.st_size) > max_size)
        return fail("the program " + path + " is larger than " + std::to_string(max_size >> 20) + " MiB");
    ProgramFile file;
    file.size = static_cast<u64>(status.st_size);
    file.bytes = std::make_unique_for_overwrite<u8[]>(file.size);
    u64 done = 0;
    while (done < file.size) {
        ssize_t got = read(fd, file.bytes.get() + done, file.size - done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return fail("cannot read the program " + path + ": " + std::strerror(errno));
        if (got == 0)
            return fail("cannot read the program " + path + ": it shrank while being read");
        done += static_cast<u64>(got);
    }
    return file;
}

Result<std::vector<u8>> build_args_module(std::vector<std::string> const& argv, std::vector<std::string> const& envp)
{
    if (argv.empty())
        return fail("the program needs at least argv[0]");
    u64 strings_size = 0;
    for (auto const* list : { &argv, &envp }) {
        for (auto const& string : *list) {
            if (string.find('\0') != std::string::npos)
                return fail("an argument or environment string contains a NUL byte");
            if (string.size() + 1 > max_argument_length)
                return fail("an argument or environment string is longer than "
                    + std::to_string(max_argument_length / 1024) + " KiB (Linux's limit)");
            strings_size += string.size() + 1; // bounded: checked against the total below, each step
            if (strings_size > max_arguments_size)
                return fail("the arguments and environment are larger than " + std::to_string(max_arguments_size >> 20)
                    + " MiB in all (Linux's limit)");
        }
    }
    abi::ArgsModuleHeader const header {
        .magic = abi::args_module_magic,
        .argc = static_cast<u32>(argv.size()),
        .envc = static_cast<u32>(envp.size()),
        .strings_size = static_cast<u32>(strings_size),
    };
    std::vector<u8> module(sizeof(header) + strings_size);
    std::memcpy(module.data(), &header, sizeof(header));
    u8* cursor = module.data() + sizeof(header);
    for (auto const* list : { &argv, &envp }) {
        for (auto const& string : *list) {
            std::memcpy(cursor, string.c_str(), string.size() + 1);
            cursor += string.size() + 1;
        }
    }
    return module;
}

u64 module_bundle_size(std::span<ModuleView const> modules)
{
    u64 size = sizeof(abi::ModuleBundleHeader) + modules.size() * sizeof(abi::ModuleBundleEntry);
    for (auto const& module : modules)
        size = align_to_bundle(size) + module.size;
    return size;
}

std::optional<std::string> write_module_bundle(int fd, std::span<ModuleView const> modules)
{
    if (modules.size() > abi::max_boot_modules + 1)
        return "too many boot modules";
    abi::ModuleBundleHeader header {};
    std::memcpy(header.magic, abi::module_bundle_magic, sizeof(header.magic));
    header.count = static_cast<u32>(modules.size());
    std::vector<abi::ModuleBundleEntry> entries(modules.size());
    u64 offset = sizeof(header) + modules.size() * sizeof(abi::ModuleBundleEntry);
    for (usize i = 0; i < modules.size(); ++i) {
        usize const name_length = std::strlen(modules[i].name);
        if (name_length >= sizeof(entries[i].name))
            return "boot module name too long";
        std::memcpy(entries[i].name, modules[i].name, name_length); // the rest stays zero: NUL-terminated
        offset = align_to_bundle(offset);
        entries[i].offset = offset;
        entries[i].size = modules[i].size;
        offset += modules[i].size;
    }
    auto failed = [] {
        int const error = errno;
        return std::string("cannot write the module bundle: ") + std::strerror(error);
    };
    if (!write_fully(fd, &header, sizeof(header))
        || !write_fully(fd, entries.data(), entries.size() * sizeof(abi::ModuleBundleEntry)))
        return failed();
    u64 written = sizeof(header) + entries.size() * sizeof(abi::ModuleBundleEntry);
    static constexpr u8 zeros[bundle_alignment] = {};
    for (usize i = 0; i < modules.size(); ++i) {
        if (!write_fully(fd, zeros, entries[i].offset - written) || !write_fully(fd, modules[i].data, modules[i].size))
            return failed();
        written = entries[i].offset + modules[i].size;
    }
    return std::nullopt;
}

} // namespace kernite::monitor
