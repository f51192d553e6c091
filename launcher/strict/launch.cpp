/* Strict mode (--strict, launcher.h: run_strict): the launcher stays as the program's parent and answers, for every thread of
 * every process of the launch, the system calls that the in-process shim cannot see (raw syscall
 * instructions, libc's internal calls, static binaries, programs run without the shim).
 *
 * How (docs/strict-mode.md has the measurements behind each choice):
 * - The child installs a seccomp filter before it execs the program. The filter hands open, openat,
 *   openat2, sched_setaffinity, sched_getaffinity and getcpu to this process as user notifications
 *   (SECCOMP_RET_USER_NOTIF) and allows every other call. It survives exec and fork and holds in
 *   static binaries.
 * - The calls the shim makes itself carry the launch's random tag in their unused sixth argument
 *   register (PalSetStrictTag); the filter allows those, so what the shim has already virtualized
 *   in-process is not trapped a second time.
 * - Supervisor threads (supervisor.cpp) receive each notification and run the LibOS's own handler for it
 *   (libos::dispatch_remote): the same table, the same shared per-thread state, the same errors,
 *   and with --trace the same trace lines, marked <supervisor>.
 *   A virtual file is opened here and installed in the caller with SECCOMP_IOCTL_NOTIF_ADDFD; a path
 *   that is not virtual is left to the kernel (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
 * - The main thread is a child subreaper: it forwards the signals that are sent to it to the program,
 *   reaps every process of the launch, and ends as the program ended once none is left. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "launcher.h"
#include "libos/libos_config.h"
#include "libos/libos_init.h"
#include "libos/libos_settings.h"
#include "libos/libos_strict.h"
#include "libos/libos_threads.h"
#include "pal/pal.h"
#include "strict/strict.h"

namespace launcher::strict {

[[noreturn]] void refuse(const std::string& line) {
    fprintf(stderr, "%s\n", line.c_str());
    exit(kExitLauncherFailed);
}

long seccomp(unsigned op, unsigned flags, void* arg) {
    return PalSyscall(SYS_seccomp, op, flags, reinterpret_cast<long>(arg), 0, 0, 0);
}

namespace {

/* ---- the kernel's features ------------------------------------------------------------------ */

/* Refuses --strict, naming what the kernel lacks. */
[[noreturn]] void refuse_missing(const std::string& what, const std::string& detail) {
    refuse("libos-run: cannot run --strict: this kernel lacks " + what + " (" + detail +
           "); run without --strict to use the in-process shim alone");
}

bool test_says_missing() {
#ifdef LIBOS_TEST_HOOKS
    /* main checked the value (libos_run.cpp): 1 or 0. */
    bool missing = false;
    libos::ConfigError error;
    libos::parse_switch(libos::kEnvTestStrictMissing, getenv(libos::kEnvTestStrictMissing), &missing, &error);
    return missing;
#else
    return false;
#endif
}

/* Refuses --strict under a user-mode emulator (qemu-user running this launcher, built for another
 * architecture, on the host's kernel): the emulator gives its guest no seccomp filters, since a
 * filter would bind the emulator itself, which makes the guest's calls with its own numbers. The
 * kernel's architecture is in /proc/sys/kernel/arch, which no emulator rewrites. */
void refuse_if_emulated() {
    char kernel[64] = {};
    int fd = open("/proc/sys/kernel/arch", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return; /* a kernel too old to have it (it came in the 6.x series): nothing to compare with */
    ssize_t n = read(fd, kernel, sizeof(kernel) - 1);
    close(fd);
    while (n > 0 && (kernel[n - 1] == '\n' || kernel[n - 1] == ' '))
        kernel[--n] = '\0';
#if defined(__aarch64__)
    const char* own = "aarch64";
#else
    const char* own = "x86_64";
#endif
    if (n <= 0 || strcmp(kernel, own) == 0)
        return;
    refuse(std::string("libos-run: cannot run --strict under emulation: this ") + own + " launcher runs on a " +
           kernel + " kernel through a user-mode emulator (qemu-user), which gives its programs no seccomp "
           "filters; strict mode needs a real " + own +
           " kernel (docs/strict-mode.md); run without --strict to use the in-process shim alone");
}

seccomp_notif_sizes probe_notification_sizes() {
    seccomp_notif_sizes sizes = {};
    refuse_if_emulated();
    if (test_says_missing())
        refuse_missing("seccomp user notification", "LIBOS_TEST_STRICT_MISSING is set");
    long ret = seccomp(SECCOMP_GET_NOTIF_SIZES, 0, &sizes);
    if (ret < 0)
        refuse_missing("seccomp user notification", std::string("SECCOMP_GET_NOTIF_SIZES: ") + strerror(-ret) +
                                                        "; Linux 5.0 or later has it");
    return sizes;
}

/* The listener's ioctls that strict mode needs, asked about with a notification id that cannot
 * exist: a kernel that knows the request and its flags answers ENOENT. */
void probe_listener(int listener, std::string* missing, std::string* detail) {
    seccomp_notif_resp resp = {};
    resp.id = ~0ULL;
    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0 || errno != ENOENT) {
        *missing = "SECCOMP_USER_NOTIF_FLAG_CONTINUE";
        *detail = std::string(strerror(errno)) + "; Linux 5.5 or later has it";
        return;
    }
    seccomp_notif_addfd addfd = {};
    addfd.id = ~0ULL;
    addfd.flags = SECCOMP_ADDFD_FLAG_SEND;
    addfd.srcfd = static_cast<uint32_t>(listener); /* a descriptor that certainly exists */
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) == 0 || errno != ENOENT) {
        *missing = "SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SEND";
        *detail = std::string(strerror(errno)) + "; Linux 5.14 or later has it";
        return;
    }
    /* Optional (Linux 6.6): the supervisor is woken on the caller's CPU, several times faster. */
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0)
        libos::set_wakes_on_answer_cpu(true);
}

