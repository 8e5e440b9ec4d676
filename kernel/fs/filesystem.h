// The program's files (issue 3 item 5): a writable in-memory root filesystem loaded from the "rootfs" boot
// module (cpio newc), the device files and /proc entries a Linux program expects, open file descriptions,
// pipes and the fd table. Writes stay in the VM. Limits (docs/architecture.md "Files"): memory-backed, one
// program running as root (mode bits are kept and reported, not enforced beyond X_OK), no mmap of shared
// writable files, no file locks beyond success answers.
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::fs {

// Builds the tree from the rootfs archive (may be null: an empty root), adds /dev, /proc/self, /tmp and the
// /etc files a minimal Linux has (unless the archive brings its own), and opens fds 0, 1 and 2.
ErrorOr<void> initialize(u8 const* rootfs, usize rootfs_size, char const* program_path, u8 const* program,
    usize program_size);

// For mmap of files: EBADF / EACCES (not a readable regular file) / ENODEV.
ErrorOr<void> check_mappable(int fd);
// Reads from an open file at an offset, without moving its position (pread on a kernel buffer).
ErrorOr<usize> read_at(int fd, void* buffer, usize length, u64 offset);

} // namespace kernite::fs
