// The C++ side of every trap: exceptions go to the kernel's fault policy, interrupts to their handlers.
#include <arch/x86_64/descriptors.h>
#include <arch/x86_64/interrupts.h>
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

extern "C" void arch_handle_trap(kernite::arch::TrapFrame* frame)
{
    using namespace kernite::arch;
    if (frame->vector < FirstIrq) {
        kernite::security::handle_kernel_exception(*frame);
        return;
    }
    if (auto handler = g_handlers[frame->vector & 0xff]) {
        handler(*frame);
        return;
    }
    // An interrupt nobody asked for: count it, say so once, go on.
    if (g_unexpected_interrupts++ == 0)
        kernite::klog("unexpected interrupt on vector %lu (ignored)", frame->vector);
}
