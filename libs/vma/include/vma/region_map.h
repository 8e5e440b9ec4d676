// The program's virtual address map: which lower-half ranges are mapped, with what protection and for what,
// as Linux's VMA list (mm/mmap.c, mm/mprotect.c, mm/mremap.c) keeps it. The kernel's mmap, munmap, mprotect,
// mremap and brk system calls decide here, then change the page tables as the callbacks report, and
// /proc/self/maps prints it (format_maps).
//
// Invariants: regions are page-aligned, sorted, disjoint, inside [minimum_user_address, user_address_limit);
// adjacent regions that could be one (same prot, kind, name, was_writable, and for Program/File regions
// contiguous file offsets) are merged,
// as Linux merges VMAs. Storage is one sorted array from ktl::allocate (binary search to find; insertion moves
// the tail, which for the tens to low thousands of regions a program has is cheaper than a tree's pointer
// chasing). Every operation first validates and reserves what it may need, then changes the map: a failed
// operation (errno, W^X refusal, out of memory) leaves the map exactly as it was, and the callbacks run only
// for changes that happen. Callbacks must not call back into the map.
//
// Lengths are taken as the system calls get them (rounded up to pages here, with Linux's errors for 0 and
// overflow); addresses must be page-aligned (EINVAL).
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>
#include <vma/function_ref.h>
#include <vma/layout.h>
#include <vma/wx_policy.h>

namespace kernite::vma {

enum class RegionKind : u8 {
    Program,     // a PT_LOAD segment of the program (named after its path, with its file offset)
    File,        // a file the program mapped with mmap (named after its path, with its file offset)
    Heap,        // the brk area, "[heap]"
    Anonymous,   // mmap(MAP_ANONYMOUS) and everything else the program maps
    Stack,       // the main thread's stack, "[stack]"; find_free() keeps stack_gap below it
    Guard,       // an inaccessible page the kernel placed (below a stack)
    ThreadStack, // a stack the kernel made for a thread
};

char const* region_kind_name(RegionKind kind);

struct Region {
    u64 start { 0 };
    u64 end { 0 }; // exclusive
    u32 prot { prot_none };
    RegionKind kind { RegionKind::Anonymous };
    bool was_writable { false };  // writable at some time since it was mapped (the W^X rule 2 input)
    char const* name { nullptr }; // /proc/self/maps name; not owned (a literal or a string outliving the map)
    u64 offset { 0 };             // file offset of `start` (Program and File regions), else 0

    u64 length() const { return end - start; }
    bool contains(u64 address) const { return address >= start && address < end; }
};

struct MapRequest {
    u64 start { 0 };
    u64 length { 0 }; // rounded up to pages
    u32 prot { prot_none };
    RegionKind kind { RegionKind::Anonymous };
    char const* name { nullptr }; // null: the kind's name ("[heap]", "[stack]") or none
    u64 offset { 0 };
    bool replace { false }; // MAP_FIXED: regions in the range go; false: MAP_FIXED_NOREPLACE, EEXIST if any
};

// A range whose pages the kernel changes: a whole or partial region being removed (free its pages), or one whose
// protection changed, or one that moved.
struct ProtectionChange {
    u64 start;
    u64 end;
    u32 old_prot;
    u32 new_prot;
};
struct Move {
    u64 old_start;
    u64 new_start;
    u64 length;
    u32 prot;
};
using RemovedCallback = FunctionRef<void(Region const& removed)>;
using ProtectCallback = FunctionRef<void(ProtectionChange const& change)>;
using MoveCallback = FunctionRef<void(Move const& move)>;

// mremap(2) flags (include/uapi/linux/mman.h).
inline constexpr u32 mremap_maymove = 1;
inline constexpr u32 mremap_fixed = 2;
inline constexpr u32 mremap_dontunmap = 4;

inline constexpr u64 default_stack_gap = 256 * page_size; // Linux's stack_guard_gap (mm/mmap.c)
inline constexpr usize default_max_regions = 65530;       // Linux's vm.max_map_count default

class RegionMap {
public:
    RegionMap() = default;
    ~RegionMap();
    RegionMap(RegionMap const&) = delete;
    RegionMap& operator=(RegionMap const&) = delete;

    // Layout, set by the kernel (which randomizes the bases). find_free() searches top-down from mmap_base
    // down to search_floor (never below 64 KiB), then upwards above mmap_base; stack_gap bytes below a Stack
    // region are never handed out, by find_free() or brk.
    void set_mmap_base(u64 base);
    void set_search_floor(u64 floor);
    void set_stack_gap(u64 gap) { m_stack_gap = gap; }
    void set_max_regions(usize count) { m_max_regions = count; }
    u64 mmap_base() const { return m_mmap_base; }

