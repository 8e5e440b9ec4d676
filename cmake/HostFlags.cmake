# Flags for host code: the monitor, tools and unit tests.

# Warnings for all host targets.
add_library(kernite_host_warnings INTERFACE)
target_compile_options(kernite_host_warnings INTERFACE -Wall -Wextra -Wno-missing-field-initializers)

# The monitor is a hardened host program: it parses hostile guest data.
add_library(kernite_host_hardening INTERFACE)
target_compile_options(kernite_host_hardening INTERFACE
    -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE -fcf-protection=full)
target_link_options(kernite_host_hardening INTERFACE -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack)

# Unit tests run the shared libraries under AddressSanitizer and UndefinedBehaviorSanitizer (STYLE.md habit 1).
add_library(kernite_host_sanitizers INTERFACE)
target_compile_options(kernite_host_sanitizers INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
target_link_options(kernite_host_sanitizers INTERFACE -fsanitize=address,undefined)
