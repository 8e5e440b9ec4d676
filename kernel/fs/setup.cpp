// The filesystem's state and setup: the libs/vfs tree with the program's rootfs, the device files, /proc/self,
// the /etc files libc reads, the fd table with fds 0-2, and the working directory.
#include <kernel/fs/filesystem.h>
#include <kernel/process/input.h>
#include <kernel/process/memory_internal.h>
#include <kernel/process/output.h>
#include <kernel/security/random.h>
#include <kernel/time/clock.h>
#include <ktl/allocator.h>

namespace kernite::fs {

using namespace vfs::linux_abi;

namespace {

vfs::FileSystem* g_tree;
vfs::FdTable* g_fds;
vfs::Inode* g_cwd; // holds a reference
sched::WaitQueue g_waiters;

// File times are CLOCK_REALTIME, the same clock clock_gettime reads.
vfs::Timespec clock_now()
{
    u64 ns = time::realtime_ns();
    return { static_cast<i64>(ns / 1'000'000'000), static_cast<i64>(ns % 1'000'000'000) };
}

void wake_waiters(void*) { g_waiters.wake_all(); }

// --- Devices (drivers/char/mem.c semantics: null and zero swallow writes; random reads the kernel's DRBG). ---
ErrorOr<usize> null_read(void*, void*, usize, u64) { return usize(0); }
ErrorOr<usize> swallow_write(void*, void const*, usize count, u64) { return count; }
ErrorOr<usize> zero_read(void*, void* buffer, usize count, u64)
{
    __builtin_memset(buffer, 0, count);
    return count;
}
ErrorOr<usize> random_read(void*, void* buffer, usize count, u64)
{
    security::random_bytes(buffer, count);
    return count;
}
// Never waits: fs::read() does the waiting for a blocking fd.
ErrorOr<usize> stdin_read(void*, void* buffer, usize count, u64)
{
    return process::input::read(static_cast<u8*>(buffer), count);
}
ErrorOr<usize> stdout_write(void*, void const* buffer, usize count, u64)
{
    process::output::write(abi::ConsoleStream::Stdout, static_cast<u8 const*>(buffer), count);
    return count;
}
ErrorOr<usize> stderr_write(void*, void const* buffer, usize count, u64)
{
    process::output::write(abi::ConsoleStream::Stderr, static_cast<u8 const*>(buffer), count);
    return count;
}

constexpr vfs::DeviceOps null_ops { null_read, swallow_write };
constexpr vfs::DeviceOps zero_ops { zero_read, swallow_write };
constexpr vfs::DeviceOps random_ops { random_read, swallow_write };
constexpr vfs::DeviceOps stdin_ops { stdin_read, nullptr };
constexpr vfs::DeviceOps stdout_ops { nullptr, stdout_write };
constexpr vfs::DeviceOps stderr_ops { nullptr, stderr_write };

constexpr u64 device_number(u64 major, u64 minor) { return (major << 8) | minor; }

// The rootfs may bring its own version of anything added here: EEXIST keeps it.
ErrorOr<void> unless_present(ErrorOr<void> added)
{
    if (added.is_error() && added.error().code() == EEXIST)
        return {};
    return added;
}

ErrorOr<void> add_file(char const* path, char const* content)
{
    auto* file = TRY(g_tree->open(g_tree->root(), path, o_creat | o_excl | o_wronly, 0644));
    auto written = file->write(content, __builtin_strlen(content));
    file->unref();
    TRY(written);
    return {};
}

ErrorOr<void> generate_maps(void*, vfs::FileData& output)
{
    auto& map = process::memory::region_map();
    usize length = map.format_maps(nullptr, 0);
    auto* text = static_cast<char*>(ktl::allocate(length + 1));
    if (!text)
        return Error::from_errno(ENOMEM, "out of memory for /proc/self/maps");
    map.format_maps(text, length + 1);
    auto appended = output.append(text, length);
    ktl::deallocate(text);
    return appended;
}

ErrorOr<void> open_standard(int fd, char const* path, u32 flags)
{
    auto* file = TRY(g_tree->open(g_tree->root(), path, flags, 0));
    auto installed = g_fds->install(*file, false, fd);
    file->unref(); // the table holds its own reference
    VERIFY(installed.is_error() || installed.value() == fd);
    TRY(installed);
    return {};
}

} // namespace

vfs::FileSystem& tree() { return *g_tree; }
vfs::FdTable& fds() { return *g_fds; }
vfs::Inode& cwd() { return *g_cwd; }
sched::WaitQueue& waiters() { return g_waiters; }

void set_cwd(vfs::Inode& directory)
{
    directory.ref();
    vfs::Inode* old = g_cwd;
    g_cwd = &directory;
    if (old)
        old->unref();
}

vfs::WakeHook pipe_wake_hook() { return { wake_waiters, nullptr }; }

bool is_stdin(vfs::OpenFile const& file)
{
    return file.kind() == vfs::OpenFile::Kind::Device && file.inode()->device_ops() == &stdin_ops;
}

ErrorOr<void> initialize(u8 const* rootfs, usize rootfs_size, char const* program_path)
{
    g_tree = TRY(vfs::FileSystem::create());
    g_tree->set_clock(clock_now);
    g_fds = TRY(vfs::FdTable::create());
    if (rootfs)
        TRY(g_tree->load_cpio(rootfs, rootfs_size));
    auto& tree = *g_tree;
    TRY(unless_present(tree.make_directories("/dev")));
    TRY(unless_present(tree.add_device("/dev/null", &null_ops, nullptr, 0666, device_number(1, 3))));
    TRY(unless_present(tree.add_device("/dev/zero", &zero_ops, nullptr, 0666, device_number(1, 5))));
    TRY(unless_present(tree.add_device("/dev/random", &random_ops, nullptr, 0666, device_number(1, 8))));
    TRY(unless_present(tree.add_device("/dev/urandom", &random_ops, nullptr, 0666, device_number(1, 9))));
    // Linux makes these symlinks to /proc/self/fd/N; devices here, as there is no /proc/self/fd.
    TRY(unless_present(tree.add_device("/dev/stdin", &stdin_ops, nullptr, 0444, device_number(136, 0))));
    TRY(unless_present(tree.add_device("/dev/stdout", &stdout_ops, nullptr, 0222, device_number(136, 1))));
    TRY(unless_present(tree.add_device("/dev/stderr", &stderr_ops, nullptr, 0222, device_number(136, 2))));
    TRY(unless_present(tree.make_directories("/tmp", 01777)));
    TRY(unless_present(tree.make_directories("/proc/self", 0555)));
    TRY(unless_present(tree.add_generated_file("/proc/self/maps", generate_maps, nullptr)));
    // /proc/self/exe names the program as it was started (a path inside the rootfs when it came from there).
    char exe[path_max];
    usize length = __builtin_strlen(program_path);
    if (length + 2 > sizeof(exe))
        length = sizeof(exe) - 2;
    usize used = 0;
    if (program_path[0] != '/')
        exe[used++] = '/';
    __builtin_memcpy(exe + used, program_path, length);
    exe[used + length] = 0;
    TRY(unless_present(tree.add_symlink("/proc/self/exe", exe)));
    // What a minimal Linux has in /etc, unless the rootfs brings its own (glibc and musl read these).
    TRY(unless_present(tree.make_directories("/etc")));
    TRY(unless_present(add_file("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")));
    TRY(unless_present(add_file("/etc/group", "root:x:0:\n")));
    TRY(unless_present(add_file("/etc/hostname", "kernite\n")));
    TRY(unless_present(add_file("/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\tkernite\n")));
    set_cwd(*tree.root());
    TRY(open_standard(0, "/dev/stdin", o_rdonly));
    TRY(open_standard(1, "/dev/stdout", o_wronly));
    TRY(open_standard(2, "/dev/stderr", o_wronly));
    return {};
}

ErrorOr<void> check_mappable(int fd)
{
    auto* file = TRY(g_fds->get(fd));
    if (file->is_pipe())
        return Error::from_errno(ENODEV, "a pipe cannot be mapped");
    if (file->kind() == vfs::OpenFile::Kind::Device)
        return Error::from_errno(ENODEV, "device files cannot be mapped");
    if (file->kind() != vfs::OpenFile::Kind::Regular && file->kind() != vfs::OpenFile::Kind::Generated)
        return Error::from_errno(EACCES, "not a regular file");
    if (!file->can_read())
        return Error::from_errno(EACCES, "file not open for reading");
    return {};
}

ErrorOr<usize> read_at(int fd, void* buffer, usize length, u64 offset)
{
    FsLock lock;
    auto* file = TRY(g_fds->get(fd));
    return file->pread(buffer, length, static_cast<i64>(offset));
}

} // namespace kernite::fs
