/* The test hook (libos_test_hooks.h): in builds with test_hooks only. */
#include "libos/libos_test_hooks.h"

namespace libos {

#ifdef LIBOS_TEST_HOOKS
constinit TestHook g_test_hook = nullptr;
#endif

}  // namespace libos
