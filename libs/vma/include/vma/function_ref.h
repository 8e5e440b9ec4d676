// A non-owning reference to a callable (a lambda, a function), for callbacks that run during one call and are
// not stored: no allocation, no virtual dispatch, usable in the freestanding kernel.
#pragma once

#include <type_traits>
#include <utility>

namespace kernite::vma {

template<typename Signature>
class FunctionRef;

namespace detail {
// What a FunctionRef<Result(Arguments...)> binds to: a callable, never another FunctionRef (that is a copy).
template<typename Self, typename Callable, typename Result, typename... Arguments>
concept BindsCallable
    = !std::is_same_v<std::remove_cvref_t<Callable>, Self> && std::is_invocable_r_v<Result, Callable&, Arguments...>;
} // namespace detail

template<typename Result, typename... Arguments>
class FunctionRef<Result(Arguments...)> {
public:
    // The callable must outlive the FunctionRef; passing a lambda straight to the call that takes it is fine.
    // enable_if rather than a requires-clause: clang-format 14 and clang-tidy 14 both understand it.
    template<typename Callable,
        typename = std::enable_if_t<detail::BindsCallable<FunctionRef, Callable, Result, Arguments...>>>
    FunctionRef(Callable&& callable)
        : m_object(const_cast<void*>(static_cast<void const*>(&callable)))
        , m_invoke([](void* object, Arguments... arguments) -> Result {
            return (*static_cast<std::remove_reference_t<Callable>*>(object))(std::forward<Arguments>(arguments)...);
        })
    {
    }

    Result operator()(Arguments... arguments) const
    {
        return m_invoke(m_object, std::forward<Arguments>(arguments)...);
    }

private:
    void* m_object;
    Result (*m_invoke)(void*, Arguments...);
};

} // namespace kernite::vma
