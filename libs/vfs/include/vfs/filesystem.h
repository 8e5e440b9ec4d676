// Kernite's root filesystem (issue 3, item 5): a writable, memory-backed tree with Linux semantics, filled from a
// cpio "newc" archive at boot. Architecture-independent and host-tested; the kernel adds the system calls.
//
// Design: inodes (inode.h) are reference-counted; directories hold named entries in creation order with stable
// getdents64 cookies and know their parent (for ".." and getcwd); regular files are arrays of 4 KiB pages with
// holes (file_data.h); an OpenFile (open_file.h) is an open file description; pipes are 64 KiB rings (pipe.h);
// FdTable (fd_table.h) maps fds to OpenFiles. Path walking is iterative (no recursion on symlinks or depth).
// Limits: one program, running as root (uid/gid 0): mode bits are stored and only X_OK consults them, like
// Linux root; no ownership changes, no mount points, sockets, named FIFOs, block devices, O_TMPFILE, xattrs,
// file locks or RENAME_EXCHANGE; everything lives in guest RAM (files up to 1 GiB; out of memory is ENOMEM and
// leaves the tree consistent). Not thread-safe: the caller serialises all calls under one lock.
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>
#include <vfs/inode.h>
#include <vfs/linux_types.h>
#include <vfs/open_file.h>
#include <vfs/pipe.h>

namespace kernite::vfs {

// How walk() treats the last component when it is a symbolic link. A trailing slash always follows it, as on
// Linux ("link/" means the directory the link points to), except for Parent.
enum class WalkMode : u8 {
    FollowLast,   // stat, open, chdir...
    NoFollowLast, // lstat, readlink, O_NOFOLLOW
    Parent,       // mkdir, unlink, rmdir, rename, symlink, link: the last component is never followed
};

// The last component of a walked path and the directory holding it (see FileSystem::walk).
struct Lookup {
    Inode* parent { nullptr };             // the directory the last component was looked up in
    Inode* inode { nullptr };              // what it names, nullptr if it does not exist
    char name[linux_abi::name_max + 1] {}; // NUL-terminated; empty for "/" (the path names the start or root)
    usize name_length { 0 };
    bool trailing_slash { false }; // "name/": the caller must find a directory
    bool is_dot_or_dotdot() const;
};

class FileSystem {
public:
    static ErrorOr<FileSystem*> create();
    // Frees the whole tree (iteratively). Every OpenFile and every reference the caller took must be gone.
    static void destroy(FileSystem*);
    FileSystem(FileSystem const&) = delete;
    FileSystem& operator=(FileSystem const&) = delete;

    Inode* root() const { return m_root; }
    // Timestamps come from this clock (default: always zero).
    void set_clock(Timespec (*clock)()) { m_clock = clock; }
    Timespec now() const { return m_clock ? m_clock() : Timespec {}; }

    // Populates the tree from a cpio newc archive (magic 070701, or 070702 whose checksum is ignored): regular
    // files, directories and symlinks; hard links (same ino, nlink > 1) become real hard links. Device, FIFO
    // and socket entries, names with "..", malformed or truncated headers are EINVAL with a reason; entries
    // before the bad one stay loaded. `failed_offset`, if given, receives the offset of the refused header.
    ErrorOr<void> load_cpio(u8 const* archive, usize size, usize* failed_offset = nullptr);

    // Every path operation takes the directory a relative path starts from (the caller resolves AT_FDCWD or a
    // dirfd to it) and a NUL-terminated kernel string. Errors as Linux: ENOENT (missing, or empty path),
    // ENOTDIR, ELOOP (more than 40 symlinks), ENAMETOOLONG (component > 255 bytes, path >= 4096).
    ErrorOr<void> walk(Inode* start, char const* path, WalkMode mode, Lookup& out);
    // The inode a path names (borrowed: valid until the tree changes; ref() it to keep it).
    ErrorOr<Inode*> resolve(Inode* start, char const* path, bool follow_last = true);

    // open(2)/openat(2) semantics for O_CREAT, O_EXCL, O_TRUNC, O_DIRECTORY, O_NOFOLLOW, O_PATH, O_APPEND,
    // O_NONBLOCK; O_TMPFILE is EOPNOTSUPP. `mode` is used as given (apply the umask first). Returns a new
    // reference the caller owns. O_CLOEXEC is the caller's (an fd flag).
    ErrorOr<OpenFile*> open(Inode* start, char const* path, u32 flags, u32 mode);
    // A new open file description for an inode the caller already holds (e.g. reopening via /proc/self/fd).
    ErrorOr<OpenFile*> open_inode(Inode& inode, u32 flags);

