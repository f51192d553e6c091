// incoming_cpu: a TCP connection over loopback, one byte sent, and the receiving socket's
// SO_INCOMING_CPU (the CPU that processed its packets) printed with sched_getcpu's answer, as
// "incoming N running M". With "set V" it sets SO_INCOMING_CPU to V on a socket and prints what reads
// back. The program runs where it is pinned (taskset), and loopback's packets are processed on the
// sending CPU.
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char** argv) {
    if (argc > 2 && strcmp(argv[1], "set") == 0) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        int v = atoi(argv[2]);
        if (setsockopt(s, SOL_SOCKET, SO_INCOMING_CPU, &v, sizeof(v)) != 0) {
            printf("set: %s\n", strerror(errno));
            return 1;
        }
        int back = -5;
        socklen_t len = sizeof(back);
        getsockopt(s, SOL_SOCKET, SO_INCOMING_CPU, &back, &len);
        printf("%d\n", back);
        return 0;
    }
    int l = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    if (bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) || listen(l, 1) ||
        getsockname(l, reinterpret_cast<sockaddr*>(&a), &al)) {
        perror("listen");
        return 1;
    }
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a))) {
        perror("connect");
        return 1;
    }
    int s = accept(l, nullptr, nullptr);
    char b = 'x';
    if (write(c, &b, 1) != 1 || read(s, &b, 1) != 1)
        return 1;
    int cpu = -5;
    socklen_t len = sizeof(cpu);
    if (getsockopt(s, SOL_SOCKET, SO_INCOMING_CPU, &cpu, &len) != 0) {
        perror("getsockopt");
        return 1;
    }
    printf("incoming %d running %d\n", cpu, sched_getcpu());
    return 0;
}
