// The QEMU backend: boots the same kernel image through its PVH note on `-M microvm`, reads the 16550
// console from QEMU's stdout, forwards ordinary lines, and decodes the marker lines (abi.h "QEMU/PVH
// transport") with the same validation and event code as the KVM path.
#include "exit_status.h"
#include "io.h"
#include "run.h"
#include "serial_markers.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace kernite::monitor {

namespace {

constexpr usize max_line_length = 64 * 1024;

std::optional<std::string> find_in_path(char const* program)
{
    char const* path = std::getenv("PATH");
    std::string_view directories = path ? path : "/usr/local/bin:/usr/bin:/bin";
    while (true) {
        auto colon = directories.find(':');
        std::string candidate(directories.substr(0, colon));
        candidate += candidate.empty() ? "./" : "/";
        candidate += program;
        if (access(candidate.c_str(), X_OK) == 0)
            return candidate;
        if (colon == std::string_view::npos)
            return std::nullopt;
        directories.remove_prefix(colon + 1);
    }
}

// The boot seed under QEMU (docs/security-model.md "Entropy"): PVH has no field for one, so the seed travels
// as the one PVH module, QEMU's `-initrd`: 8 bytes of magic "KSEED001" then 32 bytes of getrandom() (the
// format kernel/boot/pvh.h describes; early boot copies it and wipes it). The file lives in a private
// directory (0700, mkdtemp) as a 0600 file (mkstemp), and both are removed when the session ends.
class SeedModule {
public:
    SeedModule() = default;
    SeedModule(SeedModule const&) = delete;
    SeedModule& operator=(SeedModule const&) = delete;
    ~SeedModule() { remove(); }

    // Returns an error message, or nothing on success.
    std::optional<std::string> create()
    {
        char const* tmpdir = std::getenv("TMPDIR");
        std::string directory = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/kernite-seed-XXXXXX";
        if (!mkdtemp(directory.data()))
            return std::string("cannot create the seed directory: ") + std::strerror(errno);
        m_directory = directory;
        std::string path = m_directory + "/seed-XXXXXX";
        int fd = mkstemp(path.data()); // 0600
        if (fd < 0)
            return std::string("cannot create the seed file: ") + std::strerror(errno);
        m_path = path;
        u8 contents[seed_size] = { 'K', 'S', 'E', 'E', 'D', '0', '0', '1' };
        bool ok = fill_random(contents + magic_size, seed_size - magic_size);
        ok = ok && write_fully(fd, contents, sizeof(contents));
        explicit_bzero(contents, sizeof(contents));
        ok = close(fd) == 0 && ok;
        if (!ok)
            return std::string("cannot write the seed file: ") + std::strerror(errno);
        return std::nullopt;
    }

    std::string const& path() const { return m_path; }

    void remove()
    {
        if (!m_path.empty())
            (void)unlink(m_path.c_str());
        if (!m_directory.empty())
            (void)rmdir(m_directory.c_str());
        m_path.clear();
        m_directory.clear();
    }

private:
    static constexpr usize magic_size = 8;
    static constexpr usize seed_size = magic_size + 32; // kernel/boot/pvh.h seed_module_size
    std::string m_directory;
    std::string m_path;
};

std::vector<std::string> qemu_arguments(std::string const& qemu, RunPlan const& plan, bool kvm_usable,
    std::string const& seed_path)
{
    // `--no-entropy-seed` (testing only) also hides RDRAND/RDSEED, so that the guest has no source at all.
    std::string cpu = kvm_usable ? "host,-arch-capabilities" : "max";
    if (plan.options.no_entropy_seed)
        cpu += ",-rdrand,-rdseed";
    std::vector<std::string> arguments = {
        qemu,
        "-M",
        "microvm,x-option-roms=off,rtc=off,pit=on,pic=on,isa-serial=on",
        "-accel",
        kvm_usable ? "kvm" : "tcg",
        // PVM (PLATFORM.md) rejects QEMU's write of IA32_ARCH_CAPABILITIES (MSR 0x10a) and QEMU aborts;
        // the kernel does not read that MSR, so it is hidden everywhere rather than detected.
        "-cpu",
        cpu,
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
        "-m",
        std::to_string(plan.options.memory_size >> 20) + "M",
        "-kernel",
        plan.kernel_path,
        "-append",
        plan.cmdline,
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-chardev",
        "stdio,id=console,signal=off",
        "-serial",
        "chardev:console",
    };
    if (!seed_path.empty()) {
        arguments.push_back("-initrd");
        arguments.push_back(seed_path);
    }
    return arguments;
}

class QemuSession {
public:
    QemuSession(RunPlan& plan)
        : m_plan(plan)
    {
    }

