// The UBSAN handlers (kernel/security/ubsan.h). Compiled without sanitizers (kernel/CMakeLists.txt).
// Every handler the enabled checks can emit is defined here; the kernel links with --no-undefined, so a check
// added to KernelFlags.cmake without its handler fails the link. Data layouts follow GCC's ubsan.cc (the same
// as compiler-rt's ubsan_handlers.h): a source location first, then type descriptors.
#include <kernel/boot/cmdline.h>
#include <kernel/debug/symbols.h>
#include <kernel/lib/format.h>
#include <kernel/lib/log.h>
#include <kernel/security/events.h>
#include <kernel/security/ubsan.h>

#if KERNITE_UBSAN

namespace kernite::security {

namespace {

struct SourceLocation {
    char const* file;
    u32 line;
    u32 column;
};

struct TypeDescriptor {
    u16 kind; // 0 integer, 1 float, 0xffff unknown
    u16 info; // integer: bit 0 signed, bits 1.. log2(bit width)
    char name[1];
};

struct TypeMismatchData {
    SourceLocation location;
    TypeDescriptor const* type;
    u8 log_alignment;
    u8 type_check_kind;
};
struct OverflowData {
    SourceLocation location;
    TypeDescriptor const* type;
};
struct ShiftData {
    SourceLocation location;
    TypeDescriptor const* lhs_type;
    TypeDescriptor const* rhs_type;
};
struct OutOfBoundsData {
    SourceLocation location;
    TypeDescriptor const* array_type;
    TypeDescriptor const* index_type;
};
struct LocationData {
    SourceLocation location;
};
struct VlaBoundData {
    SourceLocation location;
    TypeDescriptor const* type;
};
struct InvalidValueData {
    SourceLocation location;
    TypeDescriptor const* type;
};
struct NonnullArgData {
    SourceLocation location;
    SourceLocation attribute_location;
    int argument_index;
};
struct NonnullReturnData {
    SourceLocation attribute_location;
};
struct InvalidBuiltinData {
    SourceLocation location;
    u8 kind;
};

bool g_continue; // ubsan=continue

// Locations already reported in continue mode: each once, so a check in a loop does not flood the host.
constexpr usize max_reported = 64;
SourceLocation const* g_reported[max_reported];
usize g_reported_count;

bool already_reported(SourceLocation const& location)
{
    for (usize i = 0; i < g_reported_count; ++i) {
        if (g_reported[i] == &location)
            return true;
    }
    if (g_reported_count < max_reported)
        g_reported[g_reported_count++] = &location;
    return false;
}

bool is_signed(TypeDescriptor const* type) { return type && type->kind == 0 && (type->info & 1); }
unsigned bit_width(TypeDescriptor const* type) { return type && type->kind == 0 ? 1u << (type->info >> 1) : 64; }

// A value as the handler received it: inline when it fits a pointer (all kernel integer types do).
i64 signed_value(TypeDescriptor const* type, u64 value)
{
    unsigned bits = bit_width(type);
    if (bits >= 64)
        return static_cast<i64>(value);
    unsigned shift = 64 - bits;
    return static_cast<i64>(value << shift) >> shift;
}

void format_value(char* out, usize size, TypeDescriptor const* type, u64 value)
{
    if (is_signed(type))
        format(out, size, "%ld", signed_value(type, value));
    else
        format(out, size, "%lu", value);
}

// Every report ends here: `what` names the check.
[[gnu::noinline]] void report(SourceLocation const& location, char const* what, u64 rip)
{
    if (g_continue && already_reported(location))
        return;
    char message[abi::event_message_size];
    format(message, sizeof(message), "%s at %s:%u:%u", what, location.file ? location.file : "?", location.line,
        location.column);
    EventDetails details;
    details.rip = rip;
    details.has_rip = true;
    if (!g_continue)
        stop(abi::EventType::Ubsan, message, details);
    klog("ubsan: %s (continuing: ubsan=continue)", message);
    debug::print_backtrace(reinterpret_cast<u64>(__builtin_frame_address(0)));
    security::report(abi::EventType::Ubsan, message, details);
}

#define KERNITE_UBSAN_RIP reinterpret_cast<u64>(__builtin_return_address(0))

void report_overflow(OverflowData const* data, char const* operation, u64 lhs, u64 rhs, u64 rip)
{
    char a[24], b[24], what[160];
    format_value(a, sizeof(a), data->type, lhs);
    format_value(b, sizeof(b), data->type, rhs);
    format(what, sizeof(what), "%s integer overflow: %s %s %s cannot be represented in type %s",
        is_signed(data->type) ? "signed" : "unsigned", a, operation, b, data->type->name);
    report(data->location, what, rip);
}

} // namespace

void configure_ubsan(char const* cmdline)
{
    char mode[16];
    if (boot::cmdline_value(cmdline, "ubsan", mode, sizeof(mode)))
        g_continue = __builtin_strcmp(mode, "continue") == 0;
}

} // namespace kernite::security

