// Scoped interrupt masking: the kernel's lock for data touched by threads and interrupt handlers on its one
// CPU. Restores the previous state, so guards nest. (cli/sti and pushf trap on some hypervisors; keep the
// guarded sections short and off the hottest paths.)
#pragma once

#include <arch/x86_64/cpu.h>

namespace kernite::arch {

class InterruptsDisabled {
public:
    InterruptsDisabled()
        : m_were_enabled(interrupts_enabled())
    {
        disable_interrupts();
    }
    ~InterruptsDisabled()
    {
        if (m_were_enabled)
            enable_interrupts();
    }
    InterruptsDisabled(InterruptsDisabled const&) = delete;
    InterruptsDisabled& operator=(InterruptsDisabled const&) = delete;

private:
    bool m_were_enabled;
};

} // namespace kernite::arch
