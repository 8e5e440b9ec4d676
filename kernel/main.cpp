// kernel_main: the high half, entered from arch/x86_64/boot/entry.S with the relocated BootParams.
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/descriptors.h>
#include <kernel/boot/boot_params.h>
#include <kernel/demo.h>
#include <kernel/lib/log.h>
#include <kernel/mm/heap.h>
#include <kernel/mm/memory.h>
#include <kernel/sched/scheduler.h>
#include <kernel/security/crashtests.h>
#include <kernel/time/clock.h>
#include <kernel/time/timer.h>
#include <platform/platform.h>

extern "C" {
using InitFunction = void (*)();
extern InitFunction __init_array_start[] __attribute__((weak));
extern InitFunction __init_array_end[] __attribute__((weak));
}

namespace kernite {

namespace {

// Finds `key=` in the command line and copies its value. Tokens are separated by spaces.
bool cmdline_value(char const* cmdline, char const* key, char* out, usize size)
{
    usize key_length = __builtin_strlen(key);
    for (char const* p = cmdline; *p;) {
        while (*p == ' ')
            ++p;
        char const* token = p;
        while (*p && *p != ' ')
            ++p;
        if (static_cast<usize>(p - token) > key_length && __builtin_memcmp(token, key, key_length) == 0
            && token[key_length] == '=') {
            usize i = 0;
            for (char const* v = token + key_length + 1; v < p && i + 1 < size; ++v)
                out[i++] = *v;
            out[i] = 0;
            return true;
        }
    }
    return false;
}

void load_descriptor_tables()
{
    u64 ist_tops[arch::ist_slot_count];
    for (auto& top : ist_tops) {
        auto stack = mm::allocate_stack(4);
        VERIFY(!stack.is_error());
        top = stack.value().top;
    }
    arch::load_descriptor_tables(ist_tops);
}

// Time and threads (issue: scheduler): clock, local APIC timer, scheduler. Before sealing, so their
// ro-after-init configuration (APIC mode, conversions) becomes read-only with the rest.
void initialize_time_and_threads(BootParams const& params)
{
    time::initialize_clock(params.boot_tsc);
    // Only QEMU (PVH) has 8259 PICs to mask; the Kernite monitor has none and treats their ports as fatal.
    auto timer = time::initialize_timer(params.protocol == BootProtocol::Pvh);
    if (timer.is_error())
        klog("timer: %s", timer.error().reason());
    VERIFY(!timer.is_error());
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

extern "C" [[noreturn]] void kernel_main(BootParams* params)
{
    for (InitFunction* init = __init_array_start; init && init < __init_array_end; ++init)
        (*init)();
    u64 entered_high_half = arch::read_tsc();
    mm::initialize(*params);
    u64 before_platform = arch::read_tsc();
    platform::initialize(*params);
    u64 platform_ticks = arch::read_tsc() - before_platform;
    load_descriptor_tables();
    mm::initialize_heap();
    initialize_time_and_threads(*params);
    mm::seal_ro_after_init();
    arch::enable_interrupts(); // the boot thread is now thread 0: preemptible, and the timer may fire

    u64 boot_us = (arch::read_tsc() - params->boot_tsc) * 1000 / platform::tsc_khz();
    klog("booted on %s in %lu us (tsc %lu kHz, %lu relocations, profile %s)", platform::name(), boot_us,
        platform::tsc_khz(), params->relocations_applied,
#if defined(KERNITE_PROFILE_HARDENED)
        "hardened"
#elif defined(KERNITE_PROFILE_DEBUG)
        "debug"
#else
        "baseline"
#endif
    );

    auto us = [&](u64 ticks) { return ticks * 1000 / platform::tsc_khz(); };
    klog("boot stages (us): parse %lu, frames %lu, tables %lu, relocate %lu, to high half %lu, mm %lu",
        us(params->stage_tsc[0] - params->boot_tsc), us(params->stage_tsc[1] - params->stage_tsc[0]),
        us(params->stage_tsc[2] - params->stage_tsc[1]), us(params->stage_tsc[3] - params->stage_tsc[2]),
        us(entered_high_half - params->stage_tsc[3]), us(before_platform - entered_high_half));
    if (params->tsc_khz == 0)
        klog("tsc calibrated in %lu us", platform_ticks * 1000 / platform::tsc_khz());

    char crash_test[64];
    if (cmdline_value(params->cmdline, "crashtest", crash_test, sizeof(crash_test)))
        run_crash_test_thread(crash_test);

    int status = run_demo();
    platform::exit(status, abi::ExitReason::Normal);
}

} // namespace kernite
