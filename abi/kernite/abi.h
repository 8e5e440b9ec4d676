// Kernite guest/monitor ABI, version 1.
//
// One self-contained header shared by the kernel and the monitor (STYLE.md habit 7). Everything that crosses
// the boundary is here: the boot-info block the monitor hands the kernel, the hypercall ports and request
// layouts, and the wire format of security events. Only fixed-width types, no pointers: a guest address is a
// `u64` guest-physical address (GPA) that the monitor must range-check before use. Layouts are pinned with
// static_asserts so the kernel (freestanding) and the monitor (hosted) cannot drift apart.
//
// Versioning: `abi_version_major` changes on any incompatible change; both sides refuse a mismatch.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace kernite::abi {

inline constexpr uint32_t abi_version_major = 1;
inline constexpr uint32_t abi_version_minor = 2; // 1: Hypercall::Input; 2: BootInfo::entropy_pool

// ---------------------------------------------------------------------------------------------------------
// Boot: direct 64-bit entry from the Kernite monitor.
//
// The monitor loads the kernel's PT_LOAD segments at their p_paddr, builds page tables that identity-map
// guest-physical memory from 0 up to `identity_map_limit`, enables long mode (CR0.PG|PE|WP, CR4.PAE,
// EFER.LME|LMA|NXE) with a flat 64-bit code segment, and starts the vCPU at the ELF entry point with
//   rdi = GPA of BootInfo, rsi = boot_magic, interrupts disabled, no stack.
// The QEMU/PVH entry (Xen ELF note type 18) is the other way in; it does not use this block.
// ---------------------------------------------------------------------------------------------------------
inline constexpr uint64_t boot_magic = 0x4b45524e49544531ULL; // "KERNITE1"
inline constexpr uint32_t boot_info_magic = 0x4b424f54;       // "KBOT"

enum class MemoryType : uint32_t {
    Usable = 1,
    Reserved = 2,
};

struct MemoryRegion {
    uint64_t base;
    uint64_t length;
    uint32_t type; // MemoryType
    uint32_t reserved;
};
static_assert(sizeof(MemoryRegion) == 24);

// A file handed to the kernel at boot (issue 3). The monitor places each in guest memory that the memory map
// reports as Reserved, page-aligned. Names the kernel knows (anything else is refused at boot):
//   "program": the user's ELF, byte for byte;
//   "args":    argv and envp, see ArgsModuleHeader;
//   "rootfs":  a cpio archive (newc, "070701"; trailer "TRAILER!!!") served as the writable root filesystem;
//   "seed":    only inside a QEMU module bundle (below): the boot entropy seed, "KSEED001" + 32 bytes.
inline constexpr char const module_name_program[] = "program";
inline constexpr char const module_name_args[] = "args";
inline constexpr char const module_name_rootfs[] = "rootfs";
inline constexpr char const module_name_seed[] = "seed";

// The "args" module: this header, then argc + envc NUL-terminated strings back to back (argv first, argv[0]
// is the program name as the user typed it), `strings_size` bytes in all. The kernel checks every count and
// terminator against the module size before it uses one.
inline constexpr uint32_t args_module_magic = 0x5347524b; // "KRGS"
struct ArgsModuleHeader {
    uint32_t magic;
    uint32_t argc;
    uint32_t envc;
    uint32_t strings_size;
};
static_assert(sizeof(ArgsModuleHeader) == 16);

// QEMU passes exactly one PVH module (`-initrd FILE`), so the Kernite QEMU backend packs every module into one
// bundle file: ModuleBundleHeader, `count` ModuleBundleEntry records, then the module bodies, each at an
// 8-byte-aligned `offset` from the start of the bundle. Entries must lie inside the bundle and not overlap.
inline constexpr char const module_bundle_magic[8] = { 'K', 'M', 'O', 'D', 'S', '0', '0', '1' };
struct ModuleBundleHeader {
    char magic[8]; // module_bundle_magic
    uint32_t count; // at most max_boot_modules + 1 (the seed)
    uint32_t reserved;
};
static_assert(sizeof(ModuleBundleHeader) == 16);
struct ModuleBundleEntry {
    char name[48]; // NUL-terminated
    uint64_t offset;
    uint64_t size;
};
static_assert(sizeof(ModuleBundleEntry) == 64);

