/* A traced call's arguments (libos_trace_internal.h): exactly as many as the syscall list's letters
 * say (libos_syscalls.def), each decoded as strace 6.1 shows it where the LibOS routes the family
 * (open flags, modes, AT_* flags, clone flags, signals, memory-policy modes, protections and map
 * flags, wait options), as text and as JSON values. Constant tables, no allocation. */
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>

#include "libos/libos_table.h"
#include "libos_trace_internal.h"

namespace libos {

const char* syscall_arguments(long nr) {
    SyscallEntry e = syscall_entry(nr);
    return e.name ? e.arguments : nullptr;
}

namespace tracer {
namespace {

/* In strace's order, so that the same call reads the same. O_SYNC holds O_DSYNC's bit and
 * O_TMPFILE O_DIRECTORY's: the wider one first. */
constexpr Flag kOpenFlags[] = {
    {0x40, "O_CREAT"},        {0x80, "O_EXCL"},         {0x100, "O_NOCTTY"},    {0x200, "O_TRUNC"},
    {0x400, "O_APPEND"},      {0x800, "O_NONBLOCK"},    {0x101000, "O_SYNC"},   {0x1000, "O_DSYNC"},
    {0x4000, "O_DIRECT"},     {0x8000, "O_LARGEFILE"},  {0x20000, "O_NOFOLLOW"}, {0x40000, "O_NOATIME"},
    {0x80000, "O_CLOEXEC"},   {0x200000, "O_PATH"},     {0x410000, "O_TMPFILE"}, {0x10000, "O_DIRECTORY"},
    {0x2000, "FASYNC"}};
constexpr Flag kAtFlags[] = {{0x100, "AT_SYMLINK_NOFOLLOW"}, {0x200, "AT_REMOVEDIR"},   {0x400, "AT_SYMLINK_FOLLOW"},
                             {0x800, "AT_NO_AUTOMOUNT"},     {0x1000, "AT_EMPTY_PATH"},  {0x2000, "AT_STATX_FORCE_SYNC"},
                             {0x4000, "AT_STATX_DONT_SYNC"}, {0x8000, "AT_RECURSIVE"}};
constexpr Flag kCloneFlags[] = {
    {0x80, "CLONE_NEWTIME"},          {0x100, "CLONE_VM"},            {0x200, "CLONE_FS"},
    {0x400, "CLONE_FILES"},           {0x800, "CLONE_SIGHAND"},       {0x1000, "CLONE_PIDFD"},
    {0x2000, "CLONE_PTRACE"},         {0x4000, "CLONE_VFORK"},        {0x8000, "CLONE_PARENT"},
    {0x10000, "CLONE_THREAD"},        {0x20000, "CLONE_NEWNS"},       {0x40000, "CLONE_SYSVSEM"},
    {0x80000, "CLONE_SETTLS"},        {0x100000, "CLONE_PARENT_SETTID"}, {0x200000, "CLONE_CHILD_CLEARTID"},
    {0x400000, "CLONE_DETACHED"},     {0x800000, "CLONE_UNTRACED"},   {0x1000000, "CLONE_CHILD_SETTID"},
    {0x2000000, "CLONE_NEWCGROUP"},   {0x4000000, "CLONE_NEWUTS"},    {0x8000000, "CLONE_NEWIPC"},
    {0x10000000, "CLONE_NEWUSER"},    {0x20000000, "CLONE_NEWPID"},   {0x40000000, "CLONE_NEWNET"},
    {0x80000000, "CLONE_IO"}};
constexpr Flag kProt[] = {{0x1, "PROT_READ"},           {0x2, "PROT_WRITE"},        {0x4, "PROT_EXEC"},
                          {0x8, "PROT_SEM"},            {0x1000000, "PROT_GROWSDOWN"}, {0x2000000, "PROT_GROWSUP"}};
constexpr Flag kMapFlags[] = {
    {0x10, "MAP_FIXED"},        {0x20, "MAP_ANONYMOUS"},  {0x40, "MAP_32BIT"},     {0x100, "MAP_GROWSDOWN"},
    {0x800, "MAP_DENYWRITE"},   {0x1000, "MAP_EXECUTABLE"}, {0x2000, "MAP_LOCKED"}, {0x4000, "MAP_NORESERVE"},
    {0x8000, "MAP_POPULATE"},   {0x10000, "MAP_NONBLOCK"}, {0x20000, "MAP_STACK"},  {0x40000, "MAP_HUGETLB"},
    {0x80000, "MAP_SYNC"},      {0x100000, "MAP_FIXED_NOREPLACE"}, {0x4000000, "MAP_UNINITIALIZED"}};
constexpr Flag kWaitFlags[] = {{0x1, "WNOHANG"},          {0x2, "WUNTRACED"},      {0x4, "WEXITED"},
                               {0x8, "WCONTINUED"},       {0x1000000, "WNOWAIT"},  {0x20000000, "__WNOTHREAD"},
                               {0x40000000, "__WALL"},    {0x80000000, "__WCLONE"}};
constexpr Flag kPolicyFlags[] = {{1u << 15, "MPOL_F_STATIC_NODES"}, {1u << 14, "MPOL_F_RELATIVE_NODES"},
                                 {1u << 13, "MPOL_F_NUMA_BALANCING"}};
constexpr const char* kPolicyModes[] = {"MPOL_DEFAULT", "MPOL_PREFERRED", "MPOL_BIND", "MPOL_INTERLEAVE",
                                        "MPOL_LOCAL", "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE"};
constexpr const char* kHow[] = {"SIG_BLOCK", "SIG_UNBLOCK", "SIG_SETMASK"};
constexpr Flag kSignalfdFlags[] = {{0x80000, "SFD_CLOEXEC"}, {0x800, "SFD_NONBLOCK"}};


/* The calls whose 'O' is an open's (an access mode first), not a dup3/pipe2 flag word. */
bool opens(long nr) {
#ifdef SYS_open /* x86_64's; arm64 has openat alone */
    if (nr == SYS_open)
        return true;
#endif
    return nr == SYS_openat || nr == SYS_mq_open || nr == SYS_open_by_handle_at;
}

bool makes_node(long nr) {
#ifdef SYS_mknod /* x86_64's; arm64 has mknodat alone */
    if (nr == SYS_mknod)
        return true;
#endif
    return nr == SYS_mknodat;
}

/* One argument of type `type` (a letter of the syscall list) that needs no memory of the program. */
void add_scalar(TextBuilder& line, long nr, char type, long value, bool json) {
    const unsigned long u = static_cast<unsigned long>(value);
    const int i = static_cast<int>(value);
    bool quoted = json;
    if (add_enum(line, type, value, json) || add_named(line, nr, type, value, json))
        return;
    if (nr == SYS_clock_nanosleep && type == 'd' && u == 1) {
        line.add(json ? "\"TIMER_ABSTIME\"" : "TIMER_ABSTIME");
        return;
    }
    if (makes_node(nr) && type == 'u') {
        /* mknod's device (a u32 of the kernel's), only shown for a device node. */
        if (json)
            line.ch('"');
        add_device(line, u & 0xffffffffu);
        if (json)
            line.ch('"');
        return;
    }
    switch (type) {
        case 'd':
            line.num(i);
            return;
        case 'u':
            line.unum(u);
            return;
        case 'l':
            line.num(value);
            return;
        case 'D':
            if (i == -100) {
                line.add(json ? "\"AT_FDCWD\"" : "AT_FDCWD");
                return;
            }
            line.num(i);
            return;
        case 'x':
        case 's':
        case 'c':
        case 'N':
            if (!value)
                line.add(json ? "null" : "NULL");
            else if (json)
                line.unum(u);
            else
                line.hex(u);
            return;
        case 'S':
            if (!signal_abbreviation(i)) {
                line.num(i); /* 0, or a number without a name: a number in JSON too */
                return;
            }
            break;
        case 'H':
            if (static_cast<unsigned>(i) >= 3) {
                /* A how without a name: a number in JSON, strace's hex and comment in text. */
                if (json)
                    line.num(i);
                else
                    line.hex(u & 0xffffffffu).add(" /* SIG_??? */");
                return;
            }
            break;
        default:
            break;
    }
    if (quoted)
        line.ch('"');
    switch (type) {
        case 'O':
            if (opens(nr)) {
                static constexpr const char* kAccess[] = {"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"};
                line.add(kAccess[u & 3]);
                add_flags(line, u & ~3ul & 0xffffffffu, kOpenFlags, true);
            } else {
                add_flags(line, u & 0xffffffffu, kOpenFlags);
            }
            break;
        case 'M':
            if (makes_node(nr))
                add_node_mode(line, u & 0xffffffffu);
            else
                add_octal(line, u & 0xffffffffu);
            break;
        case 'A': {
            /* 0x200 is AT_EACCESS for the access calls. */
            unsigned long rest = u & 0xffffffffu;
            bool written = false;
            if ((nr == SYS_faccessat2 || nr == SYS_faccessat) && (rest & 0x200)) {
                line.add("AT_EACCESS");
                rest &= ~0x200ul;
                written = true;
            } else if (nr == SYS_statx) {
                /* statx's sync type first, AT_STATX_SYNC_AS_STAT (0) included, as strace shows it. */
                const unsigned long sync = rest & 0x6000;
                line.add(sync == 0 ? "AT_STATX_SYNC_AS_STAT" : sync == 0x2000 ? "AT_STATX_FORCE_SYNC"
                         : sync == 0x4000 ? "AT_STATX_DONT_SYNC" : "AT_STATX_FORCE_SYNC|AT_STATX_DONT_SYNC");
                rest &= ~0x6000ul;
                written = true;
            }
            add_flags(line, rest, kAtFlags, written);
            break;
        }
        case 'C': {
            unsigned long flags = u & 0xffffffffu;
            if (nr == SYS_clone && (flags & 0xff)) {
                /* The low byte is the signal sent to the parent at the child's exit. */
                unsigned long sig = flags & 0xff;
                flags &= ~0xfful;
                if (flags)
                    add_flags(line, flags, kCloneFlags);
                if (flags)
                    line.ch('|');
                add_signal(line, static_cast<int>(sig));
            } else {
                add_flags(line, flags, kCloneFlags);
            }
            break;
        }
        case 'S':
            add_signal(line, i);
            break;
        case 'P':
            add_policy_mode(line, u);
            break;
        case 'p':
            if ((u & 0xffffffffu) == 0)
                line.add("PROT_NONE");
            else
                add_flags(line, u & 0xffffffffu, kProt);
            break;
        case 'm': {
            static constexpr const char* kTypes[] = {nullptr, "MAP_SHARED", "MAP_PRIVATE", "MAP_SHARED_VALIDATE"};
            unsigned long flags = u & 0xffffffffu;
            const char* kind = (flags & 0xf) < 4 ? kTypes[flags & 0xf] : nullptr;
            if (kind) {
                line.add(kind);
                flags &= ~0xful;
            }
            add_flags(line, flags, kMapFlags, kind != nullptr);
            break;
        }
        case 'W':
            add_flags(line, u & 0xffffffffu, kWaitFlags);
            break;
        case 'H':
            line.add(kHow[i]);
            break;
        case 'X':
            add_statx_mask(line, u & 0xffffffffu, !json);
            break;
        case 'I':
            add_flags(line, u & 0xffffffffu, kSignalfdFlags);
            break;
        default:
            line.hex(u);
            break;
    }
    if (quoted)
        line.ch('"');
}

}  // namespace

void add_policy_mode(TextBuilder& line, unsigned long u) {
    unsigned mode = static_cast<unsigned>(u) & ~(7u << 13);
    if (mode < sizeof(kPolicyModes) / sizeof(kPolicyModes[0]))
        line.add(kPolicyModes[mode]);
    else
        line.unum(mode);
    add_flags(line, u & (7u << 13), kPolicyFlags, true);
}

/* Appends the names of `value`'s flags joined by '|' (after `first` names already written), and
 * what no name covers as hex; "0" when nothing at all was written. */
void add_flags(TextBuilder& line, unsigned long value, const Flag* table, size_t count, bool written) {
    for (size_t i = 0; i < count; ++i) {
        if (table[i].bits && (value & table[i].bits) == table[i].bits) {
            if (written)
                line.ch('|');
            line.add(table[i].name);
            written = true;
            value &= ~table[i].bits;
        }
    }
    if (value) {
        if (written)
            line.ch('|');
        line.hex(value);
    } else if (!written) {
        line.ch('0');
    }
}

const char* signal_abbreviation(int sig) {
    /* glibc names 29 POLL, strace IO. */
    return sig == SIGIO ? "IO" : sig > 0 ? sigabbrev_np(sig) : nullptr;
}

void add_signal(TextBuilder& line, int sig) {
    /* Real-time signals as strace names them: SIGRTMIN (32), SIGRT_1, ... */
    if (sig == 32)
        line.add("SIGRTMIN");
    else if (sig > 32 && sig <= 64)
        line.add("SIGRT_").num(sig - 32);
    const char* name = sig < 32 ? signal_abbreviation(sig) : nullptr;
    if (sig >= 32 && sig <= 64)
        return;
    if (name)
        line.add("SIG").add(name);
    else
        line.num(sig);
}

void add_octal(TextBuilder& line, unsigned long mode) {
    char d[24];
    int n = 0;
    do {
        d[n++] = static_cast<char>('0' + (mode & 7));
        mode >>= 3;
    } while (mode);
    while (n < 3)
        d[n++] = '0';
    if (d[n - 1] != '0')
        d[n++] = '0';
    while (n > 0)
        line.ch(d[--n]);
}

/* mknod's mode as strace shows it: the file type and the set-id bits by name, then the permissions
 * in octal (S_IFCHR|0600; a type without a name, as a number: 0177777). */
void add_node_mode(TextBuilder& line, unsigned long mode) {
    static constexpr Flag kTypes[] = {{0140000, "S_IFSOCK"}, {0120000, "S_IFLNK"}, {0100000, "S_IFREG"},
                                      {0060000, "S_IFBLK"},  {0040000, "S_IFDIR"}, {0020000, "S_IFCHR"},
                                      {0010000, "S_IFIFO"}};
    static constexpr Flag kSetId[] = {{04000, "S_ISUID"}, {02000, "S_ISGID"}, {01000, "S_ISVTX"}};
    const char* type = nullptr;
    for (const Flag& t : kTypes)
        if ((mode & 0170000) == t.bits)
            type = t.name;
    if (!type && (mode & 0170000)) {
        add_octal(line, mode);
        return;
    }
    bool written = false;
    if (type) {
        line.add(type).ch('|');
        written = true;
    }
    for (const Flag& f : kSetId) {
        if (mode & f.bits) {
            line.add(f.name).ch('|');
            written = true;
        }
    }
    if (!written) {
        add_octal(line, mode & 07777);
        return;
    }
    add_octal(line, mode & 0777);
}

/* A device number as strace shows it: makedev(0xMAJOR, 0xMINOR), in glibc's encoding. */
void add_device(TextBuilder& line, unsigned long dev) {
    const unsigned long major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xffful);
    const unsigned long minor = (dev & 0xff) | ((dev >> 12) & ~0xfful);
    line.add("makedev(").hex(major).add(", ").hex(minor).ch(')');
}

int string_argument(long nr, int which) {
    const char* types = syscall_arguments(nr);
    for (int i = 0; types && types[i]; ++i)
        if (types[i] == 's' && which-- == 0)
            return i;
    return -1;
}

int argument_count(const Call& c) {
    const char* types = syscall_arguments(c.nr);
    if (!types) {
        /* A number the list does not name: up to the last non-zero of the six. */
        int n = 6;
        while (n > 0 && c.args[n - 1] == 0)
            --n;
        return n;
    }
    int n = static_cast<int>(strlen(types));
    /* mknod's device only for a device node (S_IFCHR, S_IFBLK), as strace shows it. */
    if (makes_node(c.nr)) {
        const unsigned long type = static_cast<unsigned long>(c.args[n - 2]) & 0170000;
        return type == 0020000 || type == 0060000 ? n : n - 1;
    }
    /* mremap's new address only with MREMAP_FIXED, as glibc reads it and strace shows it. */
    if (c.nr == SYS_mremap)
        return static_cast<unsigned long>(c.args[3]) & 2 ? n : n - 1;
    /* mq_open(name, oflag, mode, attr): the mode and the attributes only with O_CREAT, as strace. */
    if (c.nr == SYS_mq_open)
        return static_cast<unsigned long>(c.args[1]) & 0x40 ? n : 2;
    /* The mode of an open is shown only when the open creates, as strace shows it. */
    if (opens(c.nr) && c.nr != SYS_open_by_handle_at) {
        const unsigned long flags = static_cast<unsigned long>(c.args[n - 2]);
        if (!(flags & 0x40) && (flags & 0x410000) != 0x410000)
            --n;
    }
    return n;
}

/* The slot that holds argument `i`'s structure, -1 for none. */
static int struct_slot(const Call& c, const char* types, int i) {
    if (!types || c.nr == SYS_migrate_pages || !struct_bytes(types, c.args, i))
        return -1;
    for (int slot = 0; slot < kStructSlots; ++slot)
        if (c.structs.arg[slot] == i)
            return slot;
    return -1;
}

/* A path: in JSON as a JSON string (cut at 96 bytes), in text whole, as strace escapes it; one
 * longer than the buffer (`cut`) as its start and "..." after the quote, as strace cuts a string. */
static void quote(TextBuilder& line, const char* path, bool cut, bool json) {
    if (json) {
        line.quoted(path);
        return;
    }
    line.c_quoted(path, sizeof(Call::path));
    if (cut)
        line.add("...");
}

void add_arguments(TextBuilder& line, Caller caller, const Call& c, bool json) {
    const char* types = syscall_arguments(c.nr);
    const int n = argument_count(c);
    const int first_string = string_argument(c.nr, 0), second_string = string_argument(c.nr, 1);
    for (int i = 0; i < n; ++i) {
        if (i)
            line.add(json ? "," : ", ");
        const char type = types ? types[i] : 'x';
        if (type == 's' && i == first_string && c.have_path) {
            quote(line, c.path, c.path_cut, json);
        } else if (type == 's' && i == second_string && c.have_path2) {
            quote(line, c.path2, c.path2_cut, json);
        } else if (type == 'c' && c.have_mask) {
            add_cpu_mask(line, c.mask, c.mask_more, json);
        } else if (type == 'N' && (c.nr == SYS_migrate_pages && i == 3 ? c.have_nodes2 : c.have_nodes)) {
            add_node_mask(line, c, i, json);
        } else if (type == 'N' && c.nr == SYS_get_mempolicy && c.args[i] && c.args[2] == 0) {
            /* get_mempolicy's mask, not read (it failed): strace's [] for a maxnode of 0 (no word to
             * read), the address otherwise. */
            line.add("[]");
        } else if (type == 'V') {
            add_string_array(line, caller, static_cast<unsigned long>(c.args[i]), json);
        } else if (type == 'E') {
            add_string_count(line, caller, static_cast<unsigned long>(c.args[i]), json);
        } else if (int slot = struct_slot(c, types, i); slot >= 0) {
            add_struct(line, type, c.structs.bytes[slot], struct_bytes(types, c.args, i), json);
        } else if (types && struct_bytes(types, c.args, i)) {
            add_scalar(line, c.nr, 'x', c.args[i], json); /* not read: its address, as strace shows it */
        } else if (type == 'k' || type == 'w') {
            add_scalar(line, c.nr, 'x', c.args[i], json); /* a set of a size strace does not read */
        } else if (i + 1 == c.out_arg) {
            /* A string the call wrote: getcwd's whole, as a path; a link's first 32 bytes, as strace
             * shows a string (-s 32), then "...". */
            if (json)
                line.quoted(c.path2);
            else
                line.c_quoted(c.path2, c.nr == SYS_getcwd ? sizeof(c.path2) : 32);
        } else if (i == 1 && c.entries >= 0 && lists_directory(c.nr) && !json) {
            /* getdents64's buffer with its count of records, as strace shows it. */
            add_scalar(line, c.nr, 'x', c.args[i], json);
            line.add(" /* ").num(c.entries).add(" entries */");
        } else if (type == 'n' && i > 0) {
            add_socket_option(line, c.nr, c.args[i - 1], c.args[i], json);
        } else if (c.nr == SYS_getcpu && i < 2 && c.have_cpu) {
            if (json)
                line.ch('[').unum(i == 0 ? c.cpu : c.node).ch(']');
            else
                line.ch('[').unum(i == 0 ? c.cpu : c.node).ch(']');
        } else {
            add_scalar(line, c.nr, type, c.args[i], json);
        }
    }
}

}  // namespace tracer
}  // namespace libos