/* ---- the child ------------------------------------------------------------------------------- */

/* What the child sends with its listener. */
struct Hello {
    int err;        /* the listener's error, or 0 */
    ViewsInfo views;
};

/* Sends descriptor `fd` (or, when fd < 0, the error -fd) over the socket, with what the child knows of
 * its views. */
void send_listener(int sock, int fd, const ViewsInfo& views) {
    Hello hello = {fd < 0 ? -fd : 0, views};
    struct iovec iov = {&hello, sizeof(hello)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        cmsghdr align;
    } control = {};
    msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (fd >= 0) {
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof(control.buf);
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    while (sendmsg(sock, &msg, 0) < 0 && errno == EINTR) {
    }
}

/* The listener descriptor the child sent, or -errno; and what it says of its views. */
int receive_listener(int sock, ViewsInfo* views) {
    Hello hello = {};
    struct iovec iov = {&hello, sizeof(hello)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        cmsghdr align;
    } control = {};
    msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    ssize_t n;
    while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
    }
    if (n != static_cast<ssize_t>(sizeof(hello)))
        return -EPIPE;
    *views = hello.views;
    if (hello.err)
        return -hello.err;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS)
        return -EPROTO;
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return fd;
}

[[noreturn]] void run_child(pid_t keeper, int sock, const std::vector<sock_filter>& filter,
                            const sigset_t& original_mask, bool views, const char* program, char* const argv[],
                            char* const envp[]) {
    sigprocmask(SIG_SETMASK, &original_mask, nullptr);
    /* The program dies with its keeper (which kills the whole launch when libos-run dies). */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != keeper)
        _exit(kExitLauncherFailed);
    /* The views first: making namespaces needs rights that no_new_privs and the filter do not take, but
     * the program must not start before its namespace is whole. */
    ViewsInfo info = {};
    if (views) {
        std::string failed = mount_views(&info);
        if (!failed.empty()) {
            info = {};
            fprintf(stderr,
                    "libos-run: --strict without its views (%s): stat and listings of "
                    "/sys/devices/system/{cpu,node} by programs without the shim show the host's; "
                    "--no-views silences this (docs/strict-mode.md)\n",
                    failed.c_str());
        }
    }
    /* Unprivileged processes may install a filter only with no_new_privs (setuid programs then run
     * with the caller's rights, as under any seccomp sandbox). */
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    sock_fprog prog = {static_cast<unsigned short>(filter.size()), const_cast<sock_filter*>(filter.data())};
    long listener =
        seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
    if (listener == -EINVAL) /* before Linux 5.19: a signal may then interrupt a trapped call */
        listener = seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    send_listener(sock, static_cast<int>(listener), info);
    if (listener < 0)
        _exit(kExitLauncherFailed);
    close(static_cast<int>(listener));
    /* Wait until the supervisor runs: the program's first trapped call must find it. */
    char go = 0;
    ssize_t n;
    while ((n = read(sock, &go, 1)) < 0 && errno == EINTR) {
    }
    if (n != 1)
        _exit(kExitLauncherFailed);
    close(sock);
    int err = exec_program(program, argv, envp);
    fprintf(stderr, "libos-run: %s: %s\n", program, strerror(err));
    _exit(err == ENOENT ? kExitNotFound : kExitCannotRun);
}

