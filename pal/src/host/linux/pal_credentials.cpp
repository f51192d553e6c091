/* Credentials, for a supervisor that acts on another thread's behalf: a thread's credentials as the
 * kernel checks them (PalThreadCredentials), user namespaces (PalUserNamespace*), and the calling
 * thread's rights on files, read and taken on (PalThreadGetFileRights, PalThreadSetFileRights). */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "pal/pal.h"
#include "pal_linux.h"

namespace {

/* "NAME:\tA\tB\tC\tD" of a status file: the four ids. */
bool read_ids(const char* buf, long len, const char* key, uint32_t ids[4]) {
    long at = pal_status_value(buf, len, key);
    if (at < 0)
        return false;
    for (int i = 0; i < 4; ++i) {
        long v = pal_read_number(buf, len, &at, 10);
        if (v < 0)
            return false;
        ids[i] = static_cast<uint32_t>(v);
    }
    return true;
}

/* 16 hex digits, all 64 bits of them. */
bool read_hex64(const char* buf, long len, const char* key, uint64_t* out) {
    long at = pal_status_value(buf, len, key);
    if (at < 0)
        return false;
    while (at < len && (buf[at] == ' ' || buf[at] == '\t'))
        ++at;
    uint64_t v = 0;
    int digits = 0;
    for (; at < len; ++at, ++digits) {
        char c = buf[at];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            break;
        v = v << 4 | static_cast<uint64_t>(d);
    }
    *out = v;
    return digits > 0 && digits <= 16;
}

/* "Groups:\t1 2 3 \n": up to PAL_MAX_GROUPS of them; more is PAL_MAX_GROUPS + 1. */
uint32_t read_groups(const char* buf, long len, uint32_t* groups) {
    long at = pal_status_value(buf, len, "Groups:");
    if (at < 0)
        return 0;
    uint32_t n = 0;
    for (;;) {
        long v = pal_read_number(buf, len, &at, 10);
        if (v < 0)
            return n;
        if (n == PAL_MAX_GROUPS)
            return PAL_MAX_GROUPS + 1;
        groups[n++] = static_cast<uint32_t>(v);
    }
}

/* The capability sets of the calling thread (capget, version 3: two 32-bit words of each). */
long get_caps(__user_cap_data_struct data[2]) {
    __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    return pal_raw(SYS_capget, reinterpret_cast<long>(&header), reinterpret_cast<long>(data));
}

uint64_t effective_of(const __user_cap_data_struct data[2]) {
    return static_cast<uint64_t>(data[1].effective) << 32 | data[0].effective;
}

long set_effective(uint64_t effective) {
    __user_cap_data_struct data[2];
    if (long ret = get_caps(data); ret < 0)
        return ret;
    data[0].effective = static_cast<uint32_t>(effective);
    data[1].effective = static_cast<uint32_t>(effective >> 32);
    __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    return pal_raw(SYS_capset, reinterpret_cast<long>(&header), reinterpret_cast<long>(data));
}

/* The same groups, in any order (the kernel keeps them sorted). */
bool same_groups(const PalFileRights& a, const PalFileRights& b) {
    if (a.ngroups != b.ngroups)
        return false;
    for (uint32_t i = 0; i < a.ngroups && i < PAL_MAX_GROUPS; ++i) {
        bool found = false;
        for (uint32_t j = 0; j < b.ngroups && j < PAL_MAX_GROUPS && !found; ++j)
            found = a.groups[i] == b.groups[j];
        if (!found)
            return false;
    }
    return true;
}

/* Raises the effective set to the permitted one: setgroups needs CAP_SETGID and setfs*id CAP_SETUID
 * and CAP_SETGID in the effective set, which a thread holding a caller's rights (none, often) lacks. */
long raise_effective() {
    __user_cap_data_struct data[2];
    if (long ret = get_caps(data); ret < 0)
        return ret;
    data[0].effective = data[0].permitted;
    data[1].effective = data[1].permitted;
    __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    return pal_raw(SYS_capset, reinterpret_cast<long>(&header), reinterpret_cast<long>(data));
}

/* setgroups, setfsgid and setfsuid of the calling thread only (the raw calls), with the permitted
 * capabilities raised first, then the effective set asked for. setfs*id answer the previous id, never
 * an error: a refused change shows as an id that did not change. */
long apply(const PalFileRights& r) {
    if (r.ngroups > PAL_MAX_GROUPS)
        return -EINVAL;
    PalFileRights now;
    if (long ret = PalThreadGetFileRights(&now); ret < 0)
        return ret;
    if (long ret = raise_effective(); ret < 0)
        return ret;
    if (!same_groups(now, r))
        if (long ret = pal_raw(SYS_setgroups, r.ngroups, reinterpret_cast<long>(r.groups)); ret < 0)
            return ret;
    pal_raw(SYS_setfsgid, r.fsgid);
    pal_raw(SYS_setfsuid, r.fsuid);
    /* After setfsuid: moving the fsuid off 0 clears the file capabilities from the effective set,
     * moving it to 0 raises them; the set asked for is made exact afterwards. */
    if (long ret = set_effective(r.cap_effective); ret < 0)
        return ret;
    PalFileRights got;
    if (long ret = PalThreadGetFileRights(&got); ret < 0)
        return ret;
    if (got.fsuid != r.fsuid || got.fsgid != r.fsgid || got.cap_effective != r.cap_effective || !same_groups(got, r))
        return -EPERM;
    return 0;
}

}  // namespace

