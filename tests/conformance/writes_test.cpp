/* Conformance of writes to the generated files: a /proc file that root opens for reading and writing
 * refuses each write as the kernel's file does (EIO for /proc/stat, which has no write function;
 * EINVAL for a status file, whose descriptor cannot write; pwrite: ESPIPE, or EINVAL at a negative
 * offset), whatever the virtual machine, and still reads its content; so do its copies (dup, dup2,
 * dup3, fcntl), the same calls through syscall(), and a stdio stream's writes of its buffer (fflush,
 * fclose, fseek). Natively these are the host's own answers; under the shim, the answers of the real
 * file asked at the open (table/vfs/refused_writes.cpp), where the sealed memfd behind the descriptor
 * would say EPERM. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "conformance.h"

using conformance::record;

namespace {

/* errno's name after a call that must fail, or "succeeded". */
std::string failure(long result) {
    if (result >= 0)
        return "succeeded";
    return strerrorname_np(errno);
}

struct Refusals {
    std::string write, writev, pwrite, pwrite_negative, pwritev, pwritev2_current, pwritev2_at;
};

Refusals refusals_of(int fd) {
    char text[] = "1\n";
    struct iovec iov = {text, 2};
    Refusals r;
    r.write = failure(write(fd, text, 2));
    r.writev = failure(writev(fd, &iov, 1));
    r.pwrite = failure(pwrite(fd, text, 2, 0));
    r.pwrite_negative = failure(pwrite(fd, text, 2, -1));
    r.pwritev = failure(pwritev(fd, &iov, 1, 0));
    r.pwritev2_current = failure(pwritev2(fd, &iov, 1, -1, 0));
    r.pwritev2_at = failure(pwritev2(fd, &iov, 1, 0, 0));
    return r;
}

/* The same calls through syscall(), as a program that bypasses libc's wrappers makes them. */
/* What syscall() is compared by: all five fields and pwritev2's two, except under qemu-user, which has
 * no pwritev2 (ENOSYS for any descriptor, /dev/null's too): there the answers for it are qemu's or
 * what the open's probe recorded from it, and only the first five are compared. A real aarch64 kernel
 * compares all seven. */
std::string raw_expected(const std::string& want) {
    if (!libos_test::emulator())
        return want;
    std::string head = want;
    for (int i = 0; i < 2; ++i)
        head.resize(head.rfind(' '));
    return head;
}

Refusals raw_refusals_of(int fd) {
    char text[] = "1\n";
    struct iovec iov = {text, 2};
    Refusals r;
    r.write = failure(syscall(SYS_write, fd, text, 2L));
    r.writev = failure(syscall(SYS_writev, fd, &iov, 1L));
    r.pwrite = failure(syscall(SYS_pwrite64, fd, text, 2L, 0L));
    r.pwrite_negative = failure(syscall(SYS_pwrite64, fd, text, 2L, -1L));
    r.pwritev = failure(syscall(SYS_pwritev, fd, &iov, 1L, 0L, 0L));
    r.pwritev2_current = failure(syscall(SYS_pwritev2, fd, &iov, 1L, -1L, -1L, 0L));
    r.pwritev2_at = failure(syscall(SYS_pwritev2, fd, &iov, 1L, 0L, 0L, 0L));
    return r;
}

std::string all(const Refusals& r) {
    return r.write + " " + r.writev + " " + r.pwrite + " " + r.pwrite_negative + " " + r.pwritev + " " +
           r.pwritev2_current + " " + r.pwritev2_at;
}

std::string first_bytes(int fd, size_t count) {
    std::string text(count, '\0');
    ssize_t n = pread(fd, text.data(), count, 0);
    return n < 0 ? "" : text.substr(0, static_cast<size_t>(n));
}

}  // namespace

