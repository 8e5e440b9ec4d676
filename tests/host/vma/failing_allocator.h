// ktl::allocate for the vma tests: malloc, except that a test can make the next allocations fail, to check that
// an operation that runs out of memory returns ENOMEM and leaves the map unchanged. Defined in this test binary,
// so the linker does not take libs/ktl/host/allocator_host.cpp from the kernite_ktl archive.
#pragma once

namespace kernite::vma::testing {

// Allocations fail after `successes` more succeed (negative: never fail); failed_allocations() counts the
// failures since.
void fail_allocations_after(int successes);
int failed_allocations();

// Restores normal allocation when it leaves scope.
struct AllocationFailureScope {
    explicit AllocationFailureScope(int successes) { fail_allocations_after(successes); }
    ~AllocationFailureScope() { fail_allocations_after(-1); }
};

} // namespace kernite::vma::testing
