// kernel_main: the high half, entered from arch/x86_64/boot/entry.S with the relocated BootParams.
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/descriptors.h>
#include <kernel/boot/boot_params.h>
#include <kernel/demo.h>
#include <kernel/lib/log.h>
#include <kernel/mm/heap.h>
#include <kernel/mm/memory.h>
#include <kernel/security/crashtests.h>
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

} // namespace

extern "C" [[noreturn]] void kernel_main(BootParams* params)
{
    for (InitFunction* init = __init_array_start; init && init < __init_array_end; ++init)
        (*init)();
    mm::initialize(*params);
    platform::initialize(*params);
    load_descriptor_tables();
    mm::initialize_heap();
    mm::seal_ro_after_init();

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

    char crash_test[64];
    if (cmdline_value(params->cmdline, "crashtest", crash_test, sizeof(crash_test)))
        security::run_crash_test(crash_test);

    int status = run_demo();
    platform::exit(status, abi::ExitReason::Normal);
}

} // namespace kernite
