/* fd_numbers [LIMIT]: the descriptor numbers a program gets, after it has read the CPU files, with its
 * descriptor limit lowered to LIMIT first (if given). Linux gives the lowest free number at every
 * open; the LibOS's own descriptors (its cache of generated files, its trace) must not take the
 * numbers a program expects, even when the limit is too low to put them out of the way. Prints the
 * numbers of three opens of /dev/null, and, with a LIMIT, how many more opens it allows. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <vector>

int main(int argc, char** argv) {
    if (argc > 1) {
        struct rlimit limit = {static_cast<rlim_t>(atol(argv[1])), static_cast<rlim_t>(atol(argv[1]))};
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
            perror("setrlimit");
            return 1;
        }
    }
    const char* files[] = {"/proc/cpuinfo", "/sys/devices/system/cpu/online", "/sys/devices/system/cpu/possible",
                           "/sys/devices/system/cpu/present"};
    char buf[4096];
    for (const char* f : files) {
        int fd = open(f, O_RDONLY);
        if (fd < 0 || read(fd, buf, sizeof(buf)) <= 0) {
            perror(f);
            return 1;
        }
        close(fd);
    }
    int a = open("/dev/null", O_RDONLY), b = open("/dev/null", O_RDONLY), c = open("/dev/null", O_RDONLY);
    printf("fds %d %d %d", a, b, c);
    if (argc > 1) {
        std::vector<int> more;
        more.reserve(static_cast<size_t>(atol(argv[1])));
        for (int fd; (fd = open("/dev/null", O_RDONLY)) >= 0;)
            more.push_back(fd);
        printf(", %zu more", more.size());
        /* Free them again: a leak checker at exit (an ASan build's) needs descriptors of its own. */
        for (int fd : more)
            close(fd);
    }
    printf("\n");
    return 0;
}
