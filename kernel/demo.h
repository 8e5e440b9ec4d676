#pragma once

namespace kernite {

// The built-in demo and self-check that `kernite run` boots without a program. Returns the exit status.
int run_demo();

} // namespace kernite
