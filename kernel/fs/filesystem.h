// The program's files (issue 3 item 5): the kernel's use of libs/vfs, the host-tested in-memory filesystem. A
// writable tree loaded from the "rootfs" boot module (cpio newc), the device files and /proc entries a Linux
// program expects, the fd table and the working directory. Writes stay in the VM. Limits: libs/vfs's
// (include/vfs/filesystem.h); fd 0 reads the host's stdin (kernel/process/input.h).
#pragma once

#include <arch/x86_64/interrupts_disabled.h>
#include <kernel/sched/wait_queue.h>
#include <ktl/error.h>
#include <ktl/types.h>
#include <vfs/fd_table.h>
#include <vfs/filesystem.h>

namespace kernite::fs {

// Builds the tree from the rootfs archive (may be null: an empty root), adds /dev, /proc/self, /tmp and the
// /etc files a minimal Linux has (unless the archive brings its own), and opens fds 0, 1 and 2.
ErrorOr<void> initialize(u8 const* rootfs, usize rootfs_size, char const* program_path);

// One lock for the whole filesystem: interrupts off on this single CPU (libs/vfs is not thread-safe). Held by
// every system call across its vfs calls; waits (pipes, stdin, poll) release it while asleep.
using FsLock = arch::InterruptsDisabled;

vfs::FileSystem& tree();
vfs::FdTable& fds();
vfs::Inode& cwd();
void set_cwd(vfs::Inode&);
// Woken on every pipe change (data, an end closed): blocked readers, writers and poll/select sleep here.
sched::WaitQueue& waiters();
// For vfs::FileSystem::create_pipe: wakes waiters().
vfs::WakeHook pipe_wake_hook();

// read(2)/write(2) on a kernel buffer with blocking semantics: a blocking fd waits while a pipe is empty (full)
// or stdin has nothing yet; O_NONBLOCK gets EAGAIN. A blocking pipe write writes everything (or up to EPIPE).
ErrorOr<usize> read(vfs::OpenFile&, u8* buffer, usize length);
ErrorOr<usize> write(vfs::OpenFile&, u8 const* buffer, usize length);
// poll(2) readiness, stdin included (bytes from the host or end of file; asks the host without waiting).
bool readable(vfs::OpenFile&);
// The stdin device (fd 0, /dev/stdin): no interrupt announces its bytes, so its waits are timed (blocking.cpp).
bool is_stdin(vfs::OpenFile const&);
// How a wait for stdin is paced: the host waits this long for bytes in one hypercall, then other threads run.
inline constexpr u64 stdin_host_wait_ns = 10'000'000;

// For mmap of files: EBADF / EACCES (not a readable regular file) / ENODEV.
ErrorOr<void> check_mappable(int fd);
// Reads from an open file at an offset, without moving its position (pread on a kernel buffer).
ErrorOr<usize> read_at(int fd, void* buffer, usize length, u64 offset);

} // namespace kernite::fs