extern "C" long PalThreadCredentials(pid_t tid, struct PalCredentials* creds) {
    char buf[8192];
    long len = pal_read_status(tid, buf, sizeof(buf));
    if (len < 0)
        return len;
    uint32_t uids[4], gids[4];
    if (!read_ids(buf, len, "Uid:", uids) || !read_ids(buf, len, "Gid:", gids) ||
        !read_hex64(buf, len, "CapEff:", &creds->cap_effective))
        return -EINVAL;
    creds->uid = uids[0], creds->euid = uids[1], creds->suid = uids[2], creds->fsuid = uids[3];
    creds->gid = gids[0], creds->egid = gids[1], creds->sgid = gids[2], creds->fsgid = gids[3];
    creds->ngroups = read_groups(buf, len, creds->groups);
    char path[48];
    pal_proc_path(path, tid, "ns/user");
    struct stat st;
    long ret = pal_raw(SYS_newfstatat, AT_FDCWD, reinterpret_cast<long>(path), reinterpret_cast<long>(&st), 0);
    if (ret < 0)
        return ret;
    creds->user_ns = st.st_ino;
    return 0;
}

extern "C" long PalUserNamespaceOpen(pid_t tid) {
    char path[48];
    if (tid == 0)
        return pal_raw(SYS_openat, AT_FDCWD, reinterpret_cast<long>("/proc/thread-self/ns/user"), O_RDONLY | O_CLOEXEC);
    pal_proc_path(path, tid, "ns/user");
    return pal_raw(SYS_openat, AT_FDCWD, reinterpret_cast<long>(path), O_RDONLY | O_CLOEXEC);
}

extern "C" long PalUserNamespaceParent(int nsfd) {
    return pal_raw(SYS_ioctl, nsfd, NS_GET_PARENT);
}

extern "C" long PalUserNamespaceOwner(int nsfd) {
    uid_t owner = 0;
    long ret = pal_raw(SYS_ioctl, nsfd, NS_GET_OWNER_UID, reinterpret_cast<long>(&owner));
    return ret < 0 ? ret : static_cast<long>(owner);
}

extern "C" long PalThreadGetFileRights(struct PalFileRights* out) {
    /* setfs*id(-1) changes nothing and answers the current id. */
    out->fsuid = static_cast<uint32_t>(pal_raw(SYS_setfsuid, -1));
    out->fsgid = static_cast<uint32_t>(pal_raw(SYS_setfsgid, -1));
    long n = pal_raw(SYS_getgroups, PAL_MAX_GROUPS, reinterpret_cast<long>(out->groups));
    if (n == -EINVAL) /* more than PAL_MAX_GROUPS */
        n = PAL_MAX_GROUPS + 1;
    else if (n < 0)
        return n;
    out->ngroups = static_cast<uint32_t>(n);
    __user_cap_data_struct data[2];
    if (long ret = get_caps(data); ret < 0)
        return ret;
    out->cap_effective = effective_of(data);
    return 0;
}

extern "C" long PalThreadSetFileRights(const struct PalFileRights* rights) {
    PalFileRights before;
    if (long ret = PalThreadGetFileRights(&before); ret < 0)
        return ret;
    long ret = apply(*rights);
    if (ret < 0 && apply(before) < 0)
        return -ENOTRECOVERABLE; /* neither the rights asked for nor the thread's own: see pal.h */
    return ret;
}
