/* What the parts of the tracer share (libos_trace.cpp: the lines; libos_trace_stats.cpp: the
 * summary). Not for other files: libos_trace.h is the tracer's interface. */
#ifndef LIBOS_TRACE_INTERNAL_H
#define LIBOS_TRACE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "libos/libos_caller.h"
#include "libos/libos_config.h"
#include "libos/libos_settings.h"
#include "libos/libos_text.h"
#include "libos_unwind.h"

namespace libos::tracer {

/* A trace line: built whole, then written with one write(2). */
constexpr size_t kLineBytes = 4096;
using Line = FixedText<kLineBytes>;
/* What a line keeps free for its end while frames are added. */
constexpr size_t kLineReserve = 16;

/* The largest structure the trace reads (a struct stat: 144 bytes on x86_64, 128 on arm64). */
constexpr size_t kStructBytes = 160;
/* The structures a call's line can show: rt_sigtimedwait's set, siginfo and timeout. */
constexpr int kStructSlots = 3;

/* `ns` as seconds with `decimals` (3 or 6) decimals, the whole seconds padded to `width`
 * (libos_trace_time.cpp). */
void add_seconds(TextBuilder& line, uint64_t ns, int width, int decimals);
/* The timestamp of a call that began at `wall` (realtime) and `start` (monotonic), as strace's -t,
 * -tt or -r prints it (`time`), UTC. */
void add_timestamp(TextBuilder& line, TraceTime time, uint64_t wall, uint64_t start, uint64_t previous);

/* `seconds` and `nanoseconds` since the epoch as strace comments a time: 1970-01-01T00:00:01.000000002+0000
 * (UTC). */
void add_datetime(TextBuilder& line, int64_t seconds, int64_t nanoseconds);

/* One call, as the tracer saw it: what the line shows. */
struct Call {
    long nr;
    long args[6];
    long result;
    uint64_t nanoseconds;
    uint64_t start, wall, previous; /* monotonic and realtime starts; the process's previous call's start */
    char path[256], path2[256];     /* the first two string arguments ('s' in the syscall list) */
    bool have_path, have_path2;
    bool path_cut, path2_cut; /* longer than the buffer: its start */
    /* One call has a CPU mask or node masks, never both: they share the storage (a Call is on the
     * stack of the traced call, which may be a signal handler's). */
    union {
        CpuBits mask; /* sched_*affinity: the mask set or got */
        /* The memory-policy calls: the node mask set or got (migrate_pages: the old nodes), as a CPU
         * list of node numbers so that it prints like the CPU masks. */
        CpuBits nodes;
    };
    bool have_mask;
    bool mask_more; /* the call's length is beyond the bytes read (strace's " ...") */
    unsigned cpu, node;
    bool have_cpu;
    /* migrate_pages' new nodes; or, for the calls that have them, the structures read from the
     * program's memory (at most three a call, 'F', 'G' ... in the syscall list), which no
     * memory-policy call has: they share the storage. */
    union {
        CpuBits nodes2;
        struct {
            unsigned char bytes[kStructSlots][kStructBytes];
            signed char arg[kStructSlots]; /* the argument each holds, -1 for none */
        } structs;
    };
    bool have_nodes, have_nodes2;
    long entries; /* getdents64 and getdents: the records it wrote (-1: not counted) */
    signed char out_arg; /* 1 + the argument whose string the call wrote, read into path2 (0: none) */
};

/* A flag's bits and name, for the decoding tables. */
struct Flag {
    unsigned long bits;
    const char* name;
};
/* Appends the names of `value`'s flags joined by '|' (after names already written when `written`),
 * and what no name covers as hex; "0" when nothing at all was written (libos_trace_args.cpp). */
void add_flags(TextBuilder& line, unsigned long value, const Flag* table, size_t count, bool written = false);
template <size_t N>
void add_flags(TextBuilder& line, unsigned long value, const Flag (&table)[N], bool written = false) {
    add_flags(line, value, table, N, written);
}
/* A signal's name (SIGSEGV), or its number; a mode in octal as strace prints it (0755, 000); a file
 * mode with its type (S_IFCHR|0600); a device number (makedev(0x1, 0x3)). */
void add_signal(TextBuilder& line, int sig);
/* A signal's name without SIG as strace has it (IO, not glibc's POLL); null without one. */
const char* signal_abbreviation(int sig);
void add_octal(TextBuilder& line, unsigned long mode);
void add_node_mode(TextBuilder& line, unsigned long mode);
/* A memory-policy mode and its flags (MPOL_BIND|MPOL_F_STATIC_NODES). */
void add_policy_mode(TextBuilder& line, unsigned long mode);
void add_device(TextBuilder& line, unsigned long dev);

/* The structures and enumerations some calls take (libos_trace_structs.cpp): whether argument
 * letter `type` is a structure the call reads (read before it) or writes (read after it succeeded),
 * and how many bytes of it to read for argument `index` of a call of letters `types` and arguments
 * `args`; 0 for other letters (and for a signal set of a size other than the kernel's). */
bool struct_is_input(char type);
size_t struct_bytes(const char* types, const long args[6], int index);
/* Appends a structure read from the program's memory (`bytes` of it) as strace shows it, or as a
 * JSON object; an enumeration letter's value (K, R, Y), false for other letters. */
void add_struct(TextBuilder& line, char type, const unsigned char* bytes, size_t size, bool json);
bool add_enum(TextBuilder& line, char type, long value, bool json);
/* The named values of libos_trace_names.cpp, as strace 6.1 prints them: an access mode (a), lseek's
 * whence (e), madvise's advice (v), mremap's flags (r), the XATTR_* flags (z), a socket option level
 * (o), the memory-policy calls' MPOL_MF_* (h) and get_mempolicy's MPOL_F_* (j) flags; false for
 * other letters. A socket option's name (n) for its level (SOL_SOCKET's by name,
 * other levels' as numbers). */
bool add_named(TextBuilder& line, long nr, char type, long value, bool json);
void add_socket_option(TextBuilder& line, long nr, long level, long option, bool json);
/* statx's mask (STATX_BASIC_STATS|STATX_MNT_ID); as an argument, bits without any name are
 * followed by strace's comment STATX_???. */
void add_statx_mask(TextBuilder& line, unsigned long mask, bool argument);

/* Reading a call's memory (libos_trace_read.cpp), each false (or nothing read) where the copy
 * fails: a CPU mask of min(len, the mask's size) bytes; a string (cut to `size`, ending in NUL); a
 * memory-policy call's node masks; the structures of its arguments that it reads (`input`, before
 * it runs) or wrote (after it succeeded), into the call's two slots. */
/* A CPU mask as strace 6.1 reads it: min(len, strace's cpuset size) bytes, that size being glibc's
 * cpu_set_t (128 bytes), or the host's mask where that is larger; `more` when len is beyond it. */
bool read_mask(Caller caller, long address, long len, CpuBits* out, bool* more);
bool read_string(Caller caller, long address, char* out, size_t size, bool* cut);
void read_call_nodes(Caller caller, Call* c);
/* After a call returned: what strace shows of its result in the arguments (getdents64's count of
 * records, walked through their d_reclen; the string getcwd, readlink or readlinkat wrote). */
void read_after_call(Caller caller, Call* c);
bool lists_directory(long nr);
/* A memory-policy call's node mask argument and its maxnode's (-1 for other calls); how many words
 * of the mask strace 6.1 shows for a maxnode, (maxnode + 62) / 64, of which the trace keeps the
 * first kNodeMaskWordsShown (strace shows 32, then "..."). */
int node_mask_argument(long nr, int* maxnode_arg);
constexpr unsigned long kNodeMaskWordsShown = 32;
inline unsigned long node_mask_words(long maxnode) {
    return (static_cast<unsigned long>(maxnode) + 62) / 64;
}

/* The masks of a call as strace 6.1 prints them (libos_trace_masks.cpp): a CPU mask as its list
 * ([0 1 5]), a node mask (argument `index` of `c`, read with read_call_nodes) as its words
 * ([0x00000000000003]); in JSON both as arrays of the numbers in them. Then, after the result, what
 * strace cannot know, as a C comment that strace's readers skip: the host CPUs or nodes the machine
 * made of them ("host [1]" in the comment), or in JSON the "vcpus" and "host_cpus" ("nodes", "host_nodes") fields. */
void add_cpu_mask(TextBuilder& line, const CpuBits& mask, bool more, bool json);
void add_node_mask(TextBuilder& line, const Call& c, int index, bool json);
void add_host_annotation(TextBuilder& line, const Call& c, bool json);
void read_structs(Caller caller, Call* c, bool input);

/* LIBOS_TRACE_EXEC, the line of the exec that started this program (libos_trace_exec.cpp): checked
 * for its form ("START_NS,PID,HEAD\x1fMIDDLE\x1fFRAMES", START_NS 20 digits, PID the exec'ing
 * process's; null or empty is none), and printed with its result, 0, and its duration up to
 * `now_ns`, when process `pid` made the exec. */
bool check_exec_line(const char* value, ConfigError* err);
void print_exec_line(const char* value, uint64_t now_ns, long pid);

/* The arguments of `c`: as many as the syscall list's letters say, decoded (libos_trace_args.cpp),
 * separated by ", " in text, or as the JSON values of an array (without its brackets). exec's
 * arrays are read from `caller`'s memory as the line is formatted. */
void add_arguments(TextBuilder& line, Caller caller, const Call& c, bool json);
/* exec's arrays (libos_trace_arrays.cpp), read through `caller`'s checked copy: the argument
 * vector as strace shows it (["ls", "-l"], 32 strings of 32 bytes at most), or the environment as
 * its address and its count (0x7ffd... and a comment: 37 vars). */
void add_string_array(TextBuilder& line, Caller caller, uint64_t address, bool json);
void add_string_count(TextBuilder& line, Caller caller, uint64_t address, bool json);
/* How many arguments `c` shows. */
int argument_count(const Call& c);
/* Which argument holds the `which`-th (0 or 1) string of call `nr`; -1 for none. */
int string_argument(long nr, int which);

/* Where the lines and the summary go: the trace's descriptor, or standard error. */
int output_fd();
/* Whether the summary is wanted (LIBOS_STATS), and in JSON. */
bool stats_on();
bool json_on();
/* Sets up the summary's counts: the launch's (attached through `inherited_fd`, LIBOS_STATS_FD, or
 * created), or this process's own with `per_process` or when no memfd can be had. */
void stats_init(int inherited_fd, bool per_process);
/* The launch's counts' descriptor, as text for LIBOS_STATS_FD at exec; null when there are none. */
const char* stats_fd_text();
/* The enclosing launches' counts (LIBOS_STATS_OUTER_FD, a list of descriptors): attached, counted
 * in with every call (also where this launch has no --stats), and printed by their own first
 * process; and their descriptors as text for exec (null when there are none). */
void stats_outer_init(const char* list);
const char* stats_outer_text();
/* Before an exec: a process's own summary is printed and started over; the launch's goes on. */
void stats_before_exec();
/* Before exit_group: the summary, as at exit(3) (once per process; not by a vfork child, whose
 * table is its parent's). */
void stats_at_exit_group();
/* Counts for the summary one call of `nr` (unless `call` is false: the call was counted before it
 * ran) that took `nanoseconds`, and its failure. */
void stats_add(long nr, uint64_t nanoseconds, bool failed, bool call = true);

/* The calling thread's stack, its LibOS frames left out, as frame lines (text) or the elements of
 * the "stack" array (JSON); `source_of` (null without libdw) adds each frame's file:line. */
void add_stack(TextBuilder& line, bool json, LibosUnwindBacktrace unwinder, LibosUnwindSource source_of);
/* In a fork child: the frame sets other threads of the parent held are free (no thread has them). */
void stack_after_fork();

/* A cleared Call from the static set (libos_trace_calls.cpp), its number in `slot`; null when all are
 * in use. */
Call* claim_call(int* slot);
void release_call(int slot); /* nothing for -1 */
/* In a fork child: only the records of the forking thread stay claimed. */
void calls_after_fork();

}  // namespace libos::tracer

#endif
