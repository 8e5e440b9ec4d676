// Errors as values (STYLE.md habit 3): every fallible path returns ErrorOr<T> and propagates with TRY().
// An Error carries a Linux errno and a static, human-readable reason for logs and refusal messages.
#pragma once

#include <ktl/errno.h>
#include <ktl/verify.h>

#include <new>
#include <type_traits>
#include <utility>

namespace ktl {

class [[nodiscard]] Error {
public:
    static constexpr Error from_errno(int code, char const* reason = nullptr) { return Error(code, reason); }

    constexpr int code() const { return m_code; }
    // Never null: falls back to the errno's name.
    char const* reason() const { return m_reason ? m_reason : errno_name(m_code); }

private:
    template<typename>
    friend class ErrorOr;
    constexpr Error(int code, char const* reason)
        : m_code(code)
        , m_reason(reason)
    {
    }
    int m_code;
    char const* m_reason;
};

template<typename T>
class [[nodiscard]] ErrorOr {
public:
    ErrorOr(T value)
        : m_has_value(true)
    {
        new (&m_storage.value) T(std::move(value));
    }
    template<typename U>
        requires(std::is_convertible_v<U, T> && !std::is_same_v<std::remove_cvref_t<U>, T> && !std::is_same_v<std::remove_cvref_t<U>, Error>)
    ErrorOr(U&& value)
        : m_has_value(true)
    {
        new (&m_storage.value) T(std::forward<U>(value));
    }
    ErrorOr(Error error)
        : m_has_value(false)
    {
        new (&m_storage.error) Error(error);
    }
    ErrorOr(ErrorOr&& other)
        : m_has_value(other.m_has_value)
    {
        if (m_has_value)
            new (&m_storage.value) T(std::move(other.m_storage.value));
        else
            new (&m_storage.error) Error(other.m_storage.error);
    }
    ErrorOr(ErrorOr const&) = delete;
    ErrorOr& operator=(ErrorOr const&) = delete;
    ErrorOr& operator=(ErrorOr&& other)
    {
        if (this != &other) {
            this->~ErrorOr();
            new (this) ErrorOr(std::move(other));
        }
        return *this;
    }
    ~ErrorOr()
    {
        if (m_has_value)
            m_storage.value.~T();
    }

    bool is_error() const { return !m_has_value; }
    Error error() const
    {
        VERIFY(!m_has_value);
        return m_storage.error;
    }
    Error release_error() const { return error(); }
    T& value()
    {
        VERIFY(m_has_value);
        return m_storage.value;
    }
    T const& value() const
    {
        VERIFY(m_has_value);
        return m_storage.value;
    }
    T release_value()
    {
        VERIFY(m_has_value);
        return std::move(m_storage.value);
    }

private:
    union Storage {
        Storage() { }
        ~Storage() { }
        T value;
        Error error;
    } m_storage;
    bool m_has_value;
};

// The common case, a trivially copyable value: the errno doubles as the "is an error" flag (0: a value) and the
// reason shares the value's storage, so an ErrorOr of a value up to 8 bytes is 16 bytes and trivially copyable,
// and comes back in two registers (x86-64 psABI) instead of through a caller's stack slot. That matters beyond
// speed: a stack slot whose address goes to the callee makes every caller of a fallible function "protected"
// under -fstack-protector-strong, so the hot paths paid a canary check for each TRY (docs/security-model.md,
// "Where the security tax goes").
template<typename T>
    requires std::is_trivially_copyable_v<T>
class [[nodiscard]] ErrorOr<T> {
public:
    ErrorOr(T value)
        : m_code(0)
        , m_value(value)
    {
    }
    template<typename U>
        requires(std::is_convertible_v<U, T> && !std::is_same_v<std::remove_cvref_t<U>, T> && !std::is_same_v<std::remove_cvref_t<U>, Error>)
    ErrorOr(U&& value)
        : m_code(0)
        , m_value(std::forward<U>(value))
    {
    }
    ErrorOr(Error error)
        : m_code(error.code())
        , m_reason(error.m_reason)
    {
        VERIFY(m_code != 0); // errno 0 would read as a value
    }
    ErrorOr(ErrorOr&&) = default;
    ErrorOr(ErrorOr const&) = delete;
    ErrorOr& operator=(ErrorOr&&) = default;
    ErrorOr& operator=(ErrorOr const&) = delete;
    ~ErrorOr() = default;

    bool is_error() const { return m_code != 0; }
    Error error() const
    {
        VERIFY(m_code != 0);
        return Error::from_errno(m_code, m_reason);
    }
    Error release_error() const { return error(); }
    T& value()
    {
        VERIFY(m_code == 0);
        return m_value;
    }
    T const& value() const
    {
        VERIFY(m_code == 0);
        return m_value;
    }
    T release_value()
    {
        VERIFY(m_code == 0);
        return m_value;
    }

private:
    int m_code;
    union {
        T m_value;
        char const* m_reason;
    };
};

// The same for no value: 16 bytes, trivially copyable, returned in registers.
template<>
class [[nodiscard]] ErrorOr<void> {
public:
    ErrorOr()
        : m_code(0)
        , m_reason(nullptr)
    {
    }
    ErrorOr(Error error)
        : m_code(error.code())
        , m_reason(error.m_reason)
    {
        VERIFY(m_code != 0); // errno 0 would read as success
    }
    bool is_error() const { return m_code != 0; }
    Error error() const
    {
        VERIFY(m_code != 0);
        return Error::from_errno(m_code, m_reason);
    }
    Error release_error() const { return error(); }
    void release_value() const { }

private:
    int m_code;
    char const* m_reason;
};

} // namespace ktl

using ktl::Error;
using ktl::ErrorOr;

// Propagates the error of a fallible expression, otherwise yields its value (GNU statement expression, as
// SerenityOS's AK/Try.h; GCC and Clang both support it).
#define TRY(expression)                                                                                      \
    ({                                                                                                       \
        auto&& _kernite_try_result = (expression);                                                           \
        if (_kernite_try_result.is_error()) [[unlikely]]                                                     \
            return _kernite_try_result.release_error();                                                      \
        _kernite_try_result.release_value();                                                                 \
    })
