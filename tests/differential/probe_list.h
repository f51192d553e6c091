/* The differential probe's list of paths: made by `probe --list` natively (probe_list.cpp), read back
 * by every run so that all modes probe the same paths. */
#ifndef LIBOS_DIFFERENTIAL_PROBE_LIST_H
#define LIBOS_DIFFERENTIAL_PROBE_LIST_H

#include <string>
#include <vector>

namespace probe {

struct ListEntry {
    char kind;     /* f, d, l, or x: does not exist on the host */
    bool writable; /* the host's mode has a write bit: never opened with O_TRUNC */
    bool unstable; /* the content changes by itself: compared by shape */
    std::string path;
};

/* Prints the list on stdout. */
int list_main();

/* Reads a list that list_main printed. */
bool read_list(const char* file, std::vector<ListEntry>* out);

}  // namespace probe

#endif
