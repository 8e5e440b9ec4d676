// kernel_main: the high half, entered from arch/x86_64/boot/entry.S with the relocated BootParams.
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/descriptors.h>
#include <arch/x86_64/user_mode.h>
#include <kernel/boot/boot_params.h>
#include <kernel/boot/cmdline.h>
#include <kernel/boot/timeline.h>
#include <kernel/demo.h>
#include <kernel/lib/format.h>
#include <kernel/lib/log.h>
#include <kernel/mm/aslr.h>
#include <kernel/mm/heap.h>
#include <kernel/mm/heap_options.h>
#include <kernel/mm/kernel_image.h>
#include <kernel/mm/memory.h>
#include <kernel/probes/ring3_probe.h>
#include <kernel/process/loader.h>
#include <kernel/sched/scheduler.h>
#include <kernel/security/crashtests.h>
#include <kernel/security/entropy.h>
#include <kernel/security/kasan.h>
#include <kernel/security/random.h>
#include <kernel/security/ubsan.h>
#include <kernel/time/clock.h>
#include <kernel/time/timer.h>
#include <platform/platform.h>

extern "C" {
using InitFunction = void (*)();
extern InitFunction __init_array_start[] __attribute__((weak));
extern InitFunction __init_array_end[] __attribute__((weak));
extern u64 __stack_chk_guard;
}

