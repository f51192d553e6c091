/* Where libnuma puts memory, read back the way NUMA tools check it: get_mempolicy(MPOL_F_NODE |
 * MPOL_F_ADDR) on each page. Used by tests/integration/numa_programs.sh, natively and on virtual
 * machines. Modes:
 *   numa_places alloc      numa_alloc_onnode on each node: "alloc V: NODE NODE NODE NODE"
 *   numa_places move       4 pages moved by numa_move_pages to last,0,last,0: statuses, then nodes
 *   numa_places run NODE   numa_run_on_node(NODE): the node getcpu then reports
 *   numa_places where      8 pages touched under the inherited policy: each page's node
 *   numa_places interleaved  8 pages touched: "yes" when page i is on node (page number mod nodes)
 *   numa_places hold SECONDS  1024 pages touched (4 MiB, more than the program's file pages), then
 *                          held: prints "holding ADDR" (as numa_maps writes it) for a reader of
 *                          another process's numa_maps, numastat -p and pages
 *   numa_places peek PID ADDR  move_pages(PID) without nodes on 4 pages from ADDR: the statuses
 *   numa_places watch SECONDS  as hold, then for each line read on stdin prints "own: N N N N",
 *                          its first 4 pages' nodes as it sees them itself; a line "bind NODE"
 *                          instead maps 4 new pages bound to NODE, touches them and prints
 *                          "bound: N N N N", their nodes; a line "fork" forks a child that
 *                          prints "child: N N N N", the first 4 pages' nodes as it sees them
 *   numa_places push PID ADDR NODE  move_pages(PID) of the 2 pages from ADDR to NODE: the statuses
 *   numa_places forge PID ADDR NODE KIND  writes one post of a move of PID's 2 pages from ADDR to NODE
 *                          into the launch's shared state, as a process that damages it would
 *                          (tests/integration/numa_programs.sh): KIND "stranger" names another
 *                          exec of PID (wrong AT_RANDOM bytes), "torn" is left half-written, "whole"
 *                          is a post as the LibOS writes one
 *   numa_places forkhold NODE SECONDS  a second thread binds itself to NODE and forks: the child
 *                          (whose only thread, its first, has that policy; the parent's first
 *                          thread has none) does as hold, printing "holding PID ADDR" */
#define _GNU_SOURCE
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static int node_of(void* addr) {
    int node = -1;
    if (get_mempolicy(&node, NULL, 0, addr, MPOL_F_NODE | MPOL_F_ADDR) != 0)
        return -1;
    return node;
}

