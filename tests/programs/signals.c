// Signals as far as one program needs them (issue 3 item 3): synchronous faults (#PF, #GP, #DE, #UD) delivered
// to handlers with Linux's siginfo (si_signo, si_code, si_addr), left with siglongjmp; a handler on an alternate
// stack; raise() and kill() to self with handlers, SIG_IGN, blocking with sigprocmask and sigpending; finally
// abort(), which must end the program by SIGABRT (exit status 134 through a shell, and from `kernite run`).
#define _GNU_SOURCE
#include "check.h"

#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

// The faulting instructions live in assembly so that the test knows their exact addresses: Linux reports the
// instruction's address as si_addr for SIGFPE and SIGILL, and the data address for SIGSEGV.
__asm__(".text\n"
        ".globl divide_fault, divide_instruction, undefined_fault\n"
        ".hidden divide_fault, divide_instruction, undefined_fault\n"
        "divide_fault:\n" // int divide_fault(int dividend, int divisor)
        "    movl %edi, %eax\n"
        "    cltd\n"
        "divide_instruction:\n"
        "    idivl %esi\n"
        "    ret\n"
        "undefined_fault:\n" // void undefined_fault(void): ud2 is #UD by definition (Intel SDM Vol. 2B UD)
        "    ud2\n"
        "    ret\n");
int divide_fault(int dividend, int divisor);
extern char divide_instruction[];
void undefined_fault(void);

static sigjmp_buf fault_return;
static int volatile caught_signal;
static int volatile caught_code;
static void* volatile caught_address;
static int volatile caught_on_alternate_stack;
static char* alternate_stack;
static size_t const alternate_stack_size = 64 * 1024;

static void on_fault(int signal, siginfo_t* info, void* context)
{
    (void)context;
    char local;
    caught_signal = info->si_signo == signal ? signal : -1;
    caught_code = info->si_code;
    caught_address = info->si_addr;
    caught_on_alternate_stack
        = alternate_stack && &local >= alternate_stack && &local < alternate_stack + alternate_stack_size;
    siglongjmp(fault_return, 1);
}

static char const* signal_name(int signal)
{
    switch (signal) {
    case 0: return "no signal";
    case SIGSEGV: return "SIGSEGV";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGBUS: return "SIGBUS";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    case -1: return "si_signo differs from the signal number";
    default: return "another signal";
    }
}

static char const* code_name(int signal, int code)
{
    if (code == SI_USER)
        return "SI_USER";
    if (code == SI_TKILL)
        return "SI_TKILL";
    if (code == SI_KERNEL)
        return "SI_KERNEL";
    if (signal == SIGSEGV && code == SEGV_MAPERR)
        return "SEGV_MAPERR";
    if (signal == SIGSEGV && code == SEGV_ACCERR)
        return "SEGV_ACCERR";
    if (signal == SIGFPE && code == FPE_INTDIV)
        return "FPE_INTDIV";
    if (signal == SIGILL && code == ILL_ILLOPN)
        return "ILL_ILLOPN";
    return "unexpected code";
}

// Prints what the handler saw and checks it against what Linux reports.
static void report(char const* what, int expected_signal, int expected_code, void* expected_address)
{
    CHECK(caught_signal == expected_signal && caught_code == expected_code && caught_address == expected_address,
        "%s: expected %s %s", what, signal_name(expected_signal), code_name(expected_signal, expected_code));
    printf("%s: %s %s, si_addr %s%s\n", what, signal_name(caught_signal), code_name(caught_signal, caught_code),
        caught_address == expected_address ? "as expected" : "WRONG",
        caught_on_alternate_stack ? ", on the alternate stack" : "");
}

static void reset(void)
{
    caught_signal = 0;
    caught_code = 0;
    caught_address = (void*)-1;
    caught_on_alternate_stack = 0;
}

static void install(int signal, int extra_flags)
{
    struct sigaction action = { 0 };
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO | extra_flags;
    sigemptyset(&action.sa_mask);
    CHECK(sigaction(signal, &action, NULL) == 0, "sigaction %d", signal);
}

static int const read_only_value = 1;

