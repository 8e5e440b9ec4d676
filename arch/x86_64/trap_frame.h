// The register state saved on every exception and interrupt (arch/x86_64/interrupts.S builds it).
#pragma once

#include <ktl/types.h>

namespace kernite::arch {

struct TrapFrame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8;
    u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
    u64 vector;
    u64 error_code; // pushed by the CPU for some vectors, 0 otherwise (SDM Vol. 3A §6.13)
    // Pushed by the CPU (SDM Vol. 3A §6.14.1, Figure 6-9: 64-bit mode always pushes SS:RSP).
    u64 rip, cs, rflags, rsp, ss;
};
static_assert(sizeof(TrapFrame) == 22 * 8);

// Exception vectors (SDM Vol. 3A Table 6-1).
enum Vector : u64 {
    DivideError = 0,
    Debug = 1,
    Nmi = 2,
    Breakpoint = 3,
    Overflow = 4,
    BoundRange = 5,
    InvalidOpcode = 6,
    DeviceNotAvailable = 7,
    DoubleFault = 8,
    InvalidTss = 10,
    SegmentNotPresent = 11,
    StackFault = 12,
    GeneralProtection = 13,
    PageFault = 14,
    FloatingPoint = 16,
    AlignmentCheck = 17,
    MachineCheck = 18,
    SimdFloatingPoint = 19,
    ControlProtection = 21,
    FirstIrq = 32,
};

// Page-fault error code bits (SDM Vol. 3A §4.7, Figure 4-12).
enum PageFaultError : u64 {
    PageFaultPresent = 1 << 0,
    PageFaultWrite = 1 << 1,
    PageFaultUser = 1 << 2,
    PageFaultReservedBit = 1 << 3,
    PageFaultInstructionFetch = 1 << 4,
    PageFaultProtectionKey = 1 << 5,
    PageFaultShadowStack = 1 << 6,
};

} // namespace kernite::arch
