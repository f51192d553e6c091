// incoming_cpu: a TCP connection over loopback, one byte sent, and the receiving socket's
// SO_INCOMING_CPU (the CPU that processed its packets) printed with sched_getcpu's answer, as
// "incoming N running M". With "len L" it reads the option with an optlen of L instead and prints the
// L bytes the call wrote in hex, and the whole value read with an optlen of 4: "bytes 00 whole 0".
// With "set V..." it sets SO_INCOMING_CPU to each V on a socket and prints what reads back, on one
// line. The program runs where it is pinned (taskset), and loopback's packets are processed on the
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
        for (int i = 2; i < argc; ++i) {
            int v = static_cast<int>(strtol(argv[i], nullptr, 10));
            if (setsockopt(s, SOL_SOCKET, SO_INCOMING_CPU, &v, sizeof(v)) != 0) {
                printf("set: %s\n", strerror(errno));
                return 1;
            }
            int back = -5;
            socklen_t len = sizeof(back);
            getsockopt(s, SOL_SOCKET, SO_INCOMING_CPU, &back, &len);
            printf("%s%d", i > 2 ? " " : "", back);
        }
        printf("\n");
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
    if (argc > 2 && strcmp(argv[1], "len") == 0) {
        unsigned char bytes[4] = {0xee, 0xee, 0xee, 0xee};
        socklen_t length = static_cast<socklen_t>(atoi(argv[2]));
        if (getsockopt(s, SOL_SOCKET, SO_INCOMING_CPU, bytes, &length) != 0) {
            perror("getsockopt");
            return 1;
        }
        int whole = -5;
        socklen_t four = sizeof(whole);
        getsockopt(s, SOL_SOCKET, SO_INCOMING_CPU, &whole, &four);
        printf("bytes");
        for (socklen_t i = 0; i < length; ++i)
            printf(" %02x", bytes[i]);
        printf(" whole %d\n", whole);
        return 0;
    }
    int cpu = -5;
    socklen_t len = sizeof(cpu);
    if (getsockopt(s, SOL_SOCKET, SO_INCOMING_CPU, &cpu, &len) != 0) {
        perror("getsockopt");
        return 1;
    }
    printf("incoming %d running %d\n", cpu, sched_getcpu());
    return 0;
}
