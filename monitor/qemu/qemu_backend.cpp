// The QEMU backend: boots the same kernel image through its PVH note on `-M microvm`, reads the 16550
// console from QEMU's stdout, forwards ordinary lines, and decodes the marker lines (abi.h "QEMU/PVH
// transport") with the same validation and event code as the KVM path.
#include "boot_modules.h"
#include "exit_status.h"
#include "hypercalls.h"
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
#include <span>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace kernite::monitor {

namespace {

// Ordinary console lines are forwarded in pieces of at most this many bytes; a marker line may be as long as a
// whole output buffer in hex (abi.h "QEMU/PVH transport"), and one longer than that is malformed.
constexpr usize max_line_length = 64 * 1024;
constexpr usize max_marker_line_length = 2 * abi::output_max_length + 64;

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

// QEMU passes exactly one PVH module, its `-initrd` file, so every boot module travels in one module bundle (abi.h
// "ModuleBundleHeader"): the boot seed (docs/security-model.md "Entropy": PVH has no field for one) as the entry
// "seed", "KSEED001" then 32 bytes of getrandom(), followed by the program, args and rootfs modules of
// `kernite run APP`. The bundle is written to a file that has no name from the start (O_TMPFILE, or mkstemp and
// an immediate unlink where the file system lacks O_TMPFILE) and that QEMU opens as /dev/fd/N of its own
// inherited descriptor: nobody else can open it, and nothing is left behind however the monitor ends.
// The descriptor number the bundle has in QEMU, which opens it as /dev/fd/N.
constexpr int bundle_fd_in_qemu = 3;

class ModuleBundleFile {
public:
    ModuleBundleFile() = default;
    ModuleBundleFile(ModuleBundleFile const&) = delete;
    ModuleBundleFile& operator=(ModuleBundleFile const&) = delete;
    ~ModuleBundleFile() { close_file(); }