    // Handles one console line (without '\n'). Returns an exit status when the session must stop now.
    std::optional<int> handle_line(std::string_view line)
    {
        SerialMarker marker = decode_serial_line(line);
        switch (marker.kind) {
        case SerialMarker::Kind::None:
            if (!line.empty() && line.back() == '\r')
                line.remove_suffix(1);
            (void)write_fully(STDOUT_FILENO, std::string(line) + "\n");
            return std::nullopt;
        case SerialMarker::Kind::Stderr:
            (void)write_fully(STDERR_FILENO, marker.text + "\n");
            return std::nullopt;
        case SerialMarker::Kind::Malformed:
            report_error("malformed console marker from the guest: " + marker.error);
            return exit_status_security_stop;
        case SerialMarker::Kind::Event:
            if (auto error = m_plan.events.report(marker.event)) {
                report_error("malformed event from the guest: " + *error);
                return exit_status_security_stop;
            }
            return std::nullopt;
        case SerialMarker::Kind::Exit:
            m_exit_status = exit_status_for(marker.status, marker.reason);
            if (!m_exit_status) {
                report_error("malformed exit marker from the guest: unknown exit reason");
                return exit_status_security_stop;
            }
            return std::nullopt;
        }
        return std::nullopt;
    }

    // Splits `data` into lines; returns an exit status when the session must stop now.
    std::optional<int> consume(char const* data, usize length)
    {
        for (usize i = 0; i < length; ++i) {
            if (data[i] != '\n') {
                m_line += data[i];
                if (m_line.size() < max_line_length)
                    continue;
            }
            auto stop = handle_line(m_line);
            m_line.clear();
            if (stop)
                return stop;
        }
        return std::nullopt;
    }

    std::optional<int> finish()
    {
        if (m_line.empty())
            return std::nullopt;
        auto stop = handle_line(m_line);
        m_line.clear();
        return stop;
    }

    std::optional<int> exit_status() const { return m_exit_status; }

private:
    RunPlan& m_plan;
    std::string m_line;
    std::optional<int> m_exit_status;
};

int wait_for(pid_t pid)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) { }
    return status;
}

} // namespace

int run_with_qemu(RunPlan& plan, bool kvm_usable)
{
    auto qemu = find_in_path("qemu-system-x86_64");
    if (!qemu) {
        report_error("qemu-system-x86_64 not found; run scripts/install-deps.sh");
        return exit_status_cannot_start;
    }
    u8 boot_id[16];
    if (!fill_random(boot_id, sizeof(boot_id))) {
        report_error(std::string("getrandom failed: ") + std::strerror(errno));
        return exit_status_cannot_start;
    }
    plan.events.set_context({ hex_string(boot_id, sizeof(boot_id)), "qemu" });

    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
        report_error(std::string("pipe failed: ") + std::strerror(errno));
        return exit_status_cannot_start;
    }
    SeedModule seed;
    if (!plan.options.no_entropy_seed) {
        if (auto error = seed.create()) {
            report_error(*error);
            return exit_status_cannot_start;
        }
    }
    // `--no-entropy-seed` runs under TCG: there QEMU's `-rdrand,-rdseed` is honoured (PVM, PLATFORM.md, shows
    // the guest the host's CPUID bits whatever QEMU asks), so the guest really has no source.
    if (plan.options.no_entropy_seed)
        kvm_usable = false;
    std::vector<std::string> arguments = qemu_arguments(*qemu, plan, kvm_usable, seed.path());
    std::vector<char*> argv;
    for (auto& argument : arguments)
        argv.push_back(argument.data());
    argv.push_back(nullptr);
    if (plan.options.verbose) {
        std::string line = "qemu:";
        for (auto const& argument : arguments)
            line += " " + argument;
        report_error(line);
    }

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    pid_t pid = -1;
    int spawn_error = posix_spawn(&pid, qemu->c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    if (spawn_error != 0) {
        close(pipe_fds[0]);
        report_error("cannot start " + *qemu + ": " + std::strerror(spawn_error));
        return exit_status_cannot_start;
    }

    using Clock = std::chrono::steady_clock;
    auto const deadline = Clock::now() + std::chrono::milliseconds(plan.options.timeout_ms);
    QemuSession session(plan);
    std::optional<int> stop;
    bool timed_out = false;
    char buffer[4096];
    while (!stop) {
        int wait_ms = -1;
        if (plan.options.timeout_ms) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left <= 0) {
                timed_out = true;
                break;
            }
            wait_ms = static_cast<int>(std::min<long long>(left, 1'000'000));
        }
        pollfd poll_fd { pipe_fds[0], POLLIN, 0 };
        int ready = poll(&poll_fd, 1, wait_ms);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready == 0)
            continue; // the deadline check above ends the loop
        ssize_t got = read(pipe_fds[0], buffer, sizeof(buffer));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            stop = session.finish();
            break;
        }
        stop = session.consume(buffer, static_cast<usize>(got));
    }
    close(pipe_fds[0]);
    if (timed_out || stop)
        kill(pid, SIGKILL);
    int status = wait_for(pid);
    seed.remove();
    if (timed_out) {
        report_error("timeout after " + plan.options.timeout_text + " s");
        return exit_status_timeout;
    }
    if (stop)
        return *stop;
    if (auto exit_status = session.exit_status())
        return *exit_status;
    int qemu_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    report_error("guest stopped without reporting an exit (QEMU status " + std::to_string(qemu_status) + ")");
    return exit_status_security_stop;
}

} // namespace kernite::monitor
