/* Strict mode's views (docs/strict-mode.md, "The views of a static binary"): a private mount
 * namespace for the launch, in which generated /sys/devices/system/cpu and /sys/devices/system/node
 * trees hide the host's. The seccomp filter cannot read paths, so a static program's stat, access,
 * readlink and directory listings, which it does not trap, reach the kernel: in the namespace the
 * kernel itself shows the machine (cpu7 exists on 8 vCPUs, a listing names cpu0..cpu7). Opens are
 * still trapped and answered by the supervisor, from the host, as before.
 *
 * Each tree is a tmpfs, built detached (fsopen, fsmount) from the LibOS's own views, entry by entry,
 * as the in-process shim would show it: the listing of each directory (vfs_read_listing), and for
 * each entry vfs_classify's answer:
 *   Generated  a file with the generator's content (vfs_write_generated), the host file's mode; the
 *              files of one content and mode are links to one inode
 *   Link       a symbolic link to where the machine's link points
 *   Directory  a directory, filled the same way
 *   Redirect   a directory filled the same way, or a copy of the host file as it was then, with its
 *              mode (opens of it are trapped and answered with the host CPU's own file); the vCPUs
 *              of one host CPU share each copy (links to one inode)
 * Entries of the two roots that belong to no CPU or node (cpufreq/, cpuidle/, vulnerabilities/,
 * power/, uevent, modalias...) are bind mounts of the host's own, so that they stay live and
 * writable as the host allows. The trees are then made read-only and moved over the host's.
 *
 * Runs in the program's child, before its filter is installed: the namespace is inherited by every
 * process of the launch, through fork and exec. The LibOS inside the namespace reads the host's
 * files through a descriptor of the host's /sys/devices/system opened before (open_host_system,
 * LIBOS_HOST_SYSTEM_FD, PalSetHostSystemDir). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "libos/libos_topology.h"
#include "libos/libos_vfs.h"
#include "strict/strict.h"

namespace launcher::strict {
namespace {

constexpr char kSystem[] = "/sys/devices/system";

std::string errno_text(const char* what) {
    return std::string(what) + ": " + strerror(errno);
}

/* Writes `text` into /proc/self/<file> (a user namespace's maps). */
bool write_proc_self(const char* file, const std::string& text) {
    std::string path = std::string("/proc/self/") + file;
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    close(fd);
    return ok;
}

/* The names a directory of the views lists, as the LibOS lists it to a program (vfs_read_listing:
 * the host's entries that the machine shows, then the machine's own: cpuV, nodeN, a node's links). */
