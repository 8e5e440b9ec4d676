#include "rootfs_pack.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kernite::monitor {

namespace {

// Paths inside the VM are at most 4095 bytes (Linux PATH_MAX with its NUL): a longer one could not be opened.
constexpr usize max_path_length = 4095;
constexpr usize max_symlink_length = 4095;
constexpr u64 newc_max_field = 0xffffffffull;
constexpr char const trailer_name[] = "TRAILER!!!";

class FileDescriptor {
public:
    explicit FileDescriptor(int fd)
        : m_fd(fd)
    {
    }
    FileDescriptor(FileDescriptor const&) = delete;
    FileDescriptor& operator=(FileDescriptor const&) = delete;
    ~FileDescriptor()
    {
        if (m_fd >= 0)
            close(m_fd);
    }
    int get() const { return m_fd; }
    // Hands the descriptor over (to fdopendir, which then owns it).
    int release() { return std::exchange(m_fd, -1); }

private:
    int m_fd;
};

struct Entry {
    u32 mode; // file type and permission bits
    u32 nlink;
    u32 mtime;     // seconds since the epoch
    u32 data_size; // file contents or symlink target
};

u64 padding_to_4(u64 length) { return (4 - length % 4) % 4; }

class Packer {
public:
    Packer(std::string root, u64 max_size)
        : m_root(std::move(root))
        , m_max_size(max_size)
    {
    }

    Result<Ok> pack_directory(int directory_fd, std::string const& prefix)
    {
        auto names = read_names(directory_fd, prefix);
        if (!names.ok())
            return fail(names.error());
        for (auto const& name : names.value()) {
            std::string const path = prefix + name;
            if (path == trailer_name) // the archive's end marker: an entry of that name would end it early
                return fail("rootfs " + m_root + ": " + shown(path) + " has the name of the cpio trailer");
            if (path.size() > max_path_length)
                return fail("rootfs " + m_root + ": path " + shown(path) + " is longer than "
                    + std::to_string(max_path_length) + " bytes");
            struct stat status { };
            if (fstatat(directory_fd, name.c_str(), &status, AT_SYMLINK_NOFOLLOW) != 0)
                return fail(cannot("stat", path));
            if (auto packed = pack_entry(directory_fd, name, path, status); !packed.ok())
                return packed;
        }
        return Ok {};
    }

    Result<Ok> finish()
    {
        if (!reserve(trailer_name, 0, false))
            return too_large(trailer_name);
        append_header(trailer_name, 0, { 0, 1, 0, 0 });
        return Ok {};
    }

