// The program's file descriptor table: up to 1024 fds (RLIMIT_NOFILE's usual soft limit), each an OpenFile
// reference plus the close-on-exec flag. New fds are the lowest free number, as POSIX requires.
// The table holds its own reference on each OpenFile: install() and the dup family ref(), close() unref()s.
#pragma once

#include <ktl/error.h>
#include <ktl/types.h>
#include <vfs/open_file.h>

namespace kernite::vfs {

class FdTable {
public:
    static constexpr int max_fds = 1024;

    static ErrorOr<FdTable*> create();
    static void destroy(FdTable*); // closes every fd first
    FdTable(FdTable const&) = delete;
    FdTable& operator=(FdTable const&) = delete;

    // The lowest free fd >= `min_fd` now refers to `file` (a new reference is taken). EMFILE when none is
    // free, EINVAL when `min_fd` is negative or not below max_fds (F_DUPFD's rule).
    ErrorOr<int> install(OpenFile& file, bool cloexec, int min_fd = 0);
    // Borrowed: valid while the fd stays open. EBADF for a closed or out-of-range fd.
    ErrorOr<OpenFile*> get(int fd) const;
    ErrorOr<void> close(int fd);

    ErrorOr<int> dup(int fd);                               // lowest free fd, close-on-exec clear
    ErrorOr<int> dup2(int old_fd, int new_fd);              // same fd: checks it and returns it
    ErrorOr<int> dup3(int old_fd, int new_fd, u32 flags);   // flags 0 or O_CLOEXEC; same fd is EINVAL
    ErrorOr<int> dup_min(int fd, int min_fd, bool cloexec); // F_DUPFD, F_DUPFD_CLOEXEC

    ErrorOr<bool> cloexec(int fd) const;             // F_GETFD
    ErrorOr<void> set_cloexec(int fd, bool cloexec); // F_SETFD

    void close_all();
    void close_on_exec(); // closes every fd with close-on-exec set
    int open_count() const { return m_open_count; }

private:
    struct Slot {
        OpenFile* file;
        bool cloexec;
    };

    FdTable() = default;
    ~FdTable() = default;
    void replace(int fd, OpenFile& file, bool cloexec);

    Slot m_slots[max_fds] {};
    int m_open_count { 0 };
};

} // namespace kernite::vfs
