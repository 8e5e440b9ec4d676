// kernite: the host CLI. `kernite run` boots the kernel (run.cpp); more commands come with later issues.
#include "cli.h"
#include "exit_status.h"
#include "io.h"
#include "run.h"

#include <cerrno>
#include <csignal>
#include <cstdio>

#include <fcntl.h>

using namespace kernite::monitor;

int main(int argc, char** argv)
{
    // A closed stdout (the reader of `kernite run | ...` went away) must not kill the VM: console writes then fail
    // with EPIPE, which the guest sees as its write's result.
    std::signal(SIGPIPE, SIG_IGN);
    // `kernite run <&-`: a closed standard stream would be reused by the next open() (/dev/kvm, the image) and the
    // program's stdin (Hypercall::Input) would read that file. Closed ones become /dev/null first: a closed stdin
    // reads as end of file, as on Linux where the program would get EBADF or EOF, never another file.
    for (int fd = 0; fd <= 2; ++fd) {
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
            return exit_status_cannot_start;
    }
    auto command = parse_command_line(argc, argv);
    if (!command.ok()) {
        report_error(command.error());
        bool const is_run = argc >= 2 && std::string_view(argv[1]) == "run";
        bool const is_checksec = argc >= 2 && std::string_view(argv[1]) == "checksec";
        std::string const usage = is_run ? run_usage_line()
            : is_checksec                ? checksec_usage_line()
                                         : "usage: kernite COMMAND [OPTIONS] (see kernite --help)\n";
        std::fputs(usage.c_str(), stderr);
        return exit_status_cannot_start;
    }
    switch (command.value().kind) {
    case Command::Kind::Help: std::fputs(usage_text().c_str(), stdout); return 0;
    case Command::Kind::RunHelp: std::fputs(run_help_text().c_str(), stdout); return 0;
    case Command::Kind::Version:
        std::printf("kernite %s (ABI %u.%u)\n", KERNITE_VERSION, kernite::abi::abi_version_major,
            kernite::abi::abi_version_minor);
        return 0;
    case Command::Kind::Checksec: return checksec_command(command.value().checksec);
    case Command::Kind::Run: break;
    }
    int status = run_command(command.value().run);
    std::fflush(stdout);
    return status;
}