struct BootModule {
    uint64_t gpa;
    uint64_t size;
    char name[48]; // NUL-terminated
};
static_assert(sizeof(BootModule) == 64);

inline constexpr uint32_t max_memory_regions = 16;
inline constexpr uint32_t max_boot_modules = 4;
inline constexpr uint32_t max_cmdline_length = 4096;

struct BootInfo {
    uint32_t magic;         // boot_info_magic
    uint32_t version_major; // abi_version_major
    uint32_t version_minor;
    uint32_t size; // sizeof(BootInfo) as the monitor built it
    uint64_t tsc_khz;
    uint64_t identity_map_limit; // bytes of guest-physical memory identity-mapped at entry
    uint8_t entropy_seed[32];    // from the host's getrandom(); the kernel wipes it after use
    uint8_t boot_id[16];         // random per boot; also stamped on every event by the monitor
    uint64_t cmdline_gpa;        // NUL-terminated, at most max_cmdline_length bytes including NUL
    uint32_t cmdline_length;     // without the NUL
    uint32_t memory_region_count;
    MemoryRegion memory_regions[max_memory_regions];
    uint32_t module_count;
    uint32_t flags; // BootFlags
    BootModule modules[max_boot_modules];
    uint64_t kernel_virt_base;       // with BootFlagRelocated: the base the monitor relocated the image to
    uint64_t kernel_page_table_root; // with BootFlagKernelTables: GPA of the kernel's PML4
    // Since 1.2 (`size` covers it): more host getrandom() bytes, the generator's first output, so the boot's
    // draws (canary, region bases, heap secrets) cost no ChaCha20 block. The kernel wipes them after use.
    uint8_t entropy_pool[64];
};

enum BootFlags : uint32_t {
    // Every byte of guest RAM outside the loaded image and the boot structures below 1 MiB is zero (fresh
    // anonymous memory). The kernel then skips zeroing what it has never used: on hosts that emulate guest
    // ring-0 code (docs/platform-notes.md) that saves thousands of instructions per boot.
    BootFlagMemoryZeroed = 1u << 0,
    // The monitor applied the image's R_X86_64_RELATIVE relocations for `kernel_virt_base` while loading it
    // (natively, on the host); early boot must not apply them again.
    BootFlagRelocated = 1u << 1,
    // The monitor built the kernel's own page tables (from the image's layout note, libs/paging/kernel_layout.h)
    // for `kernel_virt_base` at `kernel_page_table_root`, in memory the map reports as Reserved; early boot
    // switches to them instead of building its own. Requires BootFlagRelocated.
    BootFlagKernelTables = 1u << 2,
};
static_assert(sizeof(BootInfo) == 96 + 16 * 24 + 8 + 4 * 64 + 16 + 64);
static_assert(offsetof(BootInfo, entropy_pool) % 8 == 0);
static_assert(offsetof(BootInfo, entropy_seed) == 32);
static_assert(offsetof(BootInfo, memory_regions) == 96);

// ---------------------------------------------------------------------------------------------------------
// Hypercalls: `out dx, eax` with dx = hypercall_port_base + Hypercall and eax = GPA of the request struct
// (below 4 GiB, naturally aligned to 8). The monitor copies the request in, validates every field, acts,
// and writes back only the `result` field (and the documented out fields). Any malformed request stops
// the VM with a message (exit status 127 is reserved for refusing to start; a bad request after start is
// reported and exits 125 as a guest integrity failure).
// ---------------------------------------------------------------------------------------------------------
inline constexpr uint16_t hypercall_port_base = 0x500;

enum class Hypercall : uint16_t {
    Console = 0, // HcConsole: write a buffer to the host's stdout/stderr
    Exit = 1,    // HcExit: stop the VM with a status
    Time = 2,    // HcTime: host clocks
    Entropy = 3, // HcEntropy: fresh bytes from the host's getrandom()
    Event = 4,   // HcEvent: report a security event
    Output = 5,  // HcOutput: the program's buffered stdout/stderr, several writes per exit, in order
    Input = 6,   // HcInput: a chunk of the host's stdin for the program's fd 0 (ABI 1.1)
    Count = 7,
};