static char* touched_pages(int count) {
    long page = sysconf(_SC_PAGESIZE);
    char* p = mmap(NULL, (size_t)count * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        exit(2);
    for (int i = 0; i < count; ++i)
        p[(long)i * page] = 1;
    return p;
}

/* forge: the virtual NUMA area is the last part of the shared state (table/machine/numa_shared.cpp):
 * the ring's head, 56 bytes, 256 posts of 64 bytes, then 32768 hints of 8, in whole pages (layout
 * version 6: a post names its writer). */
struct forged_post {
    uint32_t seq, writer, ns, unused;
    int32_t pid;
    uint32_t kind, pages, node;
    uint64_t nonce, first_page, from, to;
};

static int forge(pid_t pid, unsigned long addr, int node, const char* kind) {
    cpu_set_t set;
    sched_getaffinity(0, sizeof(set), &set); /* the state exists, and is mapped here */
    FILE* maps = fopen("/proc/self/maps", "re");
    char line[512];
    unsigned long begin = 0, end = 0;
    while (maps && fgets(line, sizeof(line), maps))
        if (strstr(line, "memfd:libos-vcpu-state") && sscanf(line, "%lx-%lx", &begin, &end) == 2)
            break;
    if (maps)
        fclose(maps);
    const unsigned long area_bytes = (64 + 256 * 64 + 32768 * 8 + 4095) / 4096 * 4096;
    if (!end || end - begin < area_bytes)
        return 9;
    char* area = (char*)(end - area_bytes);
    uint64_t nonce = 0;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/auxv", (int)pid);
    FILE* auxv = fopen(path, "re");
    unsigned long pair[2];
    while (auxv && fread(pair, sizeof(pair), 1, auxv) == 1 && pair[0] != AT_NULL)
        if (pair[0] == AT_RANDOM) {
            struct iovec mine = {&nonce, sizeof(nonce)}, theirs = {(void*)pair[1], sizeof(nonce)};
            process_vm_readv(pid, &mine, 1, &theirs, 1, 0);
        }
    if (auxv)
        fclose(auxv);
    struct stat ns;
    if (stat("/proc/self/ns/pid", &ns) != 0)
        return 9;
    uint64_t index = __atomic_fetch_add((uint64_t*)area, 1, __ATOMIC_ACQ_REL);
    struct forged_post* post = (struct forged_post*)(area + 64 + (index % 256) * 64);
    /* The writer (this thread, gone when this program ends: a torn post is then passed by) and its
     * PID namespace, then the odd number. */
    post->writer = (uint32_t)gettid();
    post->ns = (uint32_t)ns.st_ino;
    __atomic_store_n(&post->seq, (uint32_t)(2 * (index + 1) - 1), __ATOMIC_RELEASE);
    post->pid = pid;
    post->kind = 1;
    post->pages = 2;
    post->nonce = strcmp(kind, "stranger") == 0 ? nonce ^ 1 : nonce;
    post->first_page = addr / 4096;
    post->node = (uint32_t)node;
    if (strcmp(kind, "torn") != 0)
        __atomic_store_n(&post->seq, (uint32_t)(2 * (index + 1)), __ATOMIC_RELEASE);
    printf("forged %s\n", kind);
    return 0;
}

/* forkhold: the second thread's work; the child never returns. */
static void* bind_and_fork(void* arg) {
    char** argv = arg;
    unsigned long mask = 1UL << atoi(argv[2]);
    if (set_mempolicy(MPOL_BIND, &mask, sizeof(mask) * 8) != 0)
        return (void*)1;
    pid_t child = fork();
    if (child < 0)
        return (void*)1;
    if (child == 0) {
        char* p = touched_pages(1024);
        printf("holding %d %lx\n", (int)getpid(), (unsigned long)p);
        fflush(stdout);
        sleep((unsigned)atoi(argv[3]));
        _exit(0);
    }
    waitpid(child, NULL, 0);
    return NULL;
}

int main(int argc, char** argv) {
    if (argc < 2 || numa_available() < 0)
        return 2;
    long page = sysconf(_SC_PAGESIZE);
    int last = numa_max_node();
    if (strcmp(argv[1], "alloc") == 0) {
        for (int v = 0; v <= last; ++v) {
            char* p = numa_alloc_onnode(4 * page, v);
            if (!p)
                return 3;
            printf("alloc %d:", v);
            for (int i = 0; i < 4; ++i) {
                p[i * page] = 1;
                printf(" %d", node_of(p + i * page));
            }
            printf("\n");
            numa_free(p, 4 * page);
        }
    } else if (strcmp(argv[1], "move") == 0) {
        char* p = touched_pages(4);
        void* pages[4];
        int nodes[4], status[4];
        for (int i = 0; i < 4; ++i) {
            pages[i] = p + i * page;
            nodes[i] = i % 2 ? 0 : last;
        }
        if (numa_move_pages(0, 4, pages, nodes, status, MPOL_MF_MOVE) != 0)
            return 4;
        printf("status:");
        for (int i = 0; i < 4; ++i)
            printf(" %d", status[i]);
        printf("\nnodes:");
        for (int i = 0; i < 4; ++i)
            printf(" %d", node_of(pages[i]));
        printf("\n");
    } else if (strcmp(argv[1], "run") == 0 && argc > 2) {
        if (numa_run_on_node(atoi(argv[2])) != 0)
            return 5;
        unsigned cpu, node;
        if (getcpu(&cpu, &node) != 0)
            return 6;
        printf("run %s: node %u, cpu's node %d\n", argv[2], node, numa_node_of_cpu((int)cpu));
    } else if (strcmp(argv[1], "where") == 0) {
        char* p = touched_pages(8);
        for (int i = 0; i < 8; ++i)
            printf("%s%d", i ? " " : "", node_of(p + i * page));
        printf("\n");
    } else if (strcmp(argv[1], "interleaved") == 0) {
        char* p = touched_pages(8);
        int nodes = last + 1, ok = 1;
        for (int i = 0; i < 8; ++i)
            ok = ok && node_of(p + i * page) == (int)(((unsigned long)(p + i * page) / page) % nodes);
        printf("%s\n", ok ? "yes" : "no");
    } else if (strcmp(argv[1], "hold") == 0 && argc > 2) {
        char* p = touched_pages(1024);
        printf("holding %lx\n", (unsigned long)p);
        fflush(stdout);
        sleep((unsigned)atoi(argv[2]));
    } else if (strcmp(argv[1], "watch") == 0 && argc > 2) {
        char* p = touched_pages(1024);
        printf("holding %lx\n", (unsigned long)p);
        fflush(stdout);
        char line[64];
        while (fgets(line, sizeof(line), stdin)) {
            if (strncmp(line, "bind ", 5) == 0) {
                /* 4 new pages bound to a node now, touched: where they are */
                unsigned long mask = 1UL << atoi(line + 5);
                char* q = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (q == MAP_FAILED || mbind(q, 4 * page, MPOL_BIND, &mask, sizeof(mask) * 8, 0) != 0)
                    return 10;
                printf("bound:");
                for (int i = 0; i < 4; ++i) {
                    q[i * page] = 1;
                    printf(" %d", node_of(q + i * page));
                }
                printf("\n");
                fflush(stdout);
                continue;
            }
            if (strncmp(line, "fork", 4) == 0) {
                /* a child forked now: where its first 4 pages are, as it sees them */
                fflush(stdout);
                pid_t child = fork();
                if (child == 0) {
                    printf("child:");
                    for (int i = 0; i < 4; ++i)
                        printf(" %d", node_of(p + i * page));
                    printf("\n");
                    fflush(stdout);
                    _exit(0);
                }
                if (child < 0 || waitpid(child, NULL, 0) != child)
                    return 11;
                continue;
            }
            printf("own:");
            for (int i = 0; i < 4; ++i)
                printf(" %d", node_of(p + i * page));
            printf("\n");
            fflush(stdout);
        }
    } else if (strcmp(argv[1], "push") == 0 && argc > 4) {
        unsigned long base = strtoul(argv[3], NULL, 16);
        void* pages[2];
        int nodes[2], status[2];
        for (int i = 0; i < 2; ++i) {
            pages[i] = (void*)(base + (unsigned long)i * page);
            nodes[i] = atoi(argv[4]);
        }
        if (move_pages(atoi(argv[2]), 2, pages, nodes, status, MPOL_MF_MOVE) != 0) {
            perror("move_pages");
            return 7;
        }
        printf("status: %d %d\n", status[0], status[1]);
    } else if (strcmp(argv[1], "forge") == 0 && argc > 5) {
        return forge(atoi(argv[2]), strtoul(argv[3], NULL, 16), atoi(argv[4]), argv[5]);
    } else if (strcmp(argv[1], "forkhold") == 0 && argc > 3) {
        pthread_t thread;
        void* failed = (void*)1;
        if (pthread_create(&thread, NULL, bind_and_fork, argv) != 0 || pthread_join(thread, &failed) != 0 || failed)
            return 8;
    } else if (strcmp(argv[1], "peek") == 0 && argc > 3) {
        unsigned long base = strtoul(argv[3], NULL, 16);
        void* pages[4];
        int status[4];
        for (int i = 0; i < 4; ++i)
            pages[i] = (void*)(base + (unsigned long)i * page);
        if (move_pages(atoi(argv[2]), 4, pages, NULL, status, 0) != 0) {
            perror("move_pages");
            return 7;
        }
        printf("pages:");
        for (int i = 0; i < 4; ++i)
            printf(" %d", status[i]);
        printf("\n");
    } else {
        return 2;
    }
    return 0;
}
