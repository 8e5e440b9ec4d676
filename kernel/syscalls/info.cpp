// Who and where the program is: ids, uname, sysinfo, resource limits, getrandom, umask, prctl, getrusage.
// The program runs as root (uid 0) in pid 1 of a machine of its own, like a container's init.
#include <kernel/mm/memory.h>
#include <kernel/process/process.h>
#include <kernel/process/user_memory.h>
#include <kernel/security/random.h>
#include <kernel/syscalls/handlers.h>
#include <kernel/time/clock.h>

namespace kernite::syscalls {

using namespace process;

namespace {

struct LinuxUtsname {
    char sysname[65], nodename[65], release[65], version[65], machine[65], domainname[65];
};
static_assert(sizeof(LinuxUtsname) == 390);

struct LinuxRlimit {
    u64 current;
    u64 maximum;
};

struct LinuxSysinfo {
    i64 uptime;
    u64 loads[3];
    u64 totalram, freeram, sharedram, bufferram, totalswap, freeswap;
    u16 procs;
    u16 pad;
    u32 pad2;
    u64 totalhigh, freehigh;
    u32 mem_unit;
    u8 padding[4];
};
static_assert(sizeof(LinuxSysinfo) == 112);

constexpr u64 rlim_infinity = ~u64(0);
constexpr u32 rlimit_count = 16;
constexpr u32 rlimit_stack = 3, rlimit_nofile = 7;
LinuxRlimit g_limits[rlimit_count] = {
    { rlim_infinity, rlim_infinity }, // CPU
    { rlim_infinity, rlim_infinity }, // FSIZE
    { rlim_infinity, rlim_infinity }, // DATA
    { 8ull << 20, rlim_infinity },    // STACK: 8 MiB, as Linux's default
    { 0, rlim_infinity },             // CORE
    { rlim_infinity, rlim_infinity }, // RSS
    { 4096, 4096 },                   // NPROC
    { 1024, 1024 },                   // NOFILE (the fd table's size)
    { 8ull << 20, 8ull << 20 },       // MEMLOCK
    { rlim_infinity, rlim_infinity }, // AS
    { rlim_infinity, rlim_infinity }, // LOCKS
    { 4096, 4096 },                   // SIGPENDING
    { 819200, 819200 },               // MSGQUEUE
    { 0, 0 },                         // NICE
    { 0, 0 },                         // RTPRIO
    { rlim_infinity, rlim_infinity }, // RTTIME
};
u32 g_umask = 022;

void copy_field(char* field, char const* value)
{
    usize i = 0;
    for (; value[i] && i < 64; ++i)
        field[i] = value[i];
    field[i] = 0;
}

constexpr u32 grnd_nonblock = 1, grnd_random = 2, grnd_insecure = 4;

} // namespace

Result sys_getpid(Arguments&) { return process_id; }
Result sys_getppid(Arguments&) { return u64(0); } // no parent inside the VM, as for init
Result sys_getuid(Arguments&) { return u64(0); }
Result sys_getpgrp(Arguments&) { return process_id; }
Result sys_setsid(Arguments&) { return Error::from_errno(EPERM, "already a session leader"); }
Result sys_setpgid(Arguments&) { return Error::from_errno(EPERM, "already a process group leader"); }
Result sys_setuid(Arguments& arguments)
{
    // Root may become anyone, but there is no one else here: accept only 0 (a no-op), refuse the rest honestly.
    if (arguments.a0 == 0)
        return u64(0);
    return Error::from_errno(EPERM, "the program runs as root; other users do not exist in the VM");
}

Result sys_getresuid(Arguments& arguments)
{
    u32 zero = 0;
    TRY(UserPtr<u32>(arguments.a0).write(zero));
    TRY(UserPtr<u32>(arguments.a1).write(zero));
    TRY(UserPtr<u32>(arguments.a2).write(zero));
    return u64(0);
}

Result sys_getgroups(Arguments&) { return u64(0); }

Result sys_uname(Arguments& arguments)
{
    LinuxUtsname name {};
    copy_field(name.sysname, "Linux"); // programs branch on this; the ABI is Linux's
    copy_field(name.nodename, "kernite");
    copy_field(name.release, "6.1.0-kernite");
    copy_field(name.version, "#1 SMP Kernite");
    copy_field(name.machine, "x86_64");
    copy_field(name.domainname, "(none)");
    TRY(UserPtr<LinuxUtsname>(arguments.a0).write(name));
    return u64(0);
}

Result sys_sysinfo(Arguments& arguments)
{
    auto statistics = mm::statistics();
    LinuxSysinfo info {};
    info.uptime = static_cast<i64>(time::monotonic_ns() / 1'000'000'000);
    info.totalram = statistics.total_frames;
    info.freeram = statistics.free_frames;
    info.procs = static_cast<u16>(thread_count());
    info.mem_unit = 4096;
    TRY(UserPtr<LinuxSysinfo>(arguments.a0).write(info));
    return u64(0);
}

Result sys_prlimit64(Arguments& arguments)
{
    if (arguments.a0 != 0 && arguments.a0 != process_id)
        return Error::from_errno(ESRCH, "no such process");
    u32 resource = static_cast<u32>(arguments.a1);
    if (resource >= rlimit_count)
        return Error::from_errno(EINVAL, "unknown resource");
    LinuxRlimit old_limit = g_limits[resource];
    if (arguments.a2) {
        auto limit = TRY(UserPtr<LinuxRlimit>(arguments.a2).read());
        if (limit.current > limit.maximum)
            return Error::from_errno(EINVAL, "soft limit above hard limit");
        if (resource == rlimit_nofile && limit.maximum > 1024)
            return Error::from_errno(EPERM, "the fd table holds 1024 files");
        g_limits[resource] = limit;
    }
    if (arguments.a3)
        TRY(UserPtr<LinuxRlimit>(arguments.a3).write(old_limit));
    return u64(0);
}

Result sys_getrlimit(Arguments& arguments)
{
    if (arguments.a0 >= rlimit_count)
        return Error::from_errno(EINVAL, "unknown resource");
    TRY(UserPtr<LinuxRlimit>(arguments.a1).write(g_limits[arguments.a0]));
    return u64(0);
}

Result sys_setrlimit(Arguments& arguments)
{
    Arguments forwarded { 0, arguments.a0, arguments.a1, 0, 0, 0, arguments.frame };
    return sys_prlimit64(forwarded);
}

u64 stack_limit() { return g_limits[rlimit_stack].current; }

Result sys_getrandom(Arguments& arguments)
{
    if (arguments.a2 & ~u64(grnd_nonblock | grnd_random | grnd_insecure))
        return Error::from_errno(EINVAL, "getrandom flags");
    if ((arguments.a2 & grnd_random) && (arguments.a2 & grnd_insecure))
        return Error::from_errno(EINVAL, "GRND_RANDOM with GRND_INSECURE");
    // The generator is seeded before the program starts (the boot refuses without a source), so every flag is
    // served at once from the same ChaCha20 DRBG, as Linux does once its pool is initialised.
    u8 chunk[256];
    u64 done = 0;
    u64 length = arguments.a1 > (32u << 20) ? (32u << 20) : arguments.a1;
    while (done < length) {
        usize n = length - done < sizeof(chunk) ? length - done : sizeof(chunk);
        security::random_bytes(chunk, n);
        auto copied = copy_to_user(arguments.a0 + done, chunk, n);
        __builtin_memset(chunk, 0, sizeof(chunk));
        if (copied.is_error())
            return done ? Result(done) : Result(copied.release_error());
        done += n;
    }
    return done;
}

Result sys_umask(Arguments& arguments)
{
    u32 old_mask = g_umask;
    g_umask = static_cast<u32>(arguments.a0) & 0777;
    return u64(old_mask);
}

u32 current_umask() { return g_umask; }

Result sys_prctl(Arguments& arguments)
{
    constexpr u64 pr_set_name = 15, pr_get_name = 16, pr_set_dumpable = 4, pr_get_dumpable = 3,
                  pr_set_no_new_privs = 38, pr_get_no_new_privs = 39, pr_set_vma = 0x53564d41;
    switch (arguments.a0) {
    case pr_set_name:
    case pr_set_dumpable:
    case pr_set_no_new_privs:
    case pr_set_vma:
        return u64(0);
    case pr_get_name: {
        char name[16] = "program";
        TRY(copy_to_user(arguments.a1, name, sizeof(name)));
        return u64(0);
    }
    case pr_get_dumpable: return u64(0);
    case pr_get_no_new_privs: return u64(1);
    default: return Error::from_errno(EINVAL, "prctl option not supported");
    }
}

Result sys_getrusage(Arguments& arguments)
{
    u8 usage[144] {};
    u64 ns = time::monotonic_ns();
    u64 user[2] = { ns / 1'000'000'000, ns % 1'000'000'000 / 1000 }; // all time counted as user time
    __builtin_memcpy(usage, user, sizeof(user));
    TRY(copy_to_user(arguments.a1, usage, sizeof(usage)));
    return u64(0);
}

Result sys_getcpu(Arguments& arguments)
{
    u32 zero = 0;
    if (arguments.a0)
        TRY(UserPtr<u32>(arguments.a0).write(zero));
    if (arguments.a1)
        TRY(UserPtr<u32>(arguments.a1).write(zero));
    return u64(0);
}

} // namespace kernite::syscalls
