// The KVM backend: set up guest memory, load the kernel, enter long mode, and serve VM exits until the
// guest exits. Every unexpected exit is fatal (STYLE.md habit 8): one line with the reason and RIP, 125.
#include "boot_layout.h"
#include "exit_status.h"
#include "hypercalls.h"
#include "io.h"
#include "kernel_image.h"
#include "kernel_tables.h"
#include "kvm/vm.h"
#include "run.h"

#include <elf/relocations.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <sys/ioctl.h>
#include <unistd.h>

namespace kernite::monitor {

namespace {

// The timeout: a POSIX timer signals this (the vCPU) thread with SIGUSR1. The handler sets immediate_exit
// so that KVM_RUN returns EINTR even if the signal lands just before the ioctl; it is installed without
// SA_RESTART so an in-progress KVM_RUN returns EINTR.
volatile sig_atomic_t g_timed_out = 0;
kvm_run* volatile g_run_area = nullptr;

void on_timeout_signal(int)
{
    g_timed_out = 1;
    if (kvm_run* run = g_run_area)
        run->immediate_exit = 1;
}

class TimeoutTimer {
public:
    bool arm(u64 milliseconds)
    {
        struct sigaction action { };
        action.sa_handler = on_timeout_signal;
        sigemptyset(&action.sa_mask);
        action.sa_flags = 0; // no SA_RESTART
        if (sigaction(SIGUSR1, &action, nullptr) != 0)
            return false;
        sigevent event {};
        event.sigev_notify = SIGEV_THREAD_ID;
        event.sigev_signo = SIGUSR1;
        event._sigev_un._tid = gettid(); // glibc 2.36 lacks the sigev_notify_thread_id macro
        if (timer_create(CLOCK_MONOTONIC, &event, &m_timer) != 0)
            return false;
        m_armed = true;
        itimerspec spec {};
        spec.it_value.tv_sec = static_cast<time_t>(milliseconds / 1000);
        spec.it_value.tv_nsec = static_cast<long>(milliseconds % 1000) * 1'000'000;
        return timer_settime(m_timer, 0, &spec, nullptr) == 0;
    }
    ~TimeoutTimer()
    {
        if (m_armed)
            timer_delete(m_timer);
    }

private:
    timer_t m_timer {};
    bool m_armed { false };
};

int fatal_exit(kvm::Vm const& vm, std::string const& reason)
{
    char rip[64];
    std::snprintf(rip, sizeof(rip), " at rip 0x%016llx", static_cast<unsigned long long>(vm.rip()));
    report_error(reason + rip);
    return exit_status_security_stop;
}

int serve_exits(kvm::Vm& vm, RunPlan& plan, GuestMemory& memory)
{
    HypercallContext context { memory, plan.events, STDOUT_FILENO, STDERR_FILENO };
    kvm_run* const run = vm.run_area();
    char text[160];
    for (;;) {
        if (ioctl(vm.vcpu_fd(), KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                if (g_timed_out) {
                    report_error("timeout after " + plan.options.timeout_text + " s");
                    return exit_status_timeout;
                }
                continue;
            }
            return fatal_exit(vm, std::string("KVM_RUN failed: ") + std::strerror(errno));
        }
        switch (run->exit_reason) {
        case KVM_EXIT_IO: {
            auto const& io = run->io;
            bool const is_hypercall = io.direction == KVM_EXIT_IO_OUT && io.size == 4 && io.count == 1
                && is_hypercall_port(io.port) && io.data_offset <= vm.run_area_size() - 4;
            if (!is_hypercall) {
                std::snprintf(text, sizeof(text), "unexpected port I/O: %s of %u byte(s) x%u at port 0x%x",
                    io.direction == KVM_EXIT_IO_OUT ? "out" : "in", io.size, io.count, io.port);
                return fatal_exit(vm, text);
            }
            u32 request_gpa = 0;
            std::memcpy(&request_gpa, reinterpret_cast<u8 const*>(run) + io.data_offset, sizeof(request_gpa));
            HypercallOutcome outcome = handle_hypercall(context, io.port, request_gpa);
            // The timeout signal may land while a hypercall waits (Input polls the host's stdin), not in KVM_RUN.
            if (g_timed_out) {
                report_error("timeout after " + plan.options.timeout_text + " s");
                return exit_status_timeout;
            }
            if (outcome.kind == HypercallOutcome::Kind::Fatal)
                return fatal_exit(vm, outcome.message);
            if (outcome.kind == HypercallOutcome::Kind::Exit) {
                if (!outcome.message.empty())
                    report_error(outcome.message);
                if (plan.options.verbose) {
                    std::snprintf(text, sizeof(text), "guest exit, reason %u, exit status %d", outcome.exit_reason,
                        outcome.exit_status);
                    report_error(text);
                }
                return outcome.exit_status;
            }
            break;
        }
        case KVM_EXIT_MMIO:
            std::snprintf(text, sizeof(text), "guest %s of %u byte(s) at unbacked address 0x%llx",
                run->mmio.is_write ? "write" : "read", run->mmio.len,
                static_cast<unsigned long long>(run->mmio.phys_addr));
            return fatal_exit(vm, text);
        case KVM_EXIT_SHUTDOWN: return fatal_exit(vm, "guest triple fault (KVM_EXIT_SHUTDOWN)");
        case KVM_EXIT_HLT: return fatal_exit(vm, "guest halted");
        case KVM_EXIT_INTERNAL_ERROR:
            std::snprintf(text, sizeof(text),
                "KVM internal error, suberror %u (an instruction KVM could not emulate: under PVM int3/int N, "
                "or SSE in ring 0 with --isolation none)",
                run->internal.suberror);
            return fatal_exit(vm, text);
        case KVM_EXIT_FAIL_ENTRY:
            std::snprintf(text, sizeof(text), "VM entry failed, hardware reason 0x%llx",
                static_cast<unsigned long long>(run->fail_entry.hardware_entry_failure_reason));
            return fatal_exit(vm, text);
        default:
            std::snprintf(text, sizeof(text), "unexpected VM exit %u", run->exit_reason);
            return fatal_exit(vm, text);
        }
    }
}

} // namespace

int run_with_kvm(RunPlan& plan, std::unique_ptr<kvm::Vm> vm)
{
    auto memory = GuestMemory::allocate(plan.options.memory_size);
    if (!memory) {
        report_error("cannot allocate " + std::to_string(plan.options.memory_size >> 20)
            + " MiB of guest memory: " + std::strerror(errno));
        return exit_status_cannot_start;
    }
    auto entry = load_kernel_image(plan.kernel, plan.image, *memory);
    if (!entry.ok()) {
        report_error("refusing kernel image " + plan.kernel_path + ": " + entry.error());
        return exit_status_cannot_start;
    }
    // KASLR: the monitor picks the kernel's virtual base, relocates the image to it and builds its tables.
    auto chosen_base = choose_kernel_virt_base(plan.kernel, plan.image, plan.options.no_aslr);
    if (!chosen_base.ok()) {
        report_error("refusing kernel image " + plan.kernel_path + ": " + chosen_base.error());
        return exit_status_cannot_start;
    }
    u64 kernel_virt_base = chosen_base.value();
    if (auto relocated = relocate_kernel_image(plan.kernel, plan.image, *memory, kernel_virt_base); !relocated.ok()) {
        report_error("refusing kernel image " + plan.kernel_path + ": " + relocated.error());
        return exit_status_cannot_start;
    }
    if (auto created = vm->create(*memory); !created.ok()) {
        report_error(created.error());
        return exit_status_cannot_start;
    }
    auto tables = build_kernel_tables(plan.kernel, plan.image, *memory, kernel_virt_base);
    if (!tables.ok()) {
        report_error("refusing kernel image " + plan.kernel_path + ": " + tables.error());
        return exit_status_cannot_start;
    }
    // The boot modules go right below the kernel's page tables (or the end of RAM), in Reserved memory.
    u64 const modules_top = tables.value().root != 0 ? tables.value().reserved_base : memory->size();
    auto modules = place_modules(*memory, plan.modules, modules_floor(plan), modules_top);
    if (!modules.ok()) {
        report_error(modules.error());
        return exit_status_cannot_start;
    }
    auto boot_info = write_boot_layout(*memory,
        { .tsc_khz = vm->tsc_khz(),
            .cmdline = plan.cmdline,
            .relocated_to = kernel_virt_base,
            .kernel_tables_root = tables.value().root,
            .kernel_tables_base = tables.value().reserved_base,
            .modules = &modules.value() });
    if (!boot_info.ok()) {
        report_error(boot_info.error());
        return exit_status_cannot_start;
    }
    plan.events.set_context({ hex_string(boot_info.value().boot_id, sizeof(boot_info.value().boot_id)), "kvm" });
    if (auto entered = kvm::enter_long_mode(vm->vcpu_fd(), entry.value(), boot_info_gpa); !entered.ok()) {
        report_error(entered.error());
        return exit_status_cannot_start;
    }
    if (plan.options.verbose) {
        char text[128];
        std::snprintf(text, sizeof(text), "kvm: %llu MiB, entry 0x%llx, tsc %llu kHz",
            static_cast<unsigned long long>(memory->size() >> 20), static_cast<unsigned long long>(entry.value()),
            static_cast<unsigned long long>(boot_info.value().tsc_khz));
        report_error(text);
    }
    TimeoutTimer timer;
    g_run_area = vm->run_area();
    if (plan.options.timeout_ms && !timer.arm(plan.options.timeout_ms)) {
        report_error(std::string("cannot arm the timeout: ") + std::strerror(errno));
        return exit_status_cannot_start;
    }
    int status = serve_exits(*vm, plan, *memory);
    g_run_area = nullptr;
    return status;
}

} // namespace kernite::monitor
