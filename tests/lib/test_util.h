/* Small helpers shared by the test suites. */
#ifndef LIBOS_TEST_UTIL_H
#define LIBOS_TEST_UTIL_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace libos_test {

/* The emulator a cross build's tests run under (LIBOS_TEST_EMULATED, set by tests/meson.build for
 * another architecture), or nullptr on the real machine. */
inline const char* emulator() {
    const char* e = getenv("LIBOS_TEST_EMULATED");
    return e && *e ? e : nullptr;
}

/* Skips the test under emulation, saying what the emulator does not give the guest. Only for what a
 * real kernel of the architecture has: the test still runs there, and natively on x86_64. */
#define LIBOS_SKIP_UNDER_EMULATION(what)                                                         \
    do {                                                                                         \
        if (const char* emulator_ = libos_test::emulator())                                      \
            GTEST_SKIP() << emulator_ << " does not emulate " << (what) << " for the guest";     \
    } while (0)

/* The value of an environment variable the meson test definition must set. */
inline std::string required_env(const char* name) {
    const char* value = getenv(name);
    if (!value || !*value) {
        ADD_FAILURE() << name << " is not set; run this test through meson test";
        return {};
    }
    return value;
}

inline std::string read_file(const std::string& path) {
    std::string out;
    FILE* f = fopen(path.c_str(), "re");
    if (!f)
        return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        out.append(buf, n);
    fclose(f);
    return out;
}

/* Runs a shell command and returns its standard output. */
inline std::string run_command(const std::string& command, int* status = nullptr) {
    std::string out;
    FILE* p = popen(command.c_str(), "r");
    if (!p)
        return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        out.append(buf, n);
    int st = pclose(p);
    if (status)
        *status = st;
    return out;
}

/* Parses a kernel-style CPU list ("0-3,8"). */
inline std::set<int> parse_cpu_list(const std::string& text) {
    std::set<int> cpus;
    const char* s = text.c_str();
    while (*s && *s != '\n') {
        char* end;
        long first = strtol(s, &end, 10);
        long last = first;
        if (*end == '-')
            last = strtol(end + 1, &end, 10);
        for (long c = first; c <= last; ++c)
            cpus.insert(static_cast<int>(c));
        s = *end == ',' ? end + 1 : end;
        if (end == s && *s != ',')
            break;
    }
    return cpus;
}

/* `size` bytes that end exactly where an inaccessible page begins: writing one byte more faults. */
class GuardedBuffer {
public:
    explicit GuardedBuffer(size_t size) : size_(size) {
        long page = sysconf(_SC_PAGESIZE);
        map_size_ = ((size + page - 1) / page + 1) * page;
        base_ = static_cast<char*>(mmap(nullptr, map_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        mprotect(base_ + map_size_ - page, page, PROT_NONE);
        data_ = base_ + map_size_ - page - size;
    }
    ~GuardedBuffer() { munmap(base_, map_size_); }
    GuardedBuffer(const GuardedBuffer&) = delete;
    GuardedBuffer& operator=(const GuardedBuffer&) = delete;

    void* data() const { return data_; }
    size_t size() const { return size_; }

private:
    size_t size_;
    size_t map_size_;
    char* base_;
    char* data_;
};

/* An address that is certainly not mapped. */
inline void* unmapped_address() {
    long page = sysconf(_SC_PAGESIZE);
    void* p = mmap(nullptr, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(p, page);
    return p;
}

}  // namespace libos_test

#endif
