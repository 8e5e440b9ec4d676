// The fd table: lowest-free allocation, EBADF/EMFILE/EINVAL, dup/dup2/dup3/F_DUPFD and close-on-exec.
#include "vfs_test_support.h"

#include <vfs/fd_table.h>

using namespace vfs_test;

namespace {

struct FdTableTest : FsTest {
    void SetUp() override
    {
        FsTest::SetUp();
        auto created = FdTable::create();
        ASSERT_FALSE(created.is_error());
        table = created.value();
        write_file("/f", "0123456789");
        file = open("/f", o_rdonly);
    }
    void TearDown() override
    {
        FdTable::destroy(table);
        if (file)
            file->unref();
        FsTest::TearDown();
    }

    FdTable* table { nullptr };
    OpenFile* file { nullptr };
};

TEST_F(FdTableTest, InstallTakesTheLowestFreeFd)
{
    EXPECT_EQ(table->install(*file, false).value(), 0);
    EXPECT_EQ(table->install(*file, false).value(), 1);
    EXPECT_EQ(table->install(*file, false).value(), 2);
    EXPECT_EQ(file->references(), 4u); // ours plus three fds
    ASSERT_FALSE(table->close(1).is_error());
    EXPECT_EQ(table->install(*file, false).value(), 1);
    EXPECT_EQ(table->install(*file, false, 10).value(), 10);
    EXPECT_EQ(table->install(*file, false, 10).value(), 11);
    EXPECT_EQ(table->open_count(), 5);
    EXPECT_EQ(errno_of(table->install(*file, false, -1)), EINVAL);
    EXPECT_EQ(errno_of(table->install(*file, false, FdTable::max_fds)), EINVAL);
}

TEST_F(FdTableTest, GetAndCloseReportEbadf)
{
    EXPECT_EQ(errno_of(table->get(0)), EBADF);
    EXPECT_EQ(errno_of(table->get(-1)), EBADF);
    EXPECT_EQ(errno_of(table->get(FdTable::max_fds)), EBADF);
    EXPECT_EQ(errno_of(table->get(1 << 30)), EBADF);
    int fd = table->install(*file, false).value();
    EXPECT_EQ(table->get(fd).value(), file);
    ASSERT_FALSE(table->close(fd).is_error());
    EXPECT_EQ(errno_of(table->close(fd)), EBADF);
    EXPECT_EQ(errno_of(table->close(-5)), EBADF);
    EXPECT_EQ(file->references(), 1u);
}

TEST_F(FdTableTest, TableFullIsEmfile)
{
    for (int i = 0; i < FdTable::max_fds; ++i)
        ASSERT_EQ(table->install(*file, false).value(), i);
    EXPECT_EQ(errno_of(table->install(*file, false)), EMFILE);
    EXPECT_EQ(errno_of(table->dup(0)), EMFILE);
    ASSERT_FALSE(table->close(700).is_error());
    EXPECT_EQ(table->dup(3).value(), 700);
    table->close_all();
    EXPECT_EQ(table->open_count(), 0);
    EXPECT_EQ(file->references(), 1u);
}

TEST_F(FdTableTest, DupSharesTheOpenFileDescription)
{
    int fd = table->install(*file, true).value();
    int copy = table->dup(fd).value();
    EXPECT_EQ(copy, fd + 1);
    EXPECT_EQ(table->get(copy).value(), file);
    EXPECT_TRUE(table->cloexec(fd).value());
    EXPECT_FALSE(table->cloexec(copy).value()); // dup clears FD_CLOEXEC
    char c;
    ASSERT_EQ(table->get(fd).value()->read(&c, 1).value(), 1u);
    ASSERT_EQ(table->get(copy).value()->read(&c, 1).value(), 1u);
    EXPECT_EQ(c, '1'); // one shared offset
    EXPECT_EQ(errno_of(table->dup(99)), EBADF);
}

TEST_F(FdTableTest, Dup2AndDup3)
{
    write_file("/other", "");
    OpenFile* other = open("/other", o_rdonly);
    int a = table->install(*file, false).value();
    int b = table->install(*other, false).value();
    other->unref();                          // the table holds it now
    EXPECT_EQ(table->dup2(a, a).value(), a); // same fd: returned unchanged
    EXPECT_EQ(errno_of(table->dup2(77, 77)), EBADF);
    EXPECT_EQ(errno_of(table->dup2(a, -1)), EBADF);
    EXPECT_EQ(errno_of(table->dup2(a, FdTable::max_fds)), EBADF);
    EXPECT_EQ(table->dup2(a, b).value(), b); // closes the previous b (and frees `other`, ASan checks)
    EXPECT_EQ(table->get(b).value(), file);
    EXPECT_EQ(table->dup2(a, 500).value(), 500);
    EXPECT_EQ(table->open_count(), 3);

    EXPECT_EQ(errno_of(table->dup3(a, a, 0)), EINVAL);
    EXPECT_EQ(errno_of(table->dup3(a, 9, o_nonblock)), EINVAL);
    EXPECT_EQ(table->dup3(a, 9, o_cloexec).value(), 9);
    EXPECT_TRUE(table->cloexec(9).value());
    EXPECT_EQ(table->dup3(a, 9, 0).value(), 9);
    EXPECT_FALSE(table->cloexec(9).value());
    EXPECT_EQ(errno_of(table->dup3(123, 9, 0)), EBADF);
}

TEST_F(FdTableTest, Dup2OntoAnFdSharingTheDescription)
{
    int a = table->install(*file, false).value();
    int b = table->dup(a).value();
    EXPECT_EQ(file->references(), 3u);
    EXPECT_EQ(table->dup2(a, b).value(), b);
    EXPECT_EQ(file->references(), 3u);
    EXPECT_EQ(table->get(b).value(), file);
}

TEST_F(FdTableTest, DupMinAndCloexec)
{
    int a = table->install(*file, false).value();
    EXPECT_EQ(table->dup_min(a, 0, false).value(), 1);
    EXPECT_EQ(table->dup_min(a, 50, true).value(), 50);
    EXPECT_TRUE(table->cloexec(50).value());
    EXPECT_EQ(errno_of(table->dup_min(a, FdTable::max_fds, false)), EINVAL);
    EXPECT_EQ(errno_of(table->dup_min(a, -1, false)), EINVAL);
    EXPECT_EQ(errno_of(table->dup_min(3, 0, false)), EBADF);
    ASSERT_FALSE(table->set_cloexec(1, true).is_error());
    EXPECT_EQ(errno_of(table->set_cloexec(7, true)), EBADF);
    EXPECT_EQ(errno_of(table->cloexec(7)), EBADF);
    table->close_on_exec();
    EXPECT_FALSE(table->get(a).is_error());
    EXPECT_EQ(errno_of(table->get(1)), EBADF);
    EXPECT_EQ(errno_of(table->get(50)), EBADF);
    EXPECT_EQ(table->open_count(), 1);
}

TEST_F(FdTableTest, ClosingTheLastPipeFdSignalsThePeer)
{
    auto ends = fs->create_pipe(0);
    ASSERT_FALSE(ends.is_error());
    int r = table->install(*ends.value().read_end, false).value();
    int w = table->install(*ends.value().write_end, false).value();
    int w2 = table->dup(w).value();
    ends.value().read_end->unref();
    ends.value().write_end->unref();
    ASSERT_FALSE(table->close(w).is_error());
    EXPECT_FALSE(table->get(r).value()->hung_up()); // w2 still writes
    ASSERT_FALSE(table->close(w2).is_error());
    EXPECT_TRUE(table->get(r).value()->hung_up());
    char c;
    EXPECT_EQ(table->get(r).value()->read(&c, 1).value(), 0u);
}

} // namespace
