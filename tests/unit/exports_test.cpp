/* What the shipped libraries export, need and contain, read from their ELF files:
 * - libpal.so exports exactly the list in pal/pal_symbols;
 * - libshim.so exports exactly what shim/shim.map names, and each of those overrides a libc symbol;
 * - neither needs anything but libc at load time (libshim.so has the PAL linked in, so it does not
 *   need libpal.so either): no libstdc++, libgcc_s or libunwind, nor any C++ runtime symbol;
 * - only the PAL's code contains a syscall instruction: in libpal.so, and in the PAL's functions
 *   linked into libshim.so. */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <regex>
#include <set>
#include <string>

#include "test_util.h"

using libos_test::read_file;
using libos_test::required_env;

namespace {

struct ElfSymbols {
    std::set<std::string> defined;   /* global or weak, defined in the object */
    std::set<std::string> undefined; /* references resolved elsewhere */
    std::set<std::string> needed;    /* DT_NEEDED entries */
    bool ok = false;
};

ElfSymbols read_elf(const std::string& path) {
    ElfSymbols out;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return out;
    struct stat st;
    fstat(fd, &st);
    auto* base = static_cast<const char*>(mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0));
    close(fd);
    auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
    auto* sh = reinterpret_cast<const Elf64_Shdr*>(base + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum; ++i) {
        if (sh[i].sh_type == SHT_DYNSYM) {
            const char* strtab = base + sh[sh[i].sh_link].sh_offset;
            auto* sym = reinterpret_cast<const Elf64_Sym*>(base + sh[i].sh_offset);
            size_t count = sh[i].sh_size / sizeof(Elf64_Sym);
            for (size_t s = 1; s < count; ++s) {
                int bind = ELF64_ST_BIND(sym[s].st_info);
                if (bind != STB_GLOBAL && bind != STB_WEAK)
                    continue;
                std::string name = strtab + sym[s].st_name;
                if (sym[s].st_shndx == SHN_UNDEF)
                    out.undefined.insert(name);
                else if (sym[s].st_shndx != SHN_ABS) /* SHN_ABS: version-node names such as "PAL" */
                    out.defined.insert(name);
            }
        } else if (sh[i].sh_type == SHT_DYNAMIC) {
            const char* strtab = base + sh[sh[i].sh_link].sh_offset;
            auto* dyn = reinterpret_cast<const Elf64_Dyn*>(base + sh[i].sh_offset);
            for (; dyn->d_tag != DT_NULL; ++dyn)
                if (dyn->d_tag == DT_NEEDED)
                    out.needed.insert(strtab + dyn->d_un.d_val);
        }
    }
    munmap(const_cast<char*>(base), static_cast<size_t>(st.st_size));
    out.ok = true;
    return out;
}

/* Names listed in a file, one per line, '#' comments allowed (pal_symbols). */
std::set<std::string> listed_names(const std::string& path) {
    std::set<std::string> out;
    std::string text = read_file(path);
    std::regex line(R"((?:^|\n)\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?=\n|$))");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), line); it != std::sregex_iterator(); ++it)
        out.insert((*it)[1]);
    return out;
}

/* The names in the global: part of a version script. */
std::set<std::string> version_script_globals(const std::string& path) {
    std::set<std::string> out;
    std::string text = read_file(path);
    size_t from = text.find("global:");
    size_t to = text.find("local:");
    std::string part = text.substr(from + 7, to - from - 7);
    std::regex name(R"(([A-Za-z_][A-Za-z0-9_]*)\s*;)");
    for (auto it = std::sregex_iterator(part.begin(), part.end(), name); it != std::sregex_iterator(); ++it)
        out.insert((*it)[1]);
    return out;
}

/* Everything a preloaded library needs at load time must come from libc: no libpal.so (the shim has
 * the PAL linked in), no libstdc++, libgcc_s or libunwind, and no C++ runtime symbol such as a guard
 * variable helper or operator new. */
void expect_only_libc(const ElfSymbols& elf, const std::string& what) {
    for (const auto& lib : elf.needed)
        EXPECT_EQ(lib, "libc.so.6") << what << " needs " << lib;
    void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    ASSERT_NE(libc, nullptr);
    for (const auto& sym : elf.undefined) {
        if (sym.rfind("_ITM_", 0) == 0 || sym == "__gmon_start__")
            continue; /* weak hooks of the toolchain's start files, never resolved */
        EXPECT_NE(dlsym(libc, sym.c_str()), nullptr) << what << " needs " << sym << ", which libc does not provide";
    }
}

TEST(PalExports, ExactlyTheListInPalSymbols) {
    ElfSymbols pal = read_elf(required_env("LIBOS_LIBPAL"));
    ASSERT_TRUE(pal.ok);
    std::set<std::string> listed = listed_names(required_env("LIBOS_PAL_SYMBOLS"));
    ASSERT_FALSE(listed.empty());
    EXPECT_EQ(pal.defined, listed);
}

