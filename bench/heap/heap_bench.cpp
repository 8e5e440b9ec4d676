// heap_hardened_vs_plain (issue 5, item 7): the hardened heap against a plain size-class allocator in the same
// run, on the allocation pattern of a server (per-request temporaries of mixed sizes, long-lived connection
// state, a cache that keeps some objects for a while). Prints the throughput ratio and both allocators' memory
// overhead. Host code: it measures the allocator's own work, not ring-0 emulation (docs/platform-notes.md).
#include "../../tests/host/heap/memfd_page_source.h"
#include "plain_heap.h"

#include <benchmark/benchmark.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace kernite::heap;

namespace {

struct Operation {
    bool allocate;
    u32 slot; // index into the replay's pointer table
    u32 size;
};

struct Trace {
    std::vector<Operation> operations;
    u32 slots { 0 };
    usize midpoint { 0 }; // where the memory overhead is measured
};

// A deterministic server-like trace: 64 connections, each request allocates 4-12 temporaries (70% up to 128 B,
// 25% up to 2 KiB, 5% up to 16 KiB: bodies) and frees them at its end; one in four requests keeps an object in a
// 512-entry FIFO cache; connection state (256 B-1 KiB) is replaced every ~100 requests. Ends with everything freed.
Trace make_trace()
{
    std::mt19937_64 random(42);
    Trace trace;
    std::vector<u32> free_slots;
    auto take_slot = [&] {
        if (!free_slots.empty()) {
            u32 slot = free_slots.back();
            free_slots.pop_back();
            return slot;
        }
        return trace.slots++;
    };
    auto allocate = [&](u32 size) {
        u32 slot = take_slot();
        trace.operations.push_back({ true, slot, size });
        return slot;
    };
    auto release = [&](u32 slot) {
        trace.operations.push_back({ false, slot, 0 });
        free_slots.push_back(slot);
    };
    auto request_size = [&]() -> u32 {
        u64 kind = random() % 100;
        if (kind < 70)
            return 8 + random() % 121;
        if (kind < 95)
            return 129 + random() % 1920;
        return 2049 + random() % (16 * 1024 - 2048);
    };

    constexpr unsigned connection_count = 64;
    constexpr unsigned cache_capacity = 512;
    constexpr unsigned request_count = 12000;
    std::vector<u32> connections;
    for (unsigned i = 0; i < connection_count; ++i)
        connections.push_back(allocate(256 + random() % 769));
    std::vector<u32> cache;
    usize cache_head = 0;
    for (unsigned request = 0; request < request_count; ++request) {
        if (request == request_count / 2)
            trace.midpoint = trace.operations.size();
        unsigned connection = random() % connection_count;
        if (random() % 100 == 0) {
            release(connections[connection]);
            connections[connection] = allocate(256 + random() % 769);
        }
        std::vector<u32> temporaries;
        unsigned count = 4 + random() % 9;
        for (unsigned i = 0; i < count; ++i)
            temporaries.push_back(allocate(request_size()));
        if (random() % 4 == 0) {
            u32 kept = temporaries.back();
            temporaries.pop_back();
            if (cache.size() < cache_capacity) {
                cache.push_back(kept);
            } else {
                release(cache[cache_head]);
                cache[cache_head] = kept;
                cache_head = (cache_head + 1) % cache_capacity;
            }
        }
        std::shuffle(temporaries.begin(), temporaries.end(), random);
        for (u32 slot : temporaries)
            release(slot);
    }
    for (u32 slot : cache)
        release(slot);
    for (u32 slot : connections)
        release(slot);
    return trace;
}

Trace const& trace()
{
    static Trace const instance = make_trace();
    return instance;
}

// Pages are recycled instead of going back to the kernel with munmap: the kernel's page source is a frame bitmap
// and a page-table update, not two system calls, and a syscall per large block would swamp the allocators' own
// work. Guarded blocks keep their PROT_NONE guards while pooled.
class PooledPageSource final : public PageSource {
public:
    void* allocate_pages(usize count) override { return take(m_plain, count, false); }
    void free_pages(void* pages, usize count) override
    {
        m_plain[count].push_back(pages);
        m_in_use -= count;
    }
    void* allocate_guarded(usize count) override { return take(m_guarded, count, true); }
    void free_guarded(void* pages, usize count) override
    {
        m_guarded[count].push_back(pages);
        m_in_use -= count;
    }
    // The slab region: committed pages stay backed while decommitted (the kernel keeps its frames in a bitmap,
    // here the pages are simply not counted), so no system call lands in the measured loop.
    void* reserve(usize bytes) override { return m_source.reserve(bytes); }
    bool commit(void* pages, usize count) override
    {
        m_in_use += count;
        auto& committed = m_committed[pages];
        if (committed < count) {
            if (!m_source.commit(static_cast<u8*>(pages) + committed * page_size, count - committed))
                return false;
            committed = count;
        }
        return true;
    }
    void decommit(void*, usize count) override { m_in_use -= count; }
    usize pages_in_use() const { return m_in_use; }

private:
    std::map<void*, usize> m_committed;
    void* take(std::map<usize, std::vector<void*>>& pool, usize count, bool guarded)
    {
        m_in_use += count;
        auto& list = pool[count];
        if (!list.empty()) {
            void* pages = list.back();
            list.pop_back();
            return pages;
        }
        return guarded ? m_source.allocate_guarded(count) : m_source.allocate_pages(count);
    }
    MmapPageSource m_source;
    std::map<usize, std::vector<void*>> m_plain;
    std::map<usize, std::vector<void*>> m_guarded;
    usize m_in_use { 0 };
};

u64 g_random_state = 0x9e3779b97f4a7c15ull;
void fast_random_bytes(void* buffer, usize length) { xorshift_fill(g_random_state, buffer, length); }

void fatal_misuse(Misuse misuse, void const*, char const* message)
{
    std::fprintf(stderr, "heap misuse in the benchmark: %s: %s\n", misuse_name(misuse), message);
    std::abort();
}

// Replays operations [0, end). `fill`: the program writes each object whole (a server filling its buffers);
// otherwise it touches one byte (the allocators' own work only).
template<typename Heap>
void replay(Heap& heap, std::vector<void*>& pointers, usize end, bool fill = false)
{
    auto const& operations = trace().operations;
    for (usize i = 0; i < end; ++i) {
        Operation const& operation = operations[i];
        if (operation.allocate) {
            void* pointer = heap.allocate(operation.size);
            if (fill)
                std::memset(pointer, 0x5a, operation.size);
            else
                static_cast<u8*>(pointer)[0] = 1;
            benchmark::DoNotOptimize(pointer);
            pointers[operation.slot] = pointer;
        } else {
            heap.deallocate(pointers[operation.slot]);
        }
    }
}

struct HardenedFixture {
    PooledPageSource pages;
    HardenedHeap heap { pages, fast_random_bytes, fatal_misuse };
    usize pages_in_use() const { return pages.pages_in_use(); }
};
// The hardened heap with Checks::Full (`--heap full`): every freed byte poisoned and checked.
struct FullChecksFixture {
    PooledPageSource pages;
    HardenedHeap heap { pages, fast_random_bytes, fatal_misuse, Checks::Full };
    usize pages_in_use() const { return pages.pages_in_use(); }
};
struct PlainFixture {
    PooledPageSource pages;
    PlainHeap heap { pages };
    usize pages_in_use() const { return pages.pages_in_use(); }
};

// A reference, not a goal: the host's own malloc (glibc's ptmalloc on Debian: per-thread caches, inline chunk
// headers, a few integrity checks on free, no quarantine or randomization). It puts the hardened heap's cost next
// to an allocator that programs actually use; heap_hardened_vs_plain stays the judged figure.
struct LibcFixture {
    struct Adapter {
        void* allocate(usize size) { return std::malloc(size); }
        void deallocate(void* pointer) { std::free(pointer); }
    } heap;
};

// OSCAR mode: the slab region is a memfd so that each object can get its own alias mapping (two system calls per
// object here, mmap and mmap-over on free; in the kernel a page-table write and an invlpg each).
class OscarPageSource final : public PageSource, public AliasMapper {
public:
    void* allocate_pages(usize count) override { return m_pooled.allocate_pages(count); }
    void free_pages(void* pages, usize count) override { m_pooled.free_pages(pages, count); }
    void* allocate_guarded(usize count) override { return m_pooled.allocate_guarded(count); }
    void free_guarded(void* pages, usize count) override { m_pooled.free_guarded(pages, count); }
    void* reserve(usize bytes) override { return m_memfd.reserve(bytes); }
    bool commit(void* pages, usize count) override { return m_memfd.commit(pages, count); }
    void decommit(void* pages, usize count) override { m_memfd.decommit(pages, count); }
    bool map_alias(uptr alias, void const* object_pages, usize pages) override
    {
        m_alias_pages += pages;
        return m_memfd.map_alias(alias, object_pages, pages);
    }
    void unmap_alias(uptr alias, usize pages) override
    {
        m_alias_pages -= pages;
        m_memfd.unmap_alias(alias, pages);
    }
    uptr reserve_aliases(usize bytes) { return m_memfd.reserve_aliases(bytes); }
    // Slab, large-block and metadata pages (alias pages map the same frames: page-table entries, counted apart).
    usize pages_in_use() const { return m_pooled.pages_in_use() + m_memfd.pages_in_use(); }
    usize alias_pages() const { return m_alias_pages; }

private:
    PooledPageSource m_pooled;
    MemfdPageSource m_memfd;
    usize m_alias_pages { 0 };
};

struct OscarFixture {
    static constexpr usize alias_bytes = usize(1) << 40;
    OscarPageSource pages;
    HardenedHeap hardened { pages, fast_random_bytes, fatal_misuse };
    OscarAliases aliases { hardened, pages, pages, fatal_misuse, pages.reserve_aliases(alias_bytes), alias_bytes };
    struct Adapter {
        OscarAliases& aliases;
        void* allocate(usize size) { return aliases.allocate(size, 0); }
        void deallocate(void* pointer) { aliases.deallocate(pointer); }
    } heap { aliases };
    usize pages_in_use() const { return pages.pages_in_use(); }
};

template<typename Fixture, bool fill>
void heap_server_pattern(benchmark::State& state)
{
    Fixture fixture;
    std::vector<void*> pointers(trace().slots);
    replay(fixture.heap, pointers, trace().operations.size(), fill); // warm: slabs exist
    for (auto _ : state)
        replay(fixture.heap, pointers, trace().operations.size(), fill);
    state.SetItemsProcessed(static_cast<i64>(state.iterations() * trace().operations.size()));
}
BENCHMARK_TEMPLATE(heap_server_pattern, PlainFixture, false);
BENCHMARK_TEMPLATE(heap_server_pattern, HardenedFixture, false);
BENCHMARK_TEMPLATE(heap_server_pattern, PlainFixture, true);
BENCHMARK_TEMPLATE(heap_server_pattern, HardenedFixture, true);
BENCHMARK_TEMPLATE(heap_server_pattern, FullChecksFixture, false);
BENCHMARK_TEMPLATE(heap_server_pattern, OscarFixture, false);
BENCHMARK_TEMPLATE(heap_server_pattern, LibcFixture, false);

// Pages held at the trace's midpoint (guard pages are address space only and are not counted) against the
// bytes the program asked for.
template<typename Fixture>
double memory_ratio(usize* pages_out, usize* live_out)
{
    Fixture fixture;
    std::vector<void*> pointers(trace().slots);
    replay(fixture.heap, pointers, trace().midpoint);
    usize live = 0;
    std::map<u32, u32> live_slots;
    for (usize i = 0; i < trace().midpoint; ++i) {
        auto const& operation = trace().operations[i];
        if (operation.allocate)
            live_slots[operation.slot] = operation.size;
        else
            live_slots.erase(operation.slot);
    }
    for (auto [slot, size] : live_slots)
        live += size;
    *pages_out = fixture.pages_in_use();
    *live_out = live;
    return static_cast<double>(fixture.pages_in_use() * page_size) / static_cast<double>(live);
}

class RatioReporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(std::vector<Run> const& runs) override
    {
        ConsoleReporter::ReportRuns(runs);
        // CPU time (the machine is shared; the replay is single-threaded and its system calls, OSCAR's mmaps,
        // count as CPU time too): the median when repetitions are asked for, else the single run.
        for (auto const& run : runs) {
            if (run.error_occurred)
                continue;
            if (run.run_type == Run::RT_Aggregate && run.aggregate_name == "median")
                m_time_per_iteration[run.run_name.str()] = run.GetAdjustedCPUTime();
            else if (run.run_type == Run::RT_Iteration && !m_time_per_iteration.count(run.run_name.str()))
                m_time_per_iteration[run.run_name.str()] = run.GetAdjustedCPUTime();
        }
    }
    std::map<std::string, double> m_time_per_iteration;
};

