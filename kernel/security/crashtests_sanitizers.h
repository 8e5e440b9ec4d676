// The KASAN and UBSAN crash tests (issue 5 item 4), called from crashtests.cpp's dispatcher.
#pragma once

namespace kernite::security {

// Runs the sanitizer crash test `name` if it is one and returns true only if no sanitizer stopped the VM. On a
// kernel built without the sanitizer the test needs, it says so and exits 127 (never a silent pass). Returns
// false for a name that is not a sanitizer test.
bool run_sanitizer_crash_test(char const* name, void (*arm)(char const*));

} // namespace kernite::security