using namespace kernite;
using namespace kernite::security;

extern "C" {

void __ubsan_handle_type_mismatch_v1(TypeMismatchData const* data, u64 pointer)
{
    // type_check_kind: GCC's ubsan.h ubsan_null_ptr_kind order (load, store, reference binding, member access,
    // member call, constructor call, downcast, ...).
    static char const* const kinds[] = { "load of", "store to", "reference binding to", "member access within",
        "member call on", "constructor call on", "downcast of", "downcast of", "upcast of", "cast to virtual base of",
        "nonnull binding to", "dynamic operation on" };
    char const* kind = data->type_check_kind < sizeof(kinds) / sizeof(kinds[0]) ? kinds[data->type_check_kind] : "access to";
    u64 alignment = 1ull << data->log_alignment;
    char what[160];
    if (pointer == 0)
        format(what, sizeof(what), "null pointer: %s null pointer of type %s", kind, data->type->name);
    else if (data->log_alignment && (pointer & (alignment - 1)))
        format(what, sizeof(what), "misaligned address: %s %p, which needs %lu-byte alignment, type %s", kind,
            reinterpret_cast<void*>(pointer), alignment, data->type->name);
    else
        format(what, sizeof(what), "object size: %s %p, with insufficient space for an object of type %s", kind,
            reinterpret_cast<void*>(pointer), data->type->name);
    report(data->location, what, KERNITE_UBSAN_RIP);
}

void __ubsan_handle_add_overflow(OverflowData const* data, u64 lhs, u64 rhs) { report_overflow(data, "+", lhs, rhs, KERNITE_UBSAN_RIP); }
void __ubsan_handle_sub_overflow(OverflowData const* data, u64 lhs, u64 rhs) { report_overflow(data, "-", lhs, rhs, KERNITE_UBSAN_RIP); }
void __ubsan_handle_mul_overflow(OverflowData const* data, u64 lhs, u64 rhs) { report_overflow(data, "*", lhs, rhs, KERNITE_UBSAN_RIP); }

void __ubsan_handle_negate_overflow(OverflowData const* data, u64 value)
{
    char a[24], what[128];
    format_value(a, sizeof(a), data->type, value);
    format(what, sizeof(what), "signed integer overflow: negation of %s cannot be represented in type %s", a,
        data->type->name);
    report(data->location, what, KERNITE_UBSAN_RIP);
}

void __ubsan_handle_divrem_overflow(OverflowData const* data, u64 lhs, u64 rhs)
{
    char a[24], b[24], what[128];
    format_value(a, sizeof(a), data->type, lhs);
    format_value(b, sizeof(b), data->type, rhs);
    if (rhs == 0)
        format(what, sizeof(what), "division by zero: %s / 0 in type %s", a, data->type->name);
    else
        format(what, sizeof(what), "signed integer overflow: %s / %s cannot be represented in type %s", a, b,
            data->type->name);
    report(data->location, what, KERNITE_UBSAN_RIP);
}

void __ubsan_handle_shift_out_of_bounds(ShiftData const* data, u64 lhs, u64 rhs)
{
    char a[24], b[24], what[160];
    format_value(a, sizeof(a), data->lhs_type, lhs);
    format_value(b, sizeof(b), data->rhs_type, rhs);
    if (is_signed(data->rhs_type) && signed_value(data->rhs_type, rhs) < 0)
        format(what, sizeof(what), "shift out of bounds: shift exponent %s is negative", b);
    else if (rhs >= bit_width(data->lhs_type))
        format(what, sizeof(what), "shift out of bounds: shift exponent %s is too large for %u-bit type %s", b,
            bit_width(data->lhs_type), data->lhs_type->name);
    else if (is_signed(data->lhs_type) && signed_value(data->lhs_type, lhs) < 0)
        format(what, sizeof(what), "shift out of bounds: left shift of negative value %s", a);
    else
        format(what, sizeof(what), "shift out of bounds: left shift of %s by %s places cannot be represented in type %s",
            a, b, data->lhs_type->name);
    report(data->location, what, KERNITE_UBSAN_RIP);
}

void __ubsan_handle_out_of_bounds(OutOfBoundsData const* data, u64 index)
{
    char a[24], what[128];
    format_value(a, sizeof(a), data->index_type, index);
    format(what, sizeof(what), "array index out of bounds: index %s out of range for type %s", a,
        data->array_type->name);
    report(data->location, what, KERNITE_UBSAN_RIP);
}

void __ubsan_handle_load_invalid_value(InvalidValueData const* data, u64 value)
{
    char what[128];
    format(what, sizeof(what), "invalid value: load of value %lu, which is not valid for type %s", value,
        data->type->name);
    report(data->location, what, KERNITE_UBSAN_RIP);
}

void __ubsan_handle_vla_bound_not_positive(VlaBoundData const* data, u64 bound)
{
    char a[24], what[96];
    format_value(a, sizeof(a), data->type, bound);
    format(what, sizeof(what), "variable length array bound evaluates to non-positive value %s", a);
    report(data->location, what, KERNITE_UBSAN_RIP);
}

void __ubsan_handle_nonnull_arg(NonnullArgData const* data)
{
    char what[96];
    format(what, sizeof(what), "null pointer passed as argument %d, declared never null", data->argument_index);
    report(data->location, what, KERNITE_UBSAN_RIP);
}

void __ubsan_handle_nonnull_return_v1(NonnullReturnData const* data, SourceLocation const* location)
{
    report(location ? *location : data->attribute_location,
        "null pointer returned from a function declared never to return null", KERNITE_UBSAN_RIP);
}

void __ubsan_handle_pointer_overflow(LocationData const* data, u64 base, u64 result)
{
    char what[128];
    format(what, sizeof(what), "pointer overflow: pointer arithmetic on %p overflowed to %p",
        reinterpret_cast<void*>(base), reinterpret_cast<void*>(result));
    report(data->location, what, KERNITE_UBSAN_RIP);
}

void __ubsan_handle_invalid_builtin(InvalidBuiltinData const* data)
{
    report(data->location, data->kind == 0 ? "invalid builtin: ctz() of zero" : "invalid builtin: clz() of zero",
        KERNITE_UBSAN_RIP);
}

// These two cannot continue: the code after them does not exist.
[[noreturn]] void __ubsan_handle_builtin_unreachable(LocationData const* data)
{
    g_continue = false;
    report(data->location, "execution reached __builtin_unreachable()", KERNITE_UBSAN_RIP);
    __builtin_trap();
}

[[noreturn]] void __ubsan_handle_missing_return(LocationData const* data)
{
    g_continue = false;
    report(data->location, "execution reached the end of a value-returning function without returning a value",
        KERNITE_UBSAN_RIP);
    __builtin_trap();
}

} // extern "C"

#else

void kernite::security::configure_ubsan(char const*) { }

#endif
