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
        "--heap oscar" },
};

inline constexpr size_t crash_test_count = sizeof(crash_tests) / sizeof(crash_tests[0]);

} // namespace kernite::abi