/* ---- the supervisor's threads ------------------------------------------------------------------ */

void* supervisor_thread(void* self) {
    supervise(static_cast<SupervisorThread*>(self));
    return nullptr;
}

/* Starts one detached supervisor thread; 0, or the error of pthread_create (EAGAIN when there is no
 * memory for its stack). Not std::thread, which reports that by throwing. Its buffers are allocated
 * here, before the program runs; the thread keeps them until the launcher ends. */
int start_supervisor_thread(int listener, seccomp_notif_sizes sizes) {
    pthread_attr_t attr;
    int err = pthread_attr_init(&attr);
    if (err)
        return err;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    auto* self = new SupervisorThread(listener, sizes);
    pthread_t thread;
    err = pthread_create(&thread, &attr, supervisor_thread, self);
    pthread_attr_destroy(&attr);
    if (err)
        delete self;
    return err;
}

/* ---- signals and the end ---------------------------------------------------------------------- */

/* The signals the launcher passes on to the program when they are sent to it (kill, sigqueue). The
 * terminal's own (^C, ^\) reach the program directly: it is in the same process group. */
constexpr int kForwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH};

/* The signal the kernel sends the keeper when libos-run dies (PR_SET_PDEATHSIG): one libos-run never
 * forwards. */
const int kSupervisorGone = SIGRTMAX;

/* Waits until what the child sends can be read. Making the views takes seconds at thousands of vCPUs:
 * meanwhile the signals sent to libos-run go to the keeper, which passes them on to the child (a
 * SIGTERM then ends the launch as it would end the program). */
void await_child(int sock, pid_t keeper, const sigset_t& waited) {
    for (;;) {
        pollfd ready = {sock, POLLIN, 0};
        if (poll(&ready, 1, 100) > 0)
            return;
        siginfo_t info;
        const timespec now = {0, 0};
        int sig;
        while ((sig = sigtimedwait(&waited, &info, &now)) > 0) {
            /* SIGCHLD: the keeper ended, and the socket says so. */
            bool sent = info.si_code == SI_USER || info.si_code == SI_QUEUE || info.si_code == SI_TKILL;
            if (sig != SIGCHLD && sig != kSupervisorGone && sent)
                kill(keeper, sig);
        }
    }
}

/* Sends `sig` to every child of this process: after the program ended, the processes of the launch
 * still running (orphans are reparented here, the subreaper). Children are listed per thread. */
void signal_stragglers(int sig) {
    DIR* tasks = opendir("/proc/self/task");
    if (!tasks)
        return;
    while (dirent* task = readdir(tasks)) {
        if (task->d_name[0] < '0' || task->d_name[0] > '9')
            continue;
        std::string path = std::string("/proc/self/task/") + task->d_name + "/children";
        FILE* f = fopen(path.c_str(), "re");
        if (!f)
            continue;
        long pid;
        while (fscanf(f, "%ld", &pid) == 1)
            kill(static_cast<pid_t>(pid), sig);
        fclose(f);
    }
    closedir(tasks);
}

/* Kills every process of the launch: SIGKILL to each child, and again to each child that a killed one
 * leaves behind (reparented here, the subreaper), until none is left. */
void kill_the_launch() {
    for (;;) {
        signal_stragglers(SIGKILL);
        int status;
        pid_t pid = waitpid(-1, &status, __WALL);
        if (pid < 0 && errno == ECHILD)
            return;
    }
}

[[noreturn]] void end_as(int status) {
    stop_live_files();
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        /* Die of the same signal, as timeout(1) does, without a core file of the launcher's own. */
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        signal(sig, SIG_DFL);
        sigset_t only;
        sigemptyset(&only);
        sigaddset(&only, sig);
        sigprocmask(SIG_UNBLOCK, &only, nullptr);
        raise(sig);
        _exit(128 + sig);
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : kExitLauncherFailed);
}

/* The keeper: the launch's child subreaper, between libos-run and the program. It passes on the
 * signals libos-run forwards, waits for every process of the launch, and ends as the program ended.
 * When libos-run dies (the kernel then sends it kSupervisorGone), it kills the whole launch: without a
 * supervisor every trapped call would fail with ENOSYS, and a dynamic program could not even load
 * its libraries. */
