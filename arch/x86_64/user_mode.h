// Ring 3: entering user mode, the `syscall` entry, and the user-memory copy primitives (Intel SDM Vol. 2B
// SYSCALL/SYSRET, Vol. 3A §5.8.8, §6.12.1).
//
// The contained core of isolation mode `ring` (DESIGN.md): the program runs at CPL 3 in its own pages (U/S set)
// and reaches the kernel only through `syscall`, exceptions and interrupts. Every such entry leaves one
// arch::TrapFrame at the top of the current thread's kernel stack (the scheduler points TSS.RSP0 and the syscall
// entry there on every switch), so a thread's user state is always `*user_frame(stack_top)`: signal delivery,
// clone and rt_sigreturn edit that frame, and every return to ring 3 is the same `iretq`.
#pragma once

#include <arch/x86_64/trap_frame.h>
#include <ktl/types.h>

namespace kernite::arch {

// TrapFrame::vector of a frame built by the `syscall` entry (not a CPU vector: those are < 256).
inline constexpr u64 syscall_vector = 0x100;

// The lower half: where user mappings may live. The first 64 KiB are never mapped (null guard).
inline constexpr u64 user_space_floor = 0x10000;
inline constexpr u64 user_space_end = 0x0000800000000000ull;
inline bool is_user_range(u64 address, u64 length)
{
    u64 end = 0;
    return address >= user_space_floor && !__builtin_add_overflow(address, length, &end) && end <= user_space_end;
}

// Called with the frame of a system call (number in rax; arguments in rdi, rsi, rdx, r10, r8, r9); puts the
// result in frame.rax. Runs with interrupts enabled. May block, or end the thread.
using SyscallHandler = void (*)(TrapFrame&);
// Called with interrupts off right before any return to ring 3 (after a system call, fault or interrupt): the
// place where pending signals are delivered. May rewrite the frame.
using ReturnToUserHook = void (*)(TrapFrame&);
// Called for an exception raised by ring-3 code (a user page fault the kernel did not resolve, #UD, #DE, #GP,
// ...). Must deal with it (deliver a signal, kill the program); `fault_address` is CR2 for page faults.
using UserExceptionHandler = void (*)(TrapFrame&, u64 fault_address);
// Called for a page fault on a user address, from ring 3 or from a user-copy routine in ring 0: returns true if
// the fault was resolved (a page mapped on demand) and the access should be retried.
using UserPageFaultResolver = bool (*)(u64 address, bool write, bool execute);

// Program privilege: isolation mode `ring` (CPL 3, the default) or `none` (CPL 0, beside the kernel; DESIGN.md).
// Chosen once, at boot, before the IDT is sealed: Ring0 gives every gate an IST stack and the ring-0 entry stubs
// (ring0_entry.S), points LSTAR at the ring-0 `syscall` entry, maps program pages without the U/S bit and returns
// to the program with iretq at CPL 0. Ring3 changes nothing.
enum class ProgramPrivilege : u8 {
    Ring3,
    Ring0,
};
void select_program_privilege(ProgramPrivilege);
ProgramPrivilege program_privilege();
// Whether `frame` holds the program's state (an entry from the program) rather than interrupted kernel code.
// Ring 3: the CPL in CS. Ring 0: CS is the kernel's either way, so the entry stubs decided (from a flag only
// their own return path sets and the interrupted RIP) and put the program's frames, and only those, in the slot
// at the top of the thread's kernel stack: the frame's address is the answer.
bool is_program_frame(TrapFrame const&);
// Ring 0 only: PROT_NONE pages can be made to fault for a CPL-0 program only by giving them the U/S bit with
// SMAP and SMEP on (ring-0 access to user pages faults). True when the CPU has both and they were turned on.
bool ring0_prot_none_faults();

// Ring 0: interrupts of program code whose return address follows a 0xF4 byte, and how many of those the
// decoder confirmed as a `hlt` (user_mode.cpp); `--verbose` prints both at exit.
struct HltDetection {
    u64 candidates;
    u64 confirmed;
};
HltDetection hlt_detection();

// EFER.SCE, STAR, LSTAR, FMASK; CR0/CR4 for SSE (the program's FPU state is saved per thread). Can be called
// again to install other handlers (the ring-3 probe has its own).
void initialize_user_mode(SyscallHandler, ReturnToUserHook, UserExceptionHandler, UserPageFaultResolver);

// The kernel stack that the next entry from ring 3 uses. The scheduler calls this on every thread switch.
void set_user_entry_stack(u64 stack_top);

inline TrapFrame* user_frame(u64 kernel_stack_top) { return reinterpret_cast<TrapFrame*>(kernel_stack_top) - 1; }

// Fills `frame` for a first entry into ring 3 at `rip` with stack `rsp` (every other register zero).
void prepare_user_frame(TrapFrame& frame, u64 rip, u64 rsp);
// Makes `frame` safe to return to ring 3 whatever a program wrote into it (rt_sigreturn): user selectors, IF on,
// IOPL 0, only the flags a program may change. Returns false if rip or rsp is not a canonical lower-half address.
bool sanitize_user_frame(TrapFrame& frame);
// Enters ring 3 with `frame`, which must be user_frame(top of the current thread's kernel stack).
[[noreturn]] void enter_user(TrapFrame& frame);

// The nested KVM of our test machines (PVM) executes a ring-3 `syscall` by jumping to LSTAR without leaving
// CPL 3; fetching the (supervisor) entry then page-faults into ring 0 with rcx/r11 = user RIP/RFLAGS, as
// SYSCALL defines (docs/platform-notes.md). The page-fault path serves the system call from that frame.
u64 syscalls_via_fault(); // how many system calls took that path

// Copies between kernel and user memory. The user range must pass is_user_range() (checked here too); a fault
// inside the copy (unmapped or protected user page) makes it return false instead of crashing the kernel.
[[nodiscard]] bool copy_from_user(void* kernel_destination, u64 user_source, usize length);
[[nodiscard]] bool copy_to_user(u64 user_destination, void const* kernel_source, usize length);
[[nodiscard]] bool clear_user(u64 user_destination, usize length);
// Copies a NUL-terminated user string of at most `capacity` bytes including the NUL. Returns its length, -1 on a
// fault, -2 when no NUL was found within `capacity`.
i64 copy_string_from_user(char* destination, u64 user_source, usize capacity);

// FPU/SSE state (FXSAVE format, SDM Vol. 1 §10.5.1): 512 bytes, 16-byte aligned.
inline constexpr usize fpu_state_size = 512;
void fpu_save(u8* area);
void fpu_restore(u8 const* area);
// The state a new program starts with (FNINIT defaults, MXCSR 0x1f80), to copy into a new thread's area.
void fpu_initial_state(u8* area);

} // namespace kernite::arch
