// `kernite run`: everything decided before a backend boots the kernel.
#pragma once

#include "cli.h"
#include "events.h"
#include "kernel_image.h"

#include <memory>

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
};

// Runs the command; returns the process exit status.
int run_command(RunOptions const&);

// The backends. Each returns the exit status and prints its own one-line failure messages.
int run_with_kvm(RunPlan&, std::unique_ptr<kvm::Vm>);
int run_with_qemu(RunPlan&, bool kvm_usable);

} // namespace kernite::monitor
