// Pipes (pipe(7)): EOF, EPIPE, EAGAIN, partial and atomic writes, ring wraparound, readiness and wakeups.
#include "vfs_test_support.h"

using namespace vfs_test;

namespace {

struct PipeTest : FsTest {
    void SetUp() override
    {
        FsTest::SetUp();
        auto ends = fs->create_pipe(0, { [](void* context) { ++*static_cast<int*>(context); }, &wakeups });
        ASSERT_FALSE(ends.is_error());
        reader = ends.value().read_end;
        writer = ends.value().write_end;
    }
    void TearDown() override
    {
        if (reader)
            reader->unref();
        if (writer)
            writer->unref();
        FsTest::TearDown();
    }
    void close_reader()
    {
        reader->unref();
        reader = nullptr;
    }
    void close_writer()
    {
        writer->unref();
        writer = nullptr;
    }

    int wakeups { 0 };
    OpenFile* reader { nullptr };
    OpenFile* writer { nullptr };
};

TEST_F(PipeTest, DataFlowsInOrder)
{
    EXPECT_TRUE(reader->is_pipe());
    EXPECT_FALSE(reader->readable());
    EXPECT_TRUE(writer->writable());
    EXPECT_EQ(writer->write("hello ", 6).value(), 6u);
    EXPECT_EQ(writer->write("world", 5).value(), 5u);
    EXPECT_TRUE(reader->readable());
    EXPECT_EQ(reader->bytes_available(), 11u);
    char buffer[32] = {};
    EXPECT_EQ(reader->read(buffer, 4).value(), 4u);
    EXPECT_EQ(reader->read(buffer + 4, sizeof(buffer) - 4).value(), 7u);
    EXPECT_STREQ(buffer, "hello world");
    EXPECT_EQ(reader->read(buffer, 0).value(), 0u);
}

TEST_F(PipeTest, EmptyPipeIsEagainWhileAWriterExistsThenEof)
{
    char c;
    EXPECT_EQ(errno_of(reader->read(&c, 1)), EAGAIN);
    EXPECT_FALSE(reader->hung_up());
    ASSERT_EQ(writer->write("z", 1).value(), 1u);
    close_writer();
    EXPECT_TRUE(reader->hung_up());
    EXPECT_TRUE(reader->readable());
    EXPECT_EQ(reader->read(&c, 1).value(), 1u); // buffered data survives the writer
    EXPECT_EQ(c, 'z');
    // Drained with no writer: POLLHUP alone, never POLLIN (Linux's pipe_poll); read returns end of file.
    EXPECT_FALSE(reader->readable());
    EXPECT_TRUE(reader->hung_up());
    EXPECT_EQ(reader->read(&c, 1).value(), 0u); // then end of file
}

TEST_F(PipeTest, WriteWithoutReaderIsEpipe)
{
    close_reader();
    EXPECT_EQ(errno_of(writer->write("x", 1)), EPIPE);
    EXPECT_TRUE(writer->hung_up());
    EXPECT_TRUE(writer->writable()); // poll reports it so the writer sees the error
}

TEST_F(PipeTest, FullPipePartialAndAtomicWrites)
{
    std::vector<u8> big(100000, 'a');
    auto first = writer->write(big.data(), big.size());
    ASSERT_FALSE(first.is_error());
    EXPECT_EQ(first.value(), pipe_capacity); // a partial count: what fits
    EXPECT_FALSE(writer->writable());
    EXPECT_EQ(errno_of(writer->write(big.data(), big.size())), EAGAIN);
    EXPECT_EQ(errno_of(writer->write("x", 1)), EAGAIN);

    std::vector<u8> sink(pipe_capacity);
    ASSERT_EQ(reader->read(sink.data(), 100).value(), 100u);
    // 100 bytes free: a 200-byte write (<= PIPE_BUF) is atomic, so it must not be split.
    EXPECT_EQ(errno_of(writer->write(big.data(), 200)), EAGAIN);
    // A write larger than PIPE_BUF takes what fits.
    EXPECT_EQ(writer->write(big.data(), pipe_buf + 1).value(), 100u);
    EXPECT_FALSE(writer->writable());
    ASSERT_EQ(reader->read(sink.data(), pipe_buf).value(), pipe_buf);
    EXPECT_TRUE(writer->writable()); // PIPE_BUF bytes free again
    EXPECT_EQ(writer->write(big.data(), pipe_buf).value(), pipe_buf);
}

TEST_F(PipeTest, RingWrapsAroundWithoutCorruption)
{
    // Keep the ring never empty so the head walks all the way round several times.
    u8 next_write = 0;
    u8 next_read = 0;
    std::vector<u8> chunk(7000);
    std::vector<u8> out(9000);
    for (auto& b : chunk)
        b = next_write++;
    ASSERT_EQ(writer->write(chunk.data(), chunk.size()).value(), chunk.size());
    usize total = 0;
    for (int round = 0; round < 60; ++round) {
        for (auto& b : chunk)
            b = next_write++;
        auto wrote = writer->write(chunk.data(), chunk.size());
        ASSERT_FALSE(wrote.is_error());
        ASSERT_EQ(wrote.value(), chunk.size());
        auto got = reader->read(out.data(), 6999);
        ASSERT_FALSE(got.is_error());
        for (usize i = 0; i < got.value(); ++i)
            ASSERT_EQ(out[i], next_read++) << "round " << round;
        total += got.value();
    }
    EXPECT_GT(total, 4 * pipe_capacity);
    auto rest = reader->read(out.data(), out.size());
    for (usize i = 0; i < rest.value(); ++i)
        ASSERT_EQ(out[i], next_read++);
    EXPECT_EQ(next_read, next_write);
}

TEST_F(PipeTest, GenerationAndHookReportEveryChange)
{
    u64 before = reader->generation();
    EXPECT_EQ(before, writer->generation());
    int wakeups_before = wakeups;
    ASSERT_EQ(writer->write("a", 1).value(), 1u);
    EXPECT_GT(reader->generation(), before);
    EXPECT_EQ(wakeups, wakeups_before + 1);
    char c;
    u64 after_write = reader->generation();
    ASSERT_EQ(reader->read(&c, 1).value(), 1u);
    EXPECT_GT(reader->generation(), after_write);
    u64 after_read = reader->generation();
    EXPECT_EQ(errno_of(reader->read(&c, 1)), EAGAIN);
    EXPECT_EQ(reader->generation(), after_read); // a failed read changes nothing
    close_writer();
    EXPECT_GT(reader->generation(), after_read);
    EXPECT_EQ(wakeups, wakeups_before + 3);
}

TEST_F(PipeTest, PipesCannotSeekAndStatAsFifos)
{
    char c;
    EXPECT_EQ(errno_of(reader->lseek(0, seek_cur)), ESPIPE);
    EXPECT_EQ(errno_of(reader->pread(&c, 1, 0)), ESPIPE);
    EXPECT_EQ(errno_of(writer->pwrite("x", 1, 0)), ESPIPE);
    EXPECT_EQ(errno_of(reader->write("x", 1)), EBADF);
    EXPECT_EQ(errno_of(writer->read(&c, 1)), EBADF);
    EXPECT_EQ(errno_of(writer->truncate(0)), EINVAL);
    EXPECT_EQ(reader->stat().st_mode, s_ififo | 0600);
    EXPECT_EQ(reader->stat().st_ino, writer->stat().st_ino);
    EXPECT_EQ(reader->status_flags() & o_accmode, o_rdonly);
    EXPECT_EQ(writer->status_flags() & o_accmode, o_wronly);
    EXPECT_FALSE(writer->readable());
    EXPECT_FALSE(reader->writable());
}

TEST_F(FsTest, Pipe2Flags)
{
    auto nonblocking = fs->create_pipe(o_nonblock | o_cloexec);
    ASSERT_FALSE(nonblocking.is_error());
    EXPECT_TRUE(nonblocking.value().read_end->is_nonblocking());
    EXPECT_TRUE(nonblocking.value().write_end->is_nonblocking());
    EXPECT_EQ(nonblocking.value().read_end->status_flags() & o_cloexec, 0u); // an fd flag, not a status flag
    nonblocking.value().read_end->unref();
    nonblocking.value().write_end->unref();
    EXPECT_EQ(errno_of(fs->create_pipe(o_append)), EINVAL);
    // Dropping the ends in the other order also frees everything (ASan's leak check).
    auto ends = fs->create_pipe(0);
    ASSERT_FALSE(ends.is_error());
    ends.value().write_end->unref();
    ends.value().read_end->unref();
}

} // namespace
