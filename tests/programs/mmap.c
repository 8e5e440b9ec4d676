// Anonymous memory as Linux manages it (issue 3 item 2): mmap, mprotect, mremap (growing, shrinking, moving),
// munmap, MAP_FIXED, madvise(MADV_DONTNEED), and the faults that protections produce, caught by a SIGSEGV
// handler that records si_code/si_addr and leaves with siglongjmp (issue 3 item 3).
#define _GNU_SOURCE
#include "check.h"

#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static sigjmp_buf fault_return;
static int volatile fault_signal;
static int volatile fault_code;
static void* volatile fault_address;

static void on_fault(int signal, siginfo_t* info, void* context)
{
    (void)context;
    fault_signal = signal;
    fault_code = info->si_code;
    fault_address = info->si_addr;
    siglongjmp(fault_return, 1);
}

static char const* fault_code_name(int code)
{
    switch (code) {
    case SEGV_MAPERR: return "SEGV_MAPERR";
    case SEGV_ACCERR: return "SEGV_ACCERR";
    default: return "other";
    }
}

// Touches *address (a read or a write) and reports how it went: "ok", or the signal, its code and whether
// si_addr is the address touched.
static void probe(char const* what, char volatile* address, int write)
{
    fault_signal = 0;
    if (sigsetjmp(fault_return, 1) == 0) {
        if (write)
            *address = 1;
        else
            (void)*address;
        printf("%s: ok\n", what);
        return;
    }
    printf("%s: %s %s, si_addr %s\n", what, fault_signal == SIGSEGV ? "SIGSEGV" : "another signal",
        fault_code_name(fault_code), fault_address == (void*)address ? "exact" : "WRONG");
}

static int probe_faults(char volatile* address, int write)
{
    fault_signal = 0;
    if (sigsetjmp(fault_return, 1) == 0) {
        if (write)
            *address = 1;
        else
            (void)*address;
        return 0;
    }
    return fault_signal == SIGSEGV && fault_address == (void*)address;
}

static int all_equal(unsigned char const* bytes, size_t size, unsigned char value)
{
    for (size_t i = 0; i < size; ++i) {
        if (bytes[i] != value)
            return 0;
    }
    return 1;
}

// A pattern that depends on the offset from the start of the first mapping, so moved or partly replaced memory
// can be checked wherever it now lives.
static unsigned char pattern_byte(size_t offset) { return (unsigned char)((offset * 131 + 7) >> 3); }

static void fill_pattern(unsigned char* base, size_t begin, size_t end)
{
    for (size_t i = begin; i < end; ++i)
        base[i] = pattern_byte(i);
}

static int has_pattern(unsigned char const* base, size_t begin, size_t end)
{
    for (size_t i = begin; i < end; ++i) {
        if (base[i] != pattern_byte(i))
            return 0;
    }
    return 1;
}

