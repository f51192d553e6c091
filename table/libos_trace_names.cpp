/* Named values of the calls the shim's libc functions make (libos_trace_internal.h): access modes,
 * lseek's whence, madvise's advice, mremap's, the xattr calls' and the memory-policy calls' flags
 * (MPOL_MF_*, MPOL_F_*), and socket option levels
 * and SOL_SOCKET's option names, each as strace 6.1 prints it (checked against strace 6.1 itself:
 * a value without a name in hex with strace's comment, 0x5 and SEEK_???). */
#include <sys/syscall.h>

#include "libos_trace_internal.h"

namespace libos::tracer {
namespace {

struct Named {
    long value;
    const char* name;
};

constexpr const char* kSeek[] = {"SEEK_SET", "SEEK_CUR", "SEEK_END", "SEEK_DATA", "SEEK_HOLE"};

constexpr Named kAdvice[] = {
    {0, "MADV_NORMAL"},         {1, "MADV_RANDOM"},         {2, "MADV_SEQUENTIAL"},      {3, "MADV_WILLNEED"},
    {4, "MADV_DONTNEED"},       {8, "MADV_FREE"},           {9, "MADV_REMOVE"},          {10, "MADV_DONTFORK"},
    {11, "MADV_DOFORK"},        {12, "MADV_MERGEABLE"},     {13, "MADV_UNMERGEABLE"},    {14, "MADV_HUGEPAGE"},
    {15, "MADV_NOHUGEPAGE"},    {16, "MADV_DONTDUMP"},      {17, "MADV_DODUMP"},         {18, "MADV_WIPEONFORK"},
    {19, "MADV_KEEPONFORK"},    {20, "MADV_COLD"},          {21, "MADV_PAGEOUT"},        {22, "MADV_POPULATE_READ"},
    {23, "MADV_POPULATE_WRITE"}, {24, "MADV_DONTNEED_LOCKED"}, {25, "MADV_COLLAPSE"},    {100, "MADV_HWPOISON"},
    {101, "MADV_SOFT_OFFLINE"},
};

constexpr Named kLevels[] = {
    {0, "SOL_IP"},     {1, "SOL_SOCKET"}, {6, "SOL_TCP"},      {17, "SOL_UDP"},     {41, "SOL_IPV6"},
    {58, "SOL_ICMPV6"}, {132, "SOL_SCTP"}, {136, "SOL_UDPLITE"}, {255, "SOL_RAW"},  {256, "SOL_IPX"},
    {257, "SOL_AX25"}, {258, "SOL_ATALK"}, {259, "SOL_NETROM"}, {260, "SOL_ROSE"},  {261, "SOL_DECNET"},
    {262, "SOL_X25"},  {263, "SOL_PACKET"}, {264, "SOL_ATM"},   {265, "SOL_AAL"},   {266, "SOL_IRDA"},
    {267, "SOL_NETBEUI"}, {268, "SOL_LLC"}, {269, "SOL_DCCP"},  {270, "SOL_NETLINK"}, {271, "SOL_TIPC"},
    {272, "SOL_RXRPC"}, {273, "SOL_PPPOL2TP"}, {274, "SOL_BLUETOOTH"}, {275, "SOL_PNPIPE"}, {276, "SOL_RDS"},
    {277, "SOL_IUCV"}, {278, "SOL_CAIF"},  {279, "SOL_ALG"},    {280, "SOL_NFC"},   {281, "SOL_KCM"},
    {282, "SOL_TLS"},  {283, "SOL_XDP"},   {284, "SOL_MPTCP"},  {285, "SOL_MCTP"},  {286, "SOL_SMC"},
};

/* SOL_SOCKET's options, 1 to 75 (26 is SO_GET_FILTER for getsockopt, SO_ATTACH_FILTER for setsockopt;
 * 54 and 58 have no name in strace 6.1). */
constexpr const char* kSocketOptions[] = {
    nullptr, "SO_DEBUG", "SO_REUSEADDR", "SO_TYPE", "SO_ERROR", "SO_DONTROUTE", "SO_BROADCAST", "SO_SNDBUF",
    "SO_RCVBUF", "SO_KEEPALIVE", "SO_OOBINLINE", "SO_NO_CHECK", "SO_PRIORITY", "SO_LINGER", "SO_BSDCOMPAT",
    "SO_REUSEPORT", "SO_PASSCRED", "SO_PEERCRED", "SO_RCVLOWAT", "SO_SNDLOWAT", "SO_RCVTIMEO_OLD",
    "SO_SNDTIMEO_OLD", "SO_SECURITY_AUTHENTICATION", "SO_SECURITY_ENCRYPTION_TRANSPORT",
    "SO_SECURITY_ENCRYPTION_NETWORK", "SO_BINDTODEVICE", "SO_ATTACH_FILTER", "SO_DETACH_FILTER", "SO_PEERNAME",
    "SO_TIMESTAMP_OLD", "SO_ACCEPTCONN", "SO_PEERSEC", "SO_SNDBUFFORCE", "SO_RCVBUFFORCE", "SO_PASSSEC",
    "SO_TIMESTAMPNS_OLD", "SO_MARK", "SO_TIMESTAMPING_OLD", "SO_PROTOCOL", "SO_DOMAIN", "SO_RXQ_OVFL",
    "SO_WIFI_STATUS", "SO_PEEK_OFF", "SO_NOFCS", "SO_LOCK_FILTER", "SO_SELECT_ERR_QUEUE", "SO_BUSY_POLL",
    "SO_MAX_PACING_RATE", "SO_BPF_EXTENSIONS", "SO_INCOMING_CPU", "SO_ATTACH_BPF", "SO_ATTACH_REUSEPORT_CBPF",
    "SO_ATTACH_REUSEPORT_EBPF", "SO_CNX_ADVICE", nullptr, "SO_MEMINFO", "SO_INCOMING_NAPI_ID", "SO_COOKIE",
    nullptr, "SO_PEERGROUPS", "SO_ZEROCOPY", "SO_TXTIME", "SO_BINDTOIFINDEX", "SO_TIMESTAMP_NEW",
    "SO_TIMESTAMPNS_NEW", "SO_TIMESTAMPING_NEW", "SO_RCVTIMEO_NEW", "SO_SNDTIMEO_NEW", "SO_DETACH_REUSEPORT_BPF",
    "SO_PREFER_BUSY_POLL", "SO_BUSY_POLL_BUDGET", "SO_NETNS_COOKIE", "SO_BUF_LOCK", "SO_RESERVE_MEM",
    "SO_TXREHASH", "SO_RCVMARK",
};

const char* find(const Named* table, size_t count, long value) {
    for (size_t i = 0; i < count; ++i)
        if (table[i].value == value)
            return table[i].name;
    return nullptr;
}

/* A name, or strace's hex and comment for a value without one (0 as "0"). */
void add_name_or_hex(TextBuilder& line, const char* name, unsigned long value, const char* unknown, bool json) {
    if (name) {
        if (json)
            line.ch('"').add(name).ch('"');
        else
            line.add(name);
    } else if (json) {
        line.unum(value);
    } else {
        if (value)
            line.hex(value);
        else
            line.ch('0');
        line.add(" /* ").add(unknown).add(" */");
    }
}

/* Flags by name joined with '|', the rest in hex after them; with no name at all, hex and strace's
 * comment; 0 as `zero` (F_OK) or "0". */
void add_flag_word(TextBuilder& line, unsigned long value, const Flag* table, size_t count, const char* zero,
                   const char* unknown, bool json) {
    unsigned long known = 0;
    for (size_t i = 0; i < count; ++i)
        known |= table[i].bits;
    if (value && !(value & known)) {
        add_name_or_hex(line, nullptr, value, unknown, json);
        return;
    }
    if (json)
        line.ch('"');
    if (!value)
        line.add(zero);
    else
        add_flags(line, value, table, count);
    if (json)
        line.ch('"');
}

constexpr Flag kAccessModes[] = {{4, "R_OK"}, {2, "W_OK"}, {1, "X_OK"}};
constexpr Flag kRemapFlags[] = {{1, "MREMAP_MAYMOVE"}, {2, "MREMAP_FIXED"}, {4, "MREMAP_DONTUNMAP"}};
constexpr Flag kXattrFlags[] = {{1, "XATTR_CREATE"}, {2, "XATTR_REPLACE"}};
constexpr Flag kMoveFlags[] = {{1, "MPOL_MF_STRICT"}, {2, "MPOL_MF_MOVE"}, {4, "MPOL_MF_MOVE_ALL"}};
constexpr Flag kPolicyQueries[] = {{1, "MPOL_F_NODE"}, {2, "MPOL_F_ADDR"}, {4, "MPOL_F_MEMS_ALLOWED"}};

}  // namespace

bool add_named(TextBuilder& line, long nr, char type, long value, bool json) {
    const unsigned long u = static_cast<unsigned long>(value) & 0xffffffffu;
    switch (type) {
        case 'a':
            add_flag_word(line, u, kAccessModes, 3, "F_OK", "?_OK", json);
            return true;
        case 'e':
            add_name_or_hex(line, u < 5 ? kSeek[u] : nullptr, u, "SEEK_???", json);
            return true;
        case 'v':
            add_name_or_hex(line, find(kAdvice, sizeof(kAdvice) / sizeof(kAdvice[0]), static_cast<int>(u)), u,
                            "MADV_???", json);
            return true;
        case 'r':
            add_flag_word(line, u, kRemapFlags, 3, "0", "MREMAP_???", json);
            return true;
        case 'z':
            add_flag_word(line, u, kXattrFlags, 2, "0", "XATTR_???", json);
            return true;
        case 'h':
            add_flag_word(line, u, kMoveFlags, 3, "0", "MPOL_???", json);
            return true;
        case 'j':
            add_flag_word(line, u, kPolicyQueries, 3, "0", "MPOL_???", json);
            return true;
        case 'o':
            add_name_or_hex(line, find(kLevels, sizeof(kLevels) / sizeof(kLevels[0]), static_cast<int>(u)), u,
                            "SOL_??", json);
            return true;
        default:
            (void)nr;
            return false;
    }
}

void add_socket_option(TextBuilder& line, long nr, long level, long option, bool json) {
    const unsigned long u = static_cast<unsigned long>(option) & 0xffffffffu;
    if (static_cast<int>(level) != 1) {
        line.num(static_cast<int>(option)); /* other levels' names are not decoded */
        return;
    }
    const char* name = u < sizeof(kSocketOptions) / sizeof(kSocketOptions[0]) ? kSocketOptions[u] : nullptr;
    if (u == 26 && nr == SYS_getsockopt)
        name = "SO_GET_FILTER";
    add_name_or_hex(line, name, u, "SO_???", json);
}

}  // namespace libos::tracer
