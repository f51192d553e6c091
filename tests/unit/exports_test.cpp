/* What the shipped libraries export, need and contain, read from their ELF files:
 * - libpal.so exports exactly the list in pal/pal_symbols;
 * - libshim.so exports exactly what shim/shim.map names, and each of those overrides a libc symbol;
 * - neither needs libstdc++, libgcc_s or libunwind at load time, nor any C++ runtime symbol;
 * - only libpal.so contains a syscall instruction. */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Everything a preloaded library needs at load time must come from libc (or, for the shim, from
 * libpal.so): no libstdc++, libgcc_s or libunwind, and no C++ runtime symbol such as a guard
 * variable helper or operator new. */
void expect_only_libc(const ElfSymbols& elf, const std::string& what, const std::set<std::string>& also_allowed) {
    for (const auto& lib : elf.needed)
        EXPECT_TRUE(lib == "libc.so.6" || lib == "libpal.so") << what << " needs " << lib;
    void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    ASSERT_NE(libc, nullptr);
    for (const auto& sym : elf.undefined) {
        if (also_allowed.count(sym) || sym.rfind("_ITM_", 0) == 0 || sym == "__gmon_start__")
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
    expect_only_libc(pal, "libpal.so", {});
    expect_only_libc(shim, "libshim.so", pal.defined);
    EXPECT_TRUE(shim.needed.count("libpal.so"));
}

/* Counts syscall-entering instructions in a library's disassembly. */
int count_syscall_instructions(const std::string& path) {
    int status = -1;
    std::string dis = libos_test::run_command("objdump -d --no-show-raw-insn '" + path + "'", &status);
    EXPECT_EQ(status, 0) << "objdump failed on " << path;
    std::regex insn(R"(:\s+(syscall|sysenter|int\s+\$0x80)\s*(\n|$))");
    return static_cast<int>(std::distance(std::sregex_iterator(dis.begin(), dis.end(), insn), std::sregex_iterator()));
}

TEST(SyscallInstructions, OnlyLibpalEntersTheKernel) {
    EXPECT_EQ(count_syscall_instructions(required_env("LIBOS_LIBSHIM")), 0)
        << "libshim.so contains a syscall instruction: host calls must go through the PAL";
    /* The same check finds the PAL's own instructions, so it is not vacuous. */
    EXPECT_GT(count_syscall_instructions(required_env("LIBOS_LIBPAL")), 0);
}

}  // namespace
