// call_order getdents DIR | call_order xattr PATH: the kernel's argument checks, as errno names, one
// case a line, for comparing a LibOS machine with the host (run natively on the same arguments).
//   getdents: getdents64 and getdents with a buffer whose range runs past the end of user space
//     (Linux 6.x checks each record, not the range: entries), and with a count above INT_MAX (the
//     kernel's int count: EINVAL; at the end of the listing 0).
//   xattr: the *xattr calls and the *xattrat calls of Linux 6.13 with bad flags, names, sizes and
//     pointers on PATH, a path that does not exist: the kernel checks those before it looks the path
//     up (fs/xattr.c), so each gives its own error rather than ENOENT.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <initializer_list>

namespace {

const char* result(long ret) {
    static char text[32];
    if (ret >= 0) {
        snprintf(text, sizeof(text), ret > 0 ? "entries" : "0");
        return text;
    }
    switch (errno) {
        case EFAULT: return "EFAULT";
        case EINVAL: return "EINVAL";
        case ENOENT: return "ENOENT";
        case ERANGE: return "ERANGE";
        case E2BIG: return "E2BIG";
        case EBADF: return "EBADF";
        case ENODATA: return "ENODATA";
        case EOPNOTSUPP: return "EOPNOTSUPP";
        default:
            snprintf(text, sizeof(text), "errno %d", errno);
            return text;
    }
}

/* A page-aligned 64 KiB mapping at the first of these addresses that is free. */
char* high_buffer() {
    const uintptr_t tries[] = {0x7fffa0000000ul, 0x7fff90000000ul, 0x7fff80010000ul};
    for (uintptr_t at : tries) {
        void* p = mmap(reinterpret_cast<void*>(at), 65536, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == reinterpret_cast<void*>(at))
            return static_cast<char*>(p);
        if (p != MAP_FAILED)
            munmap(p, 65536);
    }
    return nullptr;
}

int getdents_cases(const char* dir) {
    char* high = high_buffer();
    if (!high) {
        printf("no free address near the end of user space\n");
        return 1;
    }
    alignas(8) static char buf[65536];
    for (long nr : {static_cast<long>(SYS_getdents64), static_cast<long>(SYS_getdents)}) {
        const char* call = nr == SYS_getdents64 ? "getdents64" : "getdents";
        int fd = open(dir, O_RDONLY | O_DIRECTORY);
        printf("%s buffer running past user space: %s\n", call, result(syscall(nr, fd, high, 0x7ffffff0ul)));
        lseek(fd, 0, SEEK_SET);
        printf("%s count 0x80000000: %s\n", call, result(syscall(nr, fd, buf, 0x80000000ul)));
        printf("%s count 0xffffffff: %s\n", call, result(syscall(nr, fd, buf, 0xfffffffful)));
        /* The count is an unsigned int: the upper half of the register is not looked at. */
        printf("%s count 0x100000400: %s\n", call, result(syscall(nr, fd, buf, 0x100000400ul)));
        while (syscall(nr, fd, buf, sizeof(buf)) > 0) {
        }
        printf("%s at the end, count 0x80000000: %s\n", call, result(syscall(nr, fd, buf, 0x80000000ul)));
        close(fd);
    }
    return 0;
}

struct XattrArgs {
    uint64_t value;
    uint32_t size;
    uint32_t flags;
};

int xattr_cases(const char* path) {
    static char value[70000];
    /* An unmapped address, which the compiler does not see through. */
    volatile uintptr_t bad_address = 8;
    char* const bad = reinterpret_cast<char*>(bad_address);
    char long_name[300];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = 0;
    memcpy(long_name, "user.", 5);
    for (int follow = 0; follow < 2; ++follow) {
        const char* l = follow ? "" : "l";
        auto set = [&](const char* name, const void* v, size_t size, int flags) {
            return follow ? setxattr(path, name, v, size, flags) : lsetxattr(path, name, v, size, flags);
        };
        printf("%ssetxattr flags 0x10: %s\n", l, result(set(bad, bad, 70000, 0x10)));
        printf("%ssetxattr empty name: %s\n", l, result(set("", bad, 70000, 0)));
        printf("%ssetxattr long name: %s\n", l, result(set(long_name, bad, 70000, 0)));
        printf("%ssetxattr bad name: %s\n", l, result(set(bad, bad, 70000, 0)));
        printf("%ssetxattr size 65537: %s\n", l, result(set("user.x", bad, 65537, 0)));
        printf("%ssetxattr bad value: %s\n", l, result(set("user.x", bad, 4, 0)));
        printf("%ssetxattr bad value, size 0: %s\n", l, result(set("user.x", bad, 0, 0)));
        printf("%ssetxattr: %s\n", l, result(set("user.x", value, 65536, 0)));
        auto get = [&](const char* name, void* v, size_t size) {
            return follow ? getxattr(path, name, v, size) : lgetxattr(path, name, v, size);
        };
        printf("%sgetxattr empty name: %s\n", l, result(get("", bad, 4)));
        printf("%sgetxattr bad name: %s\n", l, result(get(bad, bad, 4)));
        printf("%sgetxattr size 70000: %s\n", l, result(get("user.x", value, 70000)));
        printf("%slistxattr bad list: %s\n", l, result(follow ? listxattr(path, bad, 4) : llistxattr(path, bad, 4)));
        printf("%sremovexattr empty name: %s\n", l, result(follow ? removexattr(path, "") : lremovexattr(path, "")));
        printf("%sremovexattr bad name: %s\n", l, result(follow ? removexattr(path, bad) : lremovexattr(path, bad)));
        printf("%sremovexattr: %s\n", l, result(follow ? removexattr(path, "user.x") : lremovexattr(path, "user.x")));
    }
    XattrArgs args{reinterpret_cast<uint64_t>(value), 4, 0};
    auto at = [&](long nr, unsigned at_flags, const char* name, const void* a, size_t size) {
        return syscall(nr, AT_FDCWD, path, at_flags, name, a, size);
    };
    printf("setxattrat usize 8: %s\n", result(at(463, 0x10000, bad, bad, 8)));
    printf("setxattrat usize 8192: %s\n", result(at(463, 0x10000, bad, bad, 8192)));
    printf("setxattrat bad args: %s\n", result(at(463, 0x10000, bad, bad, sizeof(args))));
    char bigger[32] = {};
    memcpy(bigger, &args, sizeof(args));
    bigger[20] = 1;
    printf("setxattrat nonzero tail: %s\n", result(at(463, 0x10000, bad, bigger, sizeof(bigger))));
    printf("setxattrat at_flags 0x10000: %s\n", result(at(463, 0x10000, bad, &args, sizeof(args))));
    XattrArgs bad_flags{reinterpret_cast<uint64_t>(value), 4, 0x10};
    printf("setxattrat flags 0x10: %s\n", result(at(463, 0, bad, &bad_flags, sizeof(bad_flags))));
    printf("setxattrat empty name: %s\n", result(at(463, AT_SYMLINK_NOFOLLOW, "", &args, sizeof(args))));
    XattrArgs big{reinterpret_cast<uint64_t>(value), 65537, 0};
    printf("setxattrat size 65537: %s\n", result(at(463, 0, "user.x", &big, sizeof(big))));
    XattrArgs bad_value{bad_address, 4, 0};
    printf("setxattrat bad value: %s\n", result(at(463, 0, "user.x", &bad_value, sizeof(bad_value))));
    printf("setxattrat: %s\n", result(at(463, 0, "user.x", &args, sizeof(args))));
    printf("getxattrat flags 1: %s\n", result(at(464, 0x10000, bad, &bad_flags, sizeof(bad_flags))));
    printf("getxattrat at_flags 0x10000: %s\n", result(at(464, 0x10000, bad, &args, sizeof(args))));
    printf("getxattrat bad name: %s\n", result(at(464, 0, bad, &args, sizeof(args))));
    printf("getxattrat: %s\n", result(at(464, 0, "user.x", &args, sizeof(args))));
    printf("listxattrat at_flags 0x10000: %s\n", result(syscall(465, AT_FDCWD, path, 0x10000, bad, 4)));
    printf("listxattrat: %s\n", result(syscall(465, AT_FDCWD, path, 0, bad, 4)));
    printf("removexattrat at_flags 0x10000: %s\n", result(syscall(466, AT_FDCWD, path, 0x10000, bad)));
    printf("removexattrat empty name: %s\n", result(syscall(466, AT_FDCWD, path, 0, "")));
    printf("removexattrat: %s\n", result(syscall(466, AT_FDCWD, path, 0, "user.x")));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3)
        return 2;
    if (strcmp(argv[1], "getdents") == 0)
        return getdents_cases(argv[2]);
    if (strcmp(argv[1], "xattr") == 0)
        return xattr_cases(argv[2]);
    return 2;
}
