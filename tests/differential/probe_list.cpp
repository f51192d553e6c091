/* The differential probe's list of paths (probe --list), made natively by the driver before any run,
 * so that every mode probes exactly the same paths: every entry of /sys/devices/system/cpu and
 * /sys/devices/system/node as the host has it (walked without following links), then names that do
 * not exist there, chosen from the host's own numbering (the first CPU and node numbers past the
 * host's, a cache index past the last, names no kernel has).
 *
 * One line per path: "KIND FLAGS PATH". KIND is f (file), d (directory), l (symlink) or x (does not
 * exist). FLAGS is two characters: 'w' when the host's mode has a write bit (the probe never
 * truncates such a file), 'u' when the content is not stable (a counter, a time: compared by shape
 * only), '-' otherwise. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "probe_list.h"

namespace probe {
namespace {

/* Files whose content changes while the machine runs, whatever two reads of them say. */
bool volatile_name(const std::string& path) {
    static const char* const kNames[] = {"time",     "usage",   "above",  "below",
                                         "rejected", "meminfo", "numastat", "vmstat",
                                         "runtime_active_time", "runtime_suspended_time"};
    std::string name = path.substr(path.rfind('/') + 1);
    for (const char* n : kNames)
        if (name == n)
            return true;
    return false;
}

bool is_numbered(const std::string& name, const char* prefix, long* number = nullptr) {
    size_t p = strlen(prefix);
    if (name.size() <= p || name.compare(0, p, prefix) != 0)
        return false;
    if (name.find_first_not_of("0123456789", p) != std::string::npos)
        return false;
    if (number)
        *number = strtol(name.c_str() + p, nullptr, 10);
    return true;
}

/* A node's memoryN links are hundreds of links to another tree: the first four stand for them. */
bool left_out(const std::string& dir, const std::string& name) {
    long n;
    return dir.find("/sys/devices/system/node/node") == 0 && is_numbered(name, "memory", &n) && n > 3;
}

void walk(const std::string& dir, std::vector<ListEntry>* out, size_t* left) {
    DIR* d = opendir(dir.c_str());
    if (!d)
        return;
    std::vector<std::string> names;
    while (struct dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == "..")
            continue;
        if (left_out(dir, name)) {
            ++*left;
            continue;
        }
        names.push_back(name);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
        std::string path = dir + "/" + name;
        struct stat st;
        if (lstat(path.c_str(), &st) != 0)
            continue;
        ListEntry entry{S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : 'f', (st.st_mode & 0222) != 0,
                        false, path};
        out->push_back(entry);
        if (entry.kind == 'd')
            walk(path, out, left);
    }
}

std::string read_file(const std::string& path) {
    FILE* f = fopen(path.c_str(), "re");
    if (!f)
        return "<unreadable>";
    std::string data;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        data.append(buf, n);
    fclose(f);
    return data;
}

bool exists(const std::string& path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
}

/* Names that the host does not have, in the views' own vocabulary. */
std::vector<std::string> missing_names(const std::vector<ListEntry>& entries) {
    const std::string cpu = "/sys/devices/system/cpu/", node = "/sys/devices/system/node/";
    long cpus = 0, nodes = 0, indexes = 0;
    for (const ListEntry& e : entries) {
        long n;
        std::string name = e.path.substr(e.path.rfind('/') + 1), dir = e.path.substr(0, e.path.rfind('/') + 1);
        if (dir == cpu && is_numbered(name, "cpu", &n))
            cpus = std::max(cpus, n + 1);
        if (dir == node && is_numbered(name, "node", &n))
            nodes = std::max(nodes, n + 1);
        if (dir == cpu + "cpu0/cache/" && is_numbered(name, "index", &n))
            indexes = std::max(indexes, n + 1);
    }
    std::string c1 = "cpu" + std::to_string(cpus), c9 = "cpu" + std::to_string(cpus + 7);
    std::string n1 = "node" + std::to_string(nodes), n7 = "node" + std::to_string(nodes + 6);
    std::string i9 = "index" + std::to_string(indexes + 5);
    return {
        cpu + c1, cpu + c9, cpu + c9 + "/online", cpu + c9 + "/topology/core_id",
        cpu + c9 + "/topology/thread_siblings_list", cpu + c1 + "/cache/index0/shared_cpu_map",
        cpu + "cpu00", cpu + "cpu01/online", cpu + "cpu-1", cpu + "cpu1x", cpu + "cpu",
        cpu + "cpu0/online", cpu + "cpu0/cpufreq", cpu + "cpu0/topology/nonexistent_list",
        cpu + "cpu0/topology/nonexistent", cpu + "cpu0/topology/book_siblings",
        cpu + "cpu0/topology/book_siblings_list", cpu + "cpu0/topology/drawer_siblings_list",
        cpu + "cpu0/topology/core_cpus_list2", cpu + "cpu0/cache/" + i9, cpu + "cpu0/cache/" + i9 + "/size",
        cpu + "cpu0/cache/" + i9 + "/shared_cpu_list", cpu + "cpu0/cache/" + i9 + "/shared_cpu_map",
        cpu + "cpu0/cache/index0/nonexistent_list", cpu + "cpu0/nonexistent", cpu + "online2",
        cpu + "nonexistent", cpu + "nonexistent/online", cpu + "cpu0/" + n1, cpu + "cpu0/" + n7 + "/cpulist",
        node + n1, node + n1 + "/cpulist", node + n7 + "/cpulist", node + n7 + "/cpumap",
        node + "node0/" + c1, node + "node0/" + c9 + "/online", node + "node0/nonexistent",
        node + "node00/cpulist", node + "node0/cpulist2", node + "has_cpu2",
    };
}

}  // namespace

int list_main() {
    std::vector<ListEntry> entries;
    size_t left = 0;
    walk("/sys/devices/system/cpu", &entries, &left);
    walk("/sys/devices/system/node", &entries, &left);
    /* Unstable: known counters, and whatever changes across three reads 50 ms apart. */
    std::map<std::string, std::set<std::string>> seen;
    for (int pass = 0; pass < 3; ++pass) {
        if (pass)
            usleep(50000);
        for (const ListEntry& e : entries)
            if (e.kind == 'f')
                seen[e.path].insert(read_file(e.path));
    }
    for (ListEntry& e : entries)
        e.unstable = e.kind == 'f' && (volatile_name(e.path) || seen[e.path].size() > 1);
    std::set<std::string> present;
    for (const ListEntry& e : entries)
        present.insert(e.path);
    for (const std::string& path : missing_names(entries))
        if (!present.count(path) && !exists(path))
            entries.push_back(ListEntry{'x', false, false, path});

    printf("# probe --list: %zu paths; %zu memoryN links of the nodes left out (memory0-3 stand for them)\n",
           entries.size(), left);
    for (const ListEntry& e : entries)
        printf("%c %c%c %s\n", e.kind, e.writable ? 'w' : '-', e.unstable ? 'u' : '-', e.path.c_str());
    return 0;
}

bool read_list(const char* file, std::vector<ListEntry>* out) {
    FILE* f = fopen(file, "re");
    if (!f)
        return false;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n < 6 || line[0] == '#')
            continue;
        out->push_back(ListEntry{line[0], line[2] == 'w', line[3] == 'u', std::string(line + 5)});
    }
    fclose(f);
    return true;
}

}  // namespace probe
