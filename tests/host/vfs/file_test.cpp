// Open file descriptions: open(2) flag semantics, read/write/seek, growth with holes, ftruncate, getdents64
// and reference counting.
#include "vfs_test_support.h"

#include <random>

using namespace vfs_test;

namespace {

TEST_F(FsTest, OpenCreateExclTrunc)
{
    EXPECT_EQ(open_errno("/f", o_rdonly), ENOENT);
    OpenFile* f = open("/f", o_wronly | o_creat, 0600);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(inode("/f")->mode(), s_ifreg | 0600);
    EXPECT_EQ(f->write("hello", 5).value(), 5u);
    f->unref();
    EXPECT_EQ(open_errno("/f", o_wronly | o_creat | o_excl), EEXIST);
    EXPECT_EQ(open_errno("/f", o_rdonly | o_creat), 0); // O_CREAT alone opens an existing file
    EXPECT_EQ(read_file("/f"), "hello");
    EXPECT_EQ(open_errno("/f", o_rdwr | o_trunc), 0);
    EXPECT_EQ(read_file("/f"), "");
    write_file("/f", "again");
    EXPECT_EQ(open_errno("/f", o_rdonly | o_trunc), 0); // Linux truncates even read-only opens
    EXPECT_EQ(read_file("/f"), "");
    EXPECT_EQ(open_errno("/missing/f", o_wronly | o_creat), ENOENT);
    EXPECT_EQ(open_errno("/new/", o_wronly | o_creat), EISDIR);
    EXPECT_EQ(open_errno("/f/", o_rdonly), ENOTDIR);
}

TEST_F(FsTest, OpenCreateThroughDanglingSymlinkCreatesTheTarget)
{
    ASSERT_FALSE(fs->symlink("/created", root, "/link").is_error());
    EXPECT_EQ(open_errno("/link", o_wronly | o_creat | o_excl), EEXIST); // O_EXCL: never follows
    EXPECT_FALSE(exists("/created"));
    EXPECT_EQ(open_errno("/link", o_wronly | o_creat), 0);
    EXPECT_TRUE(exists("/created"));
}

TEST_F(FsTest, OpenDirectoriesAndFlags)
{
    ASSERT_FALSE(fs->mkdir(root, "/d", 0755).is_error());
    write_file("/f", "x");
    EXPECT_EQ(open_errno("/d", o_wronly), EISDIR);
    EXPECT_EQ(open_errno("/d", o_rdwr), EISDIR);
    EXPECT_EQ(open_errno("/d", o_rdonly | o_creat), EISDIR);
    EXPECT_EQ(open_errno("/d", o_rdonly | o_trunc), EISDIR);
    EXPECT_EQ(open_errno("/d", o_rdonly | o_directory), 0);
    EXPECT_EQ(open_errno("/f", o_rdonly | o_directory), ENOTDIR);
    EXPECT_EQ(open_errno("/d/x", o_rdwr | o_creat | o_directory), EINVAL);
    EXPECT_EQ(open_errno("/d/t", o_rdwr | o_tmpfile), ENOTSUP);
    EXPECT_EQ(open_errno("/d/t", o_rdwr | o_tmpfile_bit), EINVAL);

    OpenFile* d = open("/d", o_rdonly);
    ASSERT_NE(d, nullptr);
    EXPECT_TRUE(d->is_directory());
    char buffer[4];
    EXPECT_EQ(errno_of(d->read(buffer, 4)), EISDIR);
    EXPECT_EQ(errno_of(d->pread(buffer, 4, 0)), EISDIR);
    d->unref();
}

TEST_F(FsTest, NoFollowAndPath)
{
    write_file("/f", "x");
    ASSERT_FALSE(fs->symlink("/f", root, "/l").is_error());
    ASSERT_FALSE(fs->mkdir(root, "/d", 0755).is_error());
    ASSERT_FALSE(fs->symlink("/d", root, "/ld").is_error());
    EXPECT_EQ(open_errno("/l", o_rdonly | o_nofollow), ELOOP);
    EXPECT_EQ(open_errno("/l", o_rdonly | o_nofollow | o_directory), ENOTDIR);
    EXPECT_EQ(open_errno("/ld/", o_rdonly | o_nofollow), 0); // a trailing slash follows anyway

    OpenFile* path = open("/l", o_path | o_nofollow | o_rdwr /* ignored with O_PATH */);
    ASSERT_NE(path, nullptr);
    EXPECT_TRUE(path->is_path_only());
    EXPECT_TRUE(path->inode()->is_symlink());
    EXPECT_EQ(path->status_flags() & (o_path | o_accmode), o_path);
    char buffer[4];
    EXPECT_EQ(errno_of(path->read(buffer, 1)), EBADF);
    EXPECT_EQ(errno_of(path->write(buffer, 1)), EBADF);
    EXPECT_EQ(errno_of(path->lseek(0, seek_set)), EBADF);
    EXPECT_EQ(errno_of(path->getdents64(buffer, sizeof(buffer))), EBADF);
    EXPECT_EQ(errno_of(path->truncate(0)), EBADF);
    EXPECT_EQ(path->stat().st_mode, s_iflnk | 0777);
    path->unref();
}

TEST_F(FsTest, AccessModesAreEnforced)
{
    write_file("/f", "abc");
    OpenFile* reader = open("/f", o_rdonly);
    OpenFile* writer = open("/f", o_wronly);
    char buffer[4];
    EXPECT_EQ(errno_of(reader->write("x", 1)), EBADF);
    EXPECT_EQ(errno_of(reader->pwrite("x", 1, 0)), EBADF);
    EXPECT_EQ(errno_of(writer->read(buffer, 1)), EBADF);
    EXPECT_EQ(errno_of(writer->pread(buffer, 1, 0)), EBADF);
    EXPECT_EQ(errno_of(reader->truncate(0)), EINVAL);
    EXPECT_EQ(reader->status_flags(), o_rdonly | o_largefile);
    EXPECT_EQ(writer->status_flags(), o_wronly | o_largefile);
    reader->unref();
    writer->unref();
}

TEST_F(FsTest, ReadWriteSeek)
{
    OpenFile* f = open("/f", o_rdwr | o_creat);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->write("0123456789", 10).value(), 10u);
    EXPECT_EQ(f->offset(), 10);
    char buffer[16] = {};
    EXPECT_EQ(f->read(buffer, sizeof(buffer)).value(), 0u); // at the end
    EXPECT_EQ(f->lseek(2, seek_set).value(), 2);
    EXPECT_EQ(f->read(buffer, 3).value(), 3u);
    EXPECT_EQ(std::string(buffer, 3), "234");
    EXPECT_EQ(f->lseek(-1, seek_cur).value(), 4);
    EXPECT_EQ(f->lseek(-2, seek_end).value(), 8);
    EXPECT_EQ(errno_of(f->lseek(-11, seek_end)), EINVAL);
    EXPECT_EQ(errno_of(f->lseek(-1, seek_set)), EINVAL);
    EXPECT_EQ(errno_of(f->lseek(0, 7)), EINVAL);
    EXPECT_EQ(errno_of(f->lseek(INT64_MAX, seek_end)), EINVAL); // overflow
    EXPECT_EQ(f->offset(), 8);
    EXPECT_EQ(f->lseek(100, seek_set).value(), 100); // past the end is allowed
    EXPECT_EQ(f->read(buffer, 4).value(), 0u);

