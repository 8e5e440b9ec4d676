#include <arch/x86_64/cpu.h>
#include <kernel/boot/timeline.h>
#include <kernel/lib/format.h>
#include <kernel/lib/log.h>
#include <platform/platform.h>

namespace kernite::boot {

namespace {

struct Mark {
    char const* milestone;
    u64 tsc;
};
constexpr usize max_marks = 24;
Mark g_marks[max_marks];
usize g_count;

} // namespace

void mark_at(char const* milestone, u64 tsc)
{
    if (g_count < max_marks)
        g_marks[g_count++] = { milestone, tsc };
}

void mark(char const* milestone) { mark_at(milestone, arch::read_tsc()); }

void print_timeline(u64 boot_tsc)
{
    char line[480];
    usize length = format(line, sizeof(line), "boot timeline (us):");
    u64 previous = boot_tsc;
    u64 khz = platform::tsc_khz();
    for (usize i = 0; i < g_count && length + 40 < sizeof(line); ++i) {
        length += format(line + length, sizeof(line) - length, " %s %lu,", g_marks[i].milestone,
            (g_marks[i].tsc - previous) * 1000 / khz);
        previous = g_marks[i].tsc;
    }
    klog("%s total %lu", line, (previous - boot_tsc) * 1000 / khz);
}

} // namespace kernite::boot
