/* Dumped with -E -dM by tests/meson.build: the system call numbers of the architecture, for
 * tests/unit/table_test.cpp. */
#include <asm/unistd.h>
