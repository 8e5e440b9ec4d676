// The system-call round trip benchmark (issue 3 item 7, bench/apps/run.sh): N getppid calls in a tight loop.
//
//   getppid-loop N   makes N getppid system calls and prints nothing; exits 0 (1 if a call failed).
//
// The call is the raw `syscall` instruction, not a libc wrapper, so both libcs measure the same thing: the
// entry into the kernel, the dispatch of the cheapest call there is, and the return. The benchmark runs N = 0
// and a large N and divides the difference by N, so start-up and exit cost cancel out.
#include <stdlib.h>
#include <sys/syscall.h>

static long raw_getppid(void)
{
    long result;
    __asm__ volatile("syscall" : "=a"(result) : "0"((long)SYS_getppid) : "rcx", "r11", "memory");
    return result;
}

int main(int argc, char** argv)
{
    long const count = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    long failures = 0;
    for (long i = 0; i < count; ++i)
        failures += raw_getppid() < 0;
    return failures == 0 ? 0 : 1;
}
