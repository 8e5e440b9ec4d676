#include "failing_allocator.h"

#include <ktl/allocator.h>

#include <cstdlib>

namespace {
int remaining_successes = -1;
int failures = 0;
} // namespace

namespace kernite::vma::testing {

void fail_allocations_after(int successes)
{
    remaining_successes = successes;
    failures = 0;
}

int failed_allocations() { return failures; }

} // namespace kernite::vma::testing

namespace ktl {

void* allocate(usize size)
{
    if (remaining_successes == 0) {
        ++failures;
        return nullptr;
    }
    if (remaining_successes > 0)
        --remaining_successes;
    return std::malloc(size == 0 ? 1 : size);
}

void deallocate(void* pointer) { std::free(pointer); }

} // namespace ktl
