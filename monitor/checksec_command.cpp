// `kernite checksec`: arguments, reading the files, and the table and JSON output (analysis: checksec.cpp).
#include "checksec.h"

#include "checksec_elf.h"
#include "cli.h"
#include "events.h"
#include "exit_status.h"
#include "io.h"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

namespace kernite::monitor {

namespace {

struct Protection {
    char const* name;
    Finding ChecksecReport::*finding;
};

// The order of the table and of the JSON booleans. Names are the JSON keys (DESIGN.md, issue 4 item 7).
constexpr Protection protections[] = {
    { "pie", &ChecksecReport::pie },
    { "nx", &ChecksecReport::nx },
    { "wx_free", &ChecksecReport::wx_free },
    { "canary", &ChecksecReport::canary },
    { "kasan", &ChecksecReport::kasan },
    { "ubsan", &ChecksecReport::ubsan },
    { "cfi", &ChecksecReport::cfi },
    { "zero_regs", &ChecksecReport::zero_regs },
    { "relro", &ChecksecReport::relro },
    { "fortify", &ChecksecReport::fortify },
    { "hardened_heap", &ChecksecReport::hardened_heap },
};

char const* kind_name(BinaryKind kind) { return kind == BinaryKind::Kernel ? "kernel" : "program"; }

char const* elf_type_name(u16 type) { return type == elf::et_dyn ? "ET_DYN" : "ET_EXEC"; }

std::string joined(std::vector<std::string> const& items, char const* separator)
{
    std::string out;
    for (auto const& item : items)
        out += (out.empty() ? "" : separator) + item;
    return out;
}

std::string executable_directory()
{
    char path[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (length <= 0)
        return ".";
    std::string result(path, static_cast<usize>(length));
    auto slash = result.rfind('/');
    return slash == std::string::npos ? "." : result.substr(0, slash);
}

struct FileBytes {
    std::unique_ptr<u8[]> bytes;
    u64 size { 0 };
};

Result<FileBytes> read_whole_file(std::string const& path)
{
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(json_escape(path) + ": cannot open: " + std::strerror(errno));
    struct FdCloser {
        int fd;
        ~FdCloser() { close(fd); }
    } closer { fd };
    struct stat status { };
    if (fstat(fd, &status) != 0 || !S_ISREG(status.st_mode))
        return fail(json_escape(path) + ": not a regular file");
    if (static_cast<u64>(status.st_size) > checksec::max_file_size)
        return fail(json_escape(path) + ": larger than 512 MiB");
    FileBytes file;
    file.size = static_cast<u64>(status.st_size);
    file.bytes.reset(new u8[file.size ? file.size : 1]);
    u64 done = 0;
    while (done < file.size) {
        ssize_t got = read(fd, file.bytes.get() + done, file.size - done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return fail(json_escape(path) + ": cannot read: " + (got < 0 ? std::strerror(errno) : "file shrank"));
        done += static_cast<u64>(got);
    }
    return file;
}

} // namespace

std::string format_checksec_json(ChecksecReport const& report, std::string_view path)
{
    auto string = [](std::string_view text) { return "\"" + json_escape(text) + "\""; };
    std::string out = "{\"file\":" + string(path) + ",\"kind\":" + string(kind_name(report.kind))
        + ",\"elf_type\":" + string(elf_type_name(report.elf_type));
    for (auto const& protection : protections)
        out += ",\"" + std::string(protection.name) + "\":" + ((report.*protection.finding).present ? "true" : "false");
    out += ",\"canary_method\":" + string(report.canary_method);
    std::pair<char const*, u64> const counts[] = {
        { "canary_sites", report.canary_sites },
        { "kasan_sites", report.kasan_sites },
        { "ubsan_sites", report.ubsan_sites },
        { "fortify_sites", report.fortify_sites },
        { "relative_relocations", report.relative_relocations },
        { "functions", report.functions },
        { "functions_with_endbr", report.functions_with_endbr },
        { "functions_with_ret", report.functions_with_ret },
        { "functions_zeroing_regs", report.functions_zeroing_regs },
    };
    for (auto [name, value] : counts)
        out += ",\"" + std::string(name) + "\":" + std::to_string(value);
    out += std::string(",\"symbols\":") + (report.has_symbols ? "true" : "false");
    out += std::string(",\"feature_note\":") + (report.note.present ? "true" : "false");
    // Note keys are [a-z0-9_] (parse_feature_note), so "note_<key>" needs no escaping; values do.
    for (auto const& [key, value] : report.note.entries)
        out += ",\"note_" + key + "\":" + string(value);
    out += ",\"note_mismatches\":" + string(joined(report.note_mismatches, ","));
    return out + "}";
}

std::string format_checksec_table(ChecksecReport const& report, std::string_view path)
{
    std::string out = json_escape(path) + ": "
        + (report.kind == BinaryKind::Kernel ? "Kernite kernel image" : "program") + ", "
        + elf_type_name(report.elf_type) + ", x86-64\n";
    for (auto const& protection : protections) {
        Finding const& finding = report.*protection.finding;
        char line[64];
        std::snprintf(line, sizeof(line), "  %-14s %-4s ", protection.name, finding.present ? "yes" : "no");
        out += line + json_escape(finding.evidence) + "\n";
    }
    if (!report.note.present) {
        out += "  feature note   none\n";
        return out;
    }
    std::vector<std::string> entries;
    for (auto const& [key, value] : report.note.entries)
        entries.push_back(std::string(key).append("=").append(value));
    out += "  feature note   " + json_escape(joined(entries, " ")) + "\n";
    if (!report.note_mismatches.empty())
        out += "  warning: the feature note and the binary disagree on: " + joined(report.note_mismatches, ", ") + "\n";
    return out;
}

Result<ChecksecOptions> parse_checksec_arguments(int argc, char const* const* argv, int index)
{
    ChecksecOptions options;
    for (; index < argc; ++index) {
        std::string_view const argument = argv[index];
        if (argument == "-h" || argument == "--help") {
            options.help = true;
            return options;
        }
        if (argument == "--json") {
            options.json = true;
        } else if (argument == "--program" || argument.starts_with("--program=")) {
            std::string_view value;
            if (argument != "--program")
                value = argument.substr(sizeof("--program=") - 1);
            else if (index + 1 < argc)
                value = argv[++index];
            else
                return fail("option --program needs a value");
            if (value.empty() || !options.program.empty())
                return fail("--program needs one program file");
            options.program = value;
        } else if (argument.starts_with("-")) {
            return fail("unknown option '" + std::string(argument) + "'");
        } else if (!options.image.empty()) {
            return fail("unexpected argument '" + std::string(argument) + "' (one IMAGE; use --program PROG)");
        } else {
            options.image = argument;
        }
    }
    if (options.image.empty())
        return fail("checksec needs an IMAGE");
    return options;
}

std::string checksec_usage_line() { return "usage: kernite checksec IMAGE|PROFILE [--program PROG] [--json]\n"; }

int checksec_command(ChecksecOptions const& options)
{
    if (options.help) {
        std::fputs(checksec_usage_line().c_str(), stdout);
        return 0;
    }
    std::string image = options.image;
    if (image == "hardened" || image == "debug" || image == "baseline")
        image = resolve_kernel_path(image, executable_directory()).value();
    std::vector<std::string> paths { image };
    if (!options.program.empty())
        paths.push_back(options.program);
    // Every file is analysed before anything is printed: the output is whole or absent.
    std::string output;
    for (auto const& path : paths) {
        auto file = read_whole_file(path);
        if (!file.ok()) {
            report_error("checksec: " + file.error());
            return exit_status_cannot_start;
        }
        auto report = analyse_binary(file.value().bytes.get(), file.value().size);
        if (!report.ok()) {
            report_error("checksec: " + json_escape(path) + ": " + report.error());
            return exit_status_cannot_start;
        }
        output += options.json ? format_checksec_json(report.value(), path) + "\n"
                               : format_checksec_table(report.value(), path);
    }
    std::fwrite(output.data(), 1, output.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : exit_status_cannot_start;
}

} // namespace kernite::monitor
