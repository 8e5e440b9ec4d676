// Fallible results for the hosted monitor: a value or a one-line failure message (no exceptions). The
// freestanding libraries use ktl::ErrorOr with static reasons; the monitor needs messages that name paths.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace kernite::monitor {

struct Failure {
    std::string message;
};

template<typename T>
class [[nodiscard]] Result {
public:
    Result(T value)
        : m_storage(std::move(value))
    {
    }
    Result(Failure failure)
        : m_storage(std::move(failure))
    {
    }
    bool ok() const { return m_storage.index() == 0; }
    T& value() { return std::get<0>(m_storage); }
    T const& value() const { return std::get<0>(m_storage); }
    std::string const& error() const { return std::get<1>(m_storage).message; }

private:
    std::variant<T, Failure> m_storage;
};

struct Ok { };

inline Failure fail(std::string message) { return Failure { std::move(message) }; }

} // namespace kernite::monitor