    // pread/pwrite leave the offset alone.
    EXPECT_EQ(f->pwrite("AB", 2, 1).value(), 2u);
    EXPECT_EQ(f->pread(buffer, 4, 0).value(), 4u);
    EXPECT_EQ(std::string(buffer, 4), "0AB3");
    EXPECT_EQ(f->offset(), 100);
    EXPECT_EQ(errno_of(f->pread(buffer, 4, -1)), EINVAL);
    EXPECT_EQ(errno_of(f->pread(buffer, 4, INT64_MIN)), EINVAL); // 2^63 as an off_t
    EXPECT_EQ(errno_of(f->pwrite(buffer, 4, -5)), EINVAL);
    EXPECT_EQ(errno_of(f->pwrite("x", 1, i64(max_file_size))), EFBIG);
    EXPECT_EQ(f->pread(buffer, 4, INT64_MAX).value(), 0u);
    EXPECT_EQ(f->bytes_available(), 0u);
    f->lseek(4, seek_set).value();
    EXPECT_EQ(f->bytes_available(), 6u);
    f->unref();
}

TEST_F(FsTest, WritesNearTheSizeLimitAreClampedOrEfbig)
{
    OpenFile* f = open("/big", o_rdwr | o_creat);
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(f->lseek(i64(max_file_size) - 2, seek_set).value(), i64(max_file_size) - 2);
    EXPECT_EQ(f->write("abcd", 4).value(), 2u); // what fits below the limit
    EXPECT_EQ(errno_of(f->write("abcd", 4)), EFBIG);
    EXPECT_EQ(f->stat().st_size, i64(max_file_size));
    EXPECT_EQ(f->stat().st_blocks, 8); // one page: the rest is a hole
    EXPECT_EQ(errno_of(f->truncate(i64(max_file_size) + 1)), EFBIG);
    f->unref();
}