// `--replay plain|hardened|libc ROUNDS`: one warm replay, then ROUNDS more in `measured_replays` and nothing else, for
// callgrind (bench/run.sh counts instructions and simulated cache misses inside that function: figures that do
// not move with the load of a shared machine, unlike the times above).
template<typename Fixture>
[[gnu::noinline]] void measured_replays(Fixture& fixture, std::vector<void*>& pointers, int rounds)
{
    for (int i = 0; i < rounds; ++i)
        replay(fixture.heap, pointers, trace().operations.size());
}

template<typename Fixture>
int replay_only(int rounds)
{
    Fixture fixture;
    std::vector<void*> pointers(trace().slots);
    replay(fixture.heap, pointers, trace().operations.size());
    measured_replays(fixture, pointers, rounds);
    std::printf("replayed %d x %zu operations\n", rounds, trace().operations.size());
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc == 4 && std::string(argv[1]) == "--replay") {
        int rounds = std::atoi(argv[3]);
        std::string which = argv[2];
        if (rounds > 0 && which == "plain")
            return replay_only<PlainFixture>(rounds);
        if (rounds > 0 && which == "hardened")
            return replay_only<HardenedFixture>(rounds);
        if (rounds > 0 && which == "libc")
            return replay_only<LibcFixture>(rounds);
        std::fprintf(stderr, "usage: heap-bench --replay plain|hardened|libc ROUNDS\n");
        return 2;
    }
    benchmark::Initialize(&argc, argv);
    RatioReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();

    std::printf("\ntrace: %zu operations (%zu allocations), server pattern\n", trace().operations.size(),
        trace().operations.size() / 2);
    auto time_of = [&](char const* fixture, char const* fill) {
        return reporter.m_time_per_iteration[std::string("heap_server_pattern<") + fixture + ", " + fill + ">"];
    };
    double operations = static_cast<double>(trace().operations.size());
    // `figure NAME VALUE` lines: bench/run.sh copies them into build/bench/results.json.
    auto ratio_line = [&](char const* figure, char const* what, char const* fixture, char const* fill) {
        double plain = time_of("PlainFixture", fill);
        double other = time_of(fixture, fill);
        if (plain <= 0 || other <= 0)
            return;
        std::printf("%s (%s): throughput ratio %.3f: plain %.1f ns, %s %.1f ns per operation\n", figure, what,
            plain / other, plain / operations, fixture, other / operations);
        std::printf("figure %s %.3f\n", figure, plain / other);
    };
    ratio_line("heap_hardened_vs_plain", "allocator only, goal >= 0.9", "HardenedFixture", "false");
    ratio_line("heap_hardened_vs_plain_filled", "objects filled by the program", "HardenedFixture", "true");
    ratio_line("heap_full_vs_plain", "--heap full, allocator only", "FullChecksFixture", "false");
    ratio_line("heap_oscar_vs_plain", "--heap oscar, allocator only, host mmap per alias", "OscarFixture", "false");
    // For scale: the host's malloc on the same trace (libc_vs_plain), and the hardened heap against it.
    ratio_line("heap_libc_vs_plain", "the host's malloc, for reference", "LibcFixture", "false");
    double libc = time_of("LibcFixture", "false");
    double hardened = time_of("HardenedFixture", "false");
    if (libc > 0 && hardened > 0) {
        std::printf("heap_hardened_vs_libc (for reference): throughput ratio %.3f: malloc %.1f ns, hardened %.1f ns "
                    "per operation\n",
            libc / hardened, libc / operations, hardened / operations);
        std::printf("figure heap_hardened_vs_libc %.3f\n", libc / hardened);
    }

    usize plain_pages = 0, plain_live = 0, hardened_pages = 0, hardened_live = 0, oscar_pages = 0, oscar_live = 0;
    double plain_ratio = memory_ratio<PlainFixture>(&plain_pages, &plain_live);
    double hardened_ratio = memory_ratio<HardenedFixture>(&hardened_pages, &hardened_live);
    double oscar_ratio = memory_ratio<OscarFixture>(&oscar_pages, &oscar_live);
    std::printf("memory at the midpoint (%zu live bytes): plain %zu pages (%.2fx live), hardened %zu pages "
                "(%.2fx live), oscar %zu pages (%.2fx live): hardened %.2fx plain, oscar %.2fx plain\n",
        plain_live, plain_pages, plain_ratio, hardened_pages, hardened_ratio, oscar_pages, oscar_ratio,
        hardened_ratio / plain_ratio, oscar_ratio / plain_ratio);
    std::printf("figure heap_hardened_memory_vs_plain %.3f\n", hardened_ratio / plain_ratio);
    std::printf("figure heap_oscar_memory_vs_plain %.3f\n", oscar_ratio / plain_ratio);

    // OSCAR's page-table cost: one 8-byte entry per live alias page, and address space that is never reused,
    // whose page tables (one 4 KiB table per 2 MiB) the kernel does not give back.
    {
        OscarFixture fixture;
        std::vector<void*> pointers(trace().slots);
        replay(fixture.heap, pointers, trace().midpoint);
        auto live = fixture.aliases.statistics();
        double allocations = 0;
        for (usize i = 0; i < trace().midpoint; ++i)
            allocations += trace().operations[i].allocate;
        double bytes_per_allocation = static_cast<double>(live.address_space_used) / allocations;
        double table_bytes_per_allocation = bytes_per_allocation / (2.0 * 1024 * 1024) * 4096;
        std::printf("oscar at the midpoint: %lu live aliases, %lu alias pages mapped (%lu bytes of page-table "
                    "entries), %.0f bytes of address space per allocation ever made: %.1f bytes of page tables "
                    "per allocation, never reclaimed\n",
            static_cast<unsigned long>(live.live_aliases), static_cast<unsigned long>(live.mapped_pages),
            static_cast<unsigned long>(live.mapped_pages * 8), bytes_per_allocation, table_bytes_per_allocation);
        std::printf("figure heap_oscar_page_table_bytes_per_allocation %.1f\n", table_bytes_per_allocation);
    }
    return 0;
}
