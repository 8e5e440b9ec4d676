// ErrorOr: values, errors and their reasons survive moves and TRY; the common shapes are trivially copyable and
// small, so they come back in registers (libs/ktl/include/ktl/error.h says why that matters for the canary).
#include <ktl/error.h>
#include <ktl/types.h>

#include <gtest/gtest.h>
#include <string>

namespace {

struct Counted {
    static inline int live = 0;
    int value;
    explicit Counted(int v)
        : value(v)
    {
        ++live;
    }
    Counted(Counted&& other)
        : value(other.value)
    {
        ++live;
    }
    ~Counted() { --live; }
};

ErrorOr<u64> half(u64 value)
{
    if (value % 2)
        return Error::from_errno(EINVAL, "odd");
    return value / 2;
}

ErrorOr<u64> quarter(u64 value) { return TRY(half(TRY(half(value)))); }

ErrorOr<void> check_even(u64 value)
{
    TRY(half(value));
    return {};
}

} // namespace

// The x86-64 psABI returns a trivially copyable object of at most 16 bytes in RAX:RDX.
static_assert(std::is_trivially_copyable_v<ErrorOr<u64>> && sizeof(ErrorOr<u64>) == 16);
static_assert(std::is_trivially_copyable_v<ErrorOr<void>> && sizeof(ErrorOr<void>) == 16);
static_assert(std::is_trivially_copyable_v<ErrorOr<int*>> && sizeof(ErrorOr<int*>) == 16);
static_assert(!std::is_trivially_copyable_v<ErrorOr<Counted>>, "non-trivial values keep the general form");

TEST(ErrorOr, ValuesAndErrorsOfTheCompactForm)
{
    auto value = quarter(12);
    ASSERT_FALSE(value.is_error());
    EXPECT_EQ(value.value(), 3u);
    auto error = quarter(6);
    ASSERT_TRUE(error.is_error());
    EXPECT_EQ(error.error().code(), EINVAL);
    EXPECT_EQ(std::string(error.error().reason()), "odd");
    // Moves keep either side.
    ErrorOr<u64> moved = std::move(error);
    EXPECT_EQ(moved.error().code(), EINVAL);
    moved = quarter(8);
    EXPECT_EQ(moved.value(), 2u);
}

TEST(ErrorOr, ZeroIsAValueNotAnError)
{
    auto zero = half(0);
    ASSERT_FALSE(zero.is_error());
    EXPECT_EQ(zero.release_value(), 0u);
}

TEST(ErrorOr, VoidCarriesTheErrnoAndItsReason)
{
    EXPECT_FALSE(check_even(4).is_error());
    auto failed = check_even(5);
    ASSERT_TRUE(failed.is_error());
    EXPECT_EQ(failed.error().code(), EINVAL);
    EXPECT_EQ(std::string(failed.error().reason()), "odd");
    // Without a reason the errno's name stands in.
    ErrorOr<void> plain = Error::from_errno(ENOMEM);
    EXPECT_EQ(std::string(plain.error().reason()), "ENOMEM");
}

TEST(ErrorOr, NonTrivialValuesAreDestroyedOnce)
{
    {
        ErrorOr<Counted> value = Counted(7);
        EXPECT_EQ(value.value().value, 7);
        ErrorOr<Counted> moved = std::move(value);
        EXPECT_EQ(moved.value().value, 7);
        ErrorOr<Counted> error = Error::from_errno(EIO);
        EXPECT_TRUE(error.is_error());
    }
    EXPECT_EQ(Counted::live, 0);
}

// An error with errno 0 would read as a value (or as success): refused.
TEST(ErrorOrDeathTest, ErrnoZeroIsRefused)
{
    EXPECT_DEATH(
        {
            ErrorOr<u64> bad = Error::from_errno(0);
            (void)bad;
        },
        "");
    EXPECT_DEATH(
        {
            ErrorOr<void> bad = Error::from_errno(0);
            (void)bad;
        },
        "");
}