TEST_F(FsTest, AppendWritesAtTheEnd)
{
    write_file("/log", "one\n");
    OpenFile* f = open("/log", o_wronly | o_append);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->lseek(0, seek_set).value(), 0);
    EXPECT_EQ(f->write("two\n", 4).value(), 4u);
    EXPECT_EQ(f->offset(), 8);
    EXPECT_EQ(f->pwrite("three\n", 6, 0).value(), 6u); // Linux: pwrite on O_APPEND appends
    EXPECT_EQ(read_file("/log"), "one\ntwo\nthree\n");
    f->set_status_flags(0);
    EXPECT_EQ(f->status_flags() & o_append, 0u);
    f->lseek(0, seek_set).value();
    EXPECT_EQ(f->write("ONE", 3).value(), 3u);
    EXPECT_EQ(read_file("/log"), "ONE\ntwo\nthree\n");
    f->set_status_flags(o_append | o_nonblock | o_rdwr /* access mode is not changeable */);
    EXPECT_EQ(f->status_flags(), o_wronly | o_append | o_nonblock | o_largefile);
    EXPECT_TRUE(f->is_nonblocking());
    f->unref();
}

TEST_F(FsTest, FileGrowsToMegabytesWithHoles)
{
    OpenFile* f = open("/data", o_rdwr | o_creat);
    ASSERT_NE(f, nullptr);
    // 4 MiB written 4 KiB at a time, every other MiB skipped (a hole).
    std::vector<u8> block(4096);
    for (u64 mib = 0; mib < 8; mib += 2) {
        for (u64 offset = 0; offset < (1 << 20); offset += block.size()) {
            u64 position = mib * (1 << 20) + offset;
            for (usize i = 0; i < block.size(); ++i)
                block[i] = static_cast<u8>((position + i) * 7 + 3);
            ASSERT_EQ(f->pwrite(block.data(), block.size(), static_cast<i64>(position)).value(), block.size());
        }
    }
    EXPECT_EQ(f->stat().st_size, 7 << 20);
    EXPECT_EQ(f->stat().st_blocks, (4 << 20) / 512);

    std::vector<u8> got(3 << 20);
    ASSERT_EQ(f->pread(got.data(), got.size(), 1 << 19).value(), got.size()); // crosses data and holes
    for (usize i = 0; i < got.size(); ++i) {
        u64 position = (1 << 19) + i;
        bool in_hole = (position >> 20) % 2 == 1;
        u8 expected = in_hole ? 0 : static_cast<u8>(position * 7 + 3);
        ASSERT_EQ(got[i], expected) << "at " << position;
    }
    EXPECT_EQ(f->lseek(0, seek_hole).value(), 1 << 20);
    EXPECT_EQ(f->lseek(1 << 20, seek_data).value(), 2 << 20);
    EXPECT_EQ(f->lseek((6 << 20) + 5, seek_data).value(), (6 << 20) + 5);
    EXPECT_EQ(f->lseek((6 << 20) + 5, seek_hole).value(), 7 << 20); // the end counts as a hole
    EXPECT_EQ(errno_of(f->lseek(7 << 20, seek_data)), ENXIO);
    EXPECT_EQ(errno_of(f->lseek(-1, seek_hole)), ENXIO);

    // Truncating into the middle of a page zeroes the cut-off tail for a later extension.
    ASSERT_FALSE(f->truncate((2 << 20) + 10).is_error());
    EXPECT_EQ(f->stat().st_size, (2 << 20) + 10);
    ASSERT_FALSE(f->truncate(3 << 20).is_error());
    u8 byte = 0xff;
    ASSERT_EQ(f->pread(&byte, 1, (2 << 20) + 10).value(), 1u);
    EXPECT_EQ(byte, 0);
    ASSERT_EQ(f->pread(&byte, 1, (2 << 20) + 9).value(), 1u);
    EXPECT_EQ(byte, static_cast<u8>(((2 << 20) + 9) * 7 + 3));
    EXPECT_EQ(errno_of(f->lseek((2 << 20) + 4096, seek_data)), ENXIO); // data ends in the first page
    f->unref();
}

