// `kernite run`: everything decided before a backend boots the kernel.
#pragma once

#include "boot_modules.h"
#include "cli.h"
#include "events.h"
#include "kernel_image.h"

#include <memory>
#include <optional>
#include <vector>

namespace kernite::monitor {

namespace kvm {
class Vm;
}

struct RunPlan {
    RunOptions const& options;
    std::string kernel_path;
    KernelFile kernel;
    elf::LoadableImage image;
    std::string cmdline;
    EventSink& events;
    // With an APP: "program", "args" and (with --rootfs) "rootfs", in that order; their bytes live in run_command.
    std::vector<ModuleView> modules {};
};

// The lowest guest-physical address boot modules may use: the end of the kernel image plus the kernel's working
// memory (boot_layout.h kernel_working_memory).
u64 modules_floor(RunPlan const&);
// Whether `total` bytes of modules fit in guest memory beside the kernel (boot_layout.h fit_modules); for the
// QEMU backend, whose bundle QEMU places. Returns the failure message, or nothing.
std::optional<std::string> check_modules_fit(RunPlan const&, u64 total);

// Runs the command; returns the process exit status.
int run_command(RunOptions const&);

// The backends. Each returns the exit status and prints its own one-line failure messages.
int run_with_kvm(RunPlan&, std::unique_ptr<kvm::Vm>);
int run_with_qemu(RunPlan&, bool kvm_usable);

} // namespace kernite::monitor
