// The FORTIFY and hardened-usercopy crash tests (issue 5 item 5), called from crashtests.cpp's dispatcher.
#pragma once

namespace kernite::security {

// Runs the test `name` if it is one of them and returns true only if nothing stopped the VM. A kernel without
// FORTIFY (baseline) says so and exits 127. Returns false for any other name.
bool run_fortify_crash_test(char const* name, void (*arm)(char const*));

} // namespace kernite::security