[[noreturn]] void run_keeper(pid_t supervisor, int sock, const std::vector<sock_filter>& filter,
                             const sigset_t& waited, const sigset_t& original_mask, bool views, const char* program,
                             char* const argv[], char* const envp[]) {
    prctl(PR_SET_PDEATHSIG, kSupervisorGone, 0, 0, 0);
    if (getppid() != supervisor)
        _exit(kExitLauncherFailed);
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    const pid_t keeper = getpid();
    pid_t child = fork();
    if (child < 0)
        _exit(kExitLauncherFailed);
    if (child == 0)
        run_child(keeper, sock, filter, original_mask, views, program, argv, envp);
    close(sock);
    int program_status = 0;
    bool program_ended = false;
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&waited, &info);
        if (sig < 0)
            continue;
        if (sig == kSupervisorGone) {
            kill_the_launch();
            _exit(kExitLauncherFailed);
        }
        if (sig != SIGCHLD) {
            /* From libos-run, which passes on the signals sent to it; or from anyone else. */
            bool sent = info.si_code == SI_USER || info.si_code == SI_QUEUE || info.si_code == SI_TKILL;
            if (sent && !program_ended)
                kill(child, sig);
            else if (sent)
                signal_stragglers(sig); /* the program is gone: to the processes still running */
            continue;
        }
        for (;;) {
            int status;
            pid_t pid = waitpid(-1, &status, WNOHANG | __WALL);
            if (pid == 0)
                break;
            if (pid < 0) {
                if (errno == EINTR)
                    continue;
                /* ECHILD: nothing of the launch is left. */
                end_as(program_status);
            }
            if (pid == child) {
                program_status = status;
                program_ended = true;
            }
        }
    }
}

}  // namespace
}  // namespace launcher::strict

namespace launcher {

using namespace strict;

std::string strict_live_files_text(bool no_fuse) {
    if (no_fuse)
        return "snapshots at the open without the shim (--no-fuse)";
    std::string why = probe_live_files();
    if (why.empty())
        return "live without the shim: each read from the start makes them anew (a FUSE file system served by "
               "libos-run)";
    return "snapshots at the open without the shim: FUSE cannot be used here (" + why + ")";
}

void run_strict(const char* program, char* const argv[], std::vector<std::string>* env, bool views, bool live) {
    seccomp_notif_sizes sizes = probe_notification_sizes();

    /* The launch's shared state, created here so that this process can answer for every process of
     * the launch. The LibOS reads its machine from the environment, as in the program. */
    for (const libos::EnvVariable& v : libos::kEnvironment)
        if (v.exec == libos::AtExec::kRewritten) /* what the LibOS writes itself: none of it is the supervisor's */
            unsetenv(v.name);
    /* The machine and its shape, as the program's shim reads them. With --trace, the supervisor
     * traces the calls it answers, to the same place and in the same format as the shim (its stacks
     * and statistics would be its own, not the program's). */
    for (const char* name : {kEnvCpus, kEnvCpuMap, kEnvTopology, kEnvNuma, kEnvCpuQuota, kEnvTrace, kEnvTraceFormat,
                             kEnvTraceFilter, kEnvTraceTime, kEnvTracePerProcess}) {
        std::string prefix = std::string(name) + "=";
        for (const std::string& e : *env)
            if (e.rfind(prefix, 0) == 0)
                setenv(name, e.c_str() + prefix.size(), 1);
    }
    libos::require_shared_state();
    libos::init();
    if (!libos::is_virtual() || libos::state_fd() < 0)
        refuse("libos-run: cannot run --strict: the machine's shared state could not be created (memfd_create, "
               "or no memory to map it)");

    uint64_t tag = 0;
    while (tag == 0)
        if (getrandom(&tag, sizeof(tag), 0) != sizeof(tag))
            refuse(std::string("libos-run: cannot run --strict: getrandom: ") + strerror(errno));
    char tag_text[17];
    snprintf(tag_text, sizeof(tag_text), "%016llx", static_cast<unsigned long long>(tag));
    env->push_back(std::string(kEnvStrict) + "=" + tag_text);
    env->push_back(std::string(kEnvStateFd) + "=" + std::to_string(libos::state_fd()));
    /* The views' processes read the host's CPU files through this descriptor (views.cpp). */
    int host_system = views ? open_host_system() : -1;
    if (host_system >= 0)
        env->push_back(std::string(libos::kEnvHostSystemFd) + "=" + std::to_string(host_system));
    else
        views = false;
    std::vector<char*> envp;
    for (std::string& e : *env)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<sock_filter> filter = build_filter(tag);

    /* The keeper is the launch's subreaper; this process is one too, so that if the keeper is killed
     * on its own, the launch's processes come here, to be killed (the launch dies with either). */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    sigset_t waited, original;
    sigemptyset(&waited);
    sigaddset(&waited, SIGCHLD);
    for (int sig : kForwarded)
        sigaddset(&waited, sig);
    sigaddset(&waited, kSupervisorGone);
    sigprocmask(SIG_BLOCK, &waited, &original);

    int socks[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, socks) != 0)
        refuse(std::string("libos-run: cannot run --strict: socketpair: ") + strerror(errno));
    fflush(stdout);
    fflush(stderr);
    const pid_t supervisor = getpid();
    pid_t keeper = fork();
    if (keeper < 0)
        refuse(std::string("libos-run: cannot run --strict: fork: ") + strerror(errno));
    if (keeper == 0) {
        close(socks[0]);
        run_keeper(supervisor, socks[1], filter, waited, original, views, program, argv, envp.data());
    }
    close(socks[1]);
    /* The live files' server, while the child makes the views, and before any supervisor thread may
     * answer an open. Where FUSE cannot be used the snapshots stay, silently: --show says which a
     * launch gets (docs/strict-mode.md). */
    if (live)
        start_live_files();
    ViewsInfo views_info = {};
    await_child(socks[0], keeper, waited);
    int listener = receive_listener(socks[0], &views_info);
    if (host_system >= 0)
        close(host_system); /* the supervisor reads the host's files by their names */
    if (views_info.ns_dev != 0 || views_info.ns_ino != 0)
        libos::set_launch_views({views_info.ns_dev, views_info.ns_ino, views_info.cpu_dev, views_info.node_dev});
    std::string missing, detail;
    if (listener == -EBUSY) {
        kill(keeper, SIGKILL);
        waitpid(keeper, nullptr, 0);
        refuse("libos-run: cannot run --strict inside a strict launch (or under another seccomp supervisor): the "
               "kernel allows one seccomp listener per process tree; run this launch without --strict");
    } else if (int status; listener == -EPIPE && waitpid(keeper, &status, __WALL) == keeper) {
        /* The child ended before it sent anything (a signal passed on while the views were made): the
         * keeper, which ends as the child did, follows it. */
        kill_the_launch();
        end_as(status);
    } else if (listener < 0) {
        missing = "seccomp user notification for this process";
        detail = std::string("seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER): ") +
                 strerror(-listener);
    } else {
        probe_listener(listener, &missing, &detail);
    }
    if (!missing.empty()) {
        kill(keeper, SIGKILL);
        waitpid(keeper, nullptr, 0);
        refuse_missing(missing, detail);
    }

