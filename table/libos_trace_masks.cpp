/* CPU and node masks in a trace line (libos_trace_internal.h): the program's side exactly as strace
 * 6.1 prints it, and what the machine made of it as a comment after the result. */
#include <string.h>
#include <sys/syscall.h>

#include "libos/libos_init.h"
#include "libos/libos_machine.h"
#include "libos/libos_numa.h"
#include "libos_trace_internal.h"

namespace libos::tracer {
namespace {

/* A mask's numbers as strace lists a CPU set: [0 1 5], [] for none; [0 1 ...] with `more`. */
template <typename Bits>
void add_bit_list(TextBuilder& line, const Bits& set, uint32_t limit, bool more = false) {
    line.ch('[');
    int shown = 0;
    for (uint32_t bit = 0; bit < limit; ++bit) {
        if (!set.has(bit))
            continue;
        if (shown)
            line.ch(' ');
        if (shown++ == 1024) {
            line.add("...");
            break;
        }
        line.unum(bit);
    }
    if (more && shown <= 1024)
        line.add(shown ? " ..." : "...");
    line.ch(']');
}

/* A node set as a JSON array of its numbers. */
void add_node_array(TextBuilder& line, const NodeBits& set) {
    line.ch('[');
    bool first = true;
    for (uint32_t node = 0; node < kMaxNodeBits; ++node) {
        if (!set.has(node))
            continue;
        if (!first)
            line.ch(',');
        line.unum(node);
        first = false;
    }
    line.ch(']');
}

/* One word of a node mask as strace prints an array member in hex (printf's %#016lx): 0x and at
 * least 14 digits, a zero word as 16 zeros. */
void add_node_word(TextBuilder& line, uint64_t word) {
    char digits[17];
    int n = 0;
    for (uint64_t w = word; w; w >>= 4)
        digits[n++] = "0123456789abcdef"[w & 0xf];
    const int width = word ? 14 : 16;
    if (word)
        line.add("0x");
    for (int i = n; i < width; ++i)
        line.ch('0');
    while (n > 0)
        line.ch(digits[--n]);
}

/* The nodes a call's mask names for the kernel: its first maxnode - 1 bits, at most the machine's. */
void kernel_nodes(const CpuBits& raw, long maxnode, NodeBits* out) {
    memset(out, 0, sizeof(*out));
    unsigned long bits = maxnode > 1 ? static_cast<unsigned long>(maxnode) - 1 : 0;
    if (bits > kMaxNodeBits)
        bits = kMaxNodeBits;
    if (numa_virtual() && bits > numa_max_nodes())
        bits = numa_max_nodes();
    memcpy(out->words, raw.words, (bits + 63) / 64 * 8);
    if (bits % 64)
        out->words[bits / 64] &= (1ULL << (bits % 64)) - 1;
}

long maxnode_of(const Call& c) {
    int maxnode_arg;
    return node_mask_argument(c.nr, &maxnode_arg) >= 0 ? c.args[maxnode_arg] : 0;
}

/* Out of line: its four node sets stay out of the frame of a CPU mask's annotation, which a handler
 * on a small signal stack makes. */
__attribute__((noinline)) void add_host_nodes(TextBuilder& line, const Call& c, bool json) {
    NodeBits nodes, nodes2 = {}, host, host2 = {};
    kernel_nodes(c.nodes, maxnode_of(c), &nodes);
    numa_to_host(nodes, &host);
    if (c.have_nodes2) {
        kernel_nodes(c.nodes2, maxnode_of(c), &nodes2);
        numa_to_host(nodes2, &host2);
    }
    if (json) {
        line.add(",\"nodes\":");
        add_node_array(line, nodes);
        line.add(",\"host_nodes\":");
        add_node_array(line, host);
        if (c.have_nodes2) {
            line.add(",\"new_nodes\":");
            add_node_array(line, nodes2);
            line.add(",\"new_host_nodes\":");
            add_node_array(line, host2);
        }
        return;
    }
    line.add(" /* host nodes ");
    add_bit_list(line, host, kMaxNodeBits);
    if (c.have_nodes2) {
        line.add(" -> ");
        add_bit_list(line, host2, kMaxNodeBits);
    }
    line.add(" */");
}

}  // namespace

void add_cpu_mask(TextBuilder& line, const CpuBits& mask, bool more, bool json) {
    if (json)
        line.cpu_array(mask, 8192);
    else
        add_bit_list(line, mask, 8192, more);
}

void add_node_mask(TextBuilder& line, const Call& c, int index, bool json) {
    const CpuBits& raw = c.nr == SYS_migrate_pages && index == 3 ? c.nodes2 : c.nodes;
    const long maxnode = maxnode_of(c);
    if (json) {
        NodeBits nodes;
        kernel_nodes(raw, maxnode, &nodes);
        add_node_array(line, nodes);
        return;
    }
    const unsigned long words = node_mask_words(maxnode);
    line.ch('[');
    for (unsigned long i = 0; i < words; ++i) {
        if (i)
            line.add(", ");
        if (i == kNodeMaskWordsShown) {
            line.add("...");
            break;
        }
        add_node_word(line, raw.words[i]);
    }
    line.ch(']');
}

void add_host_annotation(TextBuilder& line, const Call& c, bool json) {
    if (c.have_nodes && numa_virtual()) {
        add_host_nodes(line, c, json);
        return;
    }
    if (!c.have_mask || !is_virtual())
        return;
    CpuBits host;
    to_host(c.mask, &host);
    if (json) {
        line.add(",\"vcpus\":").cpu_array(c.mask, vcpu_count()).add(",\"host_cpus\":").cpu_array(host, PAL_MAX_CPUS);
        return;
    }
    line.add(" /* host ");
    add_bit_list(line, host, PAL_MAX_CPUS);
    line.add(" */");
}

}  // namespace libos::tracer
