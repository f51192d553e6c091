// small_stack_listing DIR: lists DIR where preloaded code gets little stack. A thread created with
// pthread_attr_setstacksize(16384) runs opendir/readdir/closedir and the raw getdents64 system call on
// it; then a signal handler running on a 16 KiB sigaltstack reads a DIR stream and a descriptor opened
// before. Each prints one line, "thread: NAMES", "thread raw: NAMES", "handler: NAMES" and
// "handler raw: NAMES", with the numbered entries (cpuN, nodeN, N) sorted. A crash (a stack overflow
// inside the LibOS) kills the program, and the lines are missing.
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace {

constexpr size_t kStackBytes = 16384;
constexpr int kMaxNames = 16384;

/* Collected names as numbers; no allocation, so that the handler may collect too. */
struct Names {
    int numbers[kMaxNames];
    int count;
    bool error;
};

/* The number in "cpu12", "node3", "7"; -1 for other names. */
int number_of(const char* name) {
    while (*name && (*name < '0' || *name > '9'))
        ++name;
    if (!*name)
        return -1;
    int n = 0;
    for (; *name; ++name) {
        if (*name < '0' || *name > '9')
            return -1;
        n = n * 10 + (*name - '0');
    }
    return n;
}

void add(Names* names, const char* name) {
    int n = number_of(name);
    if (n >= 0 && names->count < kMaxNames)
        names->numbers[names->count++] = n;
}

void print(const char* what, Names* names) {
    qsort(names->numbers, static_cast<size_t>(names->count), sizeof(int),
          [](const void* a, const void* b) { return *static_cast<const int*>(a) - *static_cast<const int*>(b); });
    printf("%s:", what);
    for (int i = 0; i < names->count; ++i)
        printf(" %d", names->numbers[i]);
    printf("%s\n", names->error ? " ERROR" : "");
}

void read_stream(DIR* dir, Names* names) {
    while (struct dirent* e = readdir(dir))
        add(names, e->d_name);
}

void read_raw(int fd, Names* names) {
    alignas(8) char buf[512];
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
        if (n <= 0) {
            names->error = names->error || n < 0;
            return;
        }
        for (long at = 0; at < n;) {
            unsigned short reclen;
            memcpy(&reclen, buf + at + 16, 2);
            add(names, buf + at + 19);
            at += reclen;
        }
    }
}

const char* g_dir;
Names g_thread, g_thread_raw, g_handler, g_handler_raw;
DIR* g_stream;
int g_fd = -1;

void* small_thread(void*) {
    DIR* dir = opendir(g_dir);
    if (!dir) {
        g_thread.error = true;
        return nullptr;
    }
    read_stream(dir, &g_thread);
    closedir(dir);
    int fd = open(g_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        g_thread_raw.error = true;
        return nullptr;
    }
    read_raw(fd, &g_thread_raw);
    close(fd);
    return nullptr;
}

void on_signal(int) {
    rewinddir(g_stream);
    read_stream(g_stream, &g_handler);
    lseek(g_fd, 0, SEEK_SET);
    read_raw(g_fd, &g_handler_raw);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2)
        return 2;
    g_dir = argv[1];

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (pthread_attr_setstacksize(&attr, kStackBytes) != 0) {
        perror("pthread_attr_setstacksize");
        return 1;
    }
    pthread_t thread;
    if (pthread_create(&thread, &attr, small_thread, nullptr) != 0) {
        perror("pthread_create");
        return 1;
    }
    pthread_join(thread, nullptr);
    print("thread", &g_thread);
    print("thread raw", &g_thread_raw);

    g_stream = opendir(g_dir);
    g_fd = open(g_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!g_stream || g_fd < 0) {
        perror(g_dir);
        return 1;
    }
    /* A stack of its own, with guard pages below and above: an overflow faults. */
    const long page = sysconf(_SC_PAGESIZE);
    char* area = static_cast<char*>(
        mmap(nullptr, kStackBytes + 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (area == MAP_FAILED || mprotect(area, page, PROT_NONE) != 0 ||
        mprotect(area + page + kStackBytes, page, PROT_NONE) != 0) {
        perror("mmap");
        return 1;
    }
    stack_t stack{};
    stack.ss_sp = area + page;
    stack.ss_size = kStackBytes;
    if (sigaltstack(&stack, nullptr) != 0) {
        perror("sigaltstack");
        return 1;
    }
    struct sigaction action{};
    action.sa_handler = on_signal;
    action.sa_flags = SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGUSR1, &action, nullptr);
    raise(SIGUSR1);
    print("handler", &g_handler);
    print("handler raw", &g_handler_raw);
    closedir(g_stream);
    close(g_fd);
    return 0;
}
