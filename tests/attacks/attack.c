// Attack tests for programs (issue 4 item 6): one attack per run, named by argv[1]. Each attack prints
// "attack: NAME armed" on stdout (flushed) right before the bad act, so that the host can tell a protection
// that fired from an unrelated early crash (tests/attacks/CMakeLists.txt registers and judges them through
// tests/guest/expect-run.sh). There is no fork: one attack per boot.
//
// Two kinds:
//   - must-crash attacks: the program is killed (128 + signal) and the kernel reports which protection fired;
//     reaching the line after the attack prints "attack: NAME NOT STOPPED" and exits 1.
//   - refusals (mmap RWX, mprotect RW->RX, mmap at 0x1000): the call must fail with the expected errno; the
//     program prints "attack: NAME refused: ERRNO" and exits 0; anything else prints NOT STOPPED and exits 1.
//
// The injected "code" is a single `ret` (0xc3): were it executed, the attack would return and report NOT STOPPED.
// Pointers go through launder() so that the compiler can neither prove the attack undefined (and replace it
// with a trap of its own, which would pass for the protection) nor optimise it away.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef void (*Code)(void);

static void* launder(void* pointer)
{
    __asm__ volatile("" : "+r"(pointer));
    return pointer;
}

static void armed(char const* name)
{
    printf("attack: %s armed\n", name);
    fflush(stdout);
}

static int not_stopped(char const* name)
{
    printf("attack: %s NOT STOPPED\n", name);
    fflush(stdout);
    return 1;
}

static char const* errno_name(int error)
{
    switch (error) {
    case 0: return "no error";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    default: return "another errno";
    }
}

// --- Executing injected code. The symbol names below are what the fault event must name (the program's
// symbol table is searched for the faulting rip): data_code, bss_code.
static unsigned char data_code[64] = { 0xc3 };
static unsigned char bss_code[64];

static void run_code(char const* name, unsigned char* code)
{
    code[0] = 0xc3;
    Code function = (Code)launder(code);
    armed(name);
    function();
}

static int attack_exec_stack(void)
{
    unsigned char code[64];
    memset(code, 0xc3, sizeof(code));
    run_code("exec-stack", code);
    return not_stopped("exec-stack");
}

static int attack_exec_heap(void)
{
    unsigned char* code = malloc(64);
    if (!code)
        return not_stopped("exec-heap (malloc failed)");
    run_code("exec-heap", code);
    return not_stopped("exec-heap");
}

static int attack_exec_data(void)
{
    run_code("exec-data", data_code);
    return not_stopped("exec-data");
}

static int attack_exec_bss(void)
{
    run_code("exec-bss", bss_code);
    return not_stopped("exec-bss");
}

static int attack_exec_mmap(void)
{
    void* page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        return not_stopped("exec-mmap (mmap failed)");
    run_code("exec-mmap", page);
    return not_stopped("exec-mmap");
}

// --- Writing to read-only memory: the program's own text and rodata.
__attribute__((noinline)) void text_target(void) { __asm__ volatile(""); }
static char const rodata_target[64] = "read-only data of the attack program";

__attribute__((noinline)) void write_byte(unsigned char* where, unsigned char value)
{
    *(unsigned char volatile*)where = value;
}

static int attack_write_text(void)
{
    armed("write-text");
    write_byte(launder((void*)text_target), 0xcc);
    return not_stopped("write-text");
}

static int attack_write_rodata(void)
{
    armed("write-rodata");
    write_byte(launder((void*)rodata_target), 'X');
    return not_stopped("write-rodata");
}

// --- Page 0.
__attribute__((noinline)) int read_null(int const* pointer) { return *(int const volatile*)pointer; }

static int attack_read_null(void)
{
    armed("read-null");
    int value = read_null(launder(NULL));
    printf("read %d from page 0\n", value);
    return not_stopped("read-null");
}

static int attack_exec_null(void)
{
    Code function = (Code)launder(NULL);
    armed("exec-null");
    function();
    return not_stopped("exec-null");
}

// --- Unbounded recursion: the main stack's guard gap, and a thread stack's guard page.
// Never reached (no stack is that deep); volatile, so that the compiler must keep recursing.
static unsigned long volatile recursion_limit = ~0ul;

