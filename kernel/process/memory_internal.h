// Between kernel/process/memory.cpp and the memory system calls (kernel/syscalls/memory.cpp, /proc/self/maps):
// the region map and the page operations that follow its decisions.
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>
#include <vma/region_map.h>

namespace kernite::process::memory {

vma::RegionMap& region_map();
vma::WxMode wx_mode(bool relaxed);
// Maps zeroed frames for the not-yet-present pages of [start, end) with `prot`.
ErrorOr<void> populate(u64 start, u64 end, u32 prot);
// Frees the frames of [start, end) and unmaps them.
void release_pages(u64 start, u64 end);
// Rewrites the present pages of [start, end) for `prot`.
void change_pages(u64 start, u64 end, u32 prot);
// Moves the present pages of [old_start, old_start + length) to new_start (mremap).
void move_pages(u64 old_start, u64 new_start, u64 length, u32 prot);

} // namespace kernite::process::memory
