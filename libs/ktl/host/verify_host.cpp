// Host implementation of VERIFY failure: print the location and abort (unit tests catch it as a death).
#include <ktl/verify.h>

#include <cstdio>
#include <cstdlib>

namespace ktl {

void verify_failed(char const* expression, char const* file, int line, char const* function)
{
    std::fprintf(stderr, "VERIFY(%s) failed at %s:%d in %s\n", expression, file, line, function);
    std::abort();
}

} // namespace ktl
