// Memory system calls: mmap, munmap, mprotect, mremap, brk, madvise and the no-op family (msync, mlock...).
// Decisions come from the region map (libs/vma, with the W^X policy); the page tables follow its callbacks.
// A refused W^X request is EACCES plus a `wx-policy-denied` event, and the program goes on (issue 4 item 4).
#include <arch/x86_64/interrupts_disabled.h>
#include <kernel/fs/filesystem.h>
#include <kernel/lib/format.h>
#include <kernel/process/memory.h>
#include <kernel/process/memory_internal.h>
#include <kernel/process/process.h>
#include <kernel/process/user_memory.h>
#include <kernel/security/events.h>
#include <kernel/syscalls/handlers.h>
#include <kernel/syscalls/scratch_buffer.h>
#include <ktl/allocator.h>

namespace kernite::syscalls {

using namespace process;

namespace {

constexpr u64 map_shared = 0x01, map_private = 0x02, map_shared_validate = 0x03, map_type = 0x0f, map_fixed = 0x10,
              map_anonymous = 0x20, map_growsdown = 0x100, map_denywrite = 0x800, map_executable = 0x1000,
              map_locked = 0x2000, map_noreserve = 0x4000, map_populate = 0x8000, map_nonblock = 0x10000,
              map_stack = 0x20000, map_hugetlb = 0x40000, map_sync = 0x80000, map_fixed_noreplace = 0x100000;
constexpr u64 known_map_flags = map_type | map_fixed | map_anonymous | map_growsdown | map_denywrite | map_executable
    | map_locked | map_noreserve | map_populate | map_nonblock | map_stack | map_hugetlb | map_sync
    | map_fixed_noreplace;
constexpr u64 madv_dontneed = 4, madv_free = 8, madv_remove = 9;

// A W^X refusal or a mapping below 64 KiB becomes an event the operator sees; other errors are plain errnos.
// Out of line and cold: its message buffer would give every mmap and mprotect a stack canary.
[[gnu::noinline, gnu::cold]] void report_refusal(int code, char const* reason, char const* call, u64 address, u32 prot,
    u64 rip)
{
    if (code == EACCES) {
        char message[abi::event_message_size];
        format(message, sizeof(message), "%s(prot=%s%s%s) refused: %s", call, (prot & 1) ? "R" : "-",
            (prot & 2) ? "W" : "-", (prot & 4) ? "X" : "-", reason);
        security::EventDetails details { rip, address, true, true };
        security::report(abi::EventType::WxPolicyDenied, message, details);
    } else if (code == EPERM && address < vma::minimum_user_address) {
        // A mapping of the null-pointer guard (mmap_min_addr): the classic first step to exploit a NULL
        // dereference, so the operator hears of it.
        char message[abi::event_message_size];
        format(message, sizeof(message), "%s at 0x%lx refused: %s", call, address, reason);
        security::EventDetails details { rip, address, true, true };
        security::report(abi::EventType::NullMapDenied, message, details);
    }
}

// By value: ErrorOr<void> is 16 trivially copyable bytes, passed in registers (ktl/error.h).
template<typename T>
ErrorOr<T> report_wx(ErrorOr<T> result, char const* call, u64 address, u32 prot, u64 rip)
{
    if (result.is_error()) [[unlikely]]
        report_refusal(result.error().code(), result.error().reason(), call, address, prot, rip);
    return result;
}

// The region map's lock. One CPU, preemptive threads, and system calls run with interrupts on: a thread preempted
// inside a RegionMap operation would leave the map half changed, or its storage freed and regrown, under the next
// thread's mmap or page fault (which reads the map with interrupts off). So every system call that reads or changes
// the map holds this for the whole operation, as the heap masks interrupts around its own. Found by
// program-debug.threads.glibc: KASAN saw madvise's RegionMap::find read the array another thread's mmap had just
// replaced. Nothing under it blocks: frames, page tables and the in-memory files are all taken without waiting.
using MapLock = arch::InterruptsDisabled;

constexpr auto free_removed = [](vma::Region const& removed) { memory::release_pages(removed.start, removed.end); };

ErrorOr<void> fill_from_file(int fd, u64 offset, u64 address, u64 length)
{
    constexpr usize chunk_size = bounce_size;
    BounceBuffer buffer(chunk_size);
    u8* chunk = buffer.data();
    if (!chunk)
        return Error::from_errno(ENOMEM, "out of memory");
    u64 done = 0;
    ErrorOr<void> result;
    while (done < length) {
        usize want = length - done < chunk_size ? length - done : chunk_size;
        auto got = fs::read_at(fd, chunk, want, offset + done);
        if (got.is_error()) {
            result = got.release_error();
            break;
        }
        if (got.value() == 0)
            break; // past the end of the file: the rest of the mapping stays zero
        if (auto poked = memory::poke(address + done, chunk, got.value()); poked.is_error()) {
            result = poked.release_error();
            break;
        }
        done += got.value();
    }
    return result;
}

} // namespace

Result sys_mmap(Arguments& arguments)
{
    u64 address = arguments.a0;
    u64 length = arguments.a1;
    u32 prot = static_cast<u32>(arguments.a2);
    u64 flags = arguments.a3;
    int fd = static_cast<int>(arguments.a4);
    u64 offset = arguments.a5;
    auto& map = memory::region_map();
    u64 type = flags & map_type;
    if (type != map_shared && type != map_private && type != map_shared_validate)
        return Error::from_errno(EINVAL, "mmap needs MAP_SHARED or MAP_PRIVATE");
    if (type == map_shared_validate && (flags & ~known_map_flags))
        return Error::from_errno(ENOTSUP, "unknown mmap flag");
    if (flags & map_hugetlb)
        return Error::from_errno(EINVAL, "huge pages are not offered");
    if (length == 0 || offset % vma::page_size != 0)
        return Error::from_errno(EINVAL, "mmap length or offset");
    u64 rounded = 0;
    if (!ktl::align_up(length, vma::page_size, &rounded) || rounded > vma::user_address_limit)
        return Error::from_errno(ENOMEM, "mmap length");
    bool anonymous = flags & map_anonymous;
    if (!anonymous) {
        if (type != map_private && (prot & vma::prot_write))
            return Error::from_errno(ENODEV, "shared writable file mappings are not supported");
        TRY(fs::check_mappable(fd));
    }
    bool fixed = flags & (map_fixed | map_fixed_noreplace);
    MapLock lock; // from choosing the address to the filled mapping
    if (!fixed) {
        if (address && address % vma::page_size == 0 && vma::is_user_range(address, rounded)
            && map.is_free(address, rounded))
            ; // the hint is free: take it, as Linux does
        else
            address = TRY(map.find_free(rounded));
    }
    vma::MapRequest request;
    request.start = address;
    request.length = rounded;
    request.prot = prot;
    request.kind = anonymous ? vma::RegionKind::Anonymous : vma::RegionKind::File;
    request.offset = anonymous ? 0 : offset;
    request.replace = flags & map_fixed && !(flags & map_fixed_noreplace);
    TRY(report_wx(map.map(request, memory::wx_mode(settings().relaxed_wx), free_removed), "mmap", address, prot,
        arguments.frame.rip));
    if (!anonymous || (flags & map_populate)) {
        // A file's bytes are copied in at once (a private snapshot, as MAP_PRIVATE promises until written).
        auto populated = memory::populate(address, address + rounded, prot);
        if (!populated.is_error() && !anonymous)
            populated = fill_from_file(fd, offset, address, length);
        if (populated.is_error()) {
            (void)map.unmap(address, rounded, free_removed);
            return populated.release_error();
        }
    }
    return address;
}

Result sys_munmap(Arguments& arguments)
{
    MapLock lock;
    TRY(memory::region_map().unmap(arguments.a0, arguments.a1, free_removed));
    return u64(0);
}

Result sys_mprotect(Arguments& arguments)
{
    u32 prot = static_cast<u32>(arguments.a2) & ~0x03000000u; // PROT_GROWSDOWN/GROWSUP: ignored
    MapLock lock;
    auto result = memory::region_map().protect(arguments.a0, arguments.a1, prot, memory::wx_mode(settings().relaxed_wx),
        [](vma::ProtectionChange const& change) { memory::change_pages(change.start, change.end, change.new_prot); });
    TRY(report_wx(result, "mprotect", arguments.a0, prot, arguments.frame.rip));
    return u64(0);
}

Result sys_mremap(Arguments& arguments)
{
    MapLock lock;
    return memory::region_map().remap(arguments.a0, arguments.a1, arguments.a2, static_cast<u32>(arguments.a3),
        arguments.a4, free_removed,
        [](vma::Move const& move) { memory::move_pages(move.old_start, move.new_start, move.length, move.prot); });
}

Result sys_brk(Arguments& arguments)
{
    MapLock lock;
    auto& map = memory::region_map();
    if (arguments.a0 == 0)
        return map.brk();
    auto result = map.set_brk(arguments.a0, free_removed);
    return result.is_error() ? map.brk() : result.value(); // Linux answers the unchanged break on failure
}

Result sys_madvise(Arguments& arguments)
{
    if (arguments.a0 % vma::page_size != 0)
        return Error::from_errno(EINVAL, "madvise address");
    u64 length = 0;
    if (!ktl::align_up(arguments.a1, vma::page_size, &length))
        return Error::from_errno(EINVAL, "madvise length");
    switch (arguments.a2) {
    case madv_dontneed:
    case madv_free:
    case madv_remove: {
        // Anonymous memory reads as zero afterwards: drop its frames (the next touch maps fresh zeros).
        auto& map = memory::region_map();
        MapLock lock;
        for (u64 address = arguments.a0; address < arguments.a0 + length;) {
            auto const* region = map.find(address);
            u64 next = address + vma::page_size;
            if (region) {
                next = region->end < arguments.a0 + length ? region->end : arguments.a0 + length;
                if (region->kind != vma::RegionKind::Program && region->kind != vma::RegionKind::File)
                    memory::release_pages(address, next);
            }
            address = next;
        }
        return u64(0);
    }
    default: return u64(0); // advice only
    }
}

Result sys_msync(Arguments&) { return u64(0); }
Result sys_mlock(Arguments&) { return u64(0); }
Result sys_munlock(Arguments&) { return u64(0); }
Result sys_mlockall(Arguments&) { return u64(0); }
Result sys_munlockall(Arguments&) { return u64(0); }

Result sys_mincore(Arguments& arguments)
{
    u64 length = 0;
    if (arguments.a0 % vma::page_size != 0 || !ktl::align_up(arguments.a1, vma::page_size, &length))
        return Error::from_errno(EINVAL, "mincore range");
    u64 pages = length / vma::page_size;
    u8 resident[64];
    __builtin_memset(resident, 1, sizeof(resident));
    for (u64 done = 0; done < pages;) {
        u64 n = pages - done < sizeof(resident) ? pages - done : sizeof(resident);
        TRY(copy_to_user(arguments.a2 + done, resident, n));
        done += n;
    }
    return u64(0);
}

} // namespace kernite::syscalls
