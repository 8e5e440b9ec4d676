#include <kernel/process/output.h>
#include <arch/x86_64/cpu.h>
#include <kernel/debug/symbols.h>
#include <kernel/lib/format.h>
#include <kernel/lib/log.h>
#include <kernel/security/events.h>
#include <kernel/sched/current.h>
#include <platform/platform.h>

namespace kernite::security {

namespace {

void copy_string(char* destination, usize size, char const* source)
{
    usize i = 0;
    for (; source && source[i] && i + 1 < size; ++i)
        destination[i] = source[i];
    destination[i] = 0;
}

bool g_stopping;

} // namespace

void report(abi::EventType type, char const* message, EventDetails const& details)
{
    process::output::flush(); // what the program wrote before the event reaches the host before it
    abi::SecurityEvent event {};
    event.type = static_cast<u32>(type);
    copy_string(event.message, sizeof(event.message), message);
    if (details.has_rip) {
        event.flags |= abi::EventHasRip;
        event.rip = details.rip;
        char symbol[abi::event_symbol_size];
        if (details.symbol && details.symbol[0]) {
            event.flags |= abi::EventHasSymbol;
            copy_string(event.symbol, sizeof(event.symbol), details.symbol);
        } else if (debug::symbolize(details.rip, symbol, sizeof(symbol))) {
            event.flags |= abi::EventHasSymbol;
            copy_string(event.symbol, sizeof(event.symbol), symbol);
        }
    }
    if (details.has_addr) {
        event.flags |= abi::EventHasAddr;
        event.addr = details.addr;
    }
    event.flags |= abi::EventHasThread;
    event.thread = sched::current_thread_id();
    platform::report_event(event);
}

void stop(abi::EventType type, char const* message, EventDetails const& details, u64 rbp)
{
    arch::disable_interrupts();
    if (g_stopping) {
        // A fault while reporting a fault: say the least possible and stop.
        klog("security stop while stopping (%s)", abi::event_type_name(type));
        platform::exit(125, abi::ExitReason::SecurityStop);
    }
    g_stopping = true;
    klog("security stop: %s: %s", abi::event_type_name(type), message);
    if (details.has_rip) {
        char symbol[128];
        bool known = debug::symbolize(details.rip, symbol, sizeof(symbol));
        klog("  at rip %p %s", reinterpret_cast<void*>(details.rip), known ? symbol : "(unknown)");
    }
    debug::print_backtrace(rbp ? rbp : reinterpret_cast<u64>(__builtin_frame_address(0)));
    report(type, message, details);
    platform::exit(125, type == abi::EventType::Panic ? abi::ExitReason::Panic : abi::ExitReason::SecurityStop);
}

} // namespace kernite::security