TEST(GeneratedWrites, ReadWriteOpensRefuseWritesAsTheRealFile) {
    if (geteuid() != 0)
        GTEST_SKIP() << "only root may open /proc/stat for writing";
    SKIP_WITHOUT_SHIM("writes are raw calls the filter lets through: the sealed memfd's EPERM");
    int stat_fd = open("/proc/stat", O_RDWR | O_CLOEXEC);
    ASSERT_GE(stat_fd, 0) << strerror(errno);
    Refusals stat = refusals_of(stat_fd);
    EXPECT_EQ(stat.write, "EIO");
    EXPECT_EQ(stat.writev, "EIO");
    EXPECT_EQ(stat.pwrite, "ESPIPE");
    EXPECT_EQ(stat.pwrite_negative, "EINVAL");
    EXPECT_EQ(stat.pwritev, "ESPIPE");
    EXPECT_EQ(stat.pwritev2_current, "EIO");
    EXPECT_EQ(stat.pwritev2_at, "ESPIPE");
    EXPECT_EQ(first_bytes(stat_fd, 4), "cpu ");

    int status_fd = open("/proc/self/status", O_RDWR | O_CLOEXEC);
    ASSERT_GE(status_fd, 0) << strerror(errno);
    Refusals status = refusals_of(status_fd);
    EXPECT_EQ(status.write, "EINVAL");
    EXPECT_EQ(status.writev, "EINVAL");
    EXPECT_EQ(status.pwrite, "ESPIPE");
    EXPECT_EQ(status.pwritev2_current, "EINVAL");
    EXPECT_EQ(first_bytes(status_fd, 5), "Name:");

    /* The kernel judges a write's arguments before /proc/stat's missing write function: a buffer
     * or vector outside user space is EFAULT, a negative vector length EINVAL; a write of nothing is
     * EIO, a vector of nothing writes nothing. */
    char text[] = "1\n";
    volatile int bad_count = -1;
    void* volatile null_buffer = nullptr; /* in user space's range: the file's EIO */
    void* kernel_address = reinterpret_cast<void*>(~0xffffUL);
    struct iovec iov = {text, 2}, bad_iov = {kernel_address, 2}, empty_iov = {text, 0};
    EXPECT_EQ(failure(write(stat_fd, kernel_address, 2)), "EFAULT");
    EXPECT_EQ(failure(writev(stat_fd, &iov, bad_count)), "EINVAL");
    EXPECT_EQ(failure(writev(stat_fd, static_cast<const struct iovec*>(kernel_address), 1)), "EFAULT");
    EXPECT_EQ(failure(writev(stat_fd, &bad_iov, 1)), "EFAULT");
    EXPECT_EQ(failure(pwritev2(stat_fd, &bad_iov, 1, -1, 0)), "EFAULT");
    EXPECT_EQ(failure(write(stat_fd, text, 0)), "EIO");
    EXPECT_EQ(writev(stat_fd, &empty_iov, 1), 0);
    /* qemu-user checks a guest's buffer before it makes the host's call (EFAULT); a real kernel does not. */
    if (!libos_test::emulator())
        EXPECT_EQ(failure(write(stat_fd, null_buffer, 2)), "EIO");

    /* The number, closed and taken by a file that can be written, writes. */
    close(stat_fd);
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    ASSERT_EQ(null_fd, stat_fd);
    EXPECT_EQ(write(null_fd, "x", 1), 1);
    EXPECT_EQ(pwrite(null_fd, "x", 1, 0), 1);
    close(null_fd);
    close(status_fd);
    record("rdwr /proc/stat write", stat.write);
    record("rdwr status write", status.write);
}

/* Copies of such a descriptor (dup, dup2, dup3, fcntl's F_DUPFD and F_DUPFD_CLOEXEC, and dup through
 * syscall()) refuse as the descriptor does, also once it is closed; the write family through
 * syscall() too. */
