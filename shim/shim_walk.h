/* Shared by libc's directory walkers in the shim (shim_walk.cpp: glob, ftw, nftw; shim_fts.cpp: fts). */
#ifndef SHIM_WALK_H
#define SHIM_WALK_H

namespace shim {

/* On a virtual machine: can a walk that starts at `path` meet a directory whose listing the views
 * change? True when the start (as spelt, or once its links are resolved) is /, /dev, or lies in /sys
 * or /dev/cpu. Every other walk is libc's own, and exactly native. errno is preserved. */
bool walk_reaches_views(const char* path);

}  // namespace shim

#endif
