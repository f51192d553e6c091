// raw_listing DIR [BUFFER_BYTES [full]]: lists DIR with the raw getdents64 system call (syscall(), as Go's
// runtime and static programs list directories), BUFFER_BYTES at a time, and prints one name per line,
// in the order given ("full": each record's inode, d_off, type and name). After the listing it checks the kernel's rules for positions on the same
// directory: every d_off resumes, through lseek(SEEK_SET), exactly after its entry, and a copy of the
// descriptor (dup) shares the position. A broken rule prints "BAD ..." and exits 1.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace {

struct Entry {
    std::string name;
    int64_t off;
    uint64_t ino;
    unsigned type;
};

std::vector<Entry> read_all(int fd, size_t size) {
    std::vector<Entry> out;
    std::vector<char> buf(size);
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf.data(), buf.size());
        if (n < 0) {
            perror("getdents64");
            exit(1);
        }
        if (n == 0)
            return out;
        for (long at = 0; at < n;) {
            int64_t off;
            uint64_t ino;
            unsigned short reclen;
            memcpy(&ino, buf.data() + at, 8);
            memcpy(&off, buf.data() + at + 8, 8);
            memcpy(&reclen, buf.data() + at + 16, 2);
            out.push_back({buf.data() + at + 19, off, ino, static_cast<unsigned char>(buf[at + 18])});
            at += reclen;
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2)
        return 2;
    const size_t size = argc > 2 ? strtoul(argv[2], nullptr, 10) : 32768;
    int fd = open(argv[1], O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    std::vector<Entry> all = read_all(fd, size);
    const bool full = argc > 3 && strcmp(argv[3], "full") == 0;
    for (const Entry& e : all) {
        if (full)
            printf("%llu %lld %u %s\n", static_cast<unsigned long long>(e.ino), static_cast<long long>(e.off), e.type,
                   e.name.c_str());
        else
            printf("%s\n", e.name.c_str());
    }
    int bad = 0;
    for (size_t i = 0; i + 1 < all.size(); ++i) {
        if (lseek(fd, all[i].off, SEEK_SET) != all[i].off) {
            printf("BAD lseek to %lld\n", static_cast<long long>(all[i].off));
            ++bad;
            continue;
        }
        std::vector<Entry> rest = read_all(fd, size);
        if (rest.size() != all.size() - i - 1 || rest[0].name != all[i + 1].name) {
            printf("BAD resume after %s\n", all[i].name.c_str());
            ++bad;
        }
    }
    /* A dup shares the position: a listing half read on one descriptor goes on on the other. */
    if (all.size() > 2) {
        lseek(fd, all[0].off, SEEK_SET);
        int copy = dup(fd);
        std::vector<Entry> rest = read_all(copy, size);
        if (rest.size() != all.size() - 1 || read_all(fd, size).size() != 0) {
            printf("BAD position not shared by a dup\n");
            ++bad;
        }
    }
    /* A buffer too small for one entry: EINVAL, and the position stays. */
    lseek(fd, 0, SEEK_SET);
    char tiny[8];
    if (syscall(SYS_getdents64, fd, tiny, sizeof(tiny)) != -1 || errno != EINVAL) {
        printf("BAD a buffer too small is not EINVAL\n");
        ++bad;
    }
    return bad ? 1 : 0;
}