    /* Supervisor threads, as many as the host CPUs the program may run on (at most 8): a caller on
     * each CPU finds one waiting. */
    libos::CpuBits hosts;
    memset(&hosts, 0, sizeof(hosts));
    PalThreadGetCpuAffinity(0, sizeof(hosts.words), hosts.words);
    size_t threads = 0;
    for (uint64_t w : hosts.words)
        threads += static_cast<size_t>(__builtin_popcountll(w));
    threads = threads < 1 ? 1 : threads > 8 ? 8 : threads;
#ifdef LIBOS_TEST_HOOKS
    /* For tests (strict/supervisor-calls): another number of threads (1 to 8) than this host's CPUs give. */
    if (const char* n = getenv("LIBOS_TEST_SUPERVISOR_THREADS"); n && n[0] >= '1' && n[0] <= '8' && !n[1])
        threads = static_cast<size_t>(n[0] - '0');
#endif
    size_t started = 0;
    int thread_error = 0;
    for (size_t i = 0; i < threads && !thread_error; ++i) {
        if ((thread_error = start_supervisor_thread(listener, sizes)) == 0)
            ++started;
    }
    /* Fewer threads than wanted (memory is short) only answer more slowly; none cannot answer. */
    if (started == 0) {
        kill(keeper, SIGKILL);
        waitpid(keeper, nullptr, 0);
        refuse(std::string("libos-run: cannot run --strict: cannot start the supervisor's thread: ") +
               strerror(thread_error));
    }

    char go = 1;
    while (write(socks[0], &go, 1) < 0 && errno == EINTR) {
    }
    close(socks[0]);

    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&waited, &info);
        if (sig < 0 || sig == kSupervisorGone)
            continue;
        if (sig != SIGCHLD) {
            /* Sent by a process (not the terminal, whose signals reach the program itself): to the
             * keeper, which passes it on. */
            bool sent = info.si_code == SI_USER || info.si_code == SI_QUEUE || info.si_code == SI_TKILL;
            if (sent)
                kill(keeper, sig);
            continue;
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(keeper, &status, WNOHANG | __WALL)) < 0 && errno == EINTR) {
        }
        if (pid != keeper)
            continue;
        /* The keeper ended when the launch did; if it was killed on its own, what is left of the launch
         * came here, and goes with it. */
        kill_the_launch();
        end_as(status);
    }
}

}  // namespace launcher