std::vector<std::string> listing(const libos::VfsPath& dir) {
    std::vector<std::string> names;
    int fd = open(dir.real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return names;
    std::vector<uint64_t> space(8192); /* 64 KiB, aligned for the records */
    char* buf = reinterpret_cast<char*>(space.data());
    const size_t size = space.size() * sizeof(uint64_t);
    for (;;) {
        long n;
        if (dir.dir == libos::VfsDir::Plain)
            n = getdents64(fd, buf, size);
        else
            n = libos::vfs_read_listing(libos::Caller::self(), fd, dir.dir, dir.node, reinterpret_cast<uintptr_t>(buf),
                                        size, libos::DirentFormat::Linux64);
        if (n <= 0)
            break;
        for (long off = 0; off < n;) {
            const auto* e = reinterpret_cast<const dirent64*>(buf + off);
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                names.emplace_back(e->d_name);
            off += e->d_reclen;
        }
    }
    close(fd);
    return names;
}

/* An entry of a root that belongs to no CPU or node and that the LibOS does not take as a view's
 * (cpufreq/, vulnerabilities/, uevent; smt/ too, whose files it answers only when opened): the
 * host's own, bind-mounted, as the shim passes it to the host. */
bool host_owned(const std::string& name, const libos::VfsPath& entry) {
    bool numbered = (name.rfind("cpu", 0) == 0 && name.size() > 3 && name[3] >= '0' && name[3] <= '9') ||
                    (name.rfind("node", 0) == 0 && name.size() > 4 && name[4] >= '0' && name[4] <= '9');
    return !numbered && entry.kind != libos::VfsKind::Generated && entry.kind != libos::VfsKind::Directory;
}

/* What the machine has at `path`: vfs_classify's answer, or for a path that is no view's, the host's
 * entry as it is. False when there is nothing. */
bool classify(const std::string& path, libos::VfsPath* out, libos::VfsFollow follow) {
    if (libos::vfs_classify(libos::Caller::self(), path.c_str(), out, follow))
        return true;
    struct stat st;
    if ((follow == libos::VfsFollow::Last ? stat(path.c_str(), &st) : lstat(path.c_str(), &st)) != 0 ||
        path.size() >= sizeof(out->real))
        return false;
    *out = {};
    out->kind = libos::VfsKind::NotVirtual;
    out->dir = libos::VfsDir::Plain;
    out->node = -1;
    out->mode = st.st_mode;
    memcpy(out->real, path.c_str(), path.size() + 1);
    memcpy(out->virt, path.c_str(), path.size() + 1);
    return true;
}

struct Builder {
    std::vector<std::string> binds; /* paths on the machine to bind-mount from the host */
    std::string error;
    size_t entries = 0;

    /* A file with the generator's content. Many vCPUs' files say the same (online, a package's
     * lists, a shared cache's): the files of one content and mode are links to one inode, so that a
     * tree of thousands of vCPUs holds each distinct content once (a tmpfs file costs a page). */
    int scratch = -1; /* the generator writes here first */
    std::unordered_map<std::string, std::string> contents; /* mode and content -> its file at the root */

    bool copy_generated(int dirfd, const char* name, const libos::VfsPath& p) {
        if (scratch < 0 && (scratch = memfd_create("libos-views", MFD_CLOEXEC)) < 0)
            return error = errno_text("memfd_create"), false;
        long ret = ftruncate(scratch, 0) == 0 && lseek(scratch, 0, SEEK_SET) == 0 ? 0 : -errno;
        if (ret == 0)
            ret = libos::vfs_write_generated(libos::Caller::self(), p, scratch);
        off_t length = ret == 0 ? lseek(scratch, 0, SEEK_CUR) : 0;
        std::string key = std::to_string(p.mode & 07777) + ":";
        const size_t head = key.size();
        key.resize(head + static_cast<size_t>(length > 0 ? length : 0));
        if (ret == 0 && length > 0 && pread(scratch, key.data() + head, static_cast<size_t>(length), 0) != length)
            ret = -EIO;
        if (ret < 0)
            return error = std::string("generating ") + p.virt + ": " + strerror(static_cast<int>(-ret)), false;
        auto known = contents.find(key);
        if (known == contents.end()) {
            std::string made = ".libos-content-" + std::to_string(contents.size());
            int fd = openat(root, made.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            bool ok = fd >= 0 && write(fd, key.data() + head, key.size() - head) == static_cast<ssize_t>(key.size() - head) &&
                      fchmod(fd, p.mode & 07777) == 0;
            if (fd >= 0)
                close(fd);
            if (!ok)
                return error = errno_text(("creating " + made).c_str()), false;
            known = contents.emplace(std::move(key), made).first;
        }
        if (linkat(root, known->second.c_str(), dirfd, name, 0) != 0)
            return error = errno_text((std::string("creating ") + p.virt).c_str()), false;
        return true;
    }

    /* A host file that the LibOS does not rewrite (cpuV/cpuidle/state0/usage is the host CPU's own):
     * opens of it are trapped and answered with the live host file, so the tree's copy is read only
     * where a path reaches it without the LibOS (an O_PATH descriptor reopened, io_uring,
     * /sys/bus/cpu/devices/cpuV/...). It holds the host file's content when the tree was made, once
     * per host file: every vCPU on the same host CPU links to the same copy (a name each, where a
     * file each would cost an inode, a page and four system calls at thousands of vCPUs). */
    int root = -1;
    std::unordered_map<std::string, std::string> templates; /* host file -> its copy at the root */

    bool placeholder(int dirfd, const char* name, const libos::VfsPath& p) {
        auto known = templates.find(p.real);
        const std::string* from = known != templates.end() ? &known->second : nullptr;
        if (!from) {
            std::string made = ".libos-copy-" + std::to_string(templates.size());
            int fd = openat(root, made.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd < 0)
                return error = errno_text(("creating " + made).c_str()), false;
            /* What the launcher may read of it (nothing of a file it may not read, or of a write-only one). */
            int src = open(p.real, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
            char buf[16384];
            ssize_t n = 0;
            bool ok = true;
            while (src >= 0 && (n = read(src, buf, sizeof(buf))) > 0)
                ok = ok && write(fd, buf, static_cast<size_t>(n)) == n;
            if (src >= 0)
                close(src);
            ok = ok && fchmod(fd, p.mode & 07777) == 0;
            close(fd);
            if (!ok)
                return error = errno_text(("copying " + std::string(p.real)).c_str()), false;
            from = &templates.emplace(p.real, made).first->second;
        }
        if (linkat(root, from->c_str(), dirfd, name, 0) != 0)
            return error = errno_text((std::string("creating ") + p.virt).c_str()), false;
        return true;
    }

    /* The placeholders' own names go once the tree is whole; their links stay. */
    bool drop_templates() {
        for (const auto* names : {&templates, &contents})
            for (const auto& t : *names)
                if (unlinkat(root, t.second.c_str(), 0) != 0)
                    return error = errno_text(("removing " + t.second).c_str()), false;
        templates.clear();
        contents.clear();
        return true;
    }

    /* What was made under one vCPU's directory, in order, to be made again for the next vCPU on the
     * same host CPU and node: the same host directory underneath, the same listing, the same kind of
     * entry at each name. Generated files and links are still classified and made for each vCPU
     * (their content or target is its own); directories and empty files are only made. */
    enum class Made : uint8_t { Directory, Placeholder, Generated, Link };
    struct Step {
        Made what;
        mode_t mode;
        std::string rel;  /* below cpuV/ */
        std::string real; /* a placeholder's host file: the same for every vCPU of the plan */
    };
    using Plan = std::vector<Step>;
    std::vector<std::pair<std::string, Plan>> plans; /* by "H nodeN" */

    /* Makes the entry `name` of directory `dirfd` (at `path` on the machine) as `p` classifies it. */
    bool make(int dirfd, const std::string& name, const std::string& path, const libos::VfsPath& p, Plan* plan,
              const std::string& rel) {
        const std::string here = rel.empty() ? name : rel + "/" + name;
        if (p.kind == libos::VfsKind::Generated) {
            if (plan)
                plan->push_back({Made::Generated, 0, here, std::string()});
            return copy_generated(dirfd, name.c_str(), p);
        }
        if (p.kind == libos::VfsKind::Link || S_ISLNK(p.mode)) {
            if (plan)
                plan->push_back({Made::Link, 0, here, std::string()});
            char target[libos::kVfsPathMax];
            const char* to = p.kind == libos::VfsKind::Link ? p.source : target;
            if (p.kind != libos::VfsKind::Link) {
                ssize_t n = readlink(p.real, target, sizeof(target) - 1);
                target[n > 0 ? n : 0] = '\0';
            }
            return symlinkat(to, dirfd, name.c_str()) == 0;
        }
        if (p.kind == libos::VfsKind::Directory || S_ISDIR(p.mode)) {
            if (plan)
                plan->push_back({Made::Directory, p.mode & 07777, here, std::string()});
            if (mkdirat(dirfd, name.c_str(), p.mode & 07777) != 0)
                return false;
            int sub = openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            bool ok = sub >= 0 && fill(sub, path, false, plan, here);
            if (sub >= 0)
                close(sub);
            return ok;
        }
        if (plan)
            plan->push_back({Made::Placeholder, p.mode & 07777, here, p.real});
        return placeholder(dirfd, name.c_str(), p);
    }

    /* Makes vCPU directory `dirfd` (`path` on the machine) again by `plan`. */
    bool replay(int dirfd, const std::string& path, const Plan& plan) {
        for (const Step& step : plan) {
            ++entries;
            const std::string virt = path + "/" + step.rel;
            libos::VfsPath p = {};
            p.mode = step.mode;
            bool ok;
            switch (step.what) {
                case Made::Directory:
                    ok = mkdirat(dirfd, step.rel.c_str(), step.mode) == 0;
                    break;
                case Made::Placeholder:
                    snprintf(p.real, sizeof(p.real), "%s", step.real.c_str());
                    snprintf(p.virt, sizeof(p.virt), "%s", virt.c_str());
                    ok = placeholder(dirfd, step.rel.c_str(), p);
                    break;
                default:
                    ok = libos::vfs_classify(libos::Caller::self(), virt.c_str(), &p, libos::VfsFollow::NotLast) &&
                         make(dirfd, step.rel, virt, p, nullptr, std::string());
                    break;
            }
            if (!ok) {
                if (error.empty())
                    error = errno_text(("creating " + virt).c_str());
                return false;
            }
        }
        return true;
    }

    /* The plan of vCPU directory `name` of the cpu root: its host CPU and its node, or "" when it
     * has none (not a vCPU's directory). */
    static std::string plan_key(const libos::VfsPath& p, const std::string& name) {
        if (p.kind != libos::VfsKind::Directory || p.dir != libos::VfsDir::Cpu || name.rfind("cpu", 0) != 0)
            return std::string();
        return std::string(p.real) + " node" + std::to_string(libos::vcpu_place(static_cast<uint32_t>(p.node)).node);
    }

    /* Fills directory `dirfd` of the tree with what the machine's directory `virt` holds; `plan`, when
     * given, records what is made (`rel`: where `dirfd` is below the vCPU's directory). */
    bool fill(int dirfd, const std::string& virt, bool root, Plan* plan = nullptr, const std::string& rel = "") {
        libos::VfsPath dir;
        if (!classify(virt, &dir, libos::VfsFollow::Last) || !S_ISDIR(dir.mode))
            return true; /* nothing of the machine's here */
        for (const std::string& name : listing(dir)) {
            const std::string path = virt + "/" + name;
            libos::VfsPath p;
            if (!classify(path, &p, libos::VfsFollow::NotLast) || p.kind == libos::VfsKind::Error)
                continue;
            ++entries;
            if (root && host_owned(name, p)) {
                /* The mount point: an empty directory or file, the host's mounted on it later. */
                struct stat st;
                if (lstat(path.c_str(), &st) != 0 || S_ISLNK(st.st_mode))
                    continue;
                int made = S_ISDIR(st.st_mode) ? mkdirat(dirfd, name.c_str(), 0755)
                                               : close(openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0444));
                if (made != 0)
                    return error = errno_text(("creating " + path).c_str()), false;
                binds.push_back(path);
                continue;
            }
            bool ok;
            std::string key = root ? plan_key(p, name) : std::string();
            const Plan* known = nullptr;
            for (const auto& k : plans)
                if (!key.empty() && k.first == key)
                    known = &k.second;
            if (known) {
                int sub = mkdirat(dirfd, name.c_str(), p.mode & 07777) == 0
                              ? openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                              : -1;
                ok = sub >= 0 && replay(sub, path, *known);
                if (sub >= 0)
                    close(sub);
            } else if (!key.empty()) {
                Plan recorded;
                ok = make(dirfd, name, path, p, &recorded, std::string());
                /* The directory itself is made by the caller of a replay. */
                if (!recorded.empty())
                    recorded.erase(recorded.begin());
                for (Step& step : recorded)
                    step.rel = step.rel.substr(name.size() + 1);
                plans.emplace_back(key, std::move(recorded));
            } else {
                ok = make(dirfd, name, path, p, plan, rel);
            }
            if (!ok) {
                if (error.empty())
                    error = errno_text(("creating " + path).c_str());
                return false;
            }
        }
        return true;
    }
};

/* A detached tmpfs holding the machine's tree at `virt`, read-only once filled: its mount's
 * descriptor, or -1 with `error` set. */
int build_tree(Builder* builder, const std::string& virt) {
    int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0)
        return builder->error = errno_text("fsopen(tmpfs)"), -1;
    int mnt = -1;
    if (fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0) == 0 &&
        fsconfig(fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) == 0)
        mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    close(fs);
    if (mnt < 0)
        return builder->error = errno_text("fsmount(tmpfs)"), -1;
    mount_attr attr = {};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    builder->root = mnt;
    if (!builder->fill(mnt, virt, true) || !builder->drop_templates() ||
        mount_setattr(mnt, "", AT_EMPTY_PATH, &attr, sizeof(attr)) != 0) {
        if (builder->error.empty())
            builder->error = errno_text("mount_setattr(MOUNT_ATTR_RDONLY)");
        close(mnt);
        return -1;
    }
    return mnt;
}

}  // namespace

