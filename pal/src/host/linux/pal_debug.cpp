/* PalDebugLog: whole writes to the host's standard error. */
#include "pal/pal.h"

extern "C" void PalDebugLog(const char* buf, size_t size) {
    /* stderr closed or broken: nothing sensible left to do. */
    PalFileWriteAll(2, buf, size);
}
