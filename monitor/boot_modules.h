// The files `kernite run APP` hands the kernel as boot modules (abi.h "BootModule"): the program ("program"),
// its argv and envp ("args"), and with --rootfs the packed root filesystem ("rootfs", rootfs_pack.h). They are
// built in host memory once, before any VM exists (every refusal is exit 127), then copied into the guest once:
// the KVM backend places them in guest RAM (boot_layout.h place_modules), the QEMU backend writes them into one
// module bundle file (abi.h "ModuleBundleHeader"), its one PVH module.
#pragma once

#include "result.h"

#include <kernite/abi.h>
#include <ktl/types.h>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kernite::monitor {

inline constexpr u64 max_program_size = 1ull << 30;
// Linux's limits for execve (fs/exec.c): one string at most MAX_ARG_STRLEN (32 pages), all of argv and envp at
// most a quarter of the default 8 MiB stack rlimit. A program cannot expect more anywhere.
inline constexpr u64 max_argument_length = 128 * 1024;
inline constexpr u64 max_arguments_size = 2ull << 20;

// A module's bytes in host memory; `name` is one of abi.h's module names (or "seed" in a QEMU bundle).
struct ModuleView {
    char const* name;
    u8 const* data;
    u64 size;
};

struct ProgramFile {
    std::unique_ptr<u8[]> bytes;
    u64 size { 0 };
};

// Reads APP whole. Refuses, with a message naming the path, a missing, unreadable, non-regular (a fifo is never
// waited on), empty, or larger than `max_size` file. The ELF is not looked at: the kernel validates it.
Result<ProgramFile> read_program_file(std::string const& path, u64 max_size = max_program_size);

// The "args" module: abi::ArgsModuleHeader, then argv's strings, then envp's, each NUL-terminated. Refuses a
// string longer than max_argument_length or more than max_arguments_size in all (Linux's E2BIG).
Result<std::vector<u8>> build_args_module(std::vector<std::string> const& argv, std::vector<std::string> const& envp);

// The module bundle (abi.h): ModuleBundleHeader, one ModuleBundleEntry per module, then the bodies in the same
// order, each at the next 8-byte-aligned offset (padding is zero). At most abi::max_boot_modules + 1 modules,
// names shorter than the entry's 48 bytes.
u64 module_bundle_size(std::span<ModuleView const>);
// Writes the bundle to `fd` from its current position, sequentially (no seeks: any file works). Returns an
// error message, or nothing on success.
std::optional<std::string> write_module_bundle(int fd, std::span<ModuleView const>);

// The QEMU boot seed, the "seed" bundle entry (kernel/boot/pvh.h): "KSEED001" then 32 bytes of getrandom().
inline constexpr char seed_module_magic[8] = { 'K', 'S', 'E', 'E', 'D', '0', '0', '1' };
inline constexpr usize seed_module_size = sizeof(seed_module_magic) + 32;

} // namespace kernite::monitor
