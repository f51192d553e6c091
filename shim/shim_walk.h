/* Shared by libc's directory walkers in the shim (shim_walk.cpp: glob, ftw, nftw; shim_fts.cpp: fts). */
#ifndef SHIM_WALK_H
#define SHIM_WALK_H

namespace shim {

/* On a virtual machine: can a walk that starts at `path` meet a directory whose listing the views
 * change? True when the start (as spelt, or once its links are resolved) is /, /dev, or lies in /sys
 * or /dev/cpu. Every other walk is libc's own, and exactly native. errno is preserved. */
bool walk_reaches_views(const char* path);

/* The fts streams the shim's walker made (shim_streams.cpp): remembered when made (false when no
 * memory is left to remember one), forgotten when closed. */
bool remember_stream(const void* stream);
bool is_stream(const void* stream);
void forget_stream(const void* stream);

}  // namespace shim

#endif
