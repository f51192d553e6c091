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
 *                          its first 4 pages' nodes as it sees them itself
 *   numa_places push PID ADDR NODE  move_pages(PID) of the 2 pages from ADDR to NODE: the statuses
 *   numa_places forkhold NODE SECONDS  a second thread binds itself to NODE and forks: the child
 *                          (whose only thread, its first, has that policy; the parent's first
 *                          thread has none) does as hold, printing "holding PID ADDR" */
#define _GNU_SOURCE
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
