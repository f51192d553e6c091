/* libos_unwind.so (libos_unwind.h): libunwind's local unwinder, and dladdr for object names. */
#define UNW_LOCAL_ONLY
#include "libos_unwind.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <libunwind.h>
#include <string.h>
#include <ucontext.h>

extern "C" __attribute__((visibility("default"))) int libos_unwind_backtrace(void* ucontext, LibosFrame* frames,
                                                                             int max) {
    unw_context_t context;
    unw_cursor_t cursor;
    if (ucontext) {
        /* A signal context is a complete machine context; libunwind starts from it as a signal frame. */
        memcpy(&context, ucontext, sizeof(ucontext_t) < sizeof(context) ? sizeof(ucontext_t) : sizeof(context));
        if (unw_init_local2(&cursor, &context, UNW_INIT_SIGNAL_FRAME) != 0)
            return 0;
    } else {
        unw_getcontext(&context);
        if (unw_init_local(&cursor, &context) != 0)
            return 0;
        unw_step(&cursor); /* this function's own frame */
    }
    int n = 0;
    do {
        unw_word_t ip = 0, offset = 0;
        if (unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0 || ip == 0)
            break;
        LibosFrame& f = frames[n];
        f.address = ip;
        f.offset = 0;
        f.function[0] = '\0';
        f.object[0] = '\0';
        /* -UNW_ENOMEM: the name did not fit; libunwind still wrote its start, NUL-terminated. */
        int named = unw_get_proc_name(&cursor, f.function, sizeof(f.function), &offset);
        if (named == 0 || named == -UNW_ENOMEM)
            f.offset = offset;
        else
            f.function[0] = '\0';
        Dl_info info;
        /* Not ip itself for return addresses: ip - 1 is inside the calling instruction's function. */
        if (dladdr(reinterpret_cast<void*>(n == 0 ? ip : ip - 1), &info) && info.dli_fname) {
            size_t len = strlen(info.dli_fname);
            if (len >= sizeof(f.object))
                len = sizeof(f.object) - 1;
            memcpy(f.object, info.dli_fname, len);
            f.object[len] = '\0';
            if (!f.function[0] && info.dli_sname) {
                size_t sl = strlen(info.dli_sname);
                if (sl >= sizeof(f.function))
                    sl = sizeof(f.function) - 1;
                memcpy(f.function, info.dli_sname, sl);
                f.function[sl] = '\0';
                f.offset = ip - reinterpret_cast<uintptr_t>(info.dli_saddr);
            }
        }
        /* C++ names read better demangled; not in a crash (ucontext), where malloc may be broken. */
        if (!ucontext && f.function[0] == '_' && f.function[1] == 'Z') {
            int status = 0;
            char* plain = abi::__cxa_demangle(f.function, nullptr, nullptr, &status);
            if (status == 0 && plain) {
                size_t len = strlen(plain);
                if (len >= sizeof(f.function))
                    len = sizeof(f.function) - 1;
                memcpy(f.function, plain, len);
                f.function[len] = '\0';
            }
            free(plain);
        }
        ++n;
    } while (n < max && unw_step(&cursor) > 0);
    return n;
}