    std::vector<u8>& archive() { return m_archive; }

private:
    Result<Ok> pack_entry(int directory_fd, std::string const& name, std::string const& path, struct stat const& status)
    {
        u32 const permissions = status.st_mode & 07777;
        Entry entry { 0, 1, clamp_time(status.st_mtim.tv_sec), 0 };
        if (S_ISDIR(status.st_mode)) {
            entry.mode = S_IFDIR | permissions;
            entry.nlink = 2;
            if (!reserve(path, 0))
                return too_large(path);
            FileDescriptor child(openat(directory_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (child.get() < 0)
                return fail(cannot("open", path));
            append_header(path, ++m_next_inode, entry);
            return pack_directory(child.get(), path + "/");
        }
        if (S_ISLNK(status.st_mode)) {
            char target[max_symlink_length + 1];
            ssize_t length = readlinkat(directory_fd, name.c_str(), target, sizeof(target));
            if (length < 0)
                return fail(cannot("read the symlink", path));
            if (static_cast<usize>(length) > max_symlink_length)
                return fail("rootfs " + m_root + ": symlink " + shown(path) + " has a target of 4096 bytes or more");
            entry.mode = S_IFLNK | permissions;
            entry.data_size = static_cast<u32>(length);
            if (!reserve(path, entry.data_size))
                return too_large(path);
            append_header(path, ++m_next_inode, entry);
            append(target, entry.data_size);
            return Ok {};
        }
        if (S_ISREG(status.st_mode))
            return pack_file(directory_fd, name, path, status);
        char const* kind = S_ISFIFO(status.st_mode) ? "a fifo"
            : S_ISSOCK(status.st_mode)              ? "a socket"
            : S_ISCHR(status.st_mode)               ? "a character device"
            : S_ISBLK(status.st_mode)               ? "a block device"
                                                    : "of an unknown type";
        return fail("rootfs " + m_root + ": " + shown(path) + " is " + kind
            + ": only regular files, directories and symlinks can be packed");
    }

    Result<Ok> pack_file(int directory_fd, std::string const& name, std::string const& path, struct stat const& status)
    {
        if (static_cast<u64>(status.st_size) > newc_max_field)
            return fail("rootfs " + m_root + ": " + shown(path) + " is 4 GiB or larger (the cpio newc limit)");
        u32 const size = static_cast<u32>(status.st_size);
        if (!reserve(path, size))
            return too_large(path);
        // O_NONBLOCK: if the entry was swapped for a fifo since fstatat, open must not wait for a writer.
        FileDescriptor file(openat(directory_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
        if (file.get() < 0)
            return fail(cannot("read", path));
        struct stat opened { };
        if (fstat(file.get(), &opened) != 0 || !S_ISREG(opened.st_mode) || opened.st_ino != status.st_ino
            || opened.st_dev != status.st_dev || opened.st_size != status.st_size)
            return fail("rootfs " + m_root + ": " + shown(path) + " changed while it was being packed");
        append_header(path, ++m_next_inode,
            { static_cast<u32>(S_IFREG | (status.st_mode & 07777)), 1, clamp_time(status.st_mtim.tv_sec), size });
        usize const start = m_archive.size();
        m_archive.resize(start + size);
        u64 done = 0;
        while (done < size) {
            ssize_t got = read(file.get(), m_archive.data() + start + done, size - done);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0)
                return fail(cannot("read", path));
            if (got == 0)
                return fail("rootfs " + m_root + ": " + shown(path) + " shrank while it was being packed");
            done += static_cast<u64>(got);
        }
        pad();
        return Ok {};
    }

    Result<std::vector<std::string>> read_names(int directory_fd, std::string const& prefix)
    {
        std::string const shown_directory = prefix.empty() ? m_root : shown(prefix.substr(0, prefix.size() - 1));
        // fdopendir owns the descriptor it gets: give it a duplicate, positioned at the start.
        FileDescriptor duplicate(fcntl(directory_fd, F_DUPFD_CLOEXEC, 0));
        if (duplicate.get() < 0)
            return fail("rootfs: cannot list " + shown_directory + ": " + std::strerror(errno));
        DIR* directory = fdopendir(duplicate.get());
        if (!directory)
            return fail("rootfs: cannot list " + shown_directory + ": " + std::strerror(errno));
        duplicate.release();
        rewinddir(directory);
        std::vector<std::string> names;
        for (;;) {
            errno = 0;
            dirent* entry = readdir(directory);
            if (!entry)
                break;
            std::string_view const name = entry->d_name;
            if (name != "." && name != "..")
                names.emplace_back(name);
        }
        int const error = errno;
        closedir(directory);
        if (error != 0)
            return fail("rootfs: cannot list " + shown_directory + ": " + std::strerror(error));
        std::sort(names.begin(), names.end());
        return names;
    }

    // True when an entry named `path` with `data_size` bytes, and (unless it is the trailer) the trailer after it,
    // stay within the limit.
    bool reserve(std::string_view path, u64 data_size, bool trailer_follows = true) const
    {
        auto entry_size = [](u64 name_size, u64 data) {
            u64 const header = cpio_newc_header_size + name_size + 1;
            return header + padding_to_4(header) + data + padding_to_4(data);
        };
        u64 const needed
            = entry_size(path.size(), data_size) + (trailer_follows ? entry_size(sizeof(trailer_name) - 1, 0) : 0);
        return m_archive.size() <= m_max_size && needed <= m_max_size - m_archive.size();
    }

    Failure too_large(std::string_view path) const
    {
        return fail("rootfs " + m_root + " is larger than the " + std::to_string(m_max_size >> 20)
            + " MiB limit (reached at " + shown(std::string(path)) + ")");
    }

    std::string shown(std::string const& path) const { return m_root + "/" + path; }

    // Call right after the failed system call: it reads errno first.
    std::string cannot(char const* what, std::string const& path) const
    {
        int const error = errno;
        return "rootfs: cannot " + std::string(what) + " " + shown(path) + ": " + std::strerror(error);
    }

    static u32 clamp_time(time_t seconds)
    {
        if (seconds < 0)
            return 0;
        return static_cast<u64>(seconds) > newc_max_field ? static_cast<u32>(newc_max_field)
                                                          : static_cast<u32>(seconds);
    }

    void append(void const* data, usize length)
    {
        auto const* bytes = static_cast<u8 const*>(data);
        m_archive.insert(m_archive.end(), bytes, bytes + length);
        pad();
    }

    void pad() { m_archive.resize(m_archive.size() + padding_to_4(m_archive.size())); }

    // cpio(5) newc: magic, then ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
    // rdevminor, namesize (with the NUL), check; each 8 hex digits. Name and data are each padded to 4 bytes.
    void append_header(std::string_view name, u32 inode, Entry const& entry)
    {
        char header[cpio_newc_header_size + 1];
        std::snprintf(header, sizeof(header), "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x", inode,
            entry.mode, 0u, 0u, entry.nlink, entry.mtime, entry.data_size, 0u, 0u, 0u, 0u,
            static_cast<u32>(name.size() + 1), 0u);
        m_archive.insert(m_archive.end(), header, header + cpio_newc_header_size);
        m_archive.insert(m_archive.end(), name.begin(), name.end());
        m_archive.push_back(0);
        pad();
    }

    std::string m_root;
    u64 m_max_size;
    u32 m_next_inode { 0 };
    std::vector<u8> m_archive;
};

} // namespace

Result<std::vector<u8>> pack_rootfs(std::string const& directory, u64 max_size)
{
    FileDescriptor root(open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (root.get() < 0) {
        int const error = errno;
        return fail("rootfs " + directory + ": " + (error == ENOTDIR ? "not a directory" : std::strerror(error)));
    }
    Packer packer(directory, max_size);
    if (auto packed = packer.pack_directory(root.get(), ""); !packed.ok())
        return fail(packed.error());
    if (auto finished = packer.finish(); !finished.ok())
        return fail(finished.error());
    return std::move(packer.archive());
}

} // namespace kernite::monitor
