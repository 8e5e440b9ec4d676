// The hardened heap's crash tests (issue 5), called from crashtests.cpp's dispatcher.
#pragma once

namespace kernite::security {

// Runs the heap crash test `name` if it is one: prints the armed line through `arm`, commits the bug, and
// returns true only if the heap did not stop the VM. Returns false for a name that is not a heap test.
bool run_heap_crash_test(char const* name, void (*arm)(char const*));

} // namespace kernite::security