    ErrorOr<void> mkdir(Inode* start, char const* path, u32 mode);
    ErrorOr<void> rmdir(Inode* start, char const* path);
    ErrorOr<void> unlink(Inode* start, char const* path);
    // renameat2(2); flags 0 or RENAME_NOREPLACE.
    ErrorOr<void> rename(Inode* old_start, char const* old_path, Inode* new_start, char const* new_path, u32 flags = 0);
    ErrorOr<void> symlink(char const* target, Inode* start, char const* path);
    // readlink(2): copies at most `size` bytes (no NUL) and returns the count; EINVAL if not a symlink.
    ErrorOr<usize> readlink(Inode* start, char const* path, char* buffer, usize size);
    // linkat(2); `follow` is AT_SYMLINK_FOLLOW. link_inode() is linkat with AT_EMPTY_PATH.
    ErrorOr<void> link(Inode* old_start, char const* old_path, Inode* new_start, char const* new_path,
        bool follow = false);
    ErrorOr<void> link_inode(Inode& inode, Inode* new_start, char const* new_path);
    ErrorOr<linux_abi::LinuxStat> stat(Inode* start, char const* path, bool follow = true);
    // truncate(2): EISDIR on a directory, EINVAL for other non-regular files or a negative length.
    ErrorOr<void> truncate(Inode* start, char const* path, i64 length);
    // access(2) as root: F_OK, R_OK and W_OK succeed on any existing file; X_OK needs a directory or some
    // execute bit. EINVAL for other mode bits.
    ErrorOr<void> access(Inode* start, char const* path, u32 mode, bool follow = true);
    ErrorOr<void> chmod(Inode* start, char const* path, u32 mode, bool follow = true);
    void chmod_inode(Inode& inode, u32 mode);
    // utimensat(2): `times` is null (both now) or two entries (atime, mtime) whose nanoseconds may be
    // UTIME_NOW or UTIME_OMIT; other out-of-range nanoseconds are EINVAL.
    ErrorOr<void> set_times(Inode* start, char const* path, linux_abi::LinuxTimespec const* times, bool follow = true);
    ErrorOr<void> set_inode_times(Inode& inode, linux_abi::LinuxTimespec const* times);
    // getcwd(2): writes the absolute path of `directory` with its NUL, returns the length including the NUL.
    // ENOENT if the directory has been removed, ERANGE if `size` is too small.
    ErrorOr<usize> absolute_path(Inode const* directory, char* buffer, usize size) const;

    // Kernel-provided entries; missing parent directories are created (mode 0755). EEXIST if the path exists.
    ErrorOr<void> add_device(char const* path, DeviceOps const* ops, void* context, u32 mode, u64 rdev = 0);
    ErrorOr<void> add_generated_file(char const* path, GenerateFn generate, void* context, u32 mode = 0444);
    ErrorOr<void> add_symlink(char const* path, char const* target);
    ErrorOr<void> make_directories(char const* path, u32 mode = 0755); // mkdir -p

    // pipe2(2): flags O_NONBLOCK, O_CLOEXEC (the caller's fd flag) and O_DIRECT (accepted, not packet mode);
    // anything else EINVAL. Both ends are new references the caller owns.
    ErrorOr<PipeEnds> create_pipe(u32 flags, WakeHook hook = {});

private:
    friend class Inode;

    FileSystem() = default;
    ~FileSystem() = default;

    // A new inode holding one reference, the caller's (nlink 0, not in the tree).
    ErrorOr<Inode*> create_inode(InodeType type, u32 mode);
    // Enters `inode` into the tree under `lookup`'s name (nlink, parent pointer, directory times).
    ErrorOr<void> attach(Lookup const& lookup, Inode& inode);
    // Takes an entry out of `parent` (nlink, parent pointer, times); may free the inode.
    void remove_child(Inode& parent, DirectoryEntry& entry);
    ErrorOr<void> ensure_parents(char const* path);
    ErrorOr<void> lookup_for_create(char const* path, Lookup& out);
    ErrorOr<OpenFile*> allocate_open_file(OpenFile::Kind kind, Inode& inode, u32 flags);

    // cpio helpers (cpio.cpp).
    class CpioLoader;
    friend class CpioLoader;

    Inode* m_root { nullptr };
    u64 m_next_ino { 1 };
    Timespec (*m_clock)() { nullptr };
};

} // namespace kernite::vfs
