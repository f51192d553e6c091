/* The differential probe's formatting: one result per probe, in words that do not depend on the
 * host (errno names, symbolic flags, pids shown as $PID...), and summaries of what a call returned
 * that keep only what the kernel's answer and the views' answer must share. See probe.cpp. */
#ifndef LIBOS_DIFFERENTIAL_PROBE_UTIL_H
#define LIBOS_DIFFERENTIAL_PROBE_UTIL_H

#include <fcntl.h>
#include <linux/stat.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include <string>
#include <vector>

namespace probe {

/* How a file's content is compared. Timestamps and counters change between two runs; their files are
 * compared by shape only. */
enum class Content {
    Stable,   /* the bytes themselves (short) or their length and hash */
    Unstable, /* a counter or a time: the number of lines and each line's key */
    CpuInfo,  /* /proc/cpuinfo: the bytes with the values of "cpu MHz" masked */
    Keys,     /* /proc/stat: the set of line keys */
    Status,   /* /proc/.../status: the set of keys, and the values of the Cpus_/Mems_allowed lines */
};

inline std::string errname(int e) {
    const char* name = strerrorname_np(e);
    return name ? name : "E" + std::to_string(e);
}

inline std::string fail(int e) { return errname(e); }

inline std::string hex(unsigned long long v) {
    char buf[32];
    snprintf(buf, sizeof buf, "0x%llx", v);
    return buf;
}

inline std::string octal(unsigned v) {
    char buf[32];
    snprintf(buf, sizeof buf, "0%o", v);
    return buf;
}

inline uint64_t fnv1a(const std::string& s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

/* Printable, on one line: "0-1\n" reads as "0-1\\n". */
inline std::string escape(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\\' || c == '"') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
            char buf[8];
            snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

inline std::string type_name(unsigned mode) {
    switch (mode & S_IFMT) {
    case S_IFREG: return "reg";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "lnk";
    case S_IFCHR: return "chr";
    case S_IFBLK: return "blk";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "sock";
    default: return "?";
    }
}

/* Device and inode numbers are compared where they are stable: sysfs nodes and /proc's fixed
 * entries keep theirs, but a /proc/<pid>/ inode is made afresh for each process. */
inline std::string stat_summary(const struct stat& st, bool with_ino) {
    std::string s = type_name(st.st_mode) + " mode=" + octal(st.st_mode & 07777) +
                    " nlink=" + std::to_string(st.st_nlink) + " uid=" + std::to_string(st.st_uid) +
                    " gid=" + std::to_string(st.st_gid) + " size=" + std::to_string(st.st_size) +
                    " blksize=" + std::to_string(st.st_blksize) + " blocks=" + std::to_string(st.st_blocks) +
                    " dev=" + std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev)) +
                    " rdev=" + std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
    if (with_ino)
        s += " ino=" + std::to_string(st.st_ino);
    return s;
}

inline std::string statx_summary(const struct statx& sx, bool with_ino) {
    std::string s = "mask=" + hex(sx.stx_mask) + " attrs=" + hex(sx.stx_attributes) +
                    " attrs_mask=" + hex(sx.stx_attributes_mask) + " " + type_name(sx.stx_mode) +
                    " mode=" + octal(sx.stx_mode & 07777) + " nlink=" + std::to_string(sx.stx_nlink) +
                    " uid=" + std::to_string(sx.stx_uid) + " gid=" + std::to_string(sx.stx_gid) +
                    " size=" + std::to_string(sx.stx_size) + " blksize=" + std::to_string(sx.stx_blksize) +
                    " blocks=" + std::to_string(sx.stx_blocks) + " dev=" + std::to_string(sx.stx_dev_major) +
                    ":" + std::to_string(sx.stx_dev_minor) + " mnt_id=" + std::to_string(sx.stx_mnt_id);
    if (with_ino)
        s += " ino=" + std::to_string(sx.stx_ino);
    return s;
}

/* Free and used counts are left out: they are zero on sysfs and procfs, and a tmpfs's would change. */
inline std::string statfs_summary(const struct statfs& sf) {
    return "type=" + hex(static_cast<unsigned long long>(sf.f_type)) + " bsize=" + std::to_string(sf.f_bsize) +
           " frsize=" + std::to_string(sf.f_frsize) + " namelen=" + std::to_string(sf.f_namelen) +
           " flags=" + hex(static_cast<unsigned long long>(sf.f_flags));
}

/* F_GETFL as the names of its bits. The kernel sets O_LARGEFILE on every 64-bit open, where libc's
 * headers define it as 0: its own value is asm-generic's. */
constexpr int kKernelLargefile = 0100000;
inline std::string flags_summary(int fl) {
    struct Bit {
        int bit;
        const char* name;
    };
    static const Bit kBits[] = {
        {O_APPEND, "O_APPEND"},     {O_NONBLOCK, "O_NONBLOCK"}, {O_DIRECT, "O_DIRECT"},
        {O_NOATIME, "O_NOATIME"},   {kKernelLargefile, "O_LARGEFILE"}, {O_SYNC, "O_SYNC"},
        {O_DSYNC, "O_DSYNC"},       {O_PATH, "O_PATH"},         {O_ASYNC, "O_ASYNC"},
        {O_DIRECTORY, "O_DIRECTORY"}, {O_NOFOLLOW, "O_NOFOLLOW"}, {O_CLOEXEC, "O_CLOEXEC"},
    };
    int acc = fl & O_ACCMODE;
    std::string s = acc == O_RDONLY   ? "O_RDONLY"
                    : acc == O_WRONLY ? "O_WRONLY"
                    : acc == O_RDWR   ? "O_RDWR"
                                      : "O_ACC3";
    int rest = fl & ~O_ACCMODE;
    for (const Bit& b : kBits) {
        if ((b.bit == O_SYNC && (rest & O_SYNC) == O_SYNC) || (b.bit != O_SYNC && (rest & b.bit) == b.bit)) {
            s += "|";
            s += b.name;
            rest &= ~b.bit;
        }
    }
    if (rest)
        s += "|" + octal(static_cast<unsigned>(rest));
    return s;
}

inline std::vector<std::string> split_lines(const std::string& s) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < s.size()) {
        size_t nl = s.find('\n', start);
        if (nl == std::string::npos)
            nl = s.size();
        lines.push_back(s.substr(start, nl - start));
        start = nl + 1;
    }
    return lines;
}

