// `kernite run`: resolve and validate everything that can be refused before a VM exists (kernel image,
// command line, the program and its boot modules, events file), then pick the backend.
#include "run.h"

#include "boot_layout.h"
#include "exit_status.h"
#include "io.h"
#include "kvm/vm.h"
#include "rootfs_pack.h"

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

// The bytes behind RunPlan::modules.
struct ModuleOwners {
    ProgramFile program;
    std::vector<u8> args;
    std::vector<u8> rootfs;
};

Result<std::vector<ModuleView>> build_modules(RunOptions const& options, ModuleOwners& owners)
{
    std::vector<ModuleView> modules;
    if (options.app.empty())
        return modules;
    auto program = read_program_file(options.app);
    if (!program.ok())
        return fail(program.error());
    owners.program = std::move(program.value());
    std::vector<std::string> argv { options.app };
    argv.insert(argv.end(), options.app_arguments.begin(), options.app_arguments.end());
    auto args = build_args_module(argv, build_program_environment(options));
    if (!args.ok())
        return fail(args.error());
    owners.args = std::move(args.value());
    modules.push_back({ abi::module_name_program, owners.program.bytes.get(), owners.program.size });
    modules.push_back({ abi::module_name_args, owners.args.data(), owners.args.size() });
    if (!options.rootfs.empty()) {
        auto rootfs = pack_rootfs(options.rootfs);
        if (!rootfs.ok())
            return fail(rootfs.error());
        owners.rootfs = std::move(rootfs.value());
        modules.push_back({ abi::module_name_rootfs, owners.rootfs.data(), owners.rootfs.size() });
    }
    return modules;
}

} // namespace

u64 modules_floor(RunPlan const& plan) { return kernel_image_physical_end(plan.image) + kernel_working_memory; }

std::optional<std::string> check_modules_fit(RunPlan const& plan, u64 total)
{
    auto base = fit_modules(total, modules_floor(plan), plan.options.memory_size, plan.options.memory_size);
    if (!base.ok())
        return base.error();
    return std::nullopt;
}

int run_command(RunOptions const& options)
{
    if (options.crashtest_list) {
        std::string const list = format_crash_test_list();
        std::fwrite(list.data(), 1, list.size(), stdout);
        return 0;
    }
    if (options.app.empty() && (!options.rootfs.empty() || !options.environment.empty())) {
        report_error("--rootfs and --env are for a program: give APP (without APP the kernel runs its demo)");
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
    ModuleOwners owners;
    auto modules = build_modules(options, owners);
    if (!modules.ok()) {
        report_error(modules.error());
        return exit_status_cannot_start;
    }
    EventSink events;
    if (!options.events_path.empty()) {
        if (auto error = events.open(options.events_path)) {
            report_error(*error);
            return exit_status_cannot_start;
        }
    }
    RunPlan plan { options, kernel_path.value(), std::move(kernel.value()), image.value(), cmdline.value(), events,
        std::move(modules.value()) };
    if (options.verbose) {
        for (auto const& module : plan.modules)
            report_error(std::string("module ") + module.name + ": " + std::to_string(module.size) + " bytes");
    }

    if (options.vmm == VmmChoice::Qemu) {
        auto probe = kvm::Vm::open_device();
        return run_with_qemu(plan, probe.ok() && !options.qemu_tcg);
    }
    if (options.qemu_tcg) {
        report_error("--qemu-tcg is a testing option of the QEMU backend (--vmm qemu)");
        return exit_status_cannot_start;
    }
    if (options.no_entropy_seed) { // only QEMU boots without a seed; the KVM monitor always gives one
        report_error("--no-entropy-seed is a testing option of the QEMU backend (--vmm qemu)");
        return exit_status_cannot_start;
    }
    if (options.no_virtio_rng || options.virtio_rng_legacy) { // the KVM monitor has no virtio-rng (Entropy hypercall)
        report_error("--no-virtio-rng and --virtio-rng-legacy are testing options of the QEMU backend (--vmm qemu)");
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
