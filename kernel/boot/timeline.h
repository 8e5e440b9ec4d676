// Boot timeline: named milestones with their TSC, printed on request (`kernite run --cmdline boot-timeline`).
// Recording costs one rdtsc per mark; printing happens only when asked, because on hosts that emulate guest
// ring 0 (docs/platform-notes.md) every formatted line costs about a millisecond.
#pragma once

#include <ktl/types.h>

namespace kernite::boot {

void mark(char const* milestone);
void mark_at(char const* milestone, u64 tsc);
// Prints "kernite: boot timeline (us): a 12, b 40, ..." with each milestone's time since the previous one.
void print_timeline(u64 boot_tsc);

} // namespace kernite::boot
