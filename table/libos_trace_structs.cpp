/* The structures in the program's memory that the trace shows, and the enumerations of their calls
 * (libos_trace_internal.h), decoded as strace 6.1 prints them: timespec, rlimit, sched_param, stat
 * (abbreviated, as strace does without -v), the kernel's sigaction, sched_attr and clone_args; and
 * clocks, RLIMIT_* resources and scheduling policies. The bytes were copied from the program's
 * memory by the tracer (through the caller, so that a bad address is a failed copy, not a fault);
 * here they are only formatted. In JSON a structure is an object of the same fields, numbers as
 * numbers and decoded names as strings. */
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "libos_trace_internal.h"

namespace libos::tracer {
namespace {

/* The kernel's layouts (the ABI, the same on x86_64 and arm64 but for struct stat). */
struct KernelTimespec {
    int64_t tv_sec;
    int64_t tv_nsec;
};
/* The head of the kernel's siginfo (128 bytes in all): a signal a process sent (kill, tgkill,
 * sigqueue) has its sender and value there. */
struct KernelSiginfo {
    int32_t signo, errno_value, code, pad;
    int32_t pid;
    uint32_t uid;
    uint64_t value; /* sigval: si_int in its low 32 bits, si_ptr the whole */
    unsigned char rest[128 - 32];
};
static_assert(sizeof(KernelSiginfo) == 128);
static_assert(sizeof(KernelSiginfo) <= kStructBytes);
struct KernelRlimit {
    uint64_t cur, max;
};
struct KernelSigaction {
    uint64_t handler, flags, restorer, mask;
};
struct SchedAttr {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
    uint32_t util_min, util_max;
};
struct CloneArgs {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size,
        cgroup;
};
#if defined(__x86_64__)
struct KernelStat {
    uint64_t dev, ino, nlink;
    uint32_t mode, uid, gid, pad0;
    uint64_t rdev;
    int64_t size, blksize, blocks;
    uint64_t times[6];
    int64_t unused[3];
};
#else /* the generic layout (arm64) */
struct KernelStat {
    uint64_t dev, ino;
    uint32_t mode, nlink, uid, gid;
    uint64_t rdev, pad1;
    int64_t size;
    int32_t blksize, pad2;
    int64_t blocks;
    int64_t times[6];
    uint32_t unused[2];
};
#endif
/* struct statx's start: what strace shows of it without -v. */
struct StatxHead {
    uint32_t mask, blksize;
    uint64_t attributes;
    uint32_t nlink, uid, gid;
    uint16_t mode, pad0;
    uint64_t ino, size;
};
static_assert(sizeof(StatxHead) == 48, "struct statx: stx_size ends at 48");
static_assert(sizeof(KernelStat) <= kStructBytes && sizeof(CloneArgs) <= kStructBytes, "kStructBytes");

constexpr const char* kClocks[] = {"CLOCK_REALTIME",        "CLOCK_MONOTONIC",       "CLOCK_PROCESS_CPUTIME_ID",
                                   "CLOCK_THREAD_CPUTIME_ID", "CLOCK_MONOTONIC_RAW",   "CLOCK_REALTIME_COARSE",
                                   "CLOCK_MONOTONIC_COARSE",  "CLOCK_BOOTTIME",        "CLOCK_REALTIME_ALARM",
                                   "CLOCK_BOOTTIME_ALARM",    "CLOCK_SGI_CYCLE",       "CLOCK_TAI"};
constexpr const char* kResources[] = {"RLIMIT_CPU",     "RLIMIT_FSIZE",  "RLIMIT_DATA",   "RLIMIT_STACK",
                                      "RLIMIT_CORE",    "RLIMIT_RSS",    "RLIMIT_NPROC",  "RLIMIT_NOFILE",
                                      "RLIMIT_MEMLOCK", "RLIMIT_AS",     "RLIMIT_LOCKS",  "RLIMIT_SIGPENDING",
                                      "RLIMIT_MSGQUEUE", "RLIMIT_NICE",  "RLIMIT_RTPRIO", "RLIMIT_RTTIME"};
constexpr const char* kPolicies[] = {"SCHED_OTHER", "SCHED_FIFO", "SCHED_RR",      "SCHED_BATCH",
                                     "SCHED_ISO",   "SCHED_IDLE", "SCHED_DEADLINE"};
constexpr Flag kSaFlags[] = {{0x1, "SA_NOCLDSTOP"},       {0x2, "SA_NOCLDWAIT"},      {0x4, "SA_SIGINFO"},
                             {0x400, "SA_UNSUPPORTED"},   {0x800, "SA_EXPOSE_TAGBITS"}, {0x04000000, "SA_RESTORER"},
                             {0x08000000, "SA_ONSTACK"},  {0x10000000, "SA_RESTART"}, {0x40000000, "SA_NODEFER"},
                             {0x80000000, "SA_RESETHAND"}};
constexpr Flag kSchedFlags[] = {{0x1, "SCHED_FLAG_RESET_ON_FORK"}, {0x2, "SCHED_FLAG_RECLAIM"},
                                {0x4, "SCHED_FLAG_DL_OVERRUN"},    {0x8, "SCHED_FLAG_KEEP_POLICY"},
                                {0x10, "SCHED_FLAG_KEEP_PARAMS"},  {0x20, "SCHED_FLAG_UTIL_CLAMP_MIN"},
                                {0x40, "SCHED_FLAG_UTIL_CLAMP_MAX"}};
constexpr Flag kCloneFlags3[] = {
    {0x100, "CLONE_VM"},           {0x200, "CLONE_FS"},              {0x400, "CLONE_FILES"},
    {0x800, "CLONE_SIGHAND"},      {0x1000, "CLONE_PIDFD"},          {0x2000, "CLONE_PTRACE"},
    {0x4000, "CLONE_VFORK"},       {0x8000, "CLONE_PARENT"},         {0x10000, "CLONE_THREAD"},
    {0x20000, "CLONE_NEWNS"},      {0x40000, "CLONE_SYSVSEM"},       {0x80000, "CLONE_SETTLS"},
    {0x100000, "CLONE_PARENT_SETTID"}, {0x200000, "CLONE_CHILD_CLEARTID"}, {0x400000, "CLONE_DETACHED"},
    {0x800000, "CLONE_UNTRACED"},  {0x1000000, "CLONE_CHILD_SETTID"}, {0x2000000, "CLONE_NEWCGROUP"},
    {0x4000000, "CLONE_NEWUTS"},   {0x8000000, "CLONE_NEWIPC"},      {0x10000000, "CLONE_NEWUSER"},
    {0x20000000, "CLONE_NEWPID"},  {0x40000000, "CLONE_NEWNET"},     {0x80000000, "CLONE_IO"},
    {0x100000000ul, "CLONE_CLEAR_SIGHAND"}, {0x200000000ul, "CLONE_INTO_CGROUP"}, {0x80, "CLONE_NEWTIME"}};

/* STATX_* in strace's order: the groups first. */
constexpr Flag kStatxMask[] = {
    {0xfff, "STATX_ALL"},       {0x7ff, "STATX_BASIC_STATS"}, {0x1, "STATX_TYPE"},     {0x2, "STATX_MODE"},
    {0x4, "STATX_NLINK"},       {0x8, "STATX_UID"},           {0x10, "STATX_GID"},     {0x20, "STATX_ATIME"},
    {0x40, "STATX_MTIME"},      {0x80, "STATX_CTIME"},        {0x100, "STATX_INO"},    {0x200, "STATX_SIZE"},
    {0x400, "STATX_BLOCKS"},    {0x800, "STATX_BTIME"},       {0x1000, "STATX_MNT_ID"}, {0x2000, "STATX_DIOALIGN"}};
constexpr Flag kStatxAttributes[] = {
    {0x4, "STATX_ATTR_COMPRESSED"}, {0x10, "STATX_ATTR_IMMUTABLE"}, {0x20, "STATX_ATTR_APPEND"},
    {0x40, "STATX_ATTR_NODUMP"},    {0x800, "STATX_ATTR_ENCRYPTED"}, {0x1000, "STATX_ATTR_AUTOMOUNT"},
    {0x2000, "STATX_ATTR_MOUNT_ROOT"}, {0x100000, "STATX_ATTR_VERITY"}, {0x200000, "STATX_ATTR_DAX"}};

/* A structure's fields, as "{name=value, ...}" or as a JSON object. */
class Fields {
public:
    Fields(TextBuilder& line, bool json) : line_(line), json_(json) { line_.ch('{'); }
    /* The field's name; the caller writes its value (a number as it is, a name between quote()s). */
    Fields& key(const char* name) {
        if (count_++)
            line_.add(json_ ? "," : ", ");
        if (json_)
            line_.ch('"').add(name).add("\":");
        else
            line_.add(name).ch('=');
        return *this;
    }
    Fields& num(const char* name, long v) {
        key(name).line_.num(v);
        return *this;
    }
    Fields& unum(const char* name, uint64_t v) {
        key(name).line_.unum(v);
        return *this;
    }
    /* An address: NULL (null) or hex (a number in JSON). */
    Fields& address(const char* name, uint64_t v) {
        key(name);
        if (!v)
            line_.add(json_ ? "null" : "NULL");
        else if (json_)
            line_.unum(v);
        else
            line_.hex(v);
        return *this;
    }
    void quote() {
        if (json_)
            line_.ch('"');
    }
    /* The end: "..." in text for fields left out, as strace abbreviates. */
    void close(bool abbreviated = false) {
        if (abbreviated && !json_)
            line_.add(", ...");
        line_.ch('}');
    }
    TextBuilder& line() { return line_; }

private:
    TextBuilder& line_;
    bool json_;
    int count_ = 0;
};

/* A name of the table, or, for a value outside it, the number: in text as strace prints an unknown
 * one, `0xc` and a comment `CLOCK_???` (`unknown` is the prefix; none: decimal). */
void add_name(TextBuilder& line, bool json, const char* const* names, size_t count, long value,
              const char* unknown = nullptr) {
    if (value >= 0 && static_cast<size_t>(value) < count) {
        if (json)
            line.ch('"').add(names[value]).ch('"');
        else
            line.add(names[value]);
    } else if (unknown && !json) {
        line.hex(static_cast<uint32_t>(value)).add(" /* ").add(unknown).add("_??? */");
    } else {
        line.num(value);
    }
}

void add_timespec(TextBuilder& line, const KernelTimespec& t, bool json) {
    Fields(line, json).num("tv_sec", t.tv_sec).num("tv_nsec", t.tv_nsec).close();
}

/* A limit as strace prints it: RLIM64_INFINITY, a multiple of 1024 as N*1024, or the number. */
void add_limit(Fields& f, const char* name, uint64_t v, bool json) {
    f.key(name);
    if (v == ~0ull) {
        f.quote();
        f.line().add("RLIM64_INFINITY");
        f.quote();
    } else if (v > 1024 && v % 1024 == 0 && !json) {
        f.line().unum(v / 1024).add("*1024");
    } else {
        f.line().unum(v);
    }
}

/* A signal set as strace prints it: [USR1 USR2], [] or, with more than half the signals in it,
 * ~[...] of those not in it. Real-time signals are RTMIN, RT_1, ... as strace names them. */
void add_sigset(TextBuilder& line, uint64_t mask) {
    const bool complement = __builtin_popcountll(mask) > 32;
    if (complement) {
        line.ch('~');
        mask = ~mask;
    }
    line.ch('[');
    bool first = true;
    for (int sig = 1; sig <= 64; ++sig) {
        if (!(mask & (1ull << (sig - 1))))
            continue;
        if (!first)
            line.ch(' ');
        first = false;
        const char* name = sig < 32 ? signal_abbreviation(sig) : nullptr;
        if (name)
            line.add(name);
        else if (sig == 32)
            line.add("RTMIN");
        else if (sig > 32)
            line.add("RT_").num(sig - 32);
        else
            line.num(sig);
    }
    line.ch(']');
}

void add_sigaction(TextBuilder& line, const KernelSigaction& a, bool json) {
    Fields f(line, json);
    f.key("sa_handler");
    if (a.handler == 0 || a.handler == 1) {
        f.quote();
        line.add(a.handler ? "SIG_IGN" : "SIG_DFL");
        f.quote();
    } else if (json) {
        line.unum(a.handler);
    } else {
        line.hex(a.handler);
    }
    f.key("sa_mask");
    f.quote();
    add_sigset(line, a.mask);
    f.quote();
    f.key("sa_flags");
    f.quote();
    add_flags(line, a.flags, kSaFlags);
    f.quote();
    if (a.flags & 0x04000000)
        f.address("sa_restorer", a.restorer);
    f.close();
}

void add_stat(TextBuilder& line, const KernelStat& s, bool json) {
    Fields f(line, json);
    f.key("st_mode");
    f.quote();
    add_node_mode(line, s.mode);
    f.quote();
    const unsigned type = s.mode & 0170000;
    if (type == 0020000 || type == 0060000) {
        f.key("st_rdev");
        f.quote();
        add_device(line, s.rdev);
        f.quote();
    } else {
        f.num("st_size", s.size);
    }
    f.close(true);
}

/* statx's result, abbreviated as strace shows it without -v. */
void add_statx(TextBuilder& line, const StatxHead& s, bool json) {
    Fields f(line, json);
    f.key("stx_mask");
    f.quote();
    add_statx_mask(line, s.mask, false);
    f.quote();
    f.key("stx_attributes");
    f.quote();
    add_flags(line, s.attributes, kStatxAttributes);
    f.quote();
    f.key("stx_mode");
    f.quote();
    add_node_mode(line, s.mode);
    f.quote();
    f.unum("stx_size", s.size);
    f.close(true);
}

void add_sched_attr(TextBuilder& line, const SchedAttr& a, size_t size, bool json) {
    Fields f(line, json);
    f.unum("size", a.size);
    f.key("sched_policy");
    add_name(line, json, kPolicies, sizeof(kPolicies) / sizeof(kPolicies[0]), a.policy);
    f.key("sched_flags");
    f.quote();
    add_flags(line, a.flags, kSchedFlags);
    f.quote();
    f.num("sched_nice", a.nice).unum("sched_priority", a.priority).unum("sched_runtime", a.runtime)
        .unum("sched_deadline", a.deadline).unum("sched_period", a.period);
    if (size >= sizeof(SchedAttr) && a.size >= sizeof(SchedAttr))
        f.unum("sched_util_min", a.util_min).unum("sched_util_max", a.util_max);
    f.close();
}

void add_clone_args(TextBuilder& line, const CloneArgs& a, size_t size, bool json) {
    Fields f(line, json);
    f.key("flags");
    f.quote();
    add_flags(line, a.flags, kCloneFlags3);
    f.quote();
    if (a.flags & 0x1000)
        f.address("pidfd", a.pidfd);
    if (a.flags & (0x1000000 | 0x200000))
        f.address("child_tid", a.child_tid);
    if (a.flags & 0x100000)
        f.address("parent_tid", a.parent_tid);
    f.key("exit_signal");
    if (a.exit_signal && a.exit_signal < 65) {
        f.quote();
        add_signal(line, static_cast<int>(a.exit_signal));
        f.quote();
    } else {
        line.unum(a.exit_signal);
    }
    f.address("stack", a.stack).unum("stack_size", a.stack_size);
    if (a.flags & 0x80000)
        f.address("tls", a.tls);
    if (size >= 80 && (a.set_tid || a.set_tid_size))
        f.address("set_tid", a.set_tid).unum("set_tid_size", a.set_tid_size);
    if (size >= 88 && (a.flags & 0x200000000ul))
        f.unum("cgroup", a.cgroup);
    f.close();
}

template <typename T>
T load(const unsigned char* bytes, size_t size) {
    T value;
    memset(&value, 0, sizeof(value));
    memcpy(&value, bytes, size < sizeof(value) ? size : sizeof(value));
    return value;
}

}  // namespace

void add_statx_mask(TextBuilder& line, unsigned long mask, bool argument) {
    bool known = false;
    for (const Flag& f : kStatxMask)
        known = known || (mask & f.bits) != 0;
    add_flags(line, mask, kStatxMask);
    /* An argument without a name at all: strace says so. */
    if (argument && mask && !known)
        line.add(" /* STATX_??? */");
}

bool struct_is_input(char type) {
    return type == 'T' || type == 'L' || type == 'Q' || type == 'G' || type == 'B' || type == 'J' || type == 'k' ||
           type == 'U';
}

size_t struct_bytes(const char* types, const long args[6], int index) {
    const char type = types[index];
    switch (type) {
        case 'k':
        case 'w':
            /* A signal set, read only when the size argument after it (its call's first 'u' after
             * it) is the kernel's, as strace reads it: another size fails with EINVAL. */
            for (int i = index + 1; i < 6 && types[i]; ++i)
                if (types[i] == 'u')
                    return args[i] == sizeof(uint64_t) ? sizeof(uint64_t) : 0;
            return 0;
        case 'f':
            return sizeof(StatxHead);
        case 'T':
        case 't':
            return sizeof(KernelTimespec);
        case 'U':
            return 2 * sizeof(KernelTimespec);
        case 'i':
            return sizeof(KernelSiginfo);
        case 'L':
        case 'Z':
            return sizeof(KernelRlimit);
        case 'Q':
        case 'q':
        case 'y':
            return sizeof(int);
        case 'F':
            return sizeof(KernelStat);
        case 'G':
        case 'g':
            return sizeof(KernelSigaction);
        case 'B':
            return 48; /* SCHED_ATTR_SIZE_VER0: the size is inside, unknown before the read */
        case 'b': {
            /* sched_getattr writes min(its size argument, the kernel's) bytes: the util clamps too
             * when the size argument (after the structure) has room for them. */
            const unsigned long size = static_cast<unsigned long>(args[index + 1]);
            return size >= sizeof(SchedAttr) ? sizeof(SchedAttr) : 48;
        }
        case 'J': {
            /* clone3's size argument follows its structure: at most what is known. A size below the
             * first version's 64 bytes fails with EINVAL before the kernel reads anything: the
             * structure is shown as its address, as strace shows it. */
            const unsigned long size = static_cast<unsigned long>(args[index + 1]);
            return size < 64 ? 0 : size < sizeof(CloneArgs) ? size : sizeof(CloneArgs);
        }
        default:
            return 0;
    }
}

/* utimensat's two times as strace prints them: UTIME_NOW, UTIME_OMIT, or the timespec followed by
 * its date in a comment (in JSON ["UTIME_NOW", {"tv_sec":1,"tv_nsec":2}]). */
void add_utimes(TextBuilder& line, const unsigned char* bytes, bool json) {
    constexpr int64_t kNow = (1l << 30) - 1, kOmit = (1l << 30) - 2;
    line.ch('[');
    for (int i = 0; i < 2; ++i) {
        const auto t = load<KernelTimespec>(bytes + i * sizeof(KernelTimespec), sizeof(KernelTimespec));
        if (i)
            line.add(json ? "," : ", ");
        const char* name = t.tv_nsec == kNow ? "UTIME_NOW" : t.tv_nsec == kOmit ? "UTIME_OMIT" : nullptr;
        if (name && json)
            line.ch('"').add(name).ch('"');
        else if (name)
            line.add(name);
        else
            add_timespec(line, t, json);
        if (!name && !json && t.tv_nsec >= 0 && t.tv_nsec < 1000000000) {
            line.add(" /* ");
            add_datetime(line, t.tv_sec, t.tv_nsec);
            line.add(" */");
        }
    }
    line.ch(']');
}

/* A siginfo as strace prints it, for the codes a signal sent by a process has: SI_USER, SI_TKILL
 * (si_pid, si_uid), SI_QUEUE and SI_MESGQ (and si_int, si_ptr); other codes by number, with
 * si_signo only. */
void add_siginfo(TextBuilder& line, const KernelSiginfo& si, bool json) {
    Fields f(line, json);
    f.key("si_signo");
    f.quote();
    add_signal(line, si.signo);
    f.quote();
    const char* code = si.code == 0 ? "SI_USER" : si.code == -6 ? "SI_TKILL" : si.code == -1 ? "SI_QUEUE"
                     : si.code == -3 ? "SI_MESGQ" : si.code == 0x80 ? "SI_KERNEL" : nullptr;
    if (code) {
        f.key("si_code");
        f.quote();
        line.add(code);
        f.quote();
    } else
        f.num("si_code", si.code);
    if (si.code == 0 || si.code == -6 || si.code == -1 || si.code == -3)
        f.num("si_pid", si.pid).unum("si_uid", si.uid);
    if (si.code == -1 || si.code == -3)
        f.num("si_int", static_cast<int>(si.value)).address("si_ptr", si.value);
    f.close();
}

void add_struct(TextBuilder& line, char type, const unsigned char* bytes, size_t size, bool json) {
    switch (type) {
        case 'T':
        case 't':
            add_timespec(line, load<KernelTimespec>(bytes, size), json);
            return;
        case 'U':
            add_utimes(line, bytes, json);
            return;
        case 'i':
            add_siginfo(line, load<KernelSiginfo>(bytes, size), json);
            return;
        case 'L':
        case 'Z': {
            const auto r = load<KernelRlimit>(bytes, size);
            Fields f(line, json);
            add_limit(f, "rlim_cur", r.cur, json);
            add_limit(f, "rlim_max", r.max, json);
            f.close();
            return;
        }
        case 'Q':
        case 'q':
            line.ch('[').num(load<int>(bytes, size)).ch(']');
            return;
        case 'y': /* get_mempolicy's mode */
            line.add(json ? "[\"" : "[");
            add_policy_mode(line, static_cast<unsigned>(load<int>(bytes, size)));
            line.add(json ? "\"]" : "]");
            return;
        case 'F':
            add_stat(line, load<KernelStat>(bytes, size), json);
            return;
        case 'G':
        case 'g':
            add_sigaction(line, load<KernelSigaction>(bytes, size), json);
            return;
        case 'B':
        case 'b':
            add_sched_attr(line, load<SchedAttr>(bytes, size), size, json);
            return;
        case 'J':
            add_clone_args(line, load<CloneArgs>(bytes, size), size, json);
            return;
        case 'k':
        case 'w':
            if (json)
                line.ch('"');
            add_sigset(line, load<uint64_t>(bytes, size));
            if (json)
                line.ch('"');
            return;
        case 'f':
            add_statx(line, load<StatxHead>(bytes, size), json);
            return;
        default:
            line.add(json ? "null" : "?");
            return;
    }
}

bool add_enum(TextBuilder& line, char type, long value, bool json) {
    const int v = static_cast<int>(value);
    switch (type) {
        case 'K':
            add_name(line, json, kClocks, sizeof(kClocks) / sizeof(kClocks[0]), v, "CLOCK");
            return true;
        case 'R':
            add_name(line, json, kResources, sizeof(kResources) / sizeof(kResources[0]), v, "RLIMIT");
            return true;
        case 'Y': {
            const unsigned policy = static_cast<unsigned>(v) & ~0x40000000u;
            if (json)
                line.ch('"');
            if (policy < sizeof(kPolicies) / sizeof(kPolicies[0]))
                line.add(kPolicies[policy]);
            else
                line.unum(policy);
            if (v & 0x40000000)
                line.add("|SCHED_RESET_ON_FORK");
            if (json)
                line.ch('"');
            return true;
        }
        default:
            return false;
    }
}

}  // namespace libos::tracer
