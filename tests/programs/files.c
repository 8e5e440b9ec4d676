// Files and directories (issue 3 items 2 and 5), all with paths relative to the working directory: the runner
// starts the program in a copy of the rootfs template natively and with that copy as `/` under Kernite.
// Uses the template's data/hello.txt and the symlink links/hello-link -> ../data/hello.txt; works in
// files-work/, which it creates and removes.
#define _GNU_SOURCE
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static char const hello_text[] = "hello from the rootfs\n";

// Reads a whole small file into buffer (NUL-terminated); returns its length or -1.
static ssize_t read_file(char const* path, char* buffer, size_t size)
{
    int const fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    size_t total = 0;
    for (;;) {
        ssize_t const got = read(fd, buffer + total, size - 1 - total);
        if (got <= 0)
            break;
        total += (size_t)got;
    }
    close(fd);
    buffer[total] = '\0';
    return (ssize_t)total;
}

static int write_file(char const* path, char const* text)
{
    int const fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    ssize_t const written = write(fd, text, strlen(text));
    close(fd);
    return written == (ssize_t)strlen(text) ? 0 : -1;
}

// Expect a call to fail with a given errno; prints the errno name it got.
#define EXPECT_ERRNO(call, expected, what)                                                                             \
    do {                                                                                                               \
        errno = 0;                                                                                                     \
        long const result_ = (long)(call);                                                                             \
        int const error_ = errno;                                                                                      \
        CHECK(result_ == -1 && error_ == (expected), "%s: expected %s", what, #expected);                              \
        printf("%s: %s\n", what, result_ == -1 ? errno_name(error_) : "succeeded");                                    \
    } while (0)

static void test_template_files(void)
{
    char buffer[256];
    CHECK(read_file("data/hello.txt", buffer, sizeof(buffer)) == (ssize_t)strlen(hello_text)
            && strcmp(buffer, hello_text) == 0,
        "data/hello.txt content");
    printf("data/hello.txt: %s", buffer);

    ssize_t const length = readlink("links/hello-link", buffer, sizeof(buffer) - 1);
    CHECK(length > 0, "readlink");
    buffer[length > 0 ? length : 0] = '\0';
    printf("readlink links/hello-link: %s\n", buffer);
    CHECK(read_file("links/hello-link", buffer, sizeof(buffer)) > 0 && strcmp(buffer, hello_text) == 0,
        "reading through the symlink");
    EXPECT_ERRNO(readlink("data/hello.txt", buffer, sizeof(buffer)), EINVAL, "readlink of a regular file");
    EXPECT_ERRNO(readlink("no-such-link", buffer, sizeof(buffer)), ENOENT, "readlink of a missing path");

    struct stat link_stat, target_stat;
    CHECK(fstatat(AT_FDCWD, "links/hello-link", &link_stat, AT_SYMLINK_NOFOLLOW) == 0, "fstatat NOFOLLOW");
    CHECK(stat("links/hello-link", &target_stat) == 0, "stat through the link");
    CHECK(S_ISLNK(link_stat.st_mode) && link_stat.st_size == (off_t)strlen("../data/hello.txt"),
        "lstat of the link: S_IFLNK, size of the target path");
    CHECK(S_ISREG(target_stat.st_mode) && target_stat.st_size == (off_t)strlen(hello_text), "stat follows");
    printf("links/hello-link: lstat %s size %lld, stat %s size %lld\n", S_ISLNK(link_stat.st_mode) ? "symlink" : "?",
        (long long)link_stat.st_size, S_ISREG(target_stat.st_mode) ? "regular" : "?", (long long)target_stat.st_size);

    CHECK(access("data/hello.txt", F_OK) == 0 && access("data/hello.txt", R_OK) == 0, "access F_OK/R_OK");
    EXPECT_ERRNO(access("data/missing.txt", F_OK), ENOENT, "access of a missing file");
    EXPECT_ERRNO(open("data/hello.txt/x", O_RDONLY), ENOTDIR, "open through a regular file");
}

static void test_read_write(void)
{
    CHECK(mkdir("files-work", 0755) == 0, "mkdir files-work");
    EXPECT_ERRNO(mkdir("files-work", 0755), EEXIST, "mkdir of an existing directory");

    // Write in pieces, read back, seek around.
    int fd = open("files-work/a.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(fd >= 0, "create a.txt");
    CHECK(write(fd, "0123456789", 10) == 10 && write(fd, "abcdef", 6) == 6, "write");
    CHECK(lseek(fd, 0, SEEK_CUR) == 16, "offset after writing");
    CHECK(lseek(fd, 4, SEEK_SET) == 4, "SEEK_SET");
    char buffer[64] = { 0 };
    CHECK(read(fd, buffer, 6) == 6 && memcmp(buffer, "456789", 6) == 0, "read after SEEK_SET");
    CHECK(lseek(fd, -3, SEEK_END) == 13, "SEEK_END");
    CHECK(read(fd, buffer, sizeof(buffer)) == 3 && memcmp(buffer, "def", 3) == 0, "read to the end");
    CHECK(read(fd, buffer, sizeof(buffer)) == 0, "read at the end is 0");
    EXPECT_ERRNO(lseek(fd, -100, SEEK_SET), EINVAL, "lseek before the start");

    // A write past the end leaves a hole of zeros.
    CHECK(lseek(fd, 20, SEEK_SET) == 20 && write(fd, "Z", 1) == 1, "write past the end");
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_size == 21, "size with the hole");
    CHECK(pread(fd, buffer, 5, 16) == 5 && memcmp(buffer, "\0\0\0\0Z", 5) == 0, "the hole reads as zeros");

    // pread/pwrite leave the offset alone.
    off_t const offset = lseek(fd, 0, SEEK_CUR);
    CHECK(pwrite(fd, "XY", 2, 2) == 2, "pwrite");
    CHECK(pread(fd, buffer, 4, 0) == 4 && memcmp(buffer, "01XY", 4) == 0, "pread sees pwrite");
    CHECK(lseek(fd, 0, SEEK_CUR) == offset, "offset unchanged by pread/pwrite");

    // ftruncate shrinks, then grows with zeros.
    CHECK(ftruncate(fd, 8) == 0 && fstat(fd, &st) == 0 && st.st_size == 8, "ftruncate to 8");
    CHECK(ftruncate(fd, 12) == 0 && pread(fd, buffer, 12, 0) == 12 && memcmp(buffer, "01XY4567\0\0\0\0", 12) == 0,
        "ftruncate grows with zeros");
    CHECK(fsync(fd) == 0, "fsync");

    // readv/writev.
    struct iovec out[3] = { { "one ", 4 }, { "two ", 4 }, { "three", 5 } };
    CHECK(lseek(fd, 0, SEEK_SET) == 0 && writev(fd, out, 3) == 13, "writev");
    char first[5] = { 0 }, rest[16] = { 0 };
    struct iovec in[2] = { { first, 4 }, { rest, 9 } };
    CHECK(lseek(fd, 0, SEEK_SET) == 0 && readv(fd, in, 2) == 13, "readv");
    CHECK(strcmp(first, "one ") == 0 && strcmp(rest, "two three") == 0, "readv contents");
    close(fd);
    printf("read/write: pieces, seeks, a hole, pread/pwrite, ftruncate, readv/writev\n");

    // O_APPEND always writes at the end.
    fd = open("files-work/a.txt", O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && lseek(fd, 0, SEEK_SET) == 0 && write(fd, "!", 1) == 1, "append");
    close(fd);
    CHECK(read_file("files-work/a.txt", buffer, sizeof(buffer)) == 14 && strcmp(buffer, "one two three!") == 0,
        "O_APPEND wrote at the end");
    printf("a.txt: %s\n", buffer);

    // Open flags and their errors.
    EXPECT_ERRNO(open("files-work/a.txt", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST, "O_CREAT|O_EXCL on a file");
    EXPECT_ERRNO(open("files-work/missing", O_RDONLY), ENOENT, "open of a missing file");
    EXPECT_ERRNO(open("files-work", O_WRONLY), EISDIR, "open of a directory for writing");
    EXPECT_ERRNO(open("files-work/a.txt", O_RDONLY | O_DIRECTORY), ENOTDIR, "O_DIRECTORY on a file");
    EXPECT_ERRNO(write(-1, "x", 1), EBADF, "write to fd -1");
    fd = open("files-work/a.txt", O_RDONLY);
    EXPECT_ERRNO(write(fd, "x", 1), EBADF, "write to a read-only fd");
    close(fd);

    // stat fields of a new file.
    CHECK(stat("files-work/a.txt", &st) == 0, "stat a.txt");
    CHECK(S_ISREG(st.st_mode) && st.st_size == 14 && st.st_nlink == 1 && st.st_blksize > 0, "stat fields");
    CHECK(llabs((long long)st.st_mtime - (long long)time(NULL)) < 60, "mtime is now");
    printf("stat a.txt: regular, size %lld, nlink %lu, owner %s%s, mtime now\n", (long long)st.st_size,
        (unsigned long)st.st_nlink, (st.st_mode & S_IRUSR) ? "r" : "-", (st.st_mode & S_IWUSR) ? "w" : "-");
    CHECK(stat("files-work", &st) == 0 && S_ISDIR(st.st_mode), "stat of the directory");
}

// dup, dup2, dup3, fcntl: descriptors share one open file description (and its offset).
static void test_descriptors(void)
{
    int const fd = open("files-work/a.txt", O_RDONLY);
    CHECK(fd >= 3, "open");
    int const copy = dup(fd);
    CHECK(copy > fd, "dup gives the lowest free fd");
    char c;
    CHECK(read(fd, &c, 1) == 1 && lseek(copy, 0, SEEK_CUR) == 1, "dup'd fds share the offset");
    CHECK(dup2(fd, 100) == 100, "dup2 to 100");
    CHECK(dup2(fd, fd) == fd, "dup2 to itself");
    EXPECT_ERRNO(dup3(fd, fd, 0), EINVAL, "dup3 to itself");
    CHECK(dup3(fd, 101, O_CLOEXEC) == 101 && fcntl(101, F_GETFD) == FD_CLOEXEC, "dup3 O_CLOEXEC");
    CHECK(fcntl(100, F_GETFD) == 0, "dup2 clears FD_CLOEXEC");
    int const low = fcntl(fd, F_DUPFD_CLOEXEC, 50);
    CHECK(low == 50 && fcntl(low, F_GETFD) == FD_CLOEXEC, "F_DUPFD_CLOEXEC from 50");
    CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY, "F_GETFL");
    CHECK(fcntl(fd, F_SETFL, O_NONBLOCK) == 0 && (fcntl(copy, F_GETFL) & O_NONBLOCK), "status flags are shared");
    close(fd);
    close(copy);
    close(100);
    close(101);
    close(low);
    EXPECT_ERRNO(close(fd), EBADF, "close of a closed fd");
    printf("descriptors: dup, dup2, dup3, F_DUPFD_CLOEXEC, F_GETFL/F_SETFL, F_GETFD\n");
}

static int compare_names(void const* left, void const* right)
{
    return strcmp(*(char* const*)left, *(char* const*)right);
}

static void test_directories(void)
{
    CHECK(mkdir("files-work/sub", 0755) == 0, "mkdir sub");
    char const* const names[] = { "zeta", "alpha", "mid.txt", "Upper", "9lives" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); ++i) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "files-work/sub/%s", names[i]);
        CHECK(write_file(path, names[i]) == 0, "create %s", names[i]);
    }
    CHECK(mkdir("files-work/sub/dir", 0755) == 0, "mkdir sub/dir");

    // readdir returns every entry once, with "." and "..", in an order of its own: sort before printing.
    DIR* dir = opendir("files-work/sub");
    CHECK(dir != NULL, "opendir");
    char* entries[32];
    int count = 0;
    struct dirent* entry;
    while (dir && (entry = readdir(dir)) && count < 32) {
        char line[300];
        char const* type = entry->d_type == DT_REG ? "file" : entry->d_type == DT_DIR ? "dir" : "other";
        snprintf(line, sizeof(line), "%s (%s)", entry->d_name, type);
        entries[count++] = strdup(line);
    }
    if (dir)
        closedir(dir);
    qsort(entries, (size_t)count, sizeof(char*), compare_names);
    printf("readdir files-work/sub: %d entries:", count);
    for (int i = 0; i < count; ++i) {
        printf(" %s", entries[i]);
        free(entries[i]);
    }
    printf("\n");
    CHECK(count == 8, "8 entries with . and ..");

    // rename: a file, over an existing file, and a directory; errors.
    CHECK(rename("files-work/sub/zeta", "files-work/sub/omega") == 0, "rename");
    EXPECT_ERRNO(access("files-work/sub/zeta", F_OK), ENOENT, "the old name after rename");
    char buffer[64];
    CHECK(read_file("files-work/sub/omega", buffer, sizeof(buffer)) == 4 && strcmp(buffer, "zeta") == 0,
        "content follows the rename");
    CHECK(rename("files-work/sub/alpha", "files-work/sub/omega") == 0, "rename over an existing file");
    CHECK(read_file("files-work/sub/omega", buffer, sizeof(buffer)) == 5 && strcmp(buffer, "alpha") == 0,
        "the replaced file has the new content");
    CHECK(rename("files-work/sub/dir", "files-work/moved-dir") == 0, "rename a directory");
    EXPECT_ERRNO(rename("files-work/missing", "files-work/x"), ENOENT, "rename of a missing file");
    EXPECT_ERRNO(rename("files-work", "files-work/sub/inside"), EINVAL, "rename a directory into itself");

    // fstatat relative to a directory fd, openat.
    int const dirfd = open("files-work/sub", O_RDONLY | O_DIRECTORY);
    CHECK(dirfd >= 0, "open a directory O_DIRECTORY");
    struct stat st;
    CHECK(fstatat(dirfd, "omega", &st, 0) == 0 && st.st_size == 5, "fstatat relative to a dirfd");
    int const fd = openat(dirfd, "created-at", O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0 && write(fd, "at", 2) == 2, "openat create");
    close(fd);
    CHECK(access("files-work/sub/created-at", F_OK) == 0, "openat created in the directory");
    CHECK(unlinkat(dirfd, "created-at", 0) == 0, "unlinkat");
    close(dirfd);

    // unlink, rmdir and their errors.
    EXPECT_ERRNO(rmdir("files-work/sub"), ENOTEMPTY, "rmdir of a non-empty directory");
    EXPECT_ERRNO(unlink("files-work/sub"), EISDIR, "unlink of a directory");
    EXPECT_ERRNO(rmdir("files-work/sub/omega"), ENOTDIR, "rmdir of a file");
    EXPECT_ERRNO(unlink("files-work/sub/zeta"), ENOENT, "unlink of a missing file");
    char const* const remaining[] = { "omega", "mid.txt", "Upper", "9lives" };
    for (size_t i = 0; i < sizeof(remaining) / sizeof(remaining[0]); ++i) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "files-work/sub/%s", remaining[i]);
        CHECK(unlink(path) == 0, "unlink %s", remaining[i]);
    }
    CHECK(rmdir("files-work/sub") == 0 && rmdir("files-work/moved-dir") == 0, "rmdir");
    printf("rename, fstatat/openat/unlinkat, unlink and rmdir done\n");
}

