/* Whole-process figures of scripts/bench: the wall-clock time from posix_spawn to the end of waitpid
 * of a program, under several environments, the runs of the environments interleaved (round-robin,
 * the starting one rotating) so that the machine's drift hits them alike. Prints one JSON object with
 * every sample; bench/run_bench.py takes the medians.
 *
 *   bench_spawn --runs N [--warmup W] --variant SPEC [--via WORDS] [--variant SPEC [--via WORDS]]...
 *               -- PROGRAM [ARGS...]
 *
 * SPEC is a comma-separated list of NAME=VALUE added to the environment ("" for none). --via puts a
 * command before PROGRAM in the variant it follows: WORDS, split at spaces, the first one a path (so
 * "/path/libos-run --strict --cpus 2 --" runs PROGRAM under that launcher). The base
 * environment is this process's, without LD_PRELOAD and the LIBOS_ variables, so that the first
 * variant "" is the native run. Each run is also given as the child's CPU time (user + system, from
 * wait4), which the load of other processes disturbs less. The program's stdin, stdout and stderr are
 * /dev/null; a run that does not exit with status 0 is an error. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

extern char** environ;

namespace {

struct Variant {
    std::string spec;
    std::string via;                    /* "" or the words put before the program */
    std::vector<std::string> via_words;
    std::vector<char*> argv;            /* the via words, then the program and its arguments */
    std::vector<std::string> env;
    std::vector<char*> envp;
    std::vector<long long> samples;     /* wall-clock ns, spawn to reaped */
    std::vector<long long> cpu_samples; /* the child's user + system CPU time, ns */
};

long long now_ns() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

bool scrubbed(const char* entry) {
    return strncmp(entry, "LD_PRELOAD=", 11) == 0 || strncmp(entry, "LIBOS_", 6) == 0;
}

void build_env(Variant& v) {
    for (char** e = environ; e && *e; ++e)
        if (!scrubbed(*e))
            v.env.emplace_back(*e);
    size_t start = 0;
    while (start < v.spec.size()) {
        size_t end = v.spec.find(',', start);
        if (end == std::string::npos)
            end = v.spec.size();
        if (end > start)
            v.env.push_back(v.spec.substr(start, end - start));
        start = end + 1;
    }
    for (auto& s : v.env)
        v.envp.push_back(s.data());
    v.envp.push_back(nullptr);
}

void build_argv(Variant& v, char** program) {
    size_t start = 0;
    while (start < v.via.size()) {
        size_t end = v.via.find(' ', start);
        if (end == std::string::npos)
            end = v.via.size();
        if (end > start)
            v.via_words.push_back(v.via.substr(start, end - start));
        start = end + 1;
    }
    for (auto& w : v.via_words)
        v.argv.push_back(w.data());
    for (char** p = program; *p; ++p)
        v.argv.push_back(*p);
    v.argv.push_back(nullptr);
}

/* Runs the program once; returns the nanoseconds it took, or -1; *cpu_ns is the child's CPU time. */
long long run_once(Variant& v, const posix_spawn_file_actions_t* actions, long long* cpu_ns) {
    char** argv = v.argv.data();
    long long start = now_ns();
    pid_t pid;
    int err = posix_spawn(&pid, argv[0], actions, nullptr, argv, v.envp.data());
    if (err) {
        fprintf(stderr, "bench_spawn: cannot run %s: %s\n", argv[0], strerror(err));
        return -1;
    }
    int status;
    struct rusage usage;
    while (wait4(pid, &status, 0, &usage) < 0) {
    }
    long long elapsed = now_ns() - start;
    *cpu_ns = (static_cast<long long>(usage.ru_utime.tv_sec) + usage.ru_stime.tv_sec) * 1000000000LL +
              (static_cast<long long>(usage.ru_utime.tv_usec) + usage.ru_stime.tv_usec) * 1000LL;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_spawn: %s (environment \"%s\") ended with status 0x%x\n", argv[0], v.spec.c_str(),
                status);
        return -1;
    }
    return elapsed;
}

/* `text` as a JSON string. */
std::string json_string(const char* text) {
    std::string out = "\"";
    for (const char* p = text; *p; ++p) {
        unsigned char c = static_cast<unsigned char>(*p);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char escaped[8];
            snprintf(escaped, sizeof(escaped), "\\u%04x", c);
            out += escaped;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

void usage() {
    fprintf(stderr, "usage: bench_spawn --runs N [--warmup W] --variant SPEC [--via WORDS]... -- PROGRAM [ARGS...]\n");
    exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    long runs = 0, warmup = 2;
    std::vector<Variant> variants;
    int i = 1;
    for (; i < argc; ++i) {
        if (strcmp(argv[i], "--") == 0) {
            ++i;
            break;
        }
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "--runs") == 0)
            runs = atol(argv[++i]);
        else if (strcmp(argv[i], "--warmup") == 0)
            warmup = atol(argv[++i]);
        else if (strcmp(argv[i], "--variant") == 0)
            variants.push_back(Variant{argv[++i], {}, {}, {}, {}, {}, {}, {}});
        else if (strcmp(argv[i], "--via") == 0 && !variants.empty())
            variants.back().via = argv[++i];
        else
            usage();
    }
    if (i >= argc || runs <= 0 || warmup < 0 || variants.empty())
        usage();
    char** program = argv + i;
    for (auto& v : variants) {
        build_env(v);
        build_argv(v, program);
    }

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    for (int fd = 0; fd <= 2; ++fd)
        posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);

    const size_t n = variants.size();
    for (long r = 0; r < warmup + runs; ++r) {
        for (size_t k = 0; k < n; ++k) {
            Variant& v = variants[(static_cast<size_t>(r) + k) % n];
            long long cpu_ns = 0;
            long long ns = run_once(v, &actions, &cpu_ns);
            if (ns < 0)
                return 1;
            if (r >= warmup) {
                v.samples.push_back(ns);
                v.cpu_samples.push_back(cpu_ns);
            }
        }
    }

    printf("{\"program\": %s, \"runs\": %ld, \"variants\": [", json_string(program[0]).c_str(), runs);
    for (size_t k = 0; k < n; ++k) {
        printf("%s{\"spec\": %s, \"via\": %s, \"ns\": [", k ? ", " : "", json_string(variants[k].spec.c_str()).c_str(),
               json_string(variants[k].via.c_str()).c_str());
        for (size_t s = 0; s < variants[k].samples.size(); ++s)
            printf("%s%lld", s ? ", " : "", variants[k].samples[s]);
        printf("], \"cpu_ns\": [");
        for (size_t s = 0; s < variants[k].cpu_samples.size(); ++s)
            printf("%s%lld", s ? ", " : "", variants[k].cpu_samples[s]);
        printf("]}");
    }
    printf("]}\n");
    return 0;
}
