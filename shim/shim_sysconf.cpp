/* sysconf(_SC_NPROCESSORS_ONLN / _CONF), get_nprocs and get_nprocs_conf: the number of CPUs.
 * glibc answers these by reading /sys/devices/system/cpu/{online,possible} through internal opens no
 * override sees, so the shim answers them itself on a virtual machine: every vCPU is possible and
 * online. Everything else goes to libc. */
#include <unistd.h>

#include "libos/libos_init.h"
#include "libos/libos_machine.h"
#include "shim.h"

SHIM_EXPORT long sysconf(int name) noexcept {
    shim::ensure();
    if ((name == _SC_NPROCESSORS_ONLN || name == _SC_NPROCESSORS_CONF) && libos::is_virtual())
        return libos::vcpu_count();
    return SHIM_REAL(sysconf)(name);
}

SHIM_EXPORT int get_nprocs(void) noexcept {
    shim::ensure();
    if (libos::is_virtual())
        return static_cast<int>(libos::vcpu_count());
    return SHIM_REAL(get_nprocs)();
}

SHIM_EXPORT int get_nprocs_conf(void) noexcept {
    shim::ensure();
    if (libos::is_virtual())
        return static_cast<int>(libos::vcpu_count());
    return SHIM_REAL(get_nprocs_conf)();
}
