// The in-memory filesystem's pieces, shared by kernel/fs/*.cpp and the file system calls
// (kernel/syscalls/fs.cpp). Guarded by "interrupts off" where a pipe wait is involved; everything else runs in
// the calling thread and is not preempted in the middle of a structure change because every change below is
// done with interrupts disabled by the system-call layer's callers (FsLock).
#pragma once

#include <arch/x86_64/interrupts_disabled.h>
#include <kernel/sched/wait_queue.h>
#include <ktl/error.h>
#include <ktl/types.h>

namespace kernite::fs {

// Linux's mode bits (include/uapi/linux/stat.h).
inline constexpr u32 mode_type_mask = 0170000, mode_socket = 0140000, mode_symlink = 0120000,
                     mode_regular = 0100000, mode_block = 0060000, mode_directory = 0040000, mode_char = 0020000,
                     mode_fifo = 0010000;

// open(2) flags (asm-generic/fcntl.h).
inline constexpr u32 o_accmode = 3, o_rdonly = 0, o_wronly = 1, o_rdwr = 2, o_creat = 0100, o_excl = 0200,
                     o_noctty = 0400, o_trunc = 01000, o_append = 02000, o_nonblock = 04000, o_dsync = 010000,
                     o_directory = 0200000, o_nofollow = 0400000, o_cloexec = 02000000, o_path = 010000000,
                     o_tmpfile = 020000000 | o_directory;

inline constexpr usize max_name = 255;
inline constexpr usize max_path = 4096;
inline constexpr u64 max_file_size = 1ull << 30;

enum class Device : u8 { None, Null, Zero, Random, Stdin, Stdout, Stderr };

// One lock for the whole tree: interrupts off on this single CPU. Held across each operation, never across a
// copy to or from the program (those can fault and resolve a page on demand, which is fine with it held, but
// they may also be slow) — callers copy into kernel buffers first.
using FsLock = arch::InterruptsDisabled;

struct Inode;

struct DirectoryEntry {
    char* name;
    Inode* inode;
    DirectoryEntry* next;
    u64 cookie; // getdents64 position: increases in insertion order, never reused
};

struct Inode {
    u64 ino { 0 };
    u32 mode { 0 };
    u32 nlink { 0 };
    u32 references { 0 }; // open files and cwd holding it
    Device device { Device::None };
    u64 atime_ns { 0 }, mtime_ns { 0 }, ctime_ns { 0 };
    // Regular files and symlinks (target in data).
    u8* data { nullptr };
    u64 size { 0 };
    u64 capacity { 0 };
    // Directories.
    Inode* parent { nullptr };
    DirectoryEntry* entries { nullptr };
    u64 next_cookie { 3 }; // 1 and 2 are "." and ".."

    bool is_directory() const { return (mode & mode_type_mask) == mode_directory; }
    bool is_regular() const { return (mode & mode_type_mask) == mode_regular; }
    bool is_symlink() const { return (mode & mode_type_mask) == mode_symlink; }
};

struct Pipe {
    static constexpr usize capacity = 64 * 1024;
    u8* buffer { nullptr };
    usize head { 0 }; // next byte to read
    usize count { 0 };
    u32 readers { 0 };
    u32 writers { 0 };
    sched::WaitQueue waiters; // readers and writers, woken on every change
};

struct OpenFile {
    Inode* inode { nullptr };
    Pipe* pipe { nullptr };
    bool pipe_writer { false };
    u32 flags { 0 }; // access mode and status flags
    u64 offset { 0 };
    u32 references { 0 };
    u64 directory_cookie { 0 }; // getdents64 position
};

// Tree (kernel/fs/tree.cpp).
Inode* root();
u64 now_ns();
ErrorOr<Inode*> create_inode(u32 mode);
void release_inode(Inode*); // drop a reference (open file, cwd); frees when unlinked and unreferenced
ErrorOr<void> resize(Inode&, u64 size);
ErrorOr<void> write_data(Inode&, u64 offset, u8 const* data, usize length);
Inode* lookup(Inode& directory, char const* name, usize length);
ErrorOr<void> add_entry(Inode& directory, char const* name, usize length, Inode& inode);
ErrorOr<void> remove_entry(Inode& directory, char const* name, usize length);

struct Resolved {
    Inode* parent;       // the directory holding the last component
    Inode* inode;        // null if the last component does not exist
    char const* name;    // the last component (inside the caller's path buffer)
    usize name_length;
};
// Resolves `path` from `start` (absolute paths from the root). follow_last: follow a final symlink. `path`
// must be a writable buffer of max_path + 1 bytes (symlink expansion rewrites it).
ErrorOr<Resolved> resolve(Inode* start, char const* path, bool follow_last);
ErrorOr<usize> path_of(Inode& directory, char* buffer, usize size); // getcwd
ErrorOr<void> load_cpio(u8 const* data, usize size);

// Open files and descriptors (kernel/fs/files.cpp).
inline constexpr int max_fds = 1024;
ErrorOr<OpenFile*> open_inode(Inode&, u32 flags);
void release_file(OpenFile*);
ErrorOr<int> install(OpenFile*, bool cloexec, int minimum = 0); // takes the reference
ErrorOr<OpenFile*> file_for(int fd);                           // borrowed
ErrorOr<void> close_fd(int fd);
ErrorOr<int> duplicate(int fd, int target, bool cloexec, bool exact);
bool fd_cloexec(int fd);
void set_fd_cloexec(int fd, bool value);
ErrorOr<void> create_pipe(OpenFile** reader, OpenFile** writer, u32 flags);

// Reads and writes on kernel buffers. `may_block`: pipes wait for data/room unless O_NONBLOCK.
ErrorOr<usize> file_read(OpenFile&, u8* buffer, usize length, u64* offset);
ErrorOr<usize> file_write(OpenFile&, u8 const* buffer, usize length, u64* offset);
bool file_readable(OpenFile&); // poll: data or EOF
bool file_writable(OpenFile&);
bool file_hung_up(OpenFile&);
// Something changed for poll/select waiters (pipe traffic).
sched::WaitQueue& poll_waiters();

Inode* cwd();
void set_cwd(Inode*);
Inode* proc_maps_inode();
void refresh_proc_maps(Inode&);

} // namespace kernite::fs
