// A program that executes a privileged instruction, as libc's deliberate crashes do: musl's a_crash() (reached
// here through musl's __stack_chk_fail) and glibc's abort() fallback are `hlt`. On Linux (ring 3) that is a #GP:
// SIGSEGV, exit status 139. Under Kernite it must die the same way in both isolation modes; in `none` the
// program runs in ring 0, where `hlt` really halts, and the kernel has to notice (docs/security-model.md).
//
//   privileged hlt       executes `hlt`
//   privileged a_crash   calls __stack_chk_fail() (musl: a_crash(), i.e. `hlt`; glibc: abort(), SIGABRT, 134)
//   privileged f4-loop   the opposite: no privileged instruction, but for 2 seconds a loop whose head follows an
//                        instruction ending in the byte 0xF4 (`test $0xf4,%al`), where interrupts return (on
//                        QEMU TCG always: it delivers them between translation blocks); it must not be taken for
//                        a `hlt`. Exits 0.
//
// It prints "crashtest: NAME armed" right before the attack (the runner requires that line) and exits 1 if it is
// still running afterwards.
#include <stdio.h>
#include <string.h>
#include <time.h>

void __stack_chk_fail(void);

static double seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static int f4_loop(void)
{
    double start = seconds();
    unsigned long rounds = 0;
    while (seconds() - start < 2.0) {
        unsigned count = 1000000;
        // a8 f4: test $0xf4,%al, then the loop head (the back edge's target) right after its 0xF4 byte.
        __asm__ volatile("   .byte 0xa8, 0xf4\n"
                         "1: decl %0\n"
                         "   jnz 1b\n"
                         : "+r"(count)::"cc");
        ++rounds;
    }
    printf("privileged: f4-loop ran %s\n", rounds > 0 ? "to its end" : "not at all");
    return 0;
}

int main(int argc, char** argv)
{
    char const* what = argc > 1 ? argv[1] : "hlt";
    if (strcmp(what, "f4-loop") == 0)
        return f4_loop();
    printf("crashtest: %s armed\n", what);
    fflush(stdout);
    if (strcmp(what, "hlt") == 0)
        __asm__ volatile("hlt" ::: "memory");
    else if (strcmp(what, "a_crash") == 0)
        __stack_chk_fail();
    else
        printf("privileged: unknown attack '%s'\n", what);
    printf("privileged: still running after %s\n", what);
    return 1;
}