namespace kernite {

namespace {


void load_descriptor_tables()
{
    static_assert(image::ist_stack_count == arch::ist_slot_count);
    u64 ist_tops[arch::ist_slot_count];
    for (u64 slot = 0; slot < arch::ist_slot_count; ++slot)
        ist_tops[slot] = reinterpret_cast<u64>(__ist_stacks_start) + (slot + 1) * image::ist_slot_size;
    arch::load_descriptor_tables(ist_tops);
}

// Time and threads (issue: scheduler): clock, local APIC timer, scheduler. Before sealing, so their
// ro-after-init configuration (APIC mode, conversions) becomes read-only with the rest.
void initialize_time_and_threads(BootParams const& params)
{
    time::initialize_clock(params.boot_tsc);
    boot::mark("clock");
    // Only QEMU (PVH) has 8259 PICs to mask; the Kernite monitor has none and treats their ports as fatal.
    auto timer = time::initialize_timer(params.protocol == BootProtocol::Pvh);
    if (timer.is_error())
        klog("timer: %s", timer.error().reason());
    VERIFY(!timer.is_error());
    boot::mark("timer");
    auto scheduler = sched::initialize();
    if (scheduler.is_error())
        klog("scheduler: %s", scheduler.error().reason());
    VERIFY(!scheduler.is_error());
}

// Crash tests run on their own kernel thread, so EXHAUST_STACK overflows a guarded thread stack (and every
// test runs in the context programs will run in) rather than on the boot stack.
void run_crash_test_thread(char* name)
{
    auto thread = sched::create_thread("crashtest", [](void* argument) {
        security::run_crash_test(static_cast<char const*>(argument));
        return 1; // not reached: run_crash_test stops the VM
    }, name);
    VERIFY(!thread.is_error());
    (void)sched::join(thread.value());
    VERIFY_NOT_REACHED();
}

} // namespace

// Not instrumented by KASAN: its frame would get stack redzones before the shadow exists (kasan::initialize).
extern "C" [[noreturn, gnu::no_sanitize_address]] void kernel_main(BootParams* params)
{
    for (InitFunction* init = __init_array_start; init && init < __init_array_end; ++init)
        (*init)();
    boot::mark_at("parse", params->stage_tsc[0]);
    boot::mark_at("seed+canary", params->stage_tsc[1]);
    boot::mark_at("frames", params->stage_tsc[2]);
    boot::mark_at("tables", params->stage_tsc[3]);
    boot::mark_at("relocate", params->stage_tsc[4]);
    boot::mark("high-half");
    mm::initialize(*params);
    boot::mark("mm");
    if constexpr (kasan::enabled) {
        kasan::initialize(); // debug profile: shadow for the image, global redzones, then every access is checked
        boot::mark("kasan");
    }
    security::configure_ubsan(params->cmdline);
    platform::initialize(*params);
    boot::mark(params->tsc_khz ? "platform" : "platform+tsc-calibration");
    // The generator was seeded in early boot (the canary needed it); now that the console works, refuse a boot
    // without an entropy source or warn about an insecure one.
    security::initialize_entropy(*params);
    security::refresh_canary_after_late_seed();
    boot::mark("entropy");
    load_descriptor_tables();
    bool has_program = false;
    for (u32 i = 0; i < params->module_count; ++i)
        has_program |= __builtin_strcmp(params->modules[i].name, abi::module_name_program) == 0;
    // Isolation `none` (the program in ring 0) changes the gates, so it is chosen here, before they are sealed;
    // `ring3-probe` with `isolation=none` measures the same probe in ring 0.
    if ((has_program || boot::cmdline_has(params->cmdline, "ring3-probe"))
        && boot::cmdline_has(params->cmdline, "isolation=none"))
        arch::select_program_privilege(arch::ProgramPrivilege::Ring0);
    boot::mark("descriptors");
    mm::configure_heap(params->cmdline);
    mm::initialize_heap();
    initialize_time_and_threads(*params);
    boot::mark("scheduler");
    mm::seal_ro_after_init();
    arch::enable_interrupts(); // the boot thread is now thread 0: preemptible, and the timer may fire
    boot::mark("sealed");

    // With a program, the program's stderr is the user's: the kernel's boot line only with `verbose`.
    if (!has_program || boot::cmdline_has(params->cmdline, "verbose"))
    klog("booted on %s in %lu us (profile %s, %s)", platform::name(),
        (arch::read_tsc() - params->boot_tsc) * 1000 / platform::tsc_khz(),
#if defined(KERNITE_PROFILE_HARDENED)
        "hardened",
#elif defined(KERNITE_PROFILE_DEBUG)
        "debug",
#else
        "baseline",
#endif
        params->relocated_by_loader ? "relocated by the monitor" : "self-relocated");
    if (boot::cmdline_has(params->cmdline, "no-aslr"))
        klog("warning: ASLR is off (no-aslr): the kernel is at its link address 0x%lx; for debugging only",
            params->kernel_virt_base);
    if (boot::cmdline_has(params->cmdline, "print-layout")) {
        // One line per randomized region, `layout <region> 0x<hex>` (DESIGN.md), on stderr for the host to read.
        char line[64];
        usize length = format(line, sizeof(line), "layout kernel 0x%lx\n", params->kernel_virt_base);
        platform::console_write(abi::ConsoleStream::Stderr, line, length);
        length = format(line, sizeof(line), "layout kernel-heap 0x%lx\n", mm::kernel_heap_start());
        platform::console_write(abi::ConsoleStream::Stderr, line, length);
        length = format(line, sizeof(line), "layout kernel-slab 0x%lx\n", mm::kernel_slab_start());
        platform::console_write(abi::ConsoleStream::Stderr, line, length);
        length = format(line, sizeof(line), "layout kernel-alias 0x%lx\n", mm::kernel_alias_start());
        platform::console_write(abi::ConsoleStream::Stderr, line, length);
        length = format(line, sizeof(line), "layout kernel-stack 0x%lx\n", mm::kernel_stacks_start());
        platform::console_write(abi::ConsoleStream::Stderr, line, length);
    }
    if (boot::cmdline_has(params->cmdline, "boot-timeline"))
        boot::print_timeline(params->boot_tsc);
    // `print-canary`: for the test that canaries and seeds differ across boots (tests/guest/entropy-differs.sh).
    // Only when asked: the canary is a secret.
    // It also exercises the runtime reseed (monitor hypercall, RDSEED/RDRAND) once.
    if (boot::cmdline_has(params->cmdline, "print-canary")) {
        klog("entropy: canary %016lx first-output %016lx", __stack_chk_guard, security::random_u64());
        bool reseeded = security::reseed_now();
        auto status = security::entropy_status();
        klog("entropy: reseed %s (boot seed %s, boot pool %u bytes, host bytes %lu, RDSEED %s, RDRAND %s, cpu "
             "failures %u), next %016lx",
            reseeded ? "ok" : "found no source", status.boot_seed ? "yes" : "no", status.boot_pool_bytes, status.host_bytes,
            status.cpu_rdseed ? "yes" : "no", status.cpu_rdrand ? "yes" : "no", status.cpu_failures,
            security::random_u64());
        char sources[64];
        security::describe_sources(status, sources, sizeof(sources));
        klog("entropy: sources %s (virtio-rng %s, bytes %lu, failures %lu)", sources,
            status.virtio_rng ? "yes" : "no", status.virtio_rng_bytes, status.virtio_rng_failures);
    }

    char crash_test[64];
    if (boot::cmdline_value(params->cmdline, "crashtest", crash_test, sizeof(crash_test)))
        run_crash_test_thread(crash_test);

    // A program to run (issue 3): it owns the VM from here on.
    for (u32 i = 0; i < params->module_count; ++i) {
        if (__builtin_strcmp(params->modules[i].name, abi::module_name_program) == 0)
            process::run_program(*params);
    }

    if (boot::cmdline_has(params->cmdline, "ring3-probe"))
        platform::exit(probes::run_ring3_probe(), abi::ExitReason::Normal);

    // `quick`: boot, then exit at once (what `make bench` times as the boot figure); otherwise the self-check demo.
    if (boot::cmdline_has(params->cmdline, "quick")) {
        kout("kernite: demo ok (quick: boot only)\n");
        platform::exit(0, abi::ExitReason::Normal);
    }
    int status = run_demo();
    platform::exit(status, abi::ExitReason::Normal);
}

} // namespace kernite