static void test_faults(void)
{
    install(SIGSEGV, 0);
    install(SIGFPE, 0);
    install(SIGILL, 0);

    // A read through a pointer into the unmapped first page: #PF, SEGV_MAPERR, si_addr the data address.
    reset();
    int volatile* bad = (int volatile*)(uintptr_t)0x10;
    if (sigsetjmp(fault_return, 1) == 0)
        (void)*bad;
    report("read of address 0x10", SIGSEGV, SEGV_MAPERR, (void*)bad);

    // A write to read-only data of the program itself: #PF on a present page, SEGV_ACCERR.
    reset();
    if (sigsetjmp(fault_return, 1) == 0)
        *(int volatile*)&read_only_value = 2;
    report("write to .rodata", SIGSEGV, SEGV_ACCERR, (void*)&read_only_value);

    // A non-canonical address is #GP, not #PF: Linux reports SIGSEGV with SI_KERNEL and si_addr 0.
    reset();
    int volatile* non_canonical = (int volatile*)(uintptr_t)0x8000000000000000ull;
    if (sigsetjmp(fault_return, 1) == 0)
        (void)*non_canonical;
    report("read of a non-canonical address", SIGSEGV, SI_KERNEL, NULL);

    // Integer division by zero: #DE, SIGFPE with FPE_INTDIV at the idiv instruction.
    reset();
    int volatile divisor = 0;
    if (sigsetjmp(fault_return, 1) == 0)
        printf("divide returned %d\n", divide_fault(7, divisor));
    report("integer divide by zero", SIGFPE, FPE_INTDIV, divide_instruction);

    // INT_MIN / -1 overflows: also #DE, also FPE_INTDIV on Linux.
    reset();
    divisor = -1;
    if (sigsetjmp(fault_return, 1) == 0)
        printf("divide returned %d\n", divide_fault(-2147483647 - 1, divisor));
    report("INT_MIN / -1", SIGFPE, FPE_INTDIV, divide_instruction);

    // ud2: #UD, SIGILL with ILL_ILLOPN at the instruction.
    reset();
    if (sigsetjmp(fault_return, 1) == 0)
        undefined_fault();
    report("ud2", SIGILL, ILL_ILLOPN, (void*)undefined_fault);

    // The same fault again: the handler is still installed and the signal was unblocked by siglongjmp.
    reset();
    if (sigsetjmp(fault_return, 1) == 0)
        undefined_fault();
    report("ud2 again", SIGILL, ILL_ILLOPN, (void*)undefined_fault);

    // With an alternate stack and SA_ONSTACK the handler runs there.
    alternate_stack = mmap(NULL, alternate_stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(alternate_stack != MAP_FAILED, "mmap alternate stack");
    stack_t stack = { .ss_sp = alternate_stack, .ss_size = alternate_stack_size, .ss_flags = 0 };
    CHECK(sigaltstack(&stack, NULL) == 0, "sigaltstack");
    install(SIGSEGV, SA_ONSTACK);
    reset();
    if (sigsetjmp(fault_return, 1) == 0)
        (void)*bad;
    report("read of address 0x10 with SA_ONSTACK", SIGSEGV, SEGV_MAPERR, (void*)bad);
    CHECK(caught_on_alternate_stack, "the handler ran on the alternate stack");
    stack_t current;
    CHECK(sigaltstack(NULL, &current) == 0 && current.ss_sp == alternate_stack && !(current.ss_flags & SS_ONSTACK),
        "alternate stack still registered and no longer in use");
}

static int volatile usr1_count;
static int volatile usr1_code;
static int volatile usr2_count;
static pid_t volatile usr2_sender;

static void on_usr1(int signal, siginfo_t* info, void* context)
{
    (void)context;
    if (signal == SIGUSR1 && info->si_signo == SIGUSR1)
        ++usr1_count;
    usr1_code = info->si_code;
}

static void on_usr2(int signal, siginfo_t* info, void* context)
{
    (void)context;
    if (signal == SIGUSR2)
        ++usr2_count;
    usr2_sender = info->si_pid;
}

static void test_asynchronous(void)
{
    struct sigaction action = { 0 };
    action.sa_sigaction = on_usr1;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    CHECK(sigaction(SIGUSR1, &action, NULL) == 0, "sigaction SIGUSR1");
    action.sa_sigaction = on_usr2;
    CHECK(sigaction(SIGUSR2, &action, NULL) == 0, "sigaction SIGUSR2");

    // raise() is tgkill to the calling thread (glibc) or tkill (musl): delivered before it returns.
    CHECK(raise(SIGUSR1) == 0, "raise");
    CHECK(usr1_count == 1 && usr1_code == SI_TKILL, "raise: one SI_TKILL delivery");
    printf("raise(SIGUSR1): handler ran %d time(s), si_code %s\n", usr1_count, code_name(SIGUSR1, usr1_code));

    // kill() to our own pid: SI_USER with our pid as the sender.
    CHECK(kill(getpid(), SIGUSR2) == 0, "kill self");
    CHECK(usr2_count == 1 && usr2_sender == getpid(), "kill: one delivery from this process");
    printf("kill(getpid(), SIGUSR2): handler ran %d time(s), sender %s\n", usr2_count,
        usr2_sender == getpid() ? "is this process" : "WRONG");

    // Blocked: the signal waits in sigpending until unblocked, then is delivered once.
    sigset_t block, previous, pending;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    CHECK(sigprocmask(SIG_BLOCK, &block, &previous) == 0, "sigprocmask block");
    CHECK(!sigismember(&previous, SIGUSR1), "SIGUSR1 was not blocked before");
    raise(SIGUSR1);
    raise(SIGUSR1); // a second standard signal while one is pending merges with it
    int const while_blocked = usr1_count;
    sigemptyset(&pending);
    CHECK(sigpending(&pending) == 0, "sigpending");
    int const was_pending = sigismember(&pending, SIGUSR1);
    CHECK(sigprocmask(SIG_SETMASK, &previous, NULL) == 0, "sigprocmask unblock");
    CHECK(was_pending && while_blocked == 1 && usr1_count == 2, "blocked signal pending, then delivered once");
    printf("blocked SIGUSR1 raised twice: pending %s, handler ran %d more time(s) while blocked, %d after unblocking\n",
        was_pending ? "yes" : "no", while_blocked - 1, usr1_count - while_blocked);

    // SIG_IGN: raising an ignored signal does nothing.
    signal(SIGUSR2, SIG_IGN);
    raise(SIGUSR2);
    CHECK(usr2_count == 1, "an ignored signal runs no handler");
    printf("ignored SIGUSR2: handler ran %d time(s) in all\n", usr2_count);

    // The old action comes back from sigaction.
    struct sigaction old;
    CHECK(sigaction(SIGUSR2, NULL, &old) == 0 && old.sa_handler == SIG_IGN, "sigaction reports SIG_IGN");
}

int main(void)
{
    test_faults();
    test_asynchronous();
    int const status = check_summary("signals");
    if (status != 0)
        return status;
    // The last act: abort() raises SIGABRT with the default action, which ends the process (status 134).
    printf("calling abort()\n");
    fflush(stdout);
    abort();
}