inline constexpr uint32_t console_max_length = 64 * 1024;
inline constexpr uint32_t entropy_max_length = 256;

enum class ConsoleStream : uint32_t {
    Stdout = 1,
    Stderr = 2,
};

struct HcConsole {
    uint64_t data_gpa;
    uint32_t length; // at most console_max_length
    uint32_t stream; // ConsoleStream
    int64_t result;  // out: bytes written or -errno
};
static_assert(sizeof(HcConsole) == 24);

enum class ExitReason : uint32_t {
    Normal = 0,        // the program or demo finished: status is its exit status (0..255)
    SecurityStop = 1,  // a protection fired; an event was reported first
    Panic = 2,         // kernel bug (VERIFY failed)
    ProgramKilled = 3, // the program died from a signal; status is 128 + signal
};

// HcOutput's buffer is a sequence of records, each an OutputRecord header followed by `length` bytes, the next
// header at the following 8-byte boundary. Streams interleave in the order the program wrote them; bytes are
// passed through unchanged (binary output included). The monitor writes each record to its stdout or stderr.
inline constexpr uint32_t output_max_length = 256 * 1024;
struct OutputRecord {
    uint32_t stream; // ConsoleStream
    uint32_t length;
};
static_assert(sizeof(OutputRecord) == 8);

struct HcOutput {
    uint64_t data_gpa;
    uint32_t length; // of the whole record sequence, at most output_max_length
    uint32_t reserved;
    int64_t result; // out: 0 or -errno
};
static_assert(sizeof(HcOutput) == 24);

// HcInput: the program's standard input, the mirror of HcOutput. The kernel asks only when the program reads
// fd 0 (or polls it) and its own buffer is empty, for up to `capacity` bytes into `buffer_gpa`; the monitor reads
// the host's stdin once, waiting at most `wait_ns` for bytes to arrive (0: only what is there now; the monitor
// caps it at input_max_wait_ns so that it stays responsive). `result`: bytes delivered (> 0), 0 at end of file
// (host stdin closed, /dev/null, end of a file), -EAGAIN when nothing arrived in time, other -errno. A program
// that never reads stdin never makes the monitor touch it. Bytes pass unchanged (a terminal is not put in raw
// mode: its line discipline decides what arrives).
inline constexpr uint32_t input_max_length = 64 * 1024;
inline constexpr uint64_t input_max_wait_ns = 50'000'000;
struct HcInput {
    uint64_t buffer_gpa;
    uint32_t capacity; // at most input_max_length
    uint32_t reserved; // 0
    uint64_t wait_ns;
    int64_t result; // out
};
static_assert(sizeof(HcInput) == 32);

struct HcExit {
    int32_t status;
    uint32_t reason; // ExitReason
};
static_assert(sizeof(HcExit) == 8);

struct HcTime {
    uint64_t monotonic_ns; // out: host CLOCK_MONOTONIC
    uint64_t realtime_ns;  // out: host CLOCK_REALTIME
};
static_assert(sizeof(HcTime) == 16);

struct HcEntropy {
    uint64_t buffer_gpa;
    uint32_t length; // at most entropy_max_length
    uint32_t reserved;
    int64_t result; // out: bytes written or -errno
};
static_assert(sizeof(HcEntropy) == 24);

// ---------------------------------------------------------------------------------------------------------
// Security events (DESIGN.md: "Security events"). Never rename a type's wire name; add new ones at the end.
// ---------------------------------------------------------------------------------------------------------
enum class EventType : uint32_t {
    WxViolation = 1,
    NullDeref,
    StackOverflow,
    StackSmash,
    HeapCorruption,
    DoubleFree,
    UseAfterFree,
    Kasan,
    Ubsan,
    CfiViolation,
    WxPolicyDenied,
    LockdownViolation,
    GeneralProtection,
    Panic,
    InvalidOpcode,
    KernelFault,
    EntropyFailure,
    SegmentationFault, // a program touched memory it has no mapping for (and no handler took the signal)
    ArithmeticFault,   // a program's #DE / SIMD exception went unhandled
    NullMapDenied,     // a program asked for a mapping below 64 KiB (mmap_min_addr): refused with EPERM, it goes on
    ProgramKilled,     // a program died of a signal it did not handle that no other event explains (abort: SIGABRT)
    FortifyViolation,  // a kernel memory/string function or usercopy would overrun its object (FORTIFY)
    Count,
};

