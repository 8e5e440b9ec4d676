// Kernel crash tests (abi/kernite/crashtests.h has the catalogue): commit one bug on purpose so the test
// suite can see the protection fire. Each prints "crashtest: NAME armed" on stderr right before the attack.
#pragma once

namespace kernite::security {

// Runs the named crash test. Returns only if the protection did NOT fire (then the caller reports failure).
void run_crash_test(char const* name);

} // namespace kernite::security
