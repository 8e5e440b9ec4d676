// Kernel-side failure paths that must exist in every freestanding C++ kernel: VERIFY, the stack protector's
// failure hook, and the pure-virtual hook. Each ends in a security event and exit 125, never a silent hang.
#include <kernel/lib/format.h>
#include <kernel/security/events.h>
#include <ktl/verify.h>

namespace ktl {

void verify_failed(char const* expression, char const* file, int line, char const* function)
{
    char message[kernite::abi::event_message_size];
    kernite::format(message, sizeof(message), "VERIFY(%s) failed at %s:%d in %s", expression, file, line, function);
    kernite::security::stop(kernite::abi::EventType::Panic, message,
        { reinterpret_cast<u64>(__builtin_return_address(0)), 0, true, false });
}

} // namespace ktl

extern "C" {

u64 __stack_chk_guard;

[[noreturn]] void __stack_chk_fail()
{
    kernite::security::stop(kernite::abi::EventType::StackSmash, "kernel stack canary overwritten",
        { reinterpret_cast<u64>(__builtin_return_address(0)), 0, true, false });
}

[[noreturn]] void __cxa_pure_virtual()
{
    kernite::security::stop(kernite::abi::EventType::Panic, "pure virtual function called");
}

}
