// The demo `kernite run` boots without a program: a self-check of what the kernel just set up, printed on
// stdout, ending in "kernite: demo ok" (tests/guest rely on that line) and exit 0.
#include <kernel/debug/symbols.h>
#include <kernel/demo.h>
#include <kernel/lib/log.h>
#include <kernel/mm/heap.h>
#include <kernel/mm/memory.h>
#include <platform/platform.h>

namespace kernite {

int run_demo()
{
    int failures = 0;
    auto check = [&](bool ok, char const* what) {
        kout("  [%s] %s\n", ok ? " ok " : "FAIL", what);
        if (!ok)
            ++failures;
    };
    kout("Hello from Kernite on %s.\n", platform::name());
    auto stats = mm::statistics();
    check(stats.wx_leaves == 0, "no page is writable and executable");
    check(stats.null_guard_leaves == 0, "the first 64 KiB are unmapped");
    check(mm::ro_after_init_sealed(), "ro-after-init data is sealed read-only");
    check(debug::symbol_count() > 0, "kernel symbols are in the image");

    auto allocation = mm::kmalloc(100);
    check(!allocation.is_error(), "the kernel heap allocates");
    if (!allocation.is_error())
        mm::kfree(allocation.value());

    kout("  memory: %lu KiB usable, %lu KiB free, %lu page-table leaves\n", stats.total_frames * 4,
        stats.free_frames * 4, stats.leaves);
    if (failures != 0) {
        klog("demo: %d self-checks failed", failures);
        return 1;
    }
    kout("kernite: demo ok\n");
    return 0;
}

} // namespace kernite