TEST_F(FsTest, RandomWritesMatchAModel)
{
    OpenFile* f = open("/model", o_rdwr | o_creat);
    ASSERT_NE(f, nullptr);
    std::string model;
    std::mt19937 random(1234);
    for (int round = 0; round < 400; ++round) {
        usize offset = random() % 300000;
        usize length = random() % 20000;
        if (random() % 10 == 0) {
            ASSERT_FALSE(f->truncate(static_cast<i64>(offset)).is_error());
            model.resize(offset, '\0');
            continue;
        }
        std::string data(length, '\0');
        for (auto& c : data)
            c = static_cast<char>(random());
        ASSERT_EQ(f->pwrite(data.data(), length, static_cast<i64>(offset)).value(), length);
        if (model.size() < offset + length)
            model.resize(offset + length, '\0');
        model.replace(offset, length, data);
    }
    ASSERT_EQ(static_cast<usize>(f->stat().st_size), model.size());
    std::string content(model.size(), '\0');
    ASSERT_EQ(f->pread(content.data(), content.size(), 0).value(), model.size());
    EXPECT_TRUE(content == model);
    f->unref();
}

TEST_F(FsTest, UnlinkedOpenFileStaysReadable)
{
    write_file("/tmpfile", "still here");
    OpenFile* f = open("/tmpfile", o_rdwr);
    ASSERT_NE(f, nullptr);
    ASSERT_FALSE(fs->unlink(root, "/tmpfile").is_error());
    EXPECT_FALSE(exists("/tmpfile"));
    EXPECT_EQ(f->stat().st_nlink, 0u);
    EXPECT_EQ(f->inode()->references(), 1u); // only the open file holds it now
    char buffer[32] = {};
    EXPECT_EQ(f->pread(buffer, sizeof(buffer), 0).value(), 10u);
    EXPECT_STREQ(buffer, "still here");
    EXPECT_EQ(f->pwrite("STILL", 5, 0).value(), 5u);
    EXPECT_EQ(errno_of(fs->link_inode(*f->inode(), root, "/back")), ENOENT);
    // A new file with the same name is a different inode.
    write_file("/tmpfile", "new");
    EXPECT_NE(inode("/tmpfile"), f->inode());
    // dup() shares the description: two references, closed twice.
    f->ref();
    EXPECT_EQ(f->references(), 2u);
    f->unref();
    f->unref(); // frees the inode; ASan reports a leak or a use-after-free otherwise
}

TEST_F(FsTest, OpenFileSharesTheOffsetWhenDuplicated)
{
    write_file("/f", "abcdef");
    OpenFile* f = open("/f", o_rdonly);
    OpenFile* g = open("/f", o_rdonly);
    char c;
    f->ref(); // a dup
    OpenFile* dup = f;
    ASSERT_EQ(f->read(&c, 1).value(), 1u);
    ASSERT_EQ(dup->read(&c, 1).value(), 1u);
    EXPECT_EQ(c, 'b');
    ASSERT_EQ(g->read(&c, 1).value(), 1u);
    EXPECT_EQ(c, 'a'); // an independent open has its own offset
    dup->unref();
    f->unref();
    g->unref();
}

