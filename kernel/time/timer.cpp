#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/interrupts.h>
#include <kernel/lib/log.h>
#include <kernel/sched/scheduler.h>
#include <kernel/time/timer.h>
#include <platform/platform.h>

namespace kernite::time {

namespace {

// The TSC deadline programmed into the APIC, 0 when none. Written with interrupts off only.
u64 g_armed_deadline;
u64 g_interrupts;

void handle_timer(arch::TrapFrame&)
{
    // EOI first: the scheduler may switch to another thread before this handler returns, and the APIC must
    // be able to deliver the next timer interrupt to it (SDM Vol. 3A §11.8.5).
    arch::apic::end_of_interrupt();
    g_armed_deadline = 0;
    ++g_interrupts;
    sched::handle_timer_interrupt(arch::read_tsc());
}

} // namespace

ErrorOr<void> initialize_timer(bool mask_legacy_pic)
{
    TRY(arch::apic::initialize(timer_vector, platform::tsc_khz(), mask_legacy_pic));
    if (!arch::register_interrupt_handler(timer_vector, handle_timer))
        return Error::from_errno(EBUSY, "timer vector taken");
    return {};
}

void request_deadline(u64 deadline)
{
    // No VERIFY(!interrupts_enabled()) here: pushf traps under PVM (~4 us) and every caller is the scheduler,
    // whose schedule() checks IF=0 on each switch.
    if (g_armed_deadline != 0 && g_armed_deadline <= deadline)
        return;
    g_armed_deadline = deadline == 0 ? 1 : deadline;
    arch::apic::arm_timer(g_armed_deadline);
}

bool timer_armed() { return g_armed_deadline != 0; }

u64 timer_interrupts() { return g_interrupts; }

} // namespace kernite::time
