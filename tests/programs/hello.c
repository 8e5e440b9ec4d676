// The smallest differential test: arguments, environment and the auxiliary vector reach the program as Linux
// passes them (issue 3 item 1), and the exit status comes back.
//
//   hello [ARGS...]   prints a greeting, each argument, the environment sorted by name and what it found in the
//                     auxiliary vector; exits with 40 + the number of arguments, a status no crash produces.
#include "check.h"

#include <stdint.h>
#include <sys/auxv.h>
#include <unistd.h>

extern char** environ;

static int compare_strings(void const* left, void const* right)
{
    return strcmp(*(char* const*)left, *(char* const*)right);
}

int main(int argc, char** argv)
{
    printf("hello, world\n");

    // argv[0] is the program's path as the caller typed it; the runner passes the same on both sides, but the
    // test is about the arguments.
    printf("argc %d\n", argc);
    for (int i = 1; i < argc; ++i)
        printf("argv[%d] \"%s\"\n", i, argv[i]);
    CHECK(argv[argc] == NULL, "argv is NULL-terminated");

    size_t count = 0;
    while (environ[count])
        ++count;
    char** sorted = malloc((count + 1) * sizeof(char*));
    CHECK(sorted != NULL, "malloc");
    if (sorted) {
        memcpy(sorted, environ, count * sizeof(char*));
        qsort(sorted, count, sizeof(char*), compare_strings);
        for (size_t i = 0; i < count; ++i)
            printf("env %s\n", sorted[i]);
        free(sorted);
    }

    // The auxiliary vector: values that are the same on every x86-64 Linux, and presence for the rest.
    printf("AT_PAGESZ %lu\n", getauxval(AT_PAGESZ));
    CHECK(getauxval(AT_PHDR) != 0, "AT_PHDR present");
    CHECK(getauxval(AT_PHENT) == 56, "AT_PHENT is sizeof(Elf64_Phdr)");
    CHECK(getauxval(AT_PHNUM) > 0, "AT_PHNUM present");
    CHECK(getauxval(AT_ENTRY) != 0, "AT_ENTRY present");
    CHECK(getauxval(AT_RANDOM) != 0, "AT_RANDOM present");
    if (getauxval(AT_RANDOM)) {
        // 16 random bytes: all zero would be a constant, not entropy.
        unsigned char const* random = (unsigned char const*)getauxval(AT_RANDOM);
        int nonzero = 0;
        for (int i = 0; i < 16; ++i)
            nonzero |= random[i];
        CHECK(nonzero != 0, "AT_RANDOM bytes are not all zero");
    }
    CHECK(getauxval(AT_EXECFN) != 0, "AT_EXECFN present");
    CHECK(getauxval(AT_CLKTCK) == 100, "AT_CLKTCK is 100");
    char const* platform = (char const*)getauxval(AT_PLATFORM);
    printf("AT_PLATFORM %s\n", platform ? platform : "(none)");
    printf("AT_SECURE %lu\n", getauxval(AT_SECURE));

    // The stack pointer the program started with is 16-byte aligned (psABI 3.4.1), so a local with 16-byte
    // alignment sits where the compiler expects it.
    _Alignas(16) char aligned[16];
    CHECK(((uintptr_t)aligned & 15) == 0, "16-byte aligned local");

    if (check_summary("hello") != 0)
        return 1;
    return 40 + argc - 1;
}