    // Returns an error message, or nothing on success.
    std::optional<std::string> create(std::span<ModuleView const> modules)
    {
        char const* tmpdir = std::getenv("TMPDIR");
        std::string const directory = tmpdir && *tmpdir ? tmpdir : "/tmp";
        m_fd = open(directory.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (m_fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
            std::string path = directory + "/kernite-modules-XXXXXX";
            m_fd = mkostemp(path.data(), O_CLOEXEC); // 0600
            if (m_fd >= 0 && unlink(path.c_str()) != 0) {
                int const error = errno;
                close_file();
                errno = error;
            }
        }
        if (m_fd < 0)
            return "cannot create the module bundle file in " + directory + ": " + std::strerror(errno);
        if (m_fd <= bundle_fd_in_qemu) {
            int const moved = fcntl(m_fd, F_DUPFD_CLOEXEC, bundle_fd_in_qemu + 1);
            int const error = errno;
            close_file();
            if (moved < 0)
                return std::string("cannot move the module bundle descriptor: ") + std::strerror(error);
            m_fd = moved;
        }
        return write_module_bundle(m_fd, modules);
    }

    int fd() const { return m_fd; }

    void close_file()
    {
        if (m_fd >= 0)
            close(m_fd);
        m_fd = -1;
    }

private:
    int m_fd { -1 };
};

// Fills `bundle` with the seed (unless --no-entropy-seed) and the plan's modules; leaves it closed when there
// is nothing to pass. Returns an error message, or nothing.
std::optional<std::string> prepare_bundle(RunPlan const& plan, ModuleBundleFile& bundle)
{
    std::vector<ModuleView> modules;
    u8 seed[seed_module_size];
    std::memcpy(seed, seed_module_magic, sizeof(seed_module_magic));
    if (!plan.options.no_entropy_seed) {
        if (!fill_random(seed + sizeof(seed_module_magic), sizeof(seed) - sizeof(seed_module_magic)))
            return std::string("getrandom failed: ") + std::strerror(errno);
        modules.push_back({ abi::module_name_seed, seed, sizeof(seed) });
    }
    modules.insert(modules.end(), plan.modules.begin(), plan.modules.end());
    std::optional<std::string> error;
    if (!modules.empty()) {
        // QEMU puts the bundle into guest RAM beside the kernel: the KVM placement's rule says whether it fits.
        error = check_modules_fit(plan, module_bundle_size(modules));
        if (!error)
            error = bundle.create(modules);
    }
    explicit_bzero(seed, sizeof(seed));
    return error;
}

std::vector<std::string> qemu_arguments(std::string const& qemu, RunPlan const& plan, bool kvm_usable, bool has_bundle)
{
    // `--no-entropy-seed` (testing only) also hides RDRAND/RDSEED, so that the guest has no source at all.
    std::string cpu = kvm_usable ? "host,-arch-capabilities" : "max";
    if (plan.options.no_entropy_seed)
        cpu += ",-rdrand,-rdseed";
    std::vector<std::string> arguments = {
        qemu,
        "-M",
        // acpi=off: QEMU 7.2 lists virtio-mmio devices on the kernel command line (auto-kernel-cmdline) only
        // when ACPI is off (hw/i386/microvm.c microvm_machine_reset); with ACPI they are only in the DSDT, which
        // the kernel does not read. The kernel uses no ACPI table.
        "microvm,x-option-roms=off,rtc=on,pit=on,pic=on,isa-serial=on,acpi=off",
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
    if (!plan.options.no_virtio_rng) {
        // virtio-rng (virtio 1.2 §5.4) on one of microvm's virtio-mmio transports, fed from the host's
        // /dev/urandom: an entropy source the kernel reads at boot and at every reseed
        // (kernel/drivers/virtio/entropy_device.cpp). Modern (version 2) registers: QEMU 7.2's virtio-mmio
        // defaults to the legacy interface, which the kernel refuses. With PVH and auto-kernel-cmdline (on by
        // default) microvm appends ` virtio_mmio.device=512@0x...:IRQ` to the command line for the kernel.
        // `--virtio-rng-legacy` (testing only) keeps the legacy interface, to show the kernel refusing it.
        if (!plan.options.virtio_rng_legacy) {
            arguments.push_back("-global");
            arguments.push_back("virtio-mmio.force-legacy=false");
        }
        for (char const* argument : { "-object", "rng-random,id=kernite-rng,filename=/dev/urandom", "-device",
                 "virtio-rng-device,rng=kernite-rng" })
            arguments.push_back(argument);
    }
    if (has_bundle) {
        arguments.push_back("-initrd");
        arguments.push_back("/dev/fd/" + std::to_string(bundle_fd_in_qemu));
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
        case SerialMarker::Kind::Output: {
            // The program's bytes, exactly; a reader that went away stops the VM as on KVM (hypercalls.h).
            bool const to_stdout = marker.stream == static_cast<u32>(abi::ConsoleStream::Stdout);
            if (write_fully(to_stdout ? STDOUT_FILENO : STDERR_FILENO, marker.text.data(), marker.text.size())
                || errno != EPIPE)
                return std::nullopt;
            report_error(std::string("the reader of the program's ") + (to_stdout ? "stdout" : "stderr")
                + " went away (EPIPE): stopping the program as SIGPIPE would");
            return exit_status_output_closed;
        }
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
                bool const is_marker = m_line.front() == abi::serial_marker;
                if (m_line.size() < (is_marker ? max_marker_line_length : max_line_length))
                    continue;
                if (is_marker) {
                    report_error("malformed console marker from the guest: a line longer than "
                        + std::to_string(max_marker_line_length) + " bytes");
                    return exit_status_security_stop;
                }
                // A very long ordinary line goes out in pieces, without newlines of our own.
                (void)write_fully(STDOUT_FILENO, m_line);
                m_line.clear();
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

// Under QEMU the program's fd 0 reads end of file (platform/pvh has no input channel yet; the serial line would
// cost one exit per byte, a virtio-console is future work). Bytes the user meant for the program must not vanish
// silently: a stdin that has some now (a file with bytes left, a pipe with data, a device other than /dev/null)
// is refused with the way out. A terminal, or a pipe whose writer has said nothing yet, gets a one-line notice.
std::optional<std::string> check_stdin_for_qemu()
{
    std::string const remedy = ": --vmm qemu cannot pass standard input to the program yet (use --vmm kvm, or "
                               "redirect stdin from /dev/null)";
    struct stat st {};
    if (fstat(STDIN_FILENO, &st) != 0)
        return std::nullopt; // main() reopens a closed stdin as /dev/null; nothing to lose either way
    if (S_ISREG(st.st_mode)) {
        off_t const position = lseek(STDIN_FILENO, 0, SEEK_CUR);
        off_t const left = st.st_size - (position > 0 ? position : 0);
        if (left > 0)
            return "standard input is a file with " + std::to_string(left) + " bytes left" + remedy;
        return std::nullopt;
    }
    if (S_ISCHR(st.st_mode)) {
        struct stat null_device {};
        if (stat("/dev/null", &null_device) == 0 && S_ISCHR(null_device.st_mode) && null_device.st_rdev == st.st_rdev)
            return std::nullopt;
        if (isatty(STDIN_FILENO)) {
            report_error("note: standard input is a terminal; under --vmm qemu the program reads end of file");
            return std::nullopt;
        }
        return "standard input is a character device other than /dev/null" + remedy;
    }
    if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
        pollfd poll_fd { STDIN_FILENO, POLLIN, 0 };
        if (poll(&poll_fd, 1, 0) > 0 && (poll_fd.revents & POLLIN))
            return std::string("standard input is a ") + (S_ISFIFO(st.st_mode) ? "pipe" : "socket")
                + " with bytes waiting" + remedy;
        if (!(poll_fd.revents & POLLHUP))
            report_error("note: standard input is an open pipe; under --vmm qemu the program reads end of file");
        return std::nullopt;
    }
    return std::nullopt; // a directory or the like: reading it yields nothing on Linux either
}

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
    if (auto refused = check_stdin_for_qemu()) {
        report_error(*refused);
        return exit_status_cannot_start;
    }
    u8 boot_id[16];
    if (!fill_random(boot_id, sizeof(boot_id))) {
        report_error(std::string("getrandom failed: ") + std::strerror(errno));
        return exit_status_cannot_start;
    }
    plan.events.set_context({ hex_string(boot_id, sizeof(boot_id)), "qemu" });

    ModuleBundleFile bundle;
    if (auto error = prepare_bundle(plan, bundle)) {
        report_error(*error);
        return exit_status_cannot_start;
    }
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
        report_error(std::string("pipe failed: ") + std::strerror(errno));
        return exit_status_cannot_start;
    }
    // `--no-entropy-seed` runs under TCG: there QEMU's `-rdrand,-rdseed` is honoured (PVM, PLATFORM.md, shows
    // the guest the host's CPUID bits whatever QEMU asks), so the guest really has no source.
    if (plan.options.no_entropy_seed)
        kvm_usable = false;
    std::vector<std::string> arguments = qemu_arguments(*qemu, plan, kvm_usable, bundle.fd() >= 0);
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
    // After stdout's dup2, as the pipe may have had that number. The bundle's own number is never it
    // (ModuleBundleFile::create), so this dup2 really happens and clears FD_CLOEXEC.
    if (bundle.fd() >= 0)
        posix_spawn_file_actions_adddup2(&actions, bundle.fd(), bundle_fd_in_qemu);
    pid_t pid = -1;
    int spawn_error = posix_spawn(&pid, qemu->c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    bundle.close_file(); // QEMU holds its own descriptor; the file goes away with the last one
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
