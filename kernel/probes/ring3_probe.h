#pragma once

namespace kernite::probes {

// `--cmdline ring3-probe`: runs a few hundred bytes of code in ring 3 and reports what a program in isolation
// mode `ring` would pay (docs/platform-notes.md): the round trip of a `syscall`, and the speed of a user-mode
// loop. Returns the exit status for the VM (0 when every check passed).
int run_ring3_probe();

} // namespace kernite::probes