TEST(ShimExports, ExactlyTheOverridesAndEachIsALibcSymbol) {
    ElfSymbols shim = read_elf(required_env("LIBOS_LIBSHIM"));
    ASSERT_TRUE(shim.ok);
    EXPECT_EQ(shim.defined, version_script_globals(required_env("LIBOS_SHIM_MAP")));
    void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    ASSERT_NE(libc, nullptr);
    for (const auto& name : shim.defined)
        EXPECT_NE(dlsym(libc, name.c_str()), nullptr) << name << " is exported by libshim.so but overrides nothing in libc";
}

TEST(PreloadedLibraries, NeedNoCxxRuntimeOrUnwinder) {
    ElfSymbols pal = read_elf(required_env("LIBOS_LIBPAL"));
    ElfSymbols shim = read_elf(required_env("LIBOS_LIBSHIM"));
    ASSERT_TRUE(pal.ok && shim.ok);
    expect_only_libc(pal, "libpal.so");
    expect_only_libc(shim, "libshim.so");
    /* The PAL inside the shim is hidden: nothing outside can call it, or take it for libpal.so's. */
    for (const auto& name : shim.defined)
        EXPECT_NE(name.rfind("Pal", 0), 0u) << "libshim.so exports the PAL's " << name;
    for (const auto& name : shim.undefined)
        EXPECT_NE(name.rfind("Pal", 0), 0u) << "libshim.so looks for " << name << " outside itself";
}

/* The architecture's disassembler and instructions that enter the kernel. */
#if defined(__aarch64__)
constexpr const char* kObjdump = "aarch64-linux-gnu-objdump";
constexpr const char* kKernelEntry = R"(:\s+(svc|hvc|smc)\s)";
#else
constexpr const char* kObjdump = "objdump";
constexpr const char* kKernelEntry = R"(:\s+(syscall|sysenter|int\s+\$0x80)\s*$)";
#endif

/* The functions (symbol names from the disassembly's labels) that contain a syscall-entering
 * instruction, each with how many it contains. */
std::map<std::string, int> functions_entering_the_kernel(const std::string& path) {
    int status = -1;
    std::string dis = libos_test::run_command(kObjdump + std::string(" -d --no-show-raw-insn '") + path + "'", &status);
    EXPECT_EQ(status, 0) << "objdump failed on " << path;
    std::map<std::string, int> out;
    std::regex label(R"(^[0-9a-f]+ <(.+)>:$)");
    std::regex insn(kKernelEntry);
    std::string function = "(before any label)";
    size_t start = 0;
    while (start < dis.size()) {
        size_t end = dis.find('\n', start);
        if (end == std::string::npos)
            end = dis.size();
        std::string line = dis.substr(start, end - start);
        std::smatch m;
        if (std::regex_match(line, m, label))
            function = m[1];
        else if (std::regex_search(line, insn))
            ++out[function];
        start = end + 1;
    }
    return out;
}

/* The text symbols of a library's full symbol table (nm), local ones included. */
std::set<std::string> text_symbols(const std::string& path) {
    int status = -1;
    std::string out = libos_test::run_command("nm --defined-only '" + path + "'", &status);
    EXPECT_EQ(status, 0) << "nm failed on " << path;
    std::set<std::string> names;
    std::regex line(R"((?:^|\n)[0-9a-f]+ [tTW] ([^\n]+))");
    for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator(); ++it)
        names.insert((*it)[1]);
    return names;
}

int total(const std::map<std::string, int>& counts) {
    int n = 0;
    for (const auto& [name, count] : counts)
        n += count;
    return n;
}

TEST(SyscallInstructions, OnlyThePalEntersTheKernel) {
    const std::string pal_path = required_env("LIBOS_LIBPAL");
    const std::string shim_path = required_env("LIBOS_LIBSHIM");
    std::map<std::string, int> in_pal = functions_entering_the_kernel(pal_path);
    std::map<std::string, int> in_shim = functions_entering_the_kernel(shim_path);
    std::set<std::string> pal_functions = text_symbols(pal_path);
    /* The check finds the PAL's own instructions, in both libraries, so it is not vacuous. */
    EXPECT_GT(total(in_pal), 0);
    EXPECT_GT(total(in_shim), 0);
    for (const auto& [function, count] : in_shim)
        EXPECT_TRUE(pal_functions.count(function))
            << "libshim.so: " << function << " contains " << count
            << " syscall instruction(s) and is not the PAL's: host calls must go through the PAL";
    /* The same PAL objects are linked into both libraries, whole. */
    EXPECT_EQ(in_shim, in_pal);
}

}  // namespace
