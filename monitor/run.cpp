// `kernite run`: resolve and validate everything that can be refused before a VM exists (kernel image,
// command line, events file), then pick the backend.
#include "run.h"

#include "exit_status.h"
#include "io.h"
#include "kvm/vm.h"

#include <climits>
#include <cstdio>
#include <unistd.h>

namespace kernite::monitor {

namespace {

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

} // namespace

int run_command(RunOptions const& options)
{
    if (options.crashtest_list) {
        std::string const list = format_crash_test_list();
        std::fwrite(list.data(), 1, list.size(), stdout);
        return 0;
    }
    if (!options.app.empty()) {
        report_error("running an APP is not supported yet (issue 3); run without APP for the built-in demo");
        return exit_status_cannot_start;
    }
    auto cmdline = build_kernel_cmdline(options);
    if (!cmdline.ok()) {
        report_error(cmdline.error());
        return exit_status_cannot_start;
    }
    auto kernel_path = resolve_kernel_path(options.kernel, executable_directory());
    if (!kernel_path.ok()) {
        report_error(kernel_path.error());
        return exit_status_cannot_start;
    }
    auto kernel = read_kernel_file(kernel_path.value());
    if (!kernel.ok()) {
        report_error(kernel.error());
        return exit_status_cannot_start;
    }
    auto image = validate_kernel_image(kernel.value(), options.memory_size);
    if (!image.ok()) {
        report_error("refusing kernel image " + kernel_path.value() + ": " + image.error());
        return exit_status_cannot_start;
    }
    EventSink events;
    if (!options.events_path.empty()) {
        if (auto error = events.open(options.events_path)) {
            report_error(*error);
            return exit_status_cannot_start;
        }
    }
    RunPlan plan { options, kernel_path.value(), std::move(kernel.value()), image.value(), cmdline.value(), events };

    if (options.vmm == VmmChoice::Qemu) {
        auto probe = kvm::Vm::open_device();
        return run_with_qemu(plan, probe.ok());
    }
    if (options.no_entropy_seed) { // only QEMU boots without a seed; the KVM monitor always gives one
        report_error("--no-entropy-seed is a testing option of the QEMU backend (--vmm qemu)");
        return exit_status_cannot_start;
    }
    auto vm = kvm::Vm::open_device();
    if (!vm.ok()) {
        if (options.vmm == VmmChoice::Kvm) {
            report_error("/dev/kvm not usable (" + vm.error() + ")");
            return exit_status_cannot_start;
        }
        report_error("/dev/kvm not usable (" + vm.error() + "); falling back to QEMU");
        return run_with_qemu(plan, false);
    }
    return run_with_kvm(plan, std::move(vm.value()));
}

} // namespace kernite::monitor
