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

template<>
class [[nodiscard]] ErrorOr<void> {
public:
    ErrorOr()
        : m_error(Error::from_errno(EPERM))
        , m_has_error(false)
    {
    }
    ErrorOr(Error error)
        : m_error(error)
        , m_has_error(true)
    {
    }
    bool is_error() const { return m_has_error; }
    Error error() const
    {
        VERIFY(m_has_error);
        return m_error;
    }
    Error release_error() const { return error(); }
    void release_value() const { }

private:
    Error m_error;
    bool m_has_error;
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
