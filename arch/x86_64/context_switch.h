// Kernel thread switching: the part of a thread switch that must be assembly (arch/x86_64/context_switch.S).
#pragma once

#include <ktl/types.h>

namespace kernite::arch {

// What arch_context_switch pushes on a thread's stack before it saves RSP, lowest address first. The callee-
// saved registers of the System V x86-64 ABI (rbx, rbp, r12-r15), then the return address.
struct SwitchFrame {
    u64 r15, r14, r13, r12, rbp, rbx;
    u64 return_address;
};
static_assert(sizeof(SwitchFrame) == 7 * 8);

using ThreadEntry = int (*)(void*);
using ThreadExit = void (*)(int);

} // namespace kernite::arch

extern "C" {
// Saves the callee-saved registers and RSP of the running thread into *save_rsp, loads `next_rsp` and returns
// into the next thread. Interrupts must be off; each side restores its own RFLAGS afterwards.
void arch_context_switch(u64* save_rsp, u64 next_rsp);
// First code of every new thread (see prepare_thread_stack).
void arch_thread_trampoline();
}

namespace kernite::arch {

// Lays out a new thread's stack so that the first switch to it "returns" into the trampoline, which enables
// interrupts, calls entry(argument) and passes its result to `exit` (which never returns). Returns the
// initial saved RSP. `stack_top` must be 16-byte aligned.
inline u64 prepare_thread_stack(u64 stack_top, ThreadEntry entry, void* argument, ThreadExit exit)
{
    // The trampoline must start with RSP = 0 mod 16 (it calls with no pushes), i.e. right after the frame's
    // 56 bytes are popped. The 16 bytes above it stay zero: a null return address ends backtraces.
    u64 frame_address = stack_top - 16 - sizeof(SwitchFrame);
    auto* frame = reinterpret_cast<SwitchFrame*>(frame_address);
    *frame = SwitchFrame {};
    frame->r12 = reinterpret_cast<u64>(entry);
    frame->r13 = reinterpret_cast<u64>(argument);
    frame->r14 = reinterpret_cast<u64>(exit);
    frame->return_address = reinterpret_cast<u64>(&arch_thread_trampoline);
    reinterpret_cast<u64*>(stack_top)[-1] = 0;
    reinterpret_cast<u64*>(stack_top)[-2] = 0;
    return frame_address;
}

} // namespace kernite::arch