static void test_working_directory(void)
{
    char start[PATH_MAX], inside[PATH_MAX], back[PATH_MAX];
    CHECK(getcwd(start, sizeof(start)) != NULL && start[0] == '/', "getcwd is absolute");
    CHECK(mkdir("files-work/deep", 0755) == 0 && mkdir("files-work/deep/er", 0755) == 0, "mkdir deep/er");
    CHECK(chdir("files-work/deep/er") == 0, "chdir");
    CHECK(getcwd(inside, sizeof(inside)) != NULL, "getcwd inside");
    size_t const length = strlen(inside);
    int const suffix_ok = length >= 19 && strcmp(inside + length - 19, "/files-work/deep/er") == 0;
    CHECK(suffix_ok && strncmp(inside, start, strlen(start)) == 0, "getcwd names the new directory");
    printf("getcwd after chdir ends with %s\n", suffix_ok ? "/files-work/deep/er" : "something else");
    CHECK(write_file("here.txt", "relative") == 0, "create relative to the new cwd");
    CHECK(access("../../deep/er/here.txt", F_OK) == 0, "dot-dot paths");
    CHECK(unlink("here.txt") == 0, "unlink relative");
    CHECK(chdir("../..") == 0 && chdir("..") == 0, "chdir ..");
    CHECK(getcwd(back, sizeof(back)) != NULL && strcmp(back, start) == 0, "back where it started");
    EXPECT_ERRNO(chdir("files-work/missing"), ENOENT, "chdir to a missing directory");
    EXPECT_ERRNO(chdir("data/hello.txt"), ENOTDIR, "chdir to a file");
    CHECK(rmdir("files-work/deep/er") == 0 && rmdir("files-work/deep") == 0, "rmdir deep");
    // Linux's getcwd(2) rule (fs/d_path.c): the path and its NUL must fit, so ERANGE when size < strlen + 1.
    // Checked in directories whose paths are the same on both sides ("/" and "/" plus a known name), never in
    // the start directory, whose length differs between the native run and Kernite.
    char tiny[2];
    CHECK(chdir("/") == 0, "chdir /");
    CHECK(getcwd(tiny, sizeof(tiny)) != NULL && strcmp(tiny, "/") == 0, "getcwd of / fits in 2 bytes");
    EXPECT_ERRNO(getcwd(tiny, 1) == NULL ? -1 : 0, ERANGE, "getcwd of / into 1 byte");
    CHECK(chdir("/tmp") == 0, "chdir /tmp");
    EXPECT_ERRNO(getcwd(tiny, sizeof(tiny)) == NULL ? -1 : 0, ERANGE, "getcwd of /tmp into 2 bytes");
    char exact[5];
    CHECK(getcwd(exact, sizeof(exact)) != NULL && strcmp(exact, "/tmp") == 0, "getcwd of /tmp into 5 bytes");
    printf("getcwd: / fits in 2 bytes, /tmp needs 5, smaller is ERANGE\n");
    CHECK(chdir(start) == 0, "chdir back to the start");
}