int main(void)
{
    long const page = sysconf(_SC_PAGESIZE);
    printf("page size %ld\n", page);

    struct sigaction action = { 0 };
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    CHECK(sigaction(SIGSEGV, &action, NULL) == 0, "sigaction SIGSEGV");

    // A fresh anonymous mapping is zero-filled, readable and writable.
    size_t size = 1 << 20;
    unsigned char* region = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(region != MAP_FAILED, "mmap 1 MiB");
    if (region == MAP_FAILED)
        return check_summary("mmap");
    CHECK(((uintptr_t)region & (page - 1)) == 0, "page-aligned");
    CHECK(all_equal(region, size, 0), "zero-filled");
    fill_pattern(region, 0, size);
    CHECK(has_pattern(region, 0, size), "pattern written");
    printf("mmap: 1 MiB anonymous, zero-filled, written\n");

    // mprotect: read-only still reads, and a write faults with SEGV_ACCERR at the exact address.
    CHECK(mprotect(region, page * 2, PROT_READ) == 0, "mprotect PROT_READ");
    probe("read of a read-only page", (char volatile*)region + 100, 0);
    probe("write to a read-only page", (char volatile*)region + page + 5, 1);
    CHECK(has_pattern(region, 0, size), "contents survive the faulting write");
    CHECK(mprotect(region, page, PROT_NONE) == 0, "mprotect PROT_NONE");
    probe("read of a PROT_NONE page", (char volatile*)region + 17, 0);
    CHECK(mprotect(region, page * 2, PROT_READ | PROT_WRITE) == 0, "mprotect back to RW");
    probe("write after mprotect RW", (char volatile*)region + 100, 1);
    region[100] = pattern_byte(100);
    CHECK(has_pattern(region, 0, size), "contents after protection changes");

    // munmap of one page in the middle leaves a hole that faults with SEGV_MAPERR; its neighbours stay.
    CHECK(munmap(region + page * 4, page) == 0, "munmap one page");
    probe("read of an unmapped page", (char volatile*)region + page * 4 + 8, 0);
    CHECK(has_pattern(region, 0, page * 4) && has_pattern(region, page * 5, size), "neighbours of the hole intact");
    // Re-fill the hole with MAP_FIXED: a new, zeroed page at exactly that address.
    void* refill
        = mmap(region + page * 4, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(refill == region + page * 4, "MAP_FIXED into the hole");
    CHECK(all_equal(region + page * 4, page, 0), "MAP_FIXED page is zeroed");
    // MAP_FIXED over existing memory replaces it.
    void* replaced = mmap(region, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(replaced == region && all_equal(region, page, 0), "MAP_FIXED replaces a mapped page with zeros");
    fill_pattern(region, 0, size); // the whole region patterned again
    printf("munmap/MAP_FIXED: hole faults, refilled and replaced pages are zeroed\n");

    // mremap: grow (moving if needed); contents come along, the new tail is zeroed.
    size_t const grown_size = 4 << 20;
    unsigned char* grown = mremap(region, size, grown_size, MREMAP_MAYMOVE);
    CHECK(grown != MAP_FAILED, "mremap grow");
    if (grown == MAP_FAILED)
        return check_summary("mmap");
    CHECK(has_pattern(grown, 0, size), "contents after growing");
    CHECK(all_equal(grown + size, grown_size - size, 0), "grown tail zeroed");
    // Shrink in place: the same address, the cut-off tail faults.
    unsigned char* shrunk = mremap(grown, grown_size, size / 2, 0);
    CHECK(shrunk == grown, "mremap shrink stays in place");
    CHECK(has_pattern(shrunk, 0, size / 2), "contents after shrinking");
    CHECK(probe_faults((char volatile*)shrunk + size / 2 + 64, 0), "the cut-off tail faults");
    // Force a move with MREMAP_FIXED to a reserved place: contents move, the old place is gone.
    unsigned char* target = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(target != MAP_FAILED, "reserve a target");
    unsigned char* moved = mremap(shrunk, size / 2, size / 2, MREMAP_MAYMOVE | MREMAP_FIXED, target);
    CHECK(moved == target, "mremap MREMAP_FIXED moves to the target");
    if (moved == target) {
        CHECK(has_pattern(moved, 0, size / 2), "contents after the move");
        CHECK(probe_faults((char volatile*)shrunk + 64, 0), "the old address faults after the move");
        moved[0] = 42;
        CHECK(moved[0] == 42, "the moved mapping is writable");
        // The reservation's other half is still PROT_NONE.
        CHECK(probe_faults((char volatile*)target + size / 2 + 1, 0), "rest of the reservation is PROT_NONE");
        // Growing in place without MREMAP_MAYMOVE fails: the reservation's rest occupies the space.
        errno = 0;
        CHECK(mremap(moved, size / 2, size, 0) == MAP_FAILED && errno == ENOMEM, "grow into a neighbour is ENOMEM");
    }
    printf("mremap: grow, shrink and a forced move keep the contents\n");
    munmap(target, size);

    // madvise(MADV_DONTNEED) on private anonymous memory: the next read finds zeros (Linux semantics that
    // allocators rely on).
    unsigned char* advised = mmap(NULL, page * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(advised != MAP_FAILED, "mmap for madvise");
    memset(advised, 0x5a, page * 8);
    CHECK(madvise(advised + page * 2, page * 4, MADV_DONTNEED) == 0, "madvise DONTNEED");
    CHECK(all_equal(advised + page * 2, page * 4, 0), "DONTNEED pages read back as zeros");
    CHECK(all_equal(advised, page * 2, 0x5a) && all_equal(advised + page * 6, page * 2, 0x5a), "others untouched");
    munmap(advised, page * 8);
    printf("madvise: DONTNEED zeroes exactly the advised pages\n");

    // A large sparse mapping: reserving 256 MiB and touching a few pages must not need 256 MiB.
    size_t const sparse_size = 256u << 20;
    unsigned char* sparse
        = mmap(NULL, sparse_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(sparse != MAP_FAILED, "mmap 256 MiB sparse");
    if (sparse != MAP_FAILED) {
        for (size_t offset = 0; offset < sparse_size; offset += 16u << 20)
            sparse[offset] = (unsigned char)(offset >> 20);
        int good = 1;
        for (size_t offset = 0; offset < sparse_size; offset += 16u << 20)
            good = good && sparse[offset] == (unsigned char)(offset >> 20) && sparse[offset + 1] == 0;
        CHECK(good, "sparse pages hold their values");
        CHECK(munmap(sparse, sparse_size) == 0, "munmap sparse");
        printf("sparse: 256 MiB reserved, 16 pages touched\n");
    }

    // Errors as Linux reports them.
    errno = 0;
    CHECK(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL,
        "mmap of 0 bytes is EINVAL");
    errno = 0;
    CHECK(munmap((char*)region + 1, page) == -1 && errno == EINVAL, "munmap of an unaligned address is EINVAL");
    // The system call itself: musl's mprotect() wrapper rounds the address down to a page first.
    CHECK(syscall(SYS_mprotect, (char*)grown + 1, page, PROT_READ) == -1 && errno == EINVAL,
        "unaligned mprotect is EINVAL");
    printf("errors: EINVAL for a zero length and unaligned addresses\n");

    return check_summary("mmap");
}
