// Load bias of a position-independent program (ASLR, issue 4 item 3): see include/exec/program_plan.h.
#include <exec/program_plan.h>

#include <vma/layout.h>

namespace kernite::exec {

namespace {

// The biases that place the plan's span inside the window: first, first + step, ..., first + (count-1) * step.
struct BiasChoices {
    u64 first { 0 };
    u64 step { 0 };
    u64 count { 0 }; // 0: the program does not fit
};

BiasChoices bias_choices(ProgramPlan const& plan, LoadWindow const& window)
{
    u64 const step = plan.max_alignment;
    if (!ktl::is_power_of_two(step) || window.start >= window.end || plan.span_end <= plan.span_start
        || plan.span_end - plan.span_start > window.end - window.start || plan.span_end > window.end)
        return {};
    // bias + span_start >= window.start and bias + span_end <= window.end, bias a multiple of step, bias >= 0.
    u64 lowest = 0;
    if (window.start > plan.span_start && !ktl::align_up(window.start - plan.span_start, step, &lowest))
        return {};
    u64 const highest = ktl::align_down(window.end - plan.span_end, step);
    if (lowest > highest)
        return {};
    return { .first = lowest, .step = step, .count = (highest - lowest) / step + 1 };
}

u32 floor_log2(u64 value) { return value == 0 ? 0 : 63 - static_cast<u32>(__builtin_clzll(value)); }

} // namespace

u32 load_bias_entropy_bits(ProgramPlan const& plan, LoadWindow const& window)
{
    return floor_log2(bias_choices(plan, window).count);
}

ErrorOr<u64> choose_load_bias(ProgramPlan const& plan, u64 random, LoadWindow const& window)
{
    if (!plan.position_independent)
        return 0; // ET_EXEC runs where it was linked; only static-PIE programs move (PLATFORM.md)
    if (window.start < vma::minimum_user_address || window.end > vma::user_address_limit)
        return Error::from_errno(EINVAL, "load window outside the user address space");
    BiasChoices const choices = bias_choices(plan, window);
    if (choices.count == 0)
        return Error::from_errno(ENOEXEC, "the program is too large for the randomized load window");
    if (window.minimum_entropy_bits > 63 || choices.count < (1ull << window.minimum_entropy_bits))
        return Error::from_errno(ENOEXEC,
            "the program's segment alignment leaves too few random load addresses (ASLR minimum not met)");
    // Uniform pick in [0, count) by multiply-high (Lemire): no division, bias below 2^-30 for count <= 2^34.
    u64 const index = static_cast<u64>((static_cast<unsigned __int128>(random) * choices.count) >> 64);
    return choices.first + index * choices.step;
}

ErrorOr<void> apply_load_bias(ProgramPlan& plan, u64 bias)
{
    if (plan.bias_applied)
        return Error::from_errno(EINVAL, "the plan already has a load bias");
    if (!plan.position_independent && bias != 0)
        return Error::from_errno(EINVAL, "an ET_EXEC program cannot be moved");
    if (!ktl::is_power_of_two(plan.max_alignment) || (bias & (plan.max_alignment - 1)) != 0)
        return Error::from_errno(EINVAL, "load bias not a multiple of the program's alignment");
    u64 start = 0;
    u64 end = 0;
    if (!ktl::checked_add(plan.span_start, bias, &start) || !ktl::checked_add(plan.span_end, bias, &end)
        || start < vma::minimum_user_address || end > vma::user_address_limit)
        return Error::from_errno(ENOEXEC, "at this load bias the program would lie outside the user address space");

    // Every other address of the plan lies inside [span_start, span_end] (plan_program() checked entry, phdr,
    // TLS and RELRO against the segments), so none of these sums can overflow.
    plan.bias_applied = true;
    plan.load_bias = bias;
    plan.span_start = start;
    plan.span_end = end;
    for (u32 i = 0; i < plan.segment_count; ++i) {
        plan.segments[i].vaddr += bias;
        plan.segments[i].map_start += bias;
        plan.segments[i].map_end += bias;
    }
    plan.entry += bias;
    plan.phdr += bias;
    if (plan.has_tls)
        plan.tls.vaddr += bias;
    if (plan.has_relro) {
        plan.relro_start += bias;
        plan.relro_end += bias;
    }
    return {};
}

} // namespace kernite::exec
