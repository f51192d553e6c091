// strict_probe: what each interception mechanism that strict mode could use costs on this machine
// (docs/strict-mode.md). Not part of the suite: run build-release/bench/strict_probe, pinned with
// taskset -c 1 (and once unpinned, to see a cross-CPU wake-up). Each mechanism runs in a child of
// its own, since a seccomp filter cannot be removed.

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e9 + t.tv_nsec; }
static long raw(long nr, long a, long b, long c) { return syscall(nr, a, b, c); }
#define N 200000
static double per_call(long nr) { unsigned char m[128]; double best = 1e18;
  for (int r = 0; r < 7; r++) { double t0 = now(); for (int i = 0; i < N; i++) raw(nr, 0, sizeof m, (long)m); double t = (now() - t0) / N; if (t < best) best = t; }
  return best; }
static int install(unsigned action_for_affinity) {
  struct sock_filter f[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_sched_getaffinity, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, action_for_affinity),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
  struct sock_fprog p = {static_cast<unsigned short>(sizeof f / sizeof f[0]), f};
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                      (action_for_affinity == SECCOMP_RET_USER_NOTIF ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0) | (getenv("SPEC_ALLOW") ? SECCOMP_FILTER_FLAG_SPEC_ALLOW : 0), &p);
}
static void on_sigsys(int sig, siginfo_t* si, void* uc) { (void)sig; (void)si;
  static_cast<ucontext_t*>(uc)->uc_mcontext.gregs[REG_RAX] = 8; }  /* emulate: "8 bytes written" */
static int listener;
static void* supervisor(void* arg) { (void)arg;
  struct seccomp_notif req; struct seccomp_notif_resp resp;
  for (;;) { memset(&req, 0, sizeof req);
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) return NULL;
    memset(&resp, 0, sizeof resp); resp.id = req.id; resp.val = 8;
    ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp); } }
static void child(const char* mode) {
  double base_getpid = per_call(SYS_getpid), base_aff = per_call(SYS_sched_getaffinity);
  if (!strcmp(mode, "allow")) { install(SECCOMP_RET_ALLOW);
    printf("seccomp filter, allowed path: getpid %.0f -> %.0f ns (+%.0f); sched_getaffinity %.0f -> %.0f ns\n",
           base_getpid, per_call(SYS_getpid), per_call(SYS_getpid) - base_getpid, base_aff, per_call(SYS_sched_getaffinity)); }
  else if (!strcmp(mode, "trap")) { struct sigaction sa = {}; sa.sa_sigaction = on_sigsys; sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSYS, &sa, NULL); install(SECCOMP_RET_TRAP);
    printf("seccomp RET_TRAP -> SIGSYS handler: sched_getaffinity %.0f ns (native %.0f); getpid still %.0f ns\n",
           per_call(SYS_sched_getaffinity), base_aff, per_call(SYS_getpid)); }
  else if (!strcmp(mode, "notif")) { listener = install(SECCOMP_RET_USER_NOTIF);
    pthread_t t; pthread_create(&t, NULL, supervisor, NULL);
    printf("seccomp USER_NOTIF, supervisor thread answering: sched_getaffinity %.0f ns (native %.0f); getpid still %.0f ns\n",
           per_call(SYS_sched_getaffinity), base_aff, per_call(SYS_getpid)); }
  fflush(stdout); _exit(0); }
int main(void) {
  const char* modes[] = {"allow", "trap", "notif"};
  for (int i = 0; i < 3; i++) { pid_t p = fork(); if (!p) child(modes[i]); waitpid(p, NULL, 0); }
  return 0; }
