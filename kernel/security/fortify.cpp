// The FORTIFY violation handler (kernel/lib/fortify.h) and the hardened-usercopy report
// (kernel/process/user_memory.h): both stop the VM with a `fortify-violation` event naming the function, the
// object's size and the length that would overrun it, at the caller's address.
#include <kernel/lib/format.h>
#include <kernel/security/events.h>
#include <ktl/types.h>

extern "C" [[noreturn]] void __kernite_fortify_chk(char const* function, usize object_size, usize length)
{
    char message[kernite::abi::event_message_size];
    kernite::format(message, sizeof(message), "%s: %lu bytes on an object of %lu bytes", function, length,
        object_size);
    kernite::security::EventDetails details;
    // The call is noreturn, often a function's last instruction: its return address can be the next function's
    // first byte, so name the call's own last byte.
    details.rip = reinterpret_cast<u64>(__builtin_return_address(0)) - 1;
    details.has_rip = true;
    kernite::security::stop(kernite::abi::EventType::FortifyViolation, message, details);
}
