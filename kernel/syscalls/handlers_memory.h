// The memory family (kernel/syscalls/memory.cpp); included by handlers.h.
#pragma once

#define KERNITE_SYSCALLS_MEMORY(X)                                                                           \
    X(mmap, "pxxxfx") X(munmap, "pu") X(mprotect, "pux") X(mremap, "puuxp") X(brk, "p") X(madvise, "pud")    \
    X(msync, "pux") X(mlock, "pu") X(munlock, "pu") X(mlockall, "x") X(munlockall, "") X(mincore, "pup")
