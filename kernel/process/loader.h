// Starting the program (issue 3 item 1): the "program", "args" and "rootfs" boot modules become a running
// process. Called once by kernel_main when a program module exists; never returns.
#pragma once

#include <kernel/boot/boot_params.h>

namespace kernite::process {

[[noreturn]] void run_program(BootParams const&);

} // namespace kernite::process
