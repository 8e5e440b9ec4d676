// Open file descriptions, the fd table, pipes, device files, /proc/self and the filesystem's setup.
#include <kernel/fs/filesystem.h>
#include <kernel/fs/internal.h>
#include <kernel/process/memory_internal.h>
#include <kernel/process/output.h>
#include <kernel/security/random.h>
#include <ktl/allocator.h>

namespace kernite::fs {

namespace {

OpenFile* g_fds[max_fds];
bool g_cloexec[max_fds];
Inode* g_cwd;
Inode* g_proc_maps;
sched::WaitQueue g_poll_waiters;

bool is_pipe(OpenFile const& file) { return file.pipe != nullptr; }

ErrorOr<Resolved> resolve_constant(char const* path, bool follow)
{
    static char buffer[max_path + 1];
    usize length = __builtin_strlen(path);
    __builtin_memcpy(buffer, path, length + 1);
    return resolve(root(), buffer, follow);
}

ErrorOr<Inode*> make_path(char const* path, u32 mode)
{
    auto resolved = TRY(resolve_constant(path, false));
    if (resolved.inode)
        return resolved.inode;
    Inode* inode = TRY(create_inode(mode));
    TRY(add_entry(*resolved.parent, resolved.name, resolved.name_length, *inode));
    return inode;
}

ErrorOr<void> make_device(char const* path, Device device)
{
    auto resolved = TRY(resolve_constant(path, false));
    if (resolved.inode)
        return {}; // the rootfs brought its own
    Inode* inode = TRY(create_inode(mode_char | 0666));
    inode->device = device;
    return add_entry(*resolved.parent, resolved.name, resolved.name_length, *inode);
}

ErrorOr<void> make_file(char const* path, char const* content, u32 mode = 0644)
{
    auto resolved = TRY(resolve_constant(path, false));
    if (resolved.inode)
        return {};
    Inode* inode = TRY(create_inode(mode_regular | mode));
    TRY(write_data(*inode, 0, reinterpret_cast<u8 const*>(content), __builtin_strlen(content)));
    return add_entry(*resolved.parent, resolved.name, resolved.name_length, *inode);
}

ErrorOr<void> make_symlink(char const* path, char const* target)
{
    auto resolved = TRY(resolve_constant(path, false));
    if (resolved.inode)
        return {};
    Inode* inode = TRY(create_inode(mode_symlink | 0777));
    TRY(write_data(*inode, 0, reinterpret_cast<u8 const*>(target), __builtin_strlen(target)));
    return add_entry(*resolved.parent, resolved.name, resolved.name_length, *inode);
}

ErrorOr<usize> device_read(Device device, u8* buffer, usize length)
{
    switch (device) {
    case Device::Null:
    case Device::Stdin: // no input is connected to the VM: end of file at once
        return usize(0);
    case Device::Zero:
        __builtin_memset(buffer, 0, length);
        return length;
    case Device::Random:
        security::random_bytes(buffer, length);
        return length;
    case Device::Stdout:
    case Device::Stderr:
        return Error::from_errno(EBADF, "the output stream is write-only");
    case Device::None: break;
    }
    return Error::from_errno(ENODEV, "no such device");
}

ErrorOr<usize> device_write(Device device, u8 const* buffer, usize length)
{
    switch (device) {
    case Device::Null:
    case Device::Zero:
    case Device::Random:
        return length;
    case Device::Stdout:
        process::output::write(abi::ConsoleStream::Stdout, buffer, length);
        return length;
    case Device::Stderr:
        process::output::write(abi::ConsoleStream::Stderr, buffer, length);
        return length;
    case Device::Stdin:
        return Error::from_errno(EBADF, "standard input is read-only");
    case Device::None: break;
    }
    return Error::from_errno(ENODEV, "no such device");
}

ErrorOr<void> open_standard(int fd, char const* path, u32 flags)
{
    auto resolved = TRY(resolve_constant(path, true));
    VERIFY(resolved.inode);
    auto* file = TRY(open_inode(*resolved.inode, flags));
    int installed = TRY(install(file, false, fd));
    VERIFY(installed == fd);
    return {};
}

} // namespace

Inode* cwd() { return g_cwd; }
void set_cwd(Inode* inode)
{
    ++inode->references;
    Inode* old = g_cwd;
    g_cwd = inode;
    if (old)
        release_inode(old);
}
sched::WaitQueue& poll_waiters() { return g_poll_waiters; }
Inode* proc_maps_inode() { return g_proc_maps; }

void refresh_proc_maps(Inode& inode)
{
    auto& map = process::memory::region_map();
    usize length = map.format_maps(nullptr, 0);
    if (resize(inode, 0).is_error() || resize(inode, length + 1).is_error())
        return;
    map.format_maps(reinterpret_cast<char*>(inode.data), length + 1);
    inode.size = length;
}

ErrorOr<OpenFile*> open_inode(Inode& inode, u32 flags)
{
    auto* file = TRY(ktl::try_create<OpenFile>());
    file->inode = &inode;
    file->flags = flags & ~(o_creat | o_excl | o_trunc | o_cloexec | o_noctty);
    file->references = 1;
    ++inode.references;
    if (&inode == g_proc_maps)
        refresh_proc_maps(inode);
    return file;
}

void release_file(OpenFile* file)
{
    VERIFY(file->references > 0);
    if (--file->references > 0)
        return;
    if (file->pipe) {
        Pipe* pipe = file->pipe;
        if (file->pipe_writer)
            --pipe->writers;
        else
            --pipe->readers;
        pipe->waiters.wake_all();
        g_poll_waiters.wake_all();
        if (pipe->readers == 0 && pipe->writers == 0) {
            ktl::deallocate(pipe->buffer);
            ktl::destroy(pipe);
        }
    }
    if (file->inode)
        release_inode(file->inode);
    ktl::destroy(file);
}

ErrorOr<int> install(OpenFile* file, bool cloexec, int minimum)
{
    for (int fd = minimum < 0 ? 0 : minimum; fd < max_fds; ++fd) {
        if (!g_fds[fd]) {
            g_fds[fd] = file;
            g_cloexec[fd] = cloexec;
            return fd;
        }
    }
    release_file(file);
    return Error::from_errno(EMFILE, "too many open files");
}

ErrorOr<OpenFile*> file_for(int fd)
{
    if (fd < 0 || fd >= max_fds || !g_fds[fd])
        return Error::from_errno(EBADF, "bad file descriptor");
    return g_fds[fd];
}

ErrorOr<void> close_fd(int fd)
{
    auto* file = TRY(file_for(fd));
    g_fds[fd] = nullptr;
    g_cloexec[fd] = false;
    release_file(file);
    return {};
}

ErrorOr<int> duplicate(int fd, int target, bool cloexec, bool exact)
{
    auto* file = TRY(file_for(fd));
    if (!exact) {
        ++file->references;
        return install(file, cloexec, target);
    }
    if (target < 0 || target >= max_fds)
        return Error::from_errno(EBADF, "bad target descriptor");
    if (target == fd)
        return target;
    ++file->references;
    if (g_fds[target])
        release_file(g_fds[target]);
    g_fds[target] = file;
    g_cloexec[target] = cloexec;
    return target;
}

bool fd_cloexec(int fd) { return fd >= 0 && fd < max_fds && g_cloexec[fd]; }
void set_fd_cloexec(int fd, bool value)
{
    if (fd >= 0 && fd < max_fds)
        g_cloexec[fd] = value;
}

ErrorOr<void> create_pipe(OpenFile** reader, OpenFile** writer, u32 flags)
{
    auto* pipe = TRY(ktl::try_create<Pipe>());
    pipe->buffer = static_cast<u8*>(ktl::allocate(Pipe::capacity));
    auto read_end = ktl::try_create<OpenFile>();
    auto write_end = ktl::try_create<OpenFile>();
    if (!pipe->buffer || read_end.is_error() || write_end.is_error()) {
        ktl::deallocate(pipe->buffer);
        ktl::destroy(pipe);
        if (!read_end.is_error())
            ktl::destroy(read_end.value());
        if (!write_end.is_error())
            ktl::destroy(write_end.value());
        return Error::from_errno(ENFILE, "out of memory for a pipe");
    }
    pipe->readers = pipe->writers = 1;
    *read_end.value() = OpenFile { nullptr, pipe, false, o_rdonly | (flags & o_nonblock), 0, 1, 0 };
    *write_end.value() = OpenFile { nullptr, pipe, true, o_wronly | (flags & o_nonblock), 0, 1, 0 };
    *reader = read_end.value();
    *writer = write_end.value();
    return {};
}

ErrorOr<usize> file_read(OpenFile& file, u8* buffer, usize length, u64* offset)
{
    if ((file.flags & o_accmode) == o_wronly || (file.flags & o_path))
        return Error::from_errno(EBADF, "not open for reading");
    if (is_pipe(file)) {
        Pipe& pipe = *file.pipe;
        FsLock lock;
        while (pipe.count == 0) {
            if (pipe.writers == 0)
                return usize(0);
            if (file.flags & o_nonblock)
                return Error::from_errno(EAGAIN, "pipe empty");
            process::output::flush();
            pipe.waiters.wait_locked();
        }
        usize n = length < pipe.count ? length : pipe.count;
        for (usize i = 0; i < n; ++i)
            buffer[i] = pipe.buffer[(pipe.head + i) % Pipe::capacity];
        pipe.head = (pipe.head + n) % Pipe::capacity;
        pipe.count -= n;
        pipe.waiters.wake_all();
        g_poll_waiters.wake_all();
        return n;
    }
    Inode& inode = *file.inode;
    if (inode.is_directory())
        return Error::from_errno(EISDIR, "is a directory");
    if (inode.device != Device::None)
        return device_read(inode.device, buffer, length);
    FsLock lock;
    u64 position = *offset;
    if (position >= inode.size)
        return usize(0);
    usize n = inode.size - position < length ? inode.size - position : length;
    __builtin_memcpy(buffer, inode.data + position, n);
    *offset = position + n;
    return n;
}

ErrorOr<usize> file_write(OpenFile& file, u8 const* buffer, usize length, u64* offset)
{
    if ((file.flags & o_accmode) == o_rdonly || (file.flags & o_path))
        return Error::from_errno(EBADF, "not open for writing");
    if (is_pipe(file)) {
        Pipe& pipe = *file.pipe;
        FsLock lock;
        usize written = 0;
        while (written < length) {
            if (pipe.readers == 0) {
                if (written)
                    return written;
                return Error::from_errno(EPIPE, "no reader on the pipe");
            }
            usize room = Pipe::capacity - pipe.count;
            // Writes of up to PIPE_BUF (4096) bytes are atomic: wait for room for all of them.
            if (room == 0 || (length - written <= 4096 && room < length - written)) {
                if (file.flags & o_nonblock)
                    return written ? ErrorOr<usize>(written) : ErrorOr<usize>(Error::from_errno(EAGAIN, "pipe full"));
                pipe.waiters.wait_locked();
                continue;
            }
            usize n = length - written < room ? length - written : room;
            for (usize i = 0; i < n; ++i)
                pipe.buffer[(pipe.head + pipe.count + i) % Pipe::capacity] = buffer[written + i];
            pipe.count += n;
            written += n;
            pipe.waiters.wake_all();
            g_poll_waiters.wake_all();
        }
        return written;
    }
    Inode& inode = *file.inode;
    if (inode.is_directory())
        return Error::from_errno(EISDIR, "is a directory");
    if (inode.device != Device::None)
        return device_write(inode.device, buffer, length);
    FsLock lock;
    u64 position = (file.flags & o_append) ? inode.size : *offset;
    TRY(write_data(inode, position, buffer, length));
    *offset = position + length;
    return length;
}

bool file_readable(OpenFile& file)
{
    if (is_pipe(file))
        return file.pipe->count > 0 || file.pipe->writers == 0;
    return true;
}

bool file_writable(OpenFile& file)
{
    if (is_pipe(file))
        return file.pipe->readers == 0 || file.pipe->count < Pipe::capacity;
    return true;
}

bool file_hung_up(OpenFile& file)
{
    if (!is_pipe(file))
        return false;
    return file.pipe_writer ? file.pipe->readers == 0 : file.pipe->writers == 0;
}

ErrorOr<void> initialize(u8 const* rootfs, usize rootfs_size, char const* program_path, u8 const*, usize)
{
    TRY(create_inode(mode_directory | 0755)); // the root
    if (rootfs)
        TRY(load_cpio(rootfs, rootfs_size));
    TRY(make_path("/dev", mode_directory | 0755));
    TRY(make_device("/dev/null", Device::Null));
    TRY(make_device("/dev/zero", Device::Zero));
    TRY(make_device("/dev/urandom", Device::Random));
    TRY(make_device("/dev/random", Device::Random));
    TRY(make_device("/dev/stdin", Device::Stdin));
    TRY(make_device("/dev/stdout", Device::Stdout));
    TRY(make_device("/dev/stderr", Device::Stderr));
    TRY(make_path("/tmp", mode_directory | 01777));
    TRY(make_path("/proc", mode_directory | 0555));
    TRY(make_path("/proc/self", mode_directory | 0555));
    auto maps = TRY(resolve_constant("/proc/self/maps", false));
    if (!maps.inode) {
        g_proc_maps = TRY(create_inode(mode_regular | 0444));
        TRY(add_entry(*maps.parent, maps.name, maps.name_length, *g_proc_maps));
    }
    // /proc/self/exe names the program as it was started (a path inside the rootfs when it came from there).
    char exe[max_path];
    usize length = __builtin_strlen(program_path);
    if (length + 2 > sizeof(exe))
        length = sizeof(exe) - 2;
    usize used = 0;
    if (program_path[0] != '/')
        exe[used++] = '/';
    __builtin_memcpy(exe + used, program_path, length);
    exe[used + length] = 0;
    TRY(make_symlink("/proc/self/exe", exe));
    // What a minimal Linux has in /etc, unless the rootfs brings its own (glibc and musl read these).
    TRY(make_path("/etc", mode_directory | 0755));
    TRY(make_file("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"));
    TRY(make_file("/etc/group", "root:x:0:\n"));
    TRY(make_file("/etc/hostname", "kernite\n"));
    TRY(make_file("/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\tkernite\n"));
    set_cwd(root());
    TRY(open_standard(0, "/dev/stdin", o_rdonly));
    TRY(open_standard(1, "/dev/stdout", o_wronly));
    TRY(open_standard(2, "/dev/stderr", o_wronly));
    return {};
}

ErrorOr<void> check_mappable(int fd)
{
    auto* file = TRY(file_for(fd));
    if (file->pipe || !file->inode)
        return Error::from_errno(ENODEV, "a pipe cannot be mapped");
    if (file->inode->device != Device::None)
        return Error::from_errno(ENODEV, "device files cannot be mapped");
    if (!file->inode->is_regular())
        return Error::from_errno(EACCES, "not a regular file");
    if ((file->flags & o_accmode) == o_wronly)
        return Error::from_errno(EACCES, "file not open for reading");
    return {};
}

ErrorOr<usize> read_at(int fd, void* buffer, usize length, u64 offset)
{
    auto* file = TRY(file_for(fd));
    u64 position = offset;
    return file_read(*file, static_cast<u8*>(buffer), length, &position);
}

} // namespace kernite::fs