TEST(GeneratedWrites, CopiesAndSyscallsRefuseAsTheRealFile) {
    if (geteuid() != 0)
        GTEST_SKIP() << "only root may open /proc/stat for writing";
    SKIP_WITHOUT_SHIM("writes are raw calls the filter lets through: the sealed memfd's EPERM");
    const std::string kStat = "EIO EIO ESPIPE EINVAL ESPIPE EIO ESPIPE";
    const std::string kStatus = "EINVAL EINVAL ESPIPE EINVAL ESPIPE EINVAL ESPIPE";
    int stat_fd = open("/proc/stat", O_RDWR | O_CLOEXEC);
    ASSERT_GE(stat_fd, 0) << strerror(errno);
    EXPECT_EQ(raw_expected(all(raw_refusals_of(stat_fd))), raw_expected(kStat)) << "syscall()";

    int copies[] = {dup(stat_fd), dup2(stat_fd, 40), dup3(stat_fd, 41, O_CLOEXEC), fcntl(stat_fd, F_DUPFD, 42),
                    fcntl(stat_fd, F_DUPFD_CLOEXEC, 43), static_cast<int>(syscall(SYS_dup, stat_fd))};
    for (int copy : copies) {
        ASSERT_GE(copy, 0) << strerror(errno);
        EXPECT_EQ(all(refusals_of(copy)), kStat) << "copy " << copy;
    }
    close(stat_fd);
    EXPECT_EQ(all(refusals_of(copies[0])), kStat) << "a copy of a closed descriptor";
    EXPECT_EQ(raw_expected(all(raw_refusals_of(copies[1]))), raw_expected(kStat)) << "a copy through syscall()";
    EXPECT_EQ(first_bytes(copies[2], 4), "cpu ");
    for (int copy : copies)
        close(copy);

    int status_fd = open("/proc/self/status", O_RDWR | O_CLOEXEC);
    ASSERT_GE(status_fd, 0) << strerror(errno);
    EXPECT_EQ(raw_expected(all(raw_refusals_of(status_fd))), raw_expected(kStatus)) << "syscall()";
    int status_copy = fcntl(status_fd, F_DUPFD_CLOEXEC, 50);
    ASSERT_GE(status_copy, 50) << strerror(errno);
    EXPECT_EQ(all(refusals_of(status_copy)), kStatus);
    close(status_copy);
    close(status_fd);
    record("rdwr /proc/stat copies and syscall()", kStat);
}

/* A stdio stream of such a file opened "r+" writes its buffer with glibc's internal write, which no
 * override sees: where the shim's stdio entry points see that write fail (fflush, fseek, fclose), the
 * failure is the real file's (EIO; EINVAL for a status file). */
TEST(GeneratedWrites, StreamFlushesRefuseAsTheRealFile) {
    if (geteuid() != 0)
        GTEST_SKIP() << "only root may open /proc/stat for writing";
    SKIP_WITHOUT_SHIM("writes are raw calls the filter lets through: the sealed memfd's EPERM");
    auto flush_error = [](const char* path, int how) {
        FILE* f = fopen(path, "r+");
        if (!f)
            return std::string("fopen: ") + strerrorname_np(errno);
        std::string answer = "no failure";
        errno = 0;
        bool failed = fwrite("1\n", 1, 2, f) != 2;
        if (!failed && how == 0)
            failed = fflush(f) != 0;
        else if (!failed && how == 1)
            failed = fseek(f, 0, SEEK_SET) != 0;
        else if (!failed && how == 2) {
            failed = fclose(f) != 0;
            f = nullptr;
        }
        if (failed)
            answer = strerrorname_np(errno);
        if (f)
            fclose(f);
        return answer;
    };
    EXPECT_EQ(flush_error("/proc/stat", 0), "EIO") << "fflush";
    EXPECT_EQ(flush_error("/proc/stat", 1), "EIO") << "fseek";
    EXPECT_EQ(flush_error("/proc/stat", 2), "EIO") << "fclose";
    EXPECT_EQ(flush_error("/proc/self/status", 0), "EINVAL") << "fflush of a status file";
    record("rdwr /proc/stat stream flush", flush_error("/proc/stat", 0));
}
