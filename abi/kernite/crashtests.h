// The kernel's crash tests (DESIGN.md "Crash tests", after Linux LKDTM). The table is part of the ABI so that
// the monitor can list and validate names without booting, and the test runner can iterate over them.
// `kernite run --crashtest NAME` passes `crashtest=NAME` on the kernel command line; the kernel prints
//   "crashtest: NAME armed"
// right before it commits the bug, then the protection must report `expected_event` and stop with 125.
#pragma once

#include "abi.h"

namespace kernite::abi {

struct CrashTest {
    char const* name;
    EventType expected_event;
    char const* description;
    // The kernel profile that has the protection (tests/guest/CMakeLists.txt passes `--kernel` for it). A kernel
    // without it refuses the test with exit 127 and says which profile it needs.
    char const* kernel { "hardened" };
    // Extra `kernite run` arguments the test needs (tests/guest/CMakeLists.txt passes them), or nullptr.
    char const* run_arguments = nullptr;
};

inline constexpr CrashTest crash_tests[] = {
    { "WRITE_RO", EventType::WxViolation, "write to a const variable in .rodata" },
    { "WRITE_RO_AFTER_INIT", EventType::WxViolation, "write to data sealed read-only after boot" },
    { "WRITE_KERN", EventType::WxViolation, "write to kernel text" },
    { "EXEC_DATA", EventType::WxViolation, "execute code copied into .data" },
    { "EXEC_BSS", EventType::WxViolation, "execute code copied into .bss" },
    { "EXEC_STACK", EventType::WxViolation, "execute code copied onto the stack" },
    { "EXEC_KMALLOC", EventType::WxViolation, "execute code copied into a heap allocation" },
    { "EXEC_RODATA", EventType::WxViolation, "execute a function placed in .rodata" },
    { "EXEC_NULL", EventType::NullDeref, "call a null function pointer" },
    { "ACCESS_NULL", EventType::NullDeref, "read through a null pointer" },
    { "WRITE_NULL", EventType::NullDeref, "write through a null pointer" },
    { "EXHAUST_STACK", EventType::StackOverflow, "unbounded recursion into the guard page" },
    { "PANIC", EventType::Panic, "a failed VERIFY" },
    { "CORRUPT_STACK", EventType::StackSmash, "overflow a stack buffer over the canary, then return" },
    { "SLAB_FREE_DOUBLE", EventType::DoubleFree, "free a heap object twice" },
    { "SLAB_FREE_CROSS", EventType::HeapCorruption, "free a page-allocator frame through the heap (invalid free)" },
    { "SLAB_FREE_PAGE", EventType::HeapCorruption, "free a pointer into the middle of a page-backed allocation" },
    { "WRITE_AFTER_FREE", EventType::UseAfterFree, "write to a freed object (poison checked on leaving quarantine)" },
    { "OVERFLOW_SLAB", EventType::HeapCorruption, "write one byte past a heap object (canary checked on free)" },
    { "READ_BUDDY_AFTER_FREE", EventType::UseAfterFree, "read a freed page-backed heap block (unmapped on free)" },
    { "WRITE_BUDDY_AFTER_FREE", EventType::UseAfterFree, "write a freed page-backed heap block (unmapped on free)" },
    { "READ_AFTER_FREE", EventType::UseAfterFree, "read a freed heap object (OSCAR mode: its alias is unmapped on free)",
        "hardened", "--heap oscar" },
    // KASAN and UBSAN (issue 5 item 4): the debug kernel only (kernel/security/crashtests_sanitizers.cpp).
    { "KASAN_SLAB_OOB_READ", EventType::Kasan, "read one byte past a 30-byte heap object", "debug" },
    { "KASAN_SLAB_OOB_WRITE", EventType::Kasan, "write one byte past a 30-byte heap object", "debug" },
    { "KASAN_USE_AFTER_FREE", EventType::Kasan, "read a freed heap object", "debug" },
    { "KASAN_GLOBAL_OOB", EventType::Kasan, "read past the end of a global array", "debug" },
    { "KASAN_STACK_OOB", EventType::Kasan, "read past the end of a stack array", "debug" },
    { "KASAN_MEMMOVE_OOB", EventType::Kasan, "memmove within a heap object, upwards, one byte past its end", "debug" },
    { "ARRAY_BOUNDS", EventType::Ubsan, "index an array past its bound (UBSAN bounds)", "debug" },
    { "UBSAN_SIGNED_OVERFLOW", EventType::Ubsan, "INT_MAX + 1", "debug" },
    { "UBSAN_SHIFT", EventType::Ubsan, "shift a 32-bit int by 40", "debug" },
    { "UBSAN_MISALIGNED", EventType::Ubsan, "load a u32 from an odd address", "debug" },
    { "UBSAN_NULL", EventType::Ubsan, "load through a null pointer (UBSAN null check)", "debug" },
    // FORTIFY and hardened usercopy (issue 5 item 5; kernel/security/crashtests_fortify.cpp).
    { "FORTIFY_MEM_OBJECT", EventType::FortifyViolation, "memcpy 16 bytes out of an 8-byte struct" },
    { "FORTIFY_STR_OBJECT", EventType::FortifyViolation, "strlen of an 8-byte array without a NUL" },
    { "USERCOPY_HEAP_OVERFLOW", EventType::FortifyViolation, "copy_to_user 64 bytes from a 32-byte heap object" },
};

inline constexpr size_t crash_test_count = sizeof(crash_tests) / sizeof(crash_tests[0]);

} // namespace kernite::abi