constexpr char const* event_type_name(EventType type)
{
    switch (type) {
    case EventType::WxViolation: return "wx-violation";
    case EventType::NullDeref: return "null-deref";
    case EventType::StackOverflow: return "stack-overflow";
    case EventType::StackSmash: return "stack-smash";
    case EventType::HeapCorruption: return "heap-corruption";
    case EventType::DoubleFree: return "double-free";
    case EventType::UseAfterFree: return "use-after-free";
    case EventType::Kasan: return "kasan";
    case EventType::Ubsan: return "ubsan";
    case EventType::CfiViolation: return "cfi-violation";
    case EventType::WxPolicyDenied: return "wx-policy-denied";
    case EventType::LockdownViolation: return "lockdown-violation";
    case EventType::GeneralProtection: return "general-protection";
    case EventType::Panic: return "panic";
    case EventType::InvalidOpcode: return "invalid-opcode";
    case EventType::KernelFault: return "kernel-fault";
    case EventType::EntropyFailure: return "entropy-failure";
    case EventType::SegmentationFault: return "segmentation-fault";
    case EventType::ArithmeticFault: return "arithmetic-fault";
    case EventType::NullMapDenied: return "null-map-denied";
    case EventType::ProgramKilled: return "program-killed";
    case EventType::FortifyViolation: return "fortify-violation";
    case EventType::Count: break;
    }
    return nullptr;
}

enum EventFlags : uint32_t {
    EventHasRip = 1u << 0,
    EventHasAddr = 1u << 1,
    EventHasSymbol = 1u << 2,
    EventHasThread = 1u << 3,
    EventStopsVm = 1u << 4, // the kernel stops after this event
};

inline constexpr size_t event_symbol_size = 64;
inline constexpr size_t event_message_size = 160;

// Strings are NUL-terminated inside their arrays; the monitor rejects events where they are not, and
// escapes every byte it writes into JSON.
struct SecurityEvent {
    uint32_t type;  // EventType
    uint32_t flags; // EventFlags
    uint64_t rip;
    uint64_t addr;
    uint64_t thread;
    char symbol[event_symbol_size];
    char message[event_message_size];
};
static_assert(sizeof(SecurityEvent) == 32 + 64 + 160);

struct HcEvent {
    SecurityEvent event;
    int64_t result; // out: 0 or -errno
};
static_assert(sizeof(HcEvent) == sizeof(SecurityEvent) + 8);

// ---------------------------------------------------------------------------------------------------------
// QEMU/PVH transport. Without hypercalls, the kernel uses the 16550 console; two marker lines carry what the
// hypercalls carry on the Kernite monitor, and the monitor strips them from the console stream:
//   "\x1e" "kernite-event " <hex of SecurityEvent, 2 digits per byte> "\n"
//   "\x1e" "kernite-exit " <decimal status> " " <decimal ExitReason> "\n"
// followed by a write to isa-debug-exit, which ends QEMU. Lines the kernel writes to its stderr stream travel as
//   "\x1e" "kernite-stderr " <the line, without its newline> "\n"
// and the monitor writes them to its stderr; every other line goes to stdout. The program's own output (byte-exact,
// so any byte may occur in it) travels as
//   "\x1e" "kernite-out " <stream: 1 stdout, 2 stderr> " " <hex of the bytes, 2 digits per byte> "\n"
// and the monitor writes the decoded bytes to that stream.
// ---------------------------------------------------------------------------------------------------------
inline constexpr char serial_marker = '\x1e';
inline constexpr char const serial_event_prefix[] = "kernite-event ";
inline constexpr char const serial_exit_prefix[] = "kernite-exit ";
inline constexpr char const serial_stderr_prefix[] = "kernite-stderr ";
inline constexpr char const serial_output_prefix[] = "kernite-out ";
inline constexpr uint16_t qemu_debug_exit_port = 0xf4;

} // namespace kernite::abi
