// The C++ side of every trap: exceptions go to the kernel's fault policy, interrupts to their handlers.
#include <arch/x86_64/descriptors.h>
#include <arch/x86_64/interrupts.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/user_mode.h>
#include <kernel/lib/log.h>
#include <kernel/security/kernel_faults.h>

namespace kernite::arch {

namespace {
InterruptHandler g_handlers[256];
u64 g_unexpected_interrupts;
} // namespace

bool register_interrupt_handler(u8 vector, InterruptHandler handler)
{
    if (vector < FirstIrq || g_handlers[vector])
        return false;
    g_handlers[vector] = handler;
    install_interrupt_gate(vector);
    return true;
}

} // namespace kernite::arch

namespace kernite::arch {
bool handle_user_trap(TrapFrame&, u64 fault_address);
void return_to_user_after_interrupt(TrapFrame&);
} // namespace kernite::arch

extern "C" void arch_handle_trap(kernite::arch::TrapFrame* frame)
{
    using namespace kernite::arch;
    // System calls, and exceptions from ring 3 or inside a user copy, are the user-mode layer's.
    if ((frame->vector == syscall_vector || is_program_frame(*frame) || frame->vector == PageFault)
        && handle_user_trap(*frame, frame->vector == PageFault ? read_cr2() : 0))
        return;
    if (frame->vector < FirstIrq) {
        kernite::security::handle_kernel_exception(*frame);
        return;
    }
    if (auto handler = g_handlers[frame->vector & 0xff]) {
        handler(*frame);
        return_to_user_after_interrupt(*frame);
        return;
    }
    // An interrupt nobody asked for: count it, say so once, go on.
    if (g_unexpected_interrupts++ == 0)
        kernite::klog("unexpected interrupt on vector %lu (ignored)", frame->vector);
}