__attribute__((noinline)) unsigned long recurse(unsigned long depth)
{
    if (depth == recursion_limit)
        return 0;
    unsigned char volatile frame[1024];
    frame[0] = (unsigned char)depth;
    frame[sizeof(frame) - 1] = (unsigned char)depth;
    return recurse(depth + 1) + frame[0] + frame[sizeof(frame) - 1];
}

static int attack_recursion(void)
{
    armed("recursion");
    unsigned long total = recurse(0);
    printf("recursion returned %lu\n", total);
    return not_stopped("recursion");
}

static void* thread_recursion(void* argument)
{
    (void)argument;
    armed("thread-recursion");
    return (void*)recurse(0);
}

static int attack_thread_recursion(void)
{
    pthread_t thread;
    int error = pthread_create(&thread, NULL, thread_recursion, NULL);
    if (error != 0) {
        printf("pthread_create failed: %s\n", errno_name(error));
        return not_stopped("thread-recursion (no thread)");
    }
    pthread_join(thread, NULL);
    return not_stopped("thread-recursion");
}

// --- A stack buffer overflow that only libc's canary (from AT_RANDOM) can catch: a byte loop, so that neither
// FORTIFY nor the compiler sees it. The canary is checked when smash() returns.
__attribute__((noinline)) void smash(size_t length)
{
    char buffer[16];
    char* volatile target = buffer;
    for (size_t i = 0; i < length; ++i)
        target[i] = 'A';
    __asm__ volatile("" : : "r"(buffer) : "memory");
}

static int attack_stack_smash(void)
{
    armed("stack-smash");
    smash((size_t)launder((void*)64));
    return not_stopped("stack-smash");
}

// --- Refusals: the program goes on and says what it got.
static int refused(char const* name, int failed, int expected_errno)
{
    int error = errno;
    if (failed && error == expected_errno) {
        printf("attack: %s refused: %s\n", name, errno_name(error));
        return 0;
    }
    printf("attack: %s %s (%s)\n", name, failed ? "failed with the wrong errno" : "NOT STOPPED", errno_name(failed ? error : 0));
    return 1;
}

static int attack_mmap_rwx(void)
{
    armed("mmap-rwx");
    void* page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return refused("mmap-rwx", page == MAP_FAILED, EACCES);
}

static int attack_mprotect_rx(void)
{
    void* page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        return not_stopped("mprotect-rx (mmap failed)");
    memset(page, 0xc3, 4096);
    armed("mprotect-rx");
    int result = mprotect(page, 4096, PROT_READ | PROT_EXEC);
    return refused("mprotect-rx", result != 0, EACCES);
}

static int attack_mmap_low(void)
{
    armed("mmap-low");
    void* page = mmap((void*)0x1000, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    return refused("mmap-low", page == MAP_FAILED, EPERM);
}

static struct {
    char const* name;
    int (*attack)(void);
} const attacks[] = {
    { "exec-stack", attack_exec_stack },
    { "exec-heap", attack_exec_heap },
    { "exec-data", attack_exec_data },
    { "exec-bss", attack_exec_bss },
    { "exec-mmap", attack_exec_mmap },
    { "write-text", attack_write_text },
    { "write-rodata", attack_write_rodata },
    { "read-null", attack_read_null },
    { "exec-null", attack_exec_null },
    { "recursion", attack_recursion },
    { "thread-recursion", attack_thread_recursion },
    { "stack-smash", attack_stack_smash },
    { "mmap-rwx", attack_mmap_rwx },
    { "mprotect-rx", attack_mprotect_rx },
    { "mmap-low", attack_mmap_low },
};

int main(int argc, char** argv)
{
    size_t count = sizeof(attacks) / sizeof(attacks[0]);
    if (argc == 2 && strcmp(argv[1], "list") == 0) {
        for (size_t i = 0; i < count; ++i)
            printf("%s\n", attacks[i].name);
        return 0;
    }
    for (size_t i = 0; argc == 2 && i < count; ++i) {
        if (strcmp(argv[1], attacks[i].name) == 0)
            return attacks[i].attack();
    }
    fprintf(stderr, "usage: %s list|ATTACK\n", argv[0]);
    return 2;
}