/* A line's key: what comes before ':' (status, cpuinfo) or the first word (stat, meminfo), with a
 * word that is a number shown as '#'. */
inline std::string line_key(const std::string& line) {
    size_t colon = line.find(':');
    size_t space = line.find_first_of(" \t");
    size_t end = colon < space ? colon : space;
    std::string key = line.substr(0, end == std::string::npos ? line.size() : end);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t'))
        key.pop_back();
    bool numeric = !key.empty() && key.find_first_not_of("0123456789-") == std::string::npos;
    return numeric ? "#" : key;
}

inline std::string content_summary(Content rule, const std::string& data) {
    switch (rule) {
    case Content::Stable:
        if (data.size() <= 96)
            return escape(data);
        return "len=" + std::to_string(data.size()) + " fnv=" + hex(fnv1a(data));
    case Content::Unstable:
    case Content::Keys: {
        std::vector<std::string> lines = split_lines(data);
        std::string s = "lines=" + std::to_string(lines.size()) + " keys=";
        for (size_t i = 0; i < lines.size(); ++i)
            s += (i ? "," : "") + line_key(lines[i]);
        return s;
    }
    case Content::CpuInfo: {
        std::string masked;
        int processors = 0;
        for (const std::string& line : split_lines(data)) {
            if (line.rfind("cpu MHz", 0) == 0)
                masked += "cpu MHz\n";
            else
                masked += line + "\n";
            if (line.rfind("processor", 0) == 0)
                ++processors;
        }
        return "processors=" + std::to_string(processors) + " len=" + std::to_string(masked.size()) +
               " fnv=" + hex(fnv1a(masked));
    }
    case Content::Status: {
        std::string keys, values;
        for (const std::string& line : split_lines(data)) {
            std::string key = line_key(line);
            keys += (keys.empty() ? "" : ",") + key;
            if (key == "Cpus_allowed" || key == "Cpus_allowed_list" || key == "Mems_allowed" ||
                key == "Mems_allowed_list") {
                std::string shown = line;
                for (char& c : shown)
                    if (c == '\t')
                        c = ' ';
                values += " " + shown;
            }
        }
        return "keys=" + keys + values;
    }
    }
    return "?";
}

}  // namespace probe

#endif
