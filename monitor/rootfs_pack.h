// `--rootfs DIR`: a host directory packed as the "rootfs" boot module, a cpio archive in the "newc" format
// (cpio(5), "New ASCII Format": magic "070701", thirteen 8-digit hex fields, the NUL-terminated name and the data
// each padded to 4 bytes, closed by an entry named "TRAILER!!!"), which the kernel serves as its writable root.
//
// What goes in: regular files, directories and symlinks (not followed), with their permission bits (including
// setuid/setgid/sticky) and mtimes (seconds, clamped to newc's unsigned 32 bits); uid and gid are 0 (the program
// runs as root in its VM); each entry gets its own inode number and nlink 1 (2 for directories), so hard links
// become copies. Names are relative to DIR without a "./" prefix ("bin", "bin/sh"); DIR itself has no entry.
// The order is deterministic: depth first, each directory before its contents, names sorted bytewise, so the
// same tree always gives the same archive.
//
// Refused, with a message naming the path: a device, fifo or socket inside DIR; anything we cannot read; a file
// that changes type or size while it is packed; a file over 4 GiB (newc's size field); a path of 4096 bytes or
// more; an entry at the top named "TRAILER!!!" (it would end the archive early); an archive larger than
// `max_size`. Hex digits are lowercase, as GNU cpio writes them. Nothing is followed out of DIR (O_NOFOLLOW,
// *at() calls on directory descriptors), and fifos are never opened, so packing cannot block.
#pragma once

#include "result.h"

#include <ktl/types.h>

#include <string>
#include <vector>

namespace kernite::monitor {

inline constexpr u64 max_rootfs_archive_size = 1ull << 30;
inline constexpr usize cpio_newc_header_size = 110;

// Packs `directory`; the failure message names the offending path.
Result<std::vector<u8>> pack_rootfs(std::string const& directory, u64 max_size = max_rootfs_archive_size);

} // namespace kernite::monitor