static void test_devices(void)
{
    int const null_fd = open("/dev/null", O_RDWR);
    char buffer[16];
    CHECK(null_fd >= 0 && write(null_fd, "gone", 4) == 4 && read(null_fd, buffer, sizeof(buffer)) == 0,
        "/dev/null swallows writes and reads empty");
    close(null_fd);
    int const zero_fd = open("/dev/zero", O_RDONLY);
    memset(buffer, 0x7f, sizeof(buffer));
    CHECK(zero_fd >= 0 && read(zero_fd, buffer, sizeof(buffer)) == (ssize_t)sizeof(buffer), "/dev/zero reads");
    int zeros = 1;
    for (size_t i = 0; i < sizeof(buffer); ++i)
        zeros = zeros && buffer[i] == 0;
    CHECK(zeros, "/dev/zero gives zeros");
    close(zero_fd);
    int const random_fd = open("/dev/urandom", O_RDONLY);
    CHECK(random_fd >= 0 && read(random_fd, buffer, sizeof(buffer)) == (ssize_t)sizeof(buffer), "/dev/urandom");
    close(random_fd);
    printf("devices: /dev/null, /dev/zero, /dev/urandom\n");
}

// Reads exactly `length` bytes (a pipe may hand them out in several reads).
static int read_fully(int fd, char* buffer, size_t length)
{
    size_t done = 0;
    while (done < length) {
        ssize_t const got = read(fd, buffer + done, length - done);
        if (got <= 0)
            return 0;
        done += (size_t)got;
    }
    return 1;
}