TEST_F(FsTest, FstatAndTimestampsFollowWrites)
{
    static i64 clock_seconds = 10;
    fs->set_clock([] { return Timespec { clock_seconds, 0 }; });
    OpenFile* f = open("/f", o_rdwr | o_creat);
    EXPECT_EQ(f->stat().st_mtim.tv_sec, 10);
    EXPECT_EQ(root->mtime().seconds, 10);
    clock_seconds = 20;
    ASSERT_EQ(f->write("x", 1).value(), 1u);
    EXPECT_EQ(f->stat().st_mtim.tv_sec, 20);
    EXPECT_EQ(f->stat().st_ctim.tv_sec, 20);
    clock_seconds = 30;
    char c;
    f->pread(&c, 1, 0).value();
    EXPECT_EQ(f->stat().st_mtim.tv_sec, 20); // reads change nothing
    ASSERT_FALSE(f->truncate(0).is_error());
    EXPECT_EQ(f->stat().st_mtim.tv_sec, 30);
    f->unref();
}

TEST_F(FsTest, GetdentsListsEntriesInCreationOrder)
{
    ASSERT_FALSE(fs->mkdir(root, "/d", 0755).is_error());
    write_file("/d/b", "");
    ASSERT_FALSE(fs->mkdir(root, "/d/a", 0755).is_error());
    ASSERT_FALSE(fs->symlink("b", root, "/d/c").is_error());
    OpenFile* d = open("/d", o_rdonly | o_directory);
    ASSERT_NE(d, nullptr);
    u8 buffer[1024];
    auto n = d->getdents64(buffer, sizeof(buffer));
    ASSERT_FALSE(n.is_error());
    auto entries = decode_dirents(buffer, n.value());
    ASSERT_EQ(entries.size(), 5u);
    EXPECT_EQ(entries[0].name, ".");
    EXPECT_EQ(entries[0].ino, inode("/d")->ino());
    EXPECT_EQ(entries[0].type, dt_dir);
    EXPECT_EQ(entries[1].name, "..");
    EXPECT_EQ(entries[1].ino, root->ino());
    EXPECT_EQ(entries[2].name, "b");
    EXPECT_EQ(entries[2].type, dt_reg);
    EXPECT_EQ(entries[3].name, "a");
    EXPECT_EQ(entries[3].type, dt_dir);
    EXPECT_EQ(entries[4].name, "c");
    EXPECT_EQ(entries[4].type, dt_lnk);
    EXPECT_EQ(d->getdents64(buffer, sizeof(buffer)).value(), 0u); // end
    // Every d_off resumes right after its record.
    for (usize i = 0; i < entries.size(); ++i) {
        ASSERT_EQ(d->lseek(entries[i].next, seek_set).value(), entries[i].next);
        auto rest = decode_dirents(buffer, d->getdents64(buffer, sizeof(buffer)).value());
        ASSERT_EQ(rest.size(), entries.size() - i - 1);
        if (!rest.empty()) {
            EXPECT_EQ(rest[0].name, entries[i + 1].name);
        }
    }
    // Root's ".." is the root itself.
    OpenFile* r = open("/", o_rdonly);
    auto root_entries = decode_dirents(buffer, r->getdents64(buffer, sizeof(buffer)).value());
    ASSERT_GE(root_entries.size(), 2u);
    EXPECT_EQ(root_entries[1].ino, root->ino());
    r->unref();
    d->unref();
}

