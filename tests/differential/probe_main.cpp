/* The differential probe's main: the list of paths, the /proc views, a second thread, and the order
 * in which they are probed (probe.cpp says what is printed and what is never done). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "probe_list.h"
#include "probe_target.h"

namespace probe {
namespace {

pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t g_changed = PTHREAD_COND_INITIALIZER;
int g_stage; /* 0: starting, 1: the thread's tid is known, 2: the thread may probe, 3: it has */

void set_stage(int stage) {
    pthread_mutex_lock(&g_lock);
    g_stage = stage;
    pthread_cond_broadcast(&g_changed);
    pthread_mutex_unlock(&g_lock);
}

void wait_stage(int stage) {
    pthread_mutex_lock(&g_lock);
    while (g_stage < stage)
        pthread_cond_wait(&g_changed, &g_lock);
    pthread_mutex_unlock(&g_lock);
}

std::string link_of(const char* path) {
    char target[4096];
    ssize_t n = kept(readlink(path, target, sizeof target - 1));
    return n < 0 ? fail(last_err()) : std::string(target, static_cast<size_t>(n));
}

/* The second thread: alive while the main thread probes its /proc/$PID/task/$TID2/ files, then asks
 * about /proc/thread-self, which names it. */
void* second_thread(void*) {
    g_ids.tid2 = gettid();
    set_stage(1);
    wait_stage(2);
    Target t{"/proc/thread-self/status", 'f', false, Content::Status, false, true};
    emit("thread2: readlink /proc/thread-self", link_of("/proc/thread-self"));
    struct stat st;
    int rc = kept(stat("/proc/thread-self/status", &st));
    emit("thread2: stat /proc/thread-self/status", rc == 0 ? stat_summary(st, false) : fail(last_err()));
    int fd = kept(open("/proc/thread-self/status", O_RDONLY));
    opened("thread2: open O_RDONLY /proc/thread-self/status", fd, last_err(), O_RDONLY, t,
           kGetfl | kFstat | kLink | kRead);
    set_stage(3);
    return nullptr;
}

/* A pid no process has, and none will take while the probe runs: the kernel hands pids out upwards from
 * the last one it gave (ns_last_pid), so a free one just below that is taken only after a whole cycle
 * of pid_max new tasks (pid_max - 1, the old choice, was taken by a busy machine's next tasks once its
 * pids neared the top). */
pid_t missing_pid() {
    long last = 0;
    if (FILE* f = fopen("/proc/sys/kernel/ns_last_pid", "re")) {
        if (fscanf(f, "%ld", &last) != 1)
            last = 0;
        fclose(f);
    }
    for (pid_t p = static_cast<pid_t>(last - 1); p > 300; --p)
        if (kill(p, 0) != 0 && errno == ESRCH)
            return p;
    long pid_max = 32768;
    if (FILE* f = fopen("/proc/sys/kernel/pid_max", "re")) {
        if (fscanf(f, "%ld", &pid_max) != 1)
            pid_max = 32768;
        fclose(f);
    }
    for (pid_t p = static_cast<pid_t>(pid_max - 1); p > 1; --p)
        if (kill(p, 0) != 0 && errno == ESRCH)
            return p;
    return 0;
}

std::vector<Target> proc_targets() {
    std::vector<Target> targets;
    auto own = [&](const char* path) { targets.push_back({path, 'f', false, Content::Status, false, true}); };
    auto other = [&](const char* path) { targets.push_back({path, 'f', false, Content::Status, false, false}); };
    auto missing = [&](const char* path) { targets.push_back({path, 'x', false, Content::Status, false, false}); };
    targets.push_back({"/proc/cpuinfo", 'f', false, Content::CpuInfo, true, false});
    targets.push_back({"/proc/stat", 'f', false, Content::Keys, true, false});
    own("/proc/self/status");
    own("/proc/thread-self/status");
    own("/proc/$PID/status");
    own("/proc/$PID/task/$PID/status");
    own("/proc/$PID/task/$TID2/status");
    own("/proc/self/task/$TID2/status");
    other("/proc/$PPID/status");
    other("/proc/1/status");
    for (const char* path : {"/proc/$NOPID/status", "/proc/$NOPID/task/$NOPID/status", "/proc/$PID/task/$NOPID/status",
                             "/proc/$PID/task/1/status", "/proc/self/task/$NOPID/status", "/proc/0/status",
                             "/proc/0$PID/status", "/proc/+$PID/status", "/proc/$PID/status2",
                             "/proc/$PID/task/$TID2/status2", "/proc/cpuinfo2", "/proc/stat2", "/proc/cpuinfo/x"})
        missing(path);
    return targets;
}

int probe_main(const char* list_file) {
    std::vector<ListEntry> list;
    if (!read_list(list_file, &list)) {
        fprintf(stderr, "probe: cannot read %s: %s\n", list_file, strerror(errno));
        return 2;
    }
    static char out[1 << 20];
    setvbuf(stdout, out, _IOFBF, sizeof out);
    if (chdir("/") != 0)
        return 2;
    g_ids.pid = getpid();
    g_ids.ppid = getppid();
    g_ids.nopid = missing_pid();
    pthread_t thread;
    if (pthread_create(&thread, nullptr, second_thread, nullptr) != 0)
        return 2;
    wait_stage(1);

    int fd = kept(open("/dev/null", O_RDONLY));
    emit("start: lowest free descriptor", std::to_string(fd));
    close(fd);
    std::string self = link_of("/proc/self");
    emit("start: readlink /proc/self", self == std::to_string(g_ids.pid) ? "$PID" : self);
    emit("start: readlink /proc/thread-self", link_of("/proc/thread-self"));

    std::vector<Target> targets;
    for (const ListEntry& e : list)
        targets.push_back({e.path, e.kind, e.writable, e.unstable ? Content::Unstable : Content::Stable, true, false});
    for (const Target& t : proc_targets())
        targets.push_back(t);
    for (const Target& t : targets)
        reserve_target(t.path);
    for (const Target& t : targets)
        probe_target(t);

    probe_edges();

    set_stage(2);
    wait_stage(3);
    pthread_join(thread, nullptr);
    emit("end: lowest free descriptor", std::to_string(fd = open("/dev/null", O_RDONLY)));
    close(fd);
    return fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace
}  // namespace probe

int main(int argc, char** argv) {
    if (argc == 2 && strcmp(argv[1], "--list") == 0)
        return probe::list_main();
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: probe --list | probe LISTFILE\n");
        return 2;
    }
    return probe::probe_main(argv[1]);
}