    // The region holding `address`, or null.
    Region const* find(u64 address) const;
    // True when no region overlaps [start, start + length).
    bool is_free(u64 start, u64 length) const;
    // A free `length`-byte range (page-aligned length, `alignment` a power of two >= page) or ENOMEM.
    ErrorOr<u64> find_free(u64 length, u64 alignment = page_size) const;

    // mmap at a known address (the kernel calls find_free() first for a non-fixed mmap). EINVAL: start
    // unaligned, length 0, unknown prot bits; EPERM: below 64 KiB; ENOMEM: beyond the user address space, too
    // many regions or no memory; EEXIST: !replace and something is there; EACCES: W^X (reason string says why).
    ErrorOr<void> map(MapRequest const& request, WxMode mode, RemovedCallback on_removed);

    // munmap: EINVAL for an unaligned start, length 0, or a range leaving the user address space; unmapping
    // nothing succeeds.
    ErrorOr<void> unmap(u64 start, u64 length, RemovedCallback on_removed);

    // mprotect: EINVAL (unaligned start, unknown prot bits), ENOMEM (a part of the range is not mapped; nothing
    // changes, unlike Linux which changes the part before the hole), EACCES (W^X, checked for every region
    // before anything changes). length 0 succeeds. Reports each piece whose protection changes.
    ErrorOr<void> protect(u64 start, u64 length, u32 prot, WxMode mode, ProtectCallback on_changed);

    // mremap for private memory. Returns the new address. Shrinking removes the tail (on_removed); growing
    // extends in place when the pages after the range are free, else with MREMAP_MAYMOVE moves the range to
    // find_free() space (or with MREMAP_FIXED to new_address, whose old contents go through on_removed first).
    // A move reports old -> new through on_moved (move the page mappings, free nothing); after growing, the
    // pages [result + old_length, result + new_length) are new and empty (rounded lengths). Errors as Linux:
    // EINVAL (flags, alignment, lengths, overlap of old and new with MREMAP_FIXED), EFAULT (old range not
    // inside one region), ENOMEM (cannot grow in place without MREMAP_MAYMOVE, no space). MREMAP_DONTUNMAP
    // is refused with EINVAL.
    ErrorOr<u64> remap(u64 old_address, u64 old_length, u64 new_length, u32 flags, u64 new_address,
        RemovedCallback on_removed, MoveCallback on_moved);

    // brk: the heap grows and shrinks in [start, limit) (start page-aligned, chosen at random by the kernel).
    // set_brk() returns the new break or ENOMEM (outside the area, or the pages up to one page past the new
    // break, plus stack_gap before a stack, are not free); the brk system call answers the current break then.
    ErrorOr<void> set_brk_area(u64 start, u64 limit);
    ErrorOr<u64> set_brk(u64 requested, RemovedCallback on_removed);
    u64 brk() const { return m_brk; }
    u64 brk_start() const { return m_brk_start; }

    usize region_count() const { return m_count; }
    Region const& region(usize index) const;

    // /proc/self/maps, exactly Linux's format (fs/proc/task_mmu.c show_map_vma()): writes at most `capacity`
    // bytes and returns the length of the whole text (call with a larger buffer when it is bigger).
    usize format_maps(char* out, usize capacity) const;

private:
    usize first_ending_after(u64 address) const;
    u64 gap_start(Region const& region) const;
    bool is_free_with_gaps(u64 start, u64 end) const;
    ErrorOr<void> reserve(usize extra);
    void split_at(u64 address);
    Region& open_slot(usize index);
    void insert_at(usize index, Region const& region);
    void erase(usize index, usize count);
    void merge_around(usize first, usize last);
    void remove_range(u64 start, u64 end, RemovedCallback on_removed);
    void insert_merged(Region const& region);

    Region* m_regions { nullptr };
    usize m_count { 0 };
    usize m_capacity { 0 };
    usize m_max_regions { default_max_regions };
    u64 m_mmap_base { user_address_limit };
    u64 m_search_floor { minimum_user_address };
    u64 m_stack_gap { default_stack_gap };
    u64 m_brk_start { 0 };
    u64 m_brk_limit { 0 };
    u64 m_brk { 0 };
};

// One /proc/self/maps line (with its newline) for `region`; same contract as RegionMap::format_maps().
usize format_maps_line(Region const& region, char* out, usize capacity);

} // namespace kernite::vma