int open_host_system() {
    int fd = open(kSystem, O_PATH | O_DIRECTORY);
    if (fd < 0)
        return -1;
    /* Above the shared state's descriptor (1000), out of the way of shells' own; kept across exec.
     * Under a descriptor limit too low for that, where it is. */
    int high = fcntl(fd, F_DUPFD, 1001);
    if (high < 0)
        return fd;
    close(fd);
    return high;
}

std::string mount_views(ViewsInfo* info) {
    /* A launcher without root makes a user namespace of its own to hold the mount namespace, in which
     * it stays itself (its uid and gid mapped to themselves), as `unshare -m -r`'s mapping would not. */
    const uid_t uid = geteuid();
    const gid_t gid = getegid();
    int flags = CLONE_NEWNS | (uid != 0 ? CLONE_NEWUSER : 0);
    if (unshare(flags) != 0)
        return errno_text(uid != 0 ? "unshare(CLONE_NEWUSER|CLONE_NEWNS)" : "unshare(CLONE_NEWNS)");
    if (uid != 0 && (!write_proc_self("setgroups", "deny") ||
                     !write_proc_self("uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1") ||
                     !write_proc_self("gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1")))
        return errno_text("writing the user namespace's maps");
    /* Nothing mounted here reaches the host's namespace. */
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        return errno_text("mount(MS_PRIVATE)");
    Builder builder;
    const std::string cpu = std::string(kSystem) + "/cpu", node = std::string(kSystem) + "/node";
    int cpu_tree = build_tree(&builder, cpu);
    int node_tree = cpu_tree >= 0 ? build_tree(&builder, node) : -1;
    if (node_tree < 0)
        return builder.error;
    /* The host's entries to keep, taken before the trees hide them. */
    std::vector<int> sources;
    for (const std::string& path : builder.binds) {
        int src = open_tree(AT_FDCWD, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (src < 0)
            return errno_text(("open_tree " + path).c_str());
        sources.push_back(src);
    }
    if (move_mount(cpu_tree, "", AT_FDCWD, cpu.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0 ||
        move_mount(node_tree, "", AT_FDCWD, node.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
        return errno_text("move_mount");
    close(cpu_tree);
    close(node_tree);
    for (size_t i = 0; i < sources.size(); ++i) {
        if (move_mount(sources[i], "", AT_FDCWD, builder.binds[i].c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
            return errno_text(("move_mount " + builder.binds[i]).c_str());
        close(sources[i]);
    }
    struct stat ns, cpu_st, node_st;
    if (stat("/proc/self/ns/mnt", &ns) != 0 || stat(cpu.c_str(), &cpu_st) != 0 || stat(node.c_str(), &node_st) != 0)
        return errno_text("stat");
    info->ns_dev = ns.st_dev;
    info->ns_ino = ns.st_ino;
    info->cpu_dev = cpu_st.st_dev;
    info->node_dev = node_st.st_dev;
    info->entries = builder.entries;
    return std::string();
}

}  // namespace launcher::strict