TEST_F(FsTest, GetdentsBufferSizes)
{
    ASSERT_FALSE(fs->mkdir(root, "/d", 0755).is_error());
    std::string long_name(200, 'L');
    write_file(("/d/" + long_name).c_str(), "");
    OpenFile* d = open("/d", o_rdonly);
    u8 buffer[512];
    EXPECT_EQ(errno_of(d->getdents64(buffer, 10)), EINVAL);  // not even "." fits
    EXPECT_EQ(d->getdents64(buffer, 24).value(), 24u);       // "." (24 bytes) only
    EXPECT_EQ(d->getdents64(buffer, 24).value(), 24u);       // ".."
    EXPECT_EQ(errno_of(d->getdents64(buffer, 100)), EINVAL); // the 200-byte name needs 224
    auto got = d->getdents64(buffer, dirent64_record_length(200));
    ASSERT_FALSE(got.is_error());
    auto entries = decode_dirents(buffer, got.value());
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].name, long_name);
    EXPECT_EQ(d->getdents64(buffer, sizeof(buffer)).value(), 0u);
    d->unref();

    write_file("/f", "");
    OpenFile* f = open("/f", o_rdonly);
    EXPECT_EQ(errno_of(f->getdents64(buffer, sizeof(buffer))), ENOTDIR);
    f->unref();
}

TEST_F(FsTest, GetdentsCookiesSurviveModification)
{
    ASSERT_FALSE(fs->mkdir(root, "/d", 0755).is_error());
    for (int i = 0; i < 20; ++i)
        write_file(("/d/f" + std::to_string(i)).c_str(), "");
    OpenFile* d = open("/d", o_rdonly);
    // Read ".", "..", f0..f4 (seven 24-byte records).
    u8 buffer[4096];
    auto first = decode_dirents(buffer, d->getdents64(buffer, 7 * 24).value());
    ASSERT_EQ(first.size(), 7u);
    EXPECT_EQ(first.back().name, "f4");
    // Between calls: remove one already read, one not yet read, add new ones, and churn enough to compact.
    ASSERT_FALSE(fs->unlink(root, "/d/f2").is_error());
    ASSERT_FALSE(fs->unlink(root, "/d/f7").is_error());
    write_file("/d/new1", "");
    for (int i = 0; i < 40; ++i) {
        write_file("/d/tmp", "");
        ASSERT_FALSE(fs->unlink(root, "/d/tmp").is_error());
    }
    write_file("/d/new2", "");
    auto rest = decode_dirents(buffer, d->getdents64(buffer, sizeof(buffer)).value());
    std::vector<std::string> names;
    for (auto& e : rest)
        names.push_back(e.name);
    std::vector<std::string> expected;
    for (int i = 5; i < 20; ++i) {
        if (i != 7)
            expected.push_back("f" + std::to_string(i));
    }
    expected.push_back("new1");
    expected.push_back("new2");
    EXPECT_EQ(names, expected); // nothing read twice, nothing surviving skipped, removed one gone
    // Rewinding lists the current content.
    ASSERT_EQ(d->lseek(0, seek_set).value(), 0);
    auto all = decode_dirents(buffer, d->getdents64(buffer, sizeof(buffer)).value());
    EXPECT_EQ(all.size(), 2u + 19u + 1u);
    EXPECT_EQ(errno_of(d->lseek(0, seek_end)), EINVAL);
    EXPECT_EQ(errno_of(d->lseek(-1, seek_set)), EINVAL);
    d->unref();
}

TEST_F(FsTest, GetdentsOnARemovedDirectoryIsEnoent)
{
    ASSERT_FALSE(fs->mkdir(root, "/d", 0755).is_error());
    OpenFile* d = open("/d", o_rdonly);
    ASSERT_FALSE(fs->rmdir(root, "/d").is_error());
    u8 buffer[128];
    EXPECT_EQ(errno_of(d->getdents64(buffer, sizeof(buffer))), ENOENT);
    EXPECT_EQ(d->stat().st_nlink, 0u);
    d->unref();
}

TEST_F(FsTest, ListHelperSeesEverything)
{
    ASSERT_FALSE(fs->mkdir(root, "/d", 0755).is_error());
    for (int i = 0; i < 100; ++i)
        write_file(("/d/entry-with-a-longer-name-" + std::to_string(i)).c_str(), "");
    auto names = list("/d");
    ASSERT_EQ(names.size(), 102u);
    EXPECT_EQ(names[101], "entry-with-a-longer-name-99");
}

} // namespace
