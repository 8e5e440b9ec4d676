// The PVH boot ABI as QEMU implements it (Xen: xen/include/public/arch-x86/hvm/start_info.h).
#pragma once

#include <ktl/types.h>

namespace kernite::pvh {

inline constexpr u32 start_info_magic = 0x336ec578;

struct StartInfo {
    u32 magic;
    u32 version;
    u32 flags;
    u32 nr_modules;
    u64 modlist_paddr;
    u64 cmdline_paddr;
    u64 rsdp_paddr;
    // version >= 1
    u64 memmap_paddr;
    u32 memmap_entries;
    u32 reserved;
};
static_assert(sizeof(StartInfo) == 56);

struct MemmapEntry {
    u64 addr;
    u64 size;
    u32 type; // E820 type: 1 = RAM
    u32 reserved;
};
static_assert(sizeof(MemmapEntry) == 24);

inline constexpr u32 e820_ram = 1;

// start_info.modlist_paddr points at nr_modules of these (QEMU lists its -initrd file as the one module).
struct ModlistEntry {
    u64 paddr;
    u64 size;
    u64 cmdline_paddr;
    u64 reserved;
};
static_assert(sizeof(ModlistEntry) == 32);

// Kernite's seed module (abi.h has no say in PVH: this is between the QEMU backend and early boot): the QEMU
// backend passes `-initrd` of exactly seed_module_size bytes, the magic then 32 bytes of host getrandom().
inline constexpr char seed_module_magic[8] = { 'K', 'S', 'E', 'E', 'D', '0', '0', '1' };
inline constexpr u64 seed_module_size = 40;

} // namespace kernite::pvh
