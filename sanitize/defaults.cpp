/* The sanitizers' default options in a sanitizer build (scripts/test --sanitize), compiled into every
 * executable rather than set in the environment: programs under test start their children with
 * environments of their own (env -i, execve with a two-entry envp, the shim's exec), and a child built
 * with ASan must still start under the preloaded shim. ASAN_OPTIONS, UBSAN_OPTIONS and LSAN_OPTIONS
 * still override these, option by option.
 *
 * verify_asan_link_order=0: LD_PRELOAD puts libshim.so before libasan.so in the process's library
 * list, which ASan refuses by default ("ASan runtime does not come first"). The order is safe here:
 * the runtime is a dependency of the executable, so it is loaded and initialised (from the
 * executable's .preinit_array) before any constructor runs, and it still comes before libc, so its
 * interceptors work. The shim's overrides precede ASan's interceptors and reach them through
 * dlsym(RTLD_NEXT), as they reach TSan's in the stress test.
 * print_stacktrace=1: a UBSan finding shows where it came from (the build makes every finding fatal
 * with -fno-sanitize-recover=all). */

extern "C" {

__attribute__((visibility("default"), used)) const char* __asan_default_options() {
    return "verify_asan_link_order=0";
}

__attribute__((visibility("default"), used)) const char* __ubsan_default_options() {
    return "print_stacktrace=1";
}

}
