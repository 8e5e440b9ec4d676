// A program that executes a privileged instruction, as libc's deliberate crashes do: musl's a_crash() (reached
// here through musl's __stack_chk_fail) and glibc's abort() fallback are `hlt`. On Linux (ring 3) that is a #GP:
// SIGSEGV, exit status 139. Under Kernite it must die the same way in both isolation modes; in `none` the
// program runs in ring 0, where `hlt` really halts, and the kernel has to notice (docs/security-model.md).
//
//   privileged hlt       executes `hlt`
//   privileged a_crash   calls __stack_chk_fail() (musl: a_crash(), i.e. `hlt`; glibc: abort(), SIGABRT, 134)
//
// It prints "crashtest: NAME armed" right before the attack (the runner requires that line) and exits 1 if it is
// still running afterwards.
#include <stdio.h>
#include <string.h>

void __stack_chk_fail(void);

int main(int argc, char** argv)
{
    char const* what = argc > 1 ? argv[1] : "hlt";
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
