// shared_listing DIR: DIR listed through descriptors that processes share (fork), as the kernel lets
// them: the shared offset is the listing's.
// First one process lists it, 256 bytes at a time, while a second watches the shared offset
// (lseek(fd, 0, SEEK_CUR)) and counts how often it goes back in the listing's order (the positions
// are the d_off values of the listing read alone first): natively never, as a getdents64 call sets the
// offset once. Then two processes both loop getdents64(fd, buf, 256) on one descriptor to the end.
// Then the two again, three times, from three quarters of the listing on (lseek to that entry's d_off), where
// on a large machine the LibOS lists its own entries. Prints three lines:
//   "missing M rewound R": M entries of the listing read alone that the two did not get, R the times
//      the watcher saw the offset go back;
//   "from the start: entries N duplicates D": the distinct names the two got, and the names both got
//      (natively 0; two LibOS calls that run at once on the host's entries may list the same ones:
//      docs/machine.md);
//   "from three quarters: missing M duplicates D": the same for the second run (natively 0, and 0 on
//      the LibOS, whose own entries are taken from the offset atomically).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr size_t kNamesBytes = 1 << 20;

/* Names as NUL-terminated strings, one after the other, in shared memory. */
struct Names {
    size_t used;
    char text[kNamesBytes - sizeof(size_t)];
};

void list_into(int fd, Names* names, std::vector<long>* offsets = nullptr) {
    alignas(8) char buf[256];
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
        if (n <= 0)
            return;
        for (long at = 0; at < n;) {
            unsigned short reclen;
            memcpy(&reclen, buf + at + 16, 2);
            const char* name = buf + at + 19;
            if (offsets) {
                long off;
                memcpy(&off, buf + at + 8, 8);
                offsets->push_back(off);
            }
            size_t len = strlen(name) + 1;
            if (names->used + len <= sizeof(names->text)) {
                memcpy(names->text + names->used, name, len);
                names->used += len;
            }
            at += reclen;
        }
    }
}

std::multiset<std::string> read_names(const Names* names) {
    std::multiset<std::string> out;
    for (size_t at = 0; at < names->used; at += strlen(names->text + at) + 1)
        out.insert(names->text + at);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2)
        return 2;
    int alone = open(argv[1], O_RDONLY | O_DIRECTORY);
    int watched = open(argv[1], O_RDONLY | O_DIRECTORY);
    int fd = open(argv[1], O_RDONLY | O_DIRECTORY);
    if (alone < 0 || watched < 0 || fd < 0) {
        perror(argv[1]);
        return 1;
    }
    auto* shared = static_cast<Names*>(
        mmap(nullptr, 4 * sizeof(Names), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    auto* counters = static_cast<std::atomic<long>*>(
        mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    if (shared == MAP_FAILED || counters == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    std::atomic<long>& rewound = counters[0];
    std::atomic<long>& watching = counters[1];
    /* The order of positions: the start, then each entry's d_off. */
    std::vector<long> offsets{0};
    list_into(alone, &shared[2], &offsets);
    std::vector<std::pair<long, size_t>> order;
    for (size_t i = 0; i < offsets.size(); ++i)
        order.emplace_back(offsets[i], i);
    std::sort(order.begin(), order.end());

    pid_t watcher = fork();
    if (watcher == 0) {
        size_t furthest = 0;
        watching.store(1);
        for (;;) {
            long at = lseek(watched, 0, SEEK_CUR);
            auto it = std::lower_bound(order.begin(), order.end(), std::make_pair(at, size_t{0}));
            if (it == order.end() || it->first != at)
                continue;
            if (it->second < furthest)
                rewound.fetch_add(1);
            furthest = std::max(furthest, it->second);
        }
    }
    while (watching.load() == 0)
        sched_yield();
    list_into(watched, &shared[3]);
    int status;
    kill(watcher, SIGKILL);
    waitpid(watcher, &status, 0);

    /* Two listers from the start, then from three quarters on. */
    size_t duplicates[2] = {}, missing[2] = {}, distinct[2] = {};
    for (int round = 0; round < 4; ++round) {
        const int run = round == 0 ? 0 : 1; /* three times from three quarters */
        size_t from = run == 0 ? 0 : offsets.size() * 3 / 4;
        lseek(fd, offsets[from], SEEK_SET);
        shared[0].used = shared[1].used = 0;
        pid_t child = fork();
        if (child == 0) {
            list_into(fd, &shared[1]);
            _exit(0);
        }
        list_into(fd, &shared[0]);
        waitpid(child, &status, 0);
        std::multiset<std::string> mine = read_names(&shared[0]), theirs = read_names(&shared[1]);
        std::multiset<std::string> all = read_names(&shared[2]);
        std::set<std::string> got(mine.begin(), mine.end());
        got.insert(theirs.begin(), theirs.end());
        duplicates[run] += mine.size() + theirs.size() - got.size();
        distinct[run] = got.size();
        /* The names listed alone from that entry on. */
        std::vector<std::string> expected;
        size_t i = 0;
        for (size_t at = 0; at < shared[2].used; at += strlen(shared[2].text + at) + 1, ++i)
            if (i >= from)
                expected.push_back(shared[2].text + at);
        for (const std::string& name : expected)
            missing[run] += got.count(name) ? 0 : 1;
    }
    printf("missing %zu rewound %ld\nfrom the start: entries %zu duplicates %zu\n"
           "from three quarters: missing %zu duplicates %zu\n",
           missing[0], rewound.load(), distinct[0], duplicates[0], missing[1], duplicates[1]);
    return 0;
}
