// Assertions that never compile away (STYLE.md habit 5). A failed VERIFY in the kernel is a panic that stops
// the VM with a `panic` event; on the host (unit tests, monitor) it aborts with the location.
#pragma once

namespace ktl {
[[noreturn]] void verify_failed(char const* expression, char const* file, int line, char const* function);
}

#define VERIFY(expression)                                                                                   \
    do {                                                                                                     \
        if (!static_cast<bool>(expression)) [[unlikely]]                                                    \
            ::ktl::verify_failed(#expression, __FILE__, __LINE__, __func__);                                 \
    } while (0)

#define VERIFY_NOT_REACHED() ::ktl::verify_failed("not reached", __FILE__, __LINE__, __func__)
