#include <kernel/lib/format.h>
#include <kernel/lib/log.h>
#include <kernel/mm/heap.h>
#include <kernel/mm/kernel_image.h>
#include <kernel/security/crashtests.h>
#include <kernel/security/crashtests_fortify.h>
#include <kernel/security/crashtests_heap.h>
#include <kernel/security/crashtests_sanitizers.h>
#include <kernel/security/events.h>
#include <kernite/crashtests.h>
#include <platform/platform.h>

namespace kernite::security {

namespace {

// Targets. `used` and volatile access keep the compiler from folding the attacks away.
[[gnu::used]] u64 const g_rodata_target = 0x5a5a5a5a;
[[gnu::used]] __ro_after_init u64 g_ro_after_init_target = 0x1234;
[[gnu::used]] u8 g_data_code[64] = { 1 };
[[gnu::used]] u8 g_bss_code[64];
[[gnu::used]] u8 const g_rodata_code[16] = { 0xc3 }; // ret

constexpr u8 return_instruction = 0xc3;

template<typename T>
T* hide(T* pointer)
{
    asm volatile("" : "+r"(pointer));
    return pointer;
}

void arm(char const* name)
{
    char line[96];
    usize length = format(line, sizeof(line), "crashtest: %s armed\n", name);
    platform::console_write(abi::ConsoleStream::Stderr, line, length);
}

[[gnu::noinline]] void call_code(void* code)
{
    auto function = reinterpret_cast<void (*)()>(hide(code));
    function();
}

// Unbounded on purpose (the guard page below the kernel stack must catch it): GCC sees that and says so.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion"
[[gnu::noinline]] u64 recurse(u64 depth)
{
    volatile u8 buffer[256];
    buffer[0] = static_cast<u8>(depth);
    u64 result = recurse(depth + 1) + buffer[0];
    asm volatile("" ::: "memory");
    return result;
}
#pragma GCC diagnostic pop

[[gnu::noinline]] void victim_function() { asm volatile(""); }

// CORRUPT_STACK: a linear overflow of a stack buffer up to (not past) the frame pointer, which covers the canary
// the stack protector placed between the buffer and the saved registers. The saved frame pointer and return
// address stay intact, so the failure is the canary check on return (kernel/lib/panic.cpp __stack_chk_fail),
// not a wild return.
[[gnu::noinline]] void overflow_stack_buffer(char const* name)
{
    u8 buffer[16];
    u8* cursor = hide(buffer);
    auto* frame = static_cast<u8*>(__builtin_frame_address(0));
    usize length = static_cast<usize>(frame - cursor);
    if (frame <= cursor || length > 256) {
        klog("crashtest: %s: unexpected frame layout", name);
        return;
    }
    arm(name);
    for (usize i = 0; i < length; ++i)
        cursor[i] = 'A';
    asm volatile("" : : "r"(buffer) : "memory");
}

bool run(char const* name)
{
    auto is = [&](char const* candidate) { return __builtin_strcmp(name, candidate) == 0; };
    if (is("WRITE_RO")) {
        arm(name);
        *hide(const_cast<u64 volatile*>(&g_rodata_target)) = 1;
    } else if (is("WRITE_RO_AFTER_INIT")) {
        arm(name);
        *hide(const_cast<u64 volatile*>(&g_ro_after_init_target)) = 1;
    } else if (is("WRITE_KERN")) {
        arm(name);
        *hide(reinterpret_cast<u8 volatile*>(&victim_function)) = return_instruction;
    } else if (is("EXEC_DATA")) {
        g_data_code[0] = return_instruction;
        arm(name);
        call_code(g_data_code);
    } else if (is("EXEC_BSS")) {
        g_bss_code[0] = return_instruction;
        arm(name);
        call_code(g_bss_code);
    } else if (is("EXEC_STACK")) {
        u8 code[64];
        code[0] = return_instruction;
        arm(name);
        call_code(code);
    } else if (is("EXEC_KMALLOC")) {
        auto allocation = mm::kmalloc(64);
        if (allocation.is_error())
            return false;
        auto* code = static_cast<u8*>(allocation.value());
        code[0] = return_instruction;
        arm(name);
        call_code(code);
    } else if (is("EXEC_RODATA")) {
        arm(name);
        call_code(const_cast<u8*>(g_rodata_code));
    } else if (is("EXEC_NULL")) {
        arm(name);
        call_code(nullptr);
    } else if (is("ACCESS_NULL")) {
        arm(name);
        u64 value = *hide(static_cast<u64 volatile*>(nullptr));
        klog("read %lx through a null pointer", value);
    } else if (is("WRITE_NULL")) {
        arm(name);
        *hide(static_cast<u64 volatile*>(nullptr)) = 1;
    } else if (is("EXHAUST_STACK")) {
        arm(name);
        klog("recursed %lu", recurse(0));
    } else if (is("PANIC")) {
        arm(name);
        VERIFY(*hide(&g_rodata_target) == 0);
    } else if (is("CORRUPT_STACK")) {
        overflow_stack_buffer(name); // returns only if the canary check did not fire
    } else if (run_heap_crash_test(name, arm)) {
        // the heap's tests: crashtests_heap.cpp
    } else if (run_sanitizer_crash_test(name, arm)) {
        // KASAN and UBSAN: crashtests_sanitizers.cpp
    } else if (run_fortify_crash_test(name, arm)) {
        // FORTIFY and usercopy: crashtests_fortify.cpp
    } else {
        return false;
    }
    return true;
}

} // namespace

void run_crash_test(char const* name)
{
    bool known = false;
    for (auto const& test : abi::crash_tests)
        known = known || __builtin_strcmp(test.name, name) == 0;
    if (!known || !run(name)) {
        klog("crashtest: unknown crash test %s", name);
        platform::exit(127, abi::ExitReason::Normal);
    }
    // Reaching this line means the protection did not fire: that is a failure, reported loudly.
    klog("crashtest: %s survived: the protection did not fire", name);
    platform::exit(1, abi::ExitReason::Normal);
}

} // namespace kernite::security