// sendfile into a full non-blocking pipe: only what the pipe took (its 64 KiB) counts, and the input's offset
// (the file's, or the one passed in) moves by exactly that much: no byte read and not sent is lost.
static void test_sendfile_short_write(void)
{
    static char block[100 * 1024];
    for (size_t i = 0; i < sizeof(block); ++i)
        block[i] = (char)(i * 13 + (i >> 10));
    int const fd = open("sendfile-source", O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, block, sizeof(block)) == (ssize_t)sizeof(block) && lseek(fd, 0, SEEK_SET) == 0,
        "sendfile source written");
    int fds[2];
    CHECK(pipe2(fds, O_NONBLOCK) == 0, "non-blocking pipe");
    ssize_t const sent = sendfile(fds[1], fd, NULL, sizeof(block));
    CHECK(sent == 65536, "sendfile fills the pipe: %zd", sent);
    CHECK(lseek(fd, 0, SEEK_CUR) == sent, "the file offset moved by what was sent");
    static char got[65536];
    CHECK(read_fully(fds[0], got, sizeof(got)) && memcmp(got, block, sizeof(got)) == 0,
        "the pipe holds the file's first 64 KiB");
    off_t offset = 4096; // page-aligned: from elsewhere Linux fills the pipe's first page only partly
    ssize_t const sent_at = sendfile(fds[1], fd, &offset, sizeof(block));
    CHECK(sent_at == 65536 && offset == 4096 + 65536, "sendfile at an offset: %zd, offset %lld", sent_at,
        (long long)offset);
    CHECK(lseek(fd, 0, SEEK_CUR) == 65536, "an explicit offset leaves the file offset alone");
    CHECK(read_fully(fds[0], got, sizeof(got)) && memcmp(got, block + 4096, sizeof(got)) == 0,
        "the pipe holds the bytes from the offset on");
    errno = 0;
    CHECK(sendfile(fds[1], fd, NULL, 0) == 0, "sendfile of nothing");
    close(fds[0]);
    close(fds[1]);
    close(fd);
    CHECK(unlink("sendfile-source") == 0, "remove the sendfile source");
    printf("sendfile: a short write keeps the unsent bytes\n");
}

int main(void)
{
    test_template_files();
    test_read_write();
    test_descriptors();
    test_directories();
    test_working_directory();
    test_devices();
    test_sendfile_short_write();
    CHECK(unlink("files-work/a.txt") == 0 && rmdir("files-work") == 0, "clean up files-work");
    return check_summary("files");
}
