// Strict mode's supervisor resolves the pids a caller of another PID namespace names (Caller::resolve,
// table/strict/pids.cpp): in a namespace of its own, the caller's pid 1 is itself, its child and its
// thread are found under the ids they have there, and an id the namespace lacks is ESRCH, whatever this
// namespace has under that number. Both ways: the kernel's translation (Linux 6.9) and the search of
// /proc that older kernels need. The kernel is the oracle: the ids come from the tasks themselves.
#include <errno.h>
#include <pthread.h>
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "libos/libos_caller.h"
#include "libos/libos_strict.h"
#include "pal/pal.h"

namespace {

int g_hold[2]; /* the caller's child and thread wait for the end of this pipe */

void* waiting_thread(void*) {
    char byte;
    (void)!read(g_hold[0], &byte, 1);
    return nullptr;
}

/* pid 1 of the new namespace: a child (pid 2 there) and a thread that wait, then waits itself. */
[[noreturn]] void caller_process(int ready) {
    close(g_hold[1]); /* the helper's end: its close ends every wait */
    pid_t child = fork();
    if (child == 0) {
        char byte;
        (void)!read(g_hold[0], &byte, 1);
        _exit(0);
    }
    pthread_t thread;
    if (child < 0 || pthread_create(&thread, nullptr, waiting_thread, nullptr) != 0)
        _exit(1);
    pid_t ids[2] = {child, 0};
    (void)!write(ready, ids, sizeof(ids));
    char byte;
    (void)!read(g_hold[0], &byte, 1);
    pthread_join(thread, nullptr);
    waitpid(child, nullptr, 0);
    _exit(0);
}

/* The host tid of the task whose id in the innermost namespace is `id`, among the tids given. */
pid_t host_of(pid_t id, const pid_t* tids, int n) {
    for (int i = 0; i < n; ++i) {
        pid_t pids[33], tgids[33];
        long levels = PalThreadNamespaceIds(tids[i], pids, tgids, 33);
        if (levels > 0 && pids[levels - 1] == id)
            return tids[i];
    }
    return 0;
}

/* In a helper (unshare(CLONE_NEWPID) is for good): 0, 77 (not permitted), or the failed check. */
int resolve_checks() {
    if (unshare(CLONE_NEWPID) != 0)
        return 77;
    int ready[2];
    if (pipe(g_hold) != 0 || pipe(ready) != 0)
        return 2;
    pid_t caller = fork();
    if (caller < 0)
        return 3;
    if (caller == 0)
        caller_process(ready[1]);
    pid_t ids[2];
    if (read(ready[0], ids, sizeof(ids)) != sizeof(ids))
        return 4;
    /* The host's tids of the caller's child and thread, from /proc. */
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", caller, caller);
    pid_t child_host = 0, thread_host = 0;
    if (FILE* f = fopen(path, "r")) {
        if (fscanf(f, "%d", &child_host) != 1)
            child_host = 0;
        fclose(f);
    }
    snprintf(path, sizeof(path), "/proc/%d/task", caller);
    if (DIR* d = opendir(path)) {
        while (dirent* e = readdir(d))
            if (atoi(e->d_name) > 0 && atoi(e->d_name) != caller)
                thread_host = atoi(e->d_name);
        closedir(d);
    }
    pid_t tasks[3] = {caller, child_host, thread_host};
    pid_t pids[33], tgids[33];
    long levels = PalThreadNamespaceIds(thread_host, pids, tgids, 33);
    int status = child_host <= 0 || thread_host <= 0 || levels < 2 ? 5 : 0;
    const pid_t thread_id = levels > 0 ? pids[levels - 1] : 0;
    for (int search_only = 0; status == 0 && search_only < 2; ++search_only) {
        libos::set_pid_search_only(search_only != 0);
        libos::RemoteTask task;
        task.tid = caller;
        libos::Caller remote(&task);
        struct Case {
            pid_t named, want;
        } cases[] = {{1, caller}, {ids[0], host_of(ids[0], tasks, 3)}, {thread_id, thread_host}};
        for (const Case& c : cases) {
            libos::TargetTask target;
            if (c.want <= 0 || remote.resolve(c.named, &target) != 0 || target.tid != c.want)
                status = 10 + search_only;
        }
        /* An id the namespace lacks: ESRCH, though this namespace may well have a task 7 or 4000. */
        for (pid_t missing : {7, 4000, getpid()}) {
            libos::TargetTask target;
            if (missing != thread_id && remote.resolve(missing, &target) != -ESRCH)
                status = 20 + search_only;
        }
        /* The caller's own tid and 0 name the caller; the child's slot is named as its namespace does. */
        libos::TargetTask self, child;
        if (remote.resolve(0, &self) != 0 || self.tid != caller || self.slot_tid != 1 || self.slot_ns == 0)
            status = 30 + search_only;
        if (remote.resolve(ids[0], &child) != 0 || child.slot_tid != ids[0] || child.slot_ns != self.slot_ns)
            status = 40 + search_only;
    }
    close(g_hold[1]);
    int caller_status = 0;
    waitpid(caller, &caller_status, 0);
    return status;
}

TEST(StrictPids, ACallerOfAnotherNamespaceNamesItsOwnTasks) {
    pid_t helper = fork();
    ASSERT_GE(helper, 0);
    if (helper == 0)
        _exit(resolve_checks());
    int status = 0;
    ASSERT_EQ(waitpid(helper, &status, 0), helper);
    ASSERT_TRUE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        GTEST_SKIP() << "unshare(CLONE_NEWPID) is not permitted here";
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the check that failed (resolve_checks): 1x the kernel's translation "
                                         "or the search (x = 0 or 1), 2x ESRCH, 3x pid 0, 4x the child's slot";
}

/* sched_setaffinity's permission check reads the caller's rights from /proc/<tid>: a caller whose call
 * no longer waits (it ended, and its tid may be another task's, a root's) gets nothing from them. */
bool g_waits = true;
bool still_waiting(const void*) {
    return g_waits;
}

TEST(StrictPids, APermissionNeedsTheCallStillWaiting) {
    int hold[2];
    ASSERT_EQ(pipe(hold), 0);
    pid_t tasks[2];
    for (pid_t& t : tasks) {
        t = fork();
        ASSERT_GE(t, 0);
        if (t == 0) {
            close(hold[1]);
            char byte;
            (void)!read(hold[0], &byte, 1);
            _exit(0);
        }
    }
    close(hold[0]);
    libos::RemoteTask task;
    task.tid = tasks[0];
    task.still_waiting = still_waiting;
    libos::Caller remote(&task);
    g_waits = true;
    EXPECT_EQ(remote.may_change(tasks[1]), 0) << "the same user's task, while the call waits";
    g_waits = false;
    EXPECT_EQ(remote.may_change(tasks[1]), -ESRCH) << "rights read for a caller that no longer waits";
    close(hold[1]);
    for (pid_t t : tasks)
        waitpid(t, nullptr, 0);
}

}  // namespace
