/* The machine's CPU quota (libos_quota.h). */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "libos/libos_sections.h"
#include "libos/libos_quota.h"
#include "libos/libos_scratch.h"
#include "libos/libos_text.h"
#include "pal/pal.h"

namespace libos {
namespace {

constinit uint32_t g_quota_milli = 0;
constinit char g_quota_text[24] = {};

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* A decimal number at the start of `text` (after a space for v2's period); false without one. */
bool leading_number(const char* text, uint64_t* value) {
    uint64_t v = 0;
    if (!is_digit(*text))
        return false;
    while (is_digit(*text) && v < (1ULL << 50))
        v = v * 10 + static_cast<uint64_t>(*text++ - '0');
    *value = v;
    return true;
}

/* The buffers of host_cgroup_quota, in scratch memory: it runs inside the first call that sets the
 * machine up, which may come on a 16 KiB thread stack (libos_scratch.h). */
struct QuotaWork {
    char text[4096]; /* /proc/self/cgroup */
    char here[kQuotaPathMax];
    char dir[kQuotaPathMax];
    char path[kQuotaPathMax + 32];
};

bool exists(QuotaWork& work, const char* dir, const char* name) {
    TextBuilder path(work.path, sizeof(work.path));
    path.add(dir).ch('/').add(name);
    return PalFileAccess(AT_FDCWD, path.data(), F_OK, 0) == 0;
}

/* The quota of one cgroup directory in thousandths of a CPU, rounded up; 0 when it has none. */
uint32_t level_quota(QuotaWork& work, const char* dir, bool v2) {
    TextBuilder path(work.path, sizeof(work.path));
    char text[64];
    uint64_t quota = 0, period = 0;
    path.add(dir).add(v2 ? "/cpu.max" : "/cpu.cfs_quota_us");
    long n = PalReadFile(path.data(), text, sizeof(text) - 1);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    if (!leading_number(text, &quota)) /* "max", "-1" */
        return 0;
    if (v2) {
        const char* space = strchr(text, ' ');
        if (!space || !leading_number(space + 1, &period))
            return 0;
    } else {
        TextBuilder period_path(work.path, sizeof(work.path));
        period_path.add(dir).add("/cpu.cfs_period_us");
        n = PalReadFile(period_path.data(), text, sizeof(text) - 1);
        if (n <= 0)
            return 0;
        text[n] = '\0';
        if (!leading_number(text, &period))
            return 0;
    }
    if (period == 0)
        return 0;
    uint64_t milli = (quota * kQuotaScale + period - 1) / period;
    return milli == 0 ? 1 : milli > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(milli);
}

/* The least quota of cgroup `own` (a path inside the hierarchy mounted at one of `roots`) and its
 * ancestors. A hierarchy is found where its marker file is; when `own` is not below it, the mount is
 * the program's own cgroup (a container without a cgroup namespace mounts its cgroup at the root). */
uint32_t hierarchy_quota(QuotaWork& work, const char* own, size_t own_length, bool v2, char* where,
                         size_t where_size) {
    static const char* const kV2Roots[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
    static const char* const kV1Roots[] = {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct",
                                           "/sys/fs/cgroup/cpuacct,cpu"};
    const char* marker = v2 ? "cgroup.controllers" : "cgroup.procs";
    const char* const* roots = v2 ? kV2Roots : kV1Roots;
    size_t count = v2 ? 2 : 3;
    for (size_t r = 0; r < count; ++r) {
        if (!exists(work, roots[r], marker))
            continue;
        char* dir = work.dir;
        size_t root_length = strlen(roots[r]);
        if (root_length + (own_length > 1 ? own_length : 0) + 1 >= sizeof(work.dir))
            return 0;
        memcpy(dir, roots[r], root_length);
        dir[root_length] = '\0';
        if (own_length > 1) {
            memcpy(dir + root_length, own, own_length);
            dir[root_length + own_length] = '\0';
        }
        if (!exists(work, dir, marker))
            dir[root_length] = '\0';
        uint32_t least = 0;
        /* From the program's cgroup up to the mount, each directory in turn. */
        for (size_t end = strlen(dir);;) {
            dir[end] = '\0';
            uint32_t q = level_quota(work, dir, v2);
            if (q && (!least || q < least)) {
                least = q;
                if (where && where_size) {
                    size_t len = end < where_size - 1 ? end : where_size - 1;
                    memcpy(where, dir, len);
                    where[len] = '\0';
                }
            }
            if (end <= root_length)
                break;
            while (end > root_length && dir[end - 1] != '/')
                --end;
            if (end > root_length)
                --end; /* the slash */
        }
        return least;
    }
    return 0;
}

}  // namespace

uint32_t host_cgroup_quota(char* where, size_t where_size) {
    if (where && where_size)
        where[0] = '\0';
    ScratchOf<QuotaWork> work;
    if (!work)
        return 0;
    char* text = work->text;
    long len = PalReadFile("/proc/self/cgroup", text, sizeof(work->text));
    if (len <= 0)
        return 0;
    uint32_t least = 0;
    for (const char* line = text; line < text + len;) {
        const char* start = line;
        const char* nl = static_cast<const char*>(memchr(line, '\n', static_cast<size_t>(text + len - line)));
        const char* end = nl ? nl : text + len;
        line = nl ? nl + 1 : end;
        /* "ID:CONTROLLERS:PATH"; v2's is "0::PATH" */
        const char* first = static_cast<const char*>(memchr(start, ':', static_cast<size_t>(end - start)));
        const char* second =
            first ? static_cast<const char*>(memchr(first + 1, ':', static_cast<size_t>(end - first - 1))) : nullptr;
        if (!second)
            continue;
        bool v2 = first - start == 1 && start[0] == '0' && second == first + 1;
        bool v1_cpu = false;
        for (const char* c = first + 1; c < second && !v2;) {
            const char* comma = static_cast<const char*>(memchr(c, ',', static_cast<size_t>(second - c)));
            const char* stop = comma ? comma : second;
            v1_cpu = v1_cpu || (stop - c == 3 && memcmp(c, "cpu", 3) == 0);
            c = stop + 1;
        }
        if (!v2 && !v1_cpu)
            continue;
        char* here = work->here;
        uint32_t q = hierarchy_quota(*work, second + 1, static_cast<size_t>(end - second - 1), v2, here,
                                     sizeof(work->here));
        if (q && (!least || q < least)) {
            least = q;
            if (where && where_size) {
                size_t n = strlen(here) < where_size - 1 ? strlen(here) : where_size - 1;
                memcpy(where, here, n);
                where[n] = '\0';
            }
        }
    }
    return least;
}

bool parse_cpu_quota(const char* setting, const char* text, uint32_t n, uint32_t* milli, ConfigError* err) {
    *milli = 0;
    if (!text || !*text)
        return true;
    FixedText<160> allowed;
    allowed.add("expected a number of CPUs from 0.01 to ").unum(n).add(", with at most 3 decimals (as in 1.5)");
    /* Whole CPUs: at most 5 digits (the machine has at most 8192), no leading zero but "0" itself. */
    const char* p = text;
    uint64_t whole = 0;
    int digits = 0;
    while (is_digit(*p)) {
        if (++digits > 5 || (digits == 2 && whole == 0))
            break;
        whole = whole * 10 + static_cast<uint64_t>(*p++ - '0');
    }
    uint64_t frac = 0;
    int decimals = 0;
    bool ok = digits > 0 && digits <= 5;
    if (ok && *p == '.') {
        ++p;
        while (is_digit(*p) && decimals < 3) {
            frac = frac * 10 + static_cast<uint64_t>(*p++ - '0');
            ++decimals;
        }
        ok = decimals > 0;
    }
    ok = ok && *p == '\0';
    if (!ok) {
        config_error(err, setting, text, allowed.data());
        return false;
    }
    for (int d = decimals; d < 3; ++d)
        frac *= 10;
    uint64_t value = whole * kQuotaScale + frac;
    if (value < kQuotaMin || value > static_cast<uint64_t>(n) * kQuotaScale) {
        FixedText<240> range;
        if (value < kQuotaMin)
            range.add("less than the kernel's least quota (1 ms per 100 ms period); ");
        else
            range.add("more than the machine's ").unum(n).add(" vCPUs; ");
        range.add(allowed.data());
        config_error(err, setting, text, range.data());
        return false;
    }
    *milli = static_cast<uint32_t>(value);
    return true;
}

size_t format_cpu_quota(uint32_t milli, char* buf, size_t size) {
    FixedText<24> text;
    text.unum(milli / kQuotaScale);
    uint32_t frac = milli % kQuotaScale;
    if (frac) {
        char digits[4] = {static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                          static_cast<char>('0' + frac % 10), '\0'};
        for (int last = 2; last > 0 && digits[last] == '0'; --last)
            digits[last] = '\0';
        text.ch('.').add(digits);
    }
    size_t len = text.length() < size ? text.length() : (size ? size - 1 : 0);
    if (size) {
        memcpy(buf, text.data(), len);
        buf[len] = '\0';
    }
    return len;
}

uint32_t count_from_quota(uint32_t allowed, uint32_t milli, char* quota_text, size_t size) {
    if (size)
        quota_text[0] = '\0';
    if (!milli)
        return allowed;
    uint32_t n = cpus_for_quota(milli);
    if (n > allowed)
        n = allowed;
    if (milli > n * kQuotaScale)
        milli = n * kQuotaScale;
    if (milli < kQuotaMin)
        milli = kQuotaMin;
    format_cpu_quota(milli, quota_text, size);
    return n;
}

LIBOS_STARTUP bool configure_quota(const char* setting, const char* text, uint32_t n, ConfigError* err) {
    uint32_t milli;
    if (!parse_cpu_quota(setting, text, n, &milli, err))
        return false;
    g_quota_milli = milli;
    if (milli)
        format_cpu_quota(milli, g_quota_text, sizeof(g_quota_text));
    return true;
}

uint32_t machine_quota_milli() {
    return g_quota_milli;
}

const char* machine_quota_text() {
    return g_quota_milli ? g_quota_text : nullptr;
}

}  // namespace libos
